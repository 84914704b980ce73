"""The viewer's working tools in a real browser (issue 8): buffer, overlay, road widening, upload, markers, share
links, print. Same set-up as tests/test_viewer_browser.py (browser fixtures from conftest, the city and its facts
imported from there, not copied): gunicorn on the test database with the size-1 demo city, Debian's Chromium
driven by Playwright, plus a real Celery worker for the jobs (overlay, imports). Every test asserts on what the
page shows; screenshots go to .var/screenshots/.
"""
# ruff: noqa: F811 - the fixtures imported from test_viewer_browser are requested by name as arguments

import json
import re
import subprocess

import pytest
from conftest import DESKTOP, PHONE, SHOTS, new_page, settle, shot
from test_viewer_browser import (  # noqa: F401 - city and facts are fixtures, requested by name
    PASSWORD,
    TO_LONLAT,
    checkbox,
    city,
    facts,
    go_to,
    open_map,
    sign_in,
)

pytestmark = [pytest.mark.django_db]


@pytest.fixture(scope="module")
def published(city, django_db_blocker):
    """The demo layers published to the OGC engine: the print service draws the map through it."""
    from layers.ogc import publishing

    with django_db_blocker.unblock():
        publishing.publish_all()


@pytest.fixture(scope="module")
def session(browser, server):
    """One browser context for the module's desktop tests: its pages share the tile cache (each test opening the
    whole city afresh was most of the time) and, once signed in, the session."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-TW", base_url=server)
    yield context
    context.close()


@pytest.fixture
def page(session):
    page = session.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert not errors, f"script errors on the page: {errors}"


def signed_in(page):
    if page.locator("#signed-in-as").count() == 0:
        sign_in(page)


def number(text: str) -> float:
    return float(text.replace(",", ""))


def open_tool(page, name: str):
    page.locator("#workbar").get_by_role("button", name=name).click()
    page.locator("#tool-panel").wait_for()
    return page.locator("#tool-panel")


def click_map(page, *points):
    box = page.locator("#map").bounding_box()
    for px, py in points:
        page.mouse.click(box["x"] + px, box["y"] + py)


TITLES = {"zh": {"villages": "村里界與人口", "facilities": "公共設施", "buildings": "建物"},
          "en": {"villages": "Villages and population", "facilities": "Public facilities", "buildings": "Buildings"}}
BUFFER_UI = {"zh": ("環域分析", "畫點", "已選：繪製的點", "環域距離（公尺，以逗號分隔）", "執行環域分析",
                    "完成：2 個環域", "匯出 CSV"),
             "en": ("Buffer", "Point", "Chosen: the point drawn", "Distances (m, separated by commas)", "Run buffer",
                    "Done: 2 zones", "Export CSV")}


def run_buffer(page, lang: str, spot=(700, 420)):
    """A buffer of a clicked point by 250 and 600 m over villages, facilities and buildings: (request, report)."""
    tool_name, point, chosen, distances, run, done, _csv = BUFFER_UI[lang]
    tool = open_tool(page, tool_name)
    assert tool.get_by_role("checkbox", name=TITLES[lang]["villages"]).is_checked()
    tool.get_by_role("checkbox", name=TITLES[lang]["buildings"]).check()
    tool.get_by_role("button", name=point, exact=True).click()
    [clicked] = page.evaluate(TO_LONLAT, [spot])
    click_map(page, spot)
    tool.get_by_text(chosen).wait_for()
    tool.get_by_label(distances).fill("250, 600")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/analysis/buffer/")) as answer:
        tool.get_by_role("button", name=run).click()
    tool.get_by_text(done).wait_for()
    return tool, clicked, json.loads(answer.value.request.post_data), answer.value.json()


def check_buffer_table(tool, report, lang: str):
    """Each row shows the API's figures as their kind allows: estimates of whole people, years and heights as
    means with a range, never a sum of years; the labels and units in the page's language."""
    rows = tool.locator("table.results tbody tr")
    expected = [(z["distance_m"], z["zone_area"]["ha"], s) for z in report["zones"] for s in z["summaries"]]
    assert rows.count() == len(expected) == 6  # 2 zones × (villages, facilities, buildings)
    label, unit = ("label", "unit") if lang == "zh" else ("label_en", "unit_en")
    for row, (distance, hectares, summary) in zip(rows.all(), expected, strict=True):
        cells = row.locator("td, th").all_inner_texts()
        assert number(cells[0]) == distance
        assert number(cells[1]) == pytest.approx(hectares, abs=0.005)
        assert cells[2] == TITLES[lang][summary["layer"]]
        assert number(cells[3]) == summary["count"]
        shown = row.locator("ul.figures li")
        assert shown.evaluate_all("els => els.map(e => e.dataset.name)") == [f["name"] for f in summary["figures"]]
        for item, figure in zip(shown.all(), summary["figures"], strict=True):
            text = " ".join(item.inner_text().split())
            assert text.startswith(figure[label]) and (figure[unit] or "") in text, (text, figure)
            assert not re.search(r"\d\.\d{5,}", text)  # no float noise
            if figure["statistic"] == "estimate" and figure["kind"] == "count":
                assert re.search(r"(約|about) [\d,]+ ", text) and isinstance(figure["value"], int), text
        if summary["layer"] == "buildings":
            year = " ".join(row.locator("li[data-name=year_built]").inner_text().split())
            assert re.fullmatch(r"(建造年份 平均 \d{4} 年（\d{4} – \d{4}）|Year built mean \d{4} \(\d{4} – \d{4}\))",
                                year), year
            assert row.locator("li[data-name=year_built]").get_attribute("data-statistic") == "mean"
            assert row.locator("li[data-name=height_m]").get_attribute("data-statistic") == "mean"
    villages = report["zones"][1]["summaries"][0]
    population = next(f for f in villages["figures"] if f["name"] == "population")
    assert population["statistic"] == "estimate" and isinstance(population["value"], int)


def test_buffer_of_a_drawn_point_shows_the_api_figures_and_exports_csv(facts, page, tmp_path):
    lon, lat = facts["centre"]
    open_map(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    tool, clicked, sent, report = run_buffer(page, "zh")
    assert sent["distances"] == [250, 600]
    assert sent["geometry"]["coordinates"] == pytest.approx(clicked, abs=2e-5)  # the clicked pixel, give or take one
    assert report["zones"][0]["summaries"][0]["count"] > 0
    check_buffer_table(tool, report, "zh")
    # the rings are on the map (two, one per distance)
    assert page.evaluate("Object.values(civgis.map._layers).filter(l => l.feature && l.options.fillOpacity === 0.15)"
                         ".length") == 2
    with page.expect_download() as download:
        tool.get_by_role("button", name="匯出 CSV").click()
    path = tmp_path / "buffer.csv"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("距離 (m),面積 (公頃),圖層,筆數,")
    for column in ("人口數（人）：面積加權估計", "建造年份：平均", "高度（公尺）：最大"):
        assert column in lines[0].split(",")
    assert len(lines) == 7 and lines[1].startswith("250,")
    assert not re.search(r"\d\.\d{5,}", text)  # figures rounded by their format: no 2226.7000000000003
    settle(page)
    shot(page, "10-tool-buffer")


def test_buffer_table_in_english(facts, server, browser):
    english = new_page(browser, server, locale="en-US")
    try:
        lon, lat = facts["centre"]
        open_map(english)
        english.evaluate(f"civgis.map.setView([{lat}, {lon}], 17, {{ animate: false }})")
        settle(english)
        tool, _clicked, _sent, report = run_buffer(english, "en")
        check_buffer_table(tool, report, "en")
        assert "人" not in tool.locator("table.results").inner_text()
        shot(english, "10-tool-buffer-english")
        assert not english.errors
    finally:
        english.context.close()


def test_overlay_runs_as_a_job_through_its_progress_bar_into_the_tree(celery_worker_process, page):
    open_map(page)
    signed_in(page)
    tool = open_tool(page, "圖層套疊")
    tool.get_by_label("輸入圖層 (A)").select_option("buildings")
    tool.get_by_label("套疊圖層 (B)").select_option("flood-zones")
    tool.get_by_label("套疊方式").select_option("intersect")
    tool.get_by_label("結果圖層名稱").fill("淹水潛勢區內建物")
    page.evaluate("""() => { window.progressSeen = [];
        new MutationObserver(() => document.querySelectorAll('#tool-panel progress')
            .forEach(p => window.progressSeen.push(p.value)))
        .observe(document.getElementById('tool-panel'), {subtree: true, attributes: true, childList: true}); }""")
    tool.get_by_role("button", name="執行套疊").click()
    job = tool.locator("li.job")
    job.get_by_role("progressbar", name="淹水潛勢區內建物 進度").wait_for()
    page.wait_for_function("document.querySelector('#tool-panel li.job')?.dataset.status === 'succeeded'",
                           timeout=90_000)
    assert job.get_by_role("progressbar").get_attribute("value") == "100"
    assert "完成" in job.locator(".job-state").inner_text()
    tool.get_by_text("已加入圖層目錄並開啟：淹水潛勢區內建物").wait_for()
    assert page.evaluate("window.progressSeen.length") > 0
    assert checkbox(page, "淹水潛勢區內建物").is_checked()  # in the tree, under 分析成果, switched on
    assert re.match(r"result-\d+", page.evaluate("civgis.state.active[0]"))
    page.wait_for_function("civgis.tileTimings.some(t => t.key) && [...document.querySelectorAll('.active-layer')]"
                           ".some(li => li.dataset.slug.startsWith('result-'))")
    settle(page)
    shot(page, "11-tool-overlay")


def test_event_hot_spots_run_as_a_job_and_say_what_they_found(celery_worker_process, page):
    open_map(page)
    signed_in(page)
    tool = open_tool(page, "事件熱點分析")
    tool.get_by_label("事件圖層（點）").select_option("address-points")
    tool.get_by_label("分析方法").select_option("hotspots")
    assert tool.get_by_label("時間步（天）").is_hidden()  # a time step only for emerging hot spots
    tool.get_by_label("網格大小（公尺）").fill("250")
    tool.get_by_role("button", name="執行熱點分析").click()
    page.wait_for_function("document.querySelector('#tool-panel li.job')?.dataset.status === 'succeeded'",
                           timeout=90_000)
    summary = tool.locator(".hotspot-summary")
    summary.get_by_text("鄰域：距離").wait_for()
    text = summary.inner_text()
    assert "（依資料決定）" in text and "件事件" in text and re.search(r"熱點（9\d% 信賴）：[\d,]+ 格", text), text
    assert re.match(r"result-\d+", page.evaluate("civgis.state.active[0]"))
    settle(page)
    shot(page, "11b-tool-hotspots")


COLD_CATEGORIES = {"zh": ["路樹倒塌", "號誌故障", "違規停車", "髒亂及汙染"],
                   "en": ["Fallen tree", "Traffic signal fault", "Illegal parking", "Litter and pollution"]}


def cold_disk(result_slug: str) -> list[int]:
    """The hot spot classes of the result's cells whose centre lies in the demo's planted cold disk."""
    from django.db import connection

    from events.models import EventLayer
    from layers.models import Layer

    cold = EventLayer.objects.get(layer__slug="hotline-cases").meta["planted"]["cold"]
    table = Layer.objects.get(slug=result_slug).table_name
    with connection.cursor() as cur:
        cur.execute(f'SELECT hotspot FROM layerdata."{table}" WHERE ST_DWithin(ST_Centroid(geom), '  # noqa: S608
                    "ST_SetSRID(ST_MakePoint(%s, %s), 3826), %s)", [cold["x"], cold["y"], cold["radius_m"]])
        return [r[0] for r in cur.fetchall()]


def assert_cold_spot_found(result_slug: str):
    inside = cold_disk(result_slug)  # 23 of 24 cold at 250 m (docs/events.md)
    assert len(inside) >= 20 and sum(h <= -90 for h in inside) >= 0.9 * len(inside), inside


def test_the_planted_cold_spot_is_found_in_four_categories_on_the_events_page_and_in_the_map_tool(
        celery_worker_process, page, browser, server):
    """The demo's cold spot shows only when the four categories no planted hot spot uses are analysed together
    (docs/events.md): ticked on /events/ (zh-Hant, phone) and in the map's tool (English, phone), hot and cold
    spots over the cases' convex hull on 250 m cells; the answer names the categories and the study area, counts
    the cells without cases, and the result layer's cells in the planted disk are cold spots."""
    open_map(page)
    signed_in(page)
    page.set_viewport_size(PHONE)
    try:
        page.goto("/events/?layer=hotline-cases", wait_until="domcontentloaded")
        form = page.locator("#hotspot-form")
        assert form.locator("[name=category]:checked").count() == 8  # every category by default
        assert "凸包" in page.locator("#h-study option:checked").inner_text()
        assert "以 0 件計" in page.locator("#h-study-help").inner_text()
        page.locator("#h-study").select_option("boundary")  # a layer to choose, and what it means
        assert page.locator("#h-boundary").is_visible() and "面圖層" in page.locator("#h-study-help").inner_text()
        page.locator("#h-study").select_option("convex_hull")
        assert page.locator("#h-boundary").is_hidden()
        form.get_by_role("button", name="全不選").click()
        for label in COLD_CATEGORIES["zh"]:
            form.get_by_label(label).check()
        page.locator("#h-method").select_option("hotspots")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        shot(page, "events-06-cold-spot-form-phone")
        form.get_by_role("button", name="開始分析").click()
        page.wait_for_selector("#hotspot-classes", timeout=90_000)
        text = page.locator("#hotspot-result").inner_text()
        assert "分析的分類：" + "、".join(COLD_CATEGORIES["zh"]) in text, text
        assert "研究範圍：案件的凸包（" in text and "冷點（9" in page.locator("#hotspot-classes").inner_text(), text
        assert int(re.search(r"其中 ([\d,]+) 個沒有案件", text)[1].replace(",", "")) > 0, text
        assert_cold_spot_found(page.locator("#hotspot-map").get_attribute("href").split("layer_dialog=")[1])
        page.locator("#hotspot-result").scroll_into_view_if_needed()
        shot(page, "events-07-cold-spot-phone")
    finally:
        page.set_viewport_size(DESKTOP)
    phone = new_page(browser, server, viewport=PHONE, locale="en-US")
    try:
        open_map(phone)
        phone.locator("#menu-toggle").click()
        phone.get_by_role("button", name="Sign in").click()
        dialog = phone.locator("#sign-in-dialog")
        dialog.get_by_label("Username").fill("planner")
        dialog.get_by_label("Password").fill(PASSWORD)
        dialog.get_by_role("button", name="Sign in").click()
        phone.wait_for_selector("#signed-in-as", state="attached")
        phone.locator("#workbar").get_by_role("button", name="Event hot spots").click()
        tool = phone.locator("#tool-panel")
        tool.locator("#hotspot-layer").select_option("hotline-cases")
        categories = tool.locator("#hotspot-categories")
        categories.get_by_label("Fallen tree").wait_for()  # the event layer's own list, in English
        assert categories.locator("input:checked").count() == 8
        categories.get_by_role("button", name="None").click()
        for label in COLD_CATEGORIES["en"]:
            categories.get_by_label(label).check()
        tool.locator("#hotspot-kind").select_option("hotspots")
        assert "convex hull" in tool.locator("#hotspot-study option:checked").inner_text()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        categories.scroll_into_view_if_needed()
        shot(phone, "17c-phone-hotspot-tool-categories-english")
        tool.locator("button.primary").click()
        phone.wait_for_function("document.querySelector('#tool-panel li.job')?.dataset.status === 'succeeded'",
                                timeout=90_000)
        summary = tool.locator(".hotspot-summary")
        summary.get_by_text("Cold spot (9", exact=False).first.wait_for()
        text = summary.inner_text()
        assert "Categories: " + ", ".join(COLD_CATEGORIES["en"]) in text, text
        assert "Study area: the events' convex hull (" in text, text
        assert_cold_spot_found(phone.evaluate("civgis.state.active[0]"))
        summary.scroll_into_view_if_needed()
        shot(phone, "17d-phone-hotspot-tool-cold-spot-english")
        assert not phone.errors
    finally:
        phone.context.close()


def test_service_area_of_a_clicked_point_builds_the_network_and_adds_a_layer(celery_worker_process, page, facts,
                                                                              no_script_errors):
    """服務範圍: a drawn point, the roads, by car, two breaks; the driving network is built first (the tool follows
    that job too), then the areas come into the tree as a layer with one polygon per break."""
    lon, lat = facts["centre"]
    open_map(page)
    signed_in(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    tool = open_tool(page, "服務範圍")
    assert tool.get_by_label("時間（分鐘，以逗號分隔）").input_value() == "5, 10, 15"
    assert tool.get_by_label("道路圖層（路網）").input_value() == "roads"
    tool.get_by_role("button", name="畫點", exact=True).click()
    click_map(page, (700, 420))
    tool.get_by_text("已選：繪製的點").wait_for()
    tool.get_by_label("時間（分鐘，以逗號分隔）").fill("2, 4")
    with page.expect_request(lambda r: r.url.endswith("/network/service-areas/") and r.method == "POST",
                             timeout=90_000) as sent:
        tool.get_by_role("button", name="計算服務範圍").click()
    body = sent.value.post_data_json
    assert (body["roads"], body["profile"], body["breaks"]) == ("roads", "driving", [2, 4])
    assert body["facilities"]["crs"] == 4326 and body["facilities"]["geometry"]["type"] == "Point"
    assert body["population"] == {"layer": "villages", "attribute": "population"}
    tool.get_by_text("已加入圖層目錄並開啟：服務範圍 2/4 分鐘（開車）").wait_for(timeout=90_000)
    counted = tool.locator(".service-people li")  # people per break, apportioned from the villages
    assert counted.count() == 2 and re.fullmatch(r"4 分鐘內約 [\d,]+ 人", counted.nth(1).inner_text())
    slug = page.evaluate("civgis.state.active[0]")
    assert checkbox(page, "服務範圍 2/4 分鐘（開車）").is_checked()
    areas = page.evaluate(f"fetch('/api/v1/layers/{slug}/features/').then(r => r.json())")
    assert sorted(f["properties"]["break_min"] for f in areas["features"]) == [2, 4]
    settle(page)
    shot(page, "12-tool-service-area")
    # every facility of a point layer at once (the request only: the job is the one above, tests/test_network.py)
    tool.get_by_label("設施", exact=True).select_option("facilities")
    no_script_errors.allow(r"status of 400 .*/network/service-areas/")
    page.route("**/network/service-areas/", lambda route: route.fulfill(status=400, json={"detail": "stopped"}))
    with page.expect_request(lambda r: r.url.endswith("/network/service-areas/") and r.method == "POST") as sent:
        tool.get_by_role("button", name="計算服務範圍").click()
    assert sent.value.post_data_json["facilities"] == {"layer": "facilities"}
    page.unroute("**/network/service-areas/")


def test_a_running_job_is_cancelled_from_its_progress_bar(page):
    """The job widget's 取消 button: shown while the job runs, it posts /api/v1/jobs/{id}/cancel/ and follows the job
    to `cancelled`. The server side of a cancel is tests/test_jobs.py; here the API answers are the test's own, so
    the job is running for as long as the test says, worker or not."""
    open_map(page)
    signed_in(page)
    job = {"id": 987654, "kind": "analysis", "status": "running", "progress": 40, "source_name": "套疊",
           "options": {"title": "要取消的套疊", "slug": "result-987654"}, "messages": ["圖徵配對中"], "errors": [],
           "counts": {}, "layers": [], "results": [], "cancel_requested": False}
    calls = []

    def answer(route):
        calls.append((route.request.method, route.request.url))
        if route.request.url.endswith("/cancel/"):
            job.update(cancel_requested=True, messages=[*job["messages"], "mx 要求取消這個工作"])
            route.fulfill(status=202, json=job)
            job.update(status="cancelled", messages=[*job["messages"], "工作已停止；沒有留下任何結果"])
        else:
            route.fulfill(json=job)
    page.route("**/api/v1/analysis/overlay/", lambda route: route.fulfill(status=202, json=job))
    page.route("**/api/v1/jobs/987654/**", answer)
    tool = open_tool(page, "圖層套疊")
    tool.get_by_label("輸入圖層 (A)").select_option("buildings")
    tool.get_by_label("套疊圖層 (B)").select_option("flood-zones")
    tool.get_by_label("套疊方式").select_option("intersect")
    tool.get_by_role("button", name="執行套疊").click()
    item = tool.locator("li.job")
    cancel = item.get_by_role("button", name="取消 要取消的套疊")
    cancel.wait_for()
    assert "執行中 40% — 圖徵配對中" in item.locator(".job-state").inner_text()
    shot(page, "11-tool-job-cancel")
    cancel.click()
    page.wait_for_function("document.querySelector('#tool-panel li.job')?.dataset.status === 'cancelled'")
    assert any(m == "POST" and u.endswith("/api/v1/jobs/987654/cancel/") for m, u in calls)
    assert "已取消" in item.locator(".job-state").inner_text() and cancel.is_hidden()
    item.locator("details summary").click()
    assert "工作已停止；沒有留下任何結果" in item.locator(".job-report").inner_text()


def test_road_widening_colours_the_parcels_taken_and_shows_the_totals(facts, page):
    lon, lat = facts["centre"]
    open_map(page)
    signed_in(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    tool = open_tool(page, "道路拓寬")
    assert checkbox(page, "道路中心線").is_checked()  # roads are picked from this layer
    tool.get_by_role("button", name="畫線").click()
    # from the keyboard: a vertex at the crosshair, pan with the arrows, another vertex, Enter
    page.focus("#map")
    page.keyboard.press("Space")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
        page.wait_for_function("!civgis.map._panAnim || !civgis.map._panAnim._inProgress")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    tool.get_by_text("已選：繪製的線").wait_for()
    tool.get_by_label("拓寬後路寬（公尺）").fill("24")
    with page.expect_response(lambda r: r.url.endswith("/road-widening/report/")) as answer:
        tool.get_by_role("button", name="計算影響範圍").click()
    totals = answer.value.json()["totals"]
    assert totals["parcels"] > 0 and totals["corridor_width_m"] == 24
    assert 300 < totals["centre_line_m"] < 700  # five keyboard pans of 80 px at zoom 17 (~1.2 m a pixel)
    tool.get_by_text(f"受影響宗地 {totals['parcels']} 筆").wait_for()
    shown = {key: number(tool.locator(f"[data-total={key}]").inner_text()) for key in
             ("widening_parcels", "widening_area_m2", "widening_area_ping", "widening_buildings")}
    assert shown == {"widening_parcels": totals["parcels"],
                     "widening_area_m2": pytest.approx(totals["affected_m2"], abs=0.01),
                     "widening_area_ping": pytest.approx(totals["affected_ping"], abs=0.01),
                     "widening_buildings": totals["buildings_touched"]}
    # one coloured parcel piece per affected parcel, in the colour of its share taken
    fills = page.evaluate("Object.values(civgis.map._layers).filter(l => l.feature && l.feature.properties"
                          " && 'affected_pct' in l.feature.properties).map(l => [l.feature.properties.affected_pct,"
                          " l.options.fillColor])")
    assert len(fills) == totals["parcels"]
    assert all(color == "#a50f15" for pct, color in fills if pct >= 75)
    assert tool.get_by_role("button", name="存成圖層").is_visible()
    settle(page)
    shot(page, "12-tool-road-widening")


GOOD = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": f"巡查點 {i}", "note": "社區回報"},
     "geometry": {"type": "Point", "coordinates": [121.30 + i * 0.001, 24.99]}} for i in range(3)]}
BROKEN = "name,lon,lat\na,121.3,25.0\nb,121.2E,25.0\nc,121.1,24.9\nd,,24.9\n"


def test_upload_a_good_and_a_broken_file_by_drag_and_drop(celery_worker_process, page):
    open_map(page)
    signed_in(page)
    tool = open_tool(page, "圖檔上傳")
    # dropped on the zone as a person would (a DataTransfer with two files)
    page.evaluate("""([good, broken]) => {
        const data = new DataTransfer();
        data.items.add(new File([good], "巡查點.geojson", {type: "application/geo+json"}));
        data.items.add(new File([broken], "bad.csv", {type: "text/csv"}));
        document.querySelector('#tool-panel .dropzone').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    }""", [json.dumps(GOOD, ensure_ascii=False), BROKEN])
    good = tool.locator("li.job", has_text="巡查點.geojson")
    bad = tool.locator("li.job", has_text="bad.csv")
    page.wait_for_function("[...document.querySelectorAll('#tool-panel li.job')].filter(li => "
                           "['succeeded', 'failed'].includes(li.dataset.status)).length === 2", timeout=90_000)
    assert good.get_attribute("data-status") == "succeeded"
    assert re.search(r"：3 筆", good.locator(".job-report").inner_text())
    assert good.get_by_role("progressbar").get_attribute("value") == "100"
    assert bad.get_attribute("data-status") == "failed"
    error = bad.get_by_role("alert").inner_text()
    assert "bad.csv" in error and "第 3, 5 列" in error and "欄位 lon" in error  # which file, rows and field
    assert "失敗" in bad.locator(".job-state").inner_text()
    slug = page.evaluate("civgis.state.active[0]")
    assert page.locator(f".active-layer[data-slug='{slug}']").is_visible()  # the new layer, switched on
    settle(page)
    shot(page, "13-tool-upload")


def test_add_a_marker_reload_and_see_it_then_move_and_delete_it(page):
    open_map(page)
    signed_in(page)
    tool = open_tool(page, "地圖標記")
    tool.get_by_role("button", name="新增標記（點選地圖）").click()
    click_map(page, (760, 300))
    tool.get_by_label("標題").fill("路口積水")
    tool.get_by_label("說明").fill("下雨時積水約 20 公分")
    tool.get_by_label("顏色").fill("#1f78b4")
    tool.get_by_label("圖示").select_option("warning")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/markers/") and r.request.method == "POST") as made:
        tool.get_by_role("button", name="儲存").click()
    assert made.value.status == 201
    created = made.value.json()  # read before the reload drops the response
    marker_id = created["id"]
    tool.locator(f"[data-marker='{marker_id}']").get_by_text("路口積水").wait_for()
    shot(page, "14-tool-markers")

    page.reload()
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
    icon = page.locator(".map-marker[title='路口積水']")
    icon.wait_for()  # stored on the server: back after a reload
    assert icon.locator("[data-icon=warning]").count() == 1
    icon.click()
    page.locator(".marker-popup").get_by_text("下雨時積水約 20 公分").wait_for()
    box = icon.bounding_box()
    with page.expect_response(lambda r: r.request.method == "PATCH") as moved:
        page.mouse.move(box["x"] + 13, box["y"] + 20)
        page.mouse.down()
        page.mouse.move(box["x"] + 113, box["y"] + 70, steps=6)
        page.mouse.up()
    assert moved.value.status == 200
    before = created["geometry"]["coordinates"]
    after = moved.value.json()["geometry"]["coordinates"]
    assert after[0] > before[0] and after[1] < before[1]  # dragged right and down
    tool = open_tool(page, "地圖標記")
    tool.get_by_role("button", name="編輯標記：路口積水").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        tool.get_by_role("button", name="刪除").click()
    assert deleted.value.status == 204
    assert page.locator(".map-marker[title='路口積水']").count() == 0


def test_share_link_opened_signed_out_shows_the_same_view_with_public_layers(facts, page, server, browser):
    lon, lat = facts["centre"]
    open_map(page)
    signed_in(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")  # first: the cadastre's tiles are light at zoom 17
    checkbox(page, "地籍宗地").check()  # internal: not for someone signed out
    checkbox(page, "淹水潛勢區").check()
    page.locator(".active-layer[data-slug=flood-zones]").get_by_label("透明度：淹水潛勢區").fill("40")
    view = page.evaluate("[civgis.map.getCenter().lng, civgis.map.getCenter().lat, civgis.map.getZoom(), "
                         "civgis.state.active]")
    tool = open_tool(page, "分享")
    tool.get_by_role("button", name="建立分享連結").click()
    tool.get_by_text("分享連結已建立").wait_for()
    link = tool.get_by_label("分享連結").input_value()
    assert re.fullmatch(rf"{re.escape(server)}/s/[A-Za-z0-9]{{8}}", link)
    shot(page, "15-tool-share")

    stranger = new_page(browser, server)  # a fresh context: no session
    try:
        stranger.goto(link)
        assert "/?view=" in stranger.url
        stranger.locator("#status").get_by_text("已開啟分享的地圖檢視").wait_for()
        shown = stranger.evaluate("[civgis.map.getCenter().lng, civgis.map.getCenter().lat, civgis.map.getZoom(), "
                                  "civgis.state.active, civgis.state.opacity['flood-zones']]")
        assert shown[:2] == pytest.approx(view[:2], abs=1e-6) and shown[2] == view[2]
        assert shown[3] == [slug for slug in view[3] if slug != "parcels"]  # same layers, same order, public only
        assert shown[4] == pytest.approx(0.4)
        assert checkbox(stranger, "地籍宗地").count() == 0
        settle(stranger)
        shot(stranger, "15-share-opened-signed-out")
        assert not stranger.errors
    finally:
        stranger.context.close()


def test_print_the_view_as_a_one_page_pdf_with_its_title(published, facts, page, tmp_path):
    lon, lat = facts["centre"]
    open_map(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    tool = open_tool(page, "輸出")
    tool.get_by_label("標題").fill("中正路周邊現況圖")
    tool.get_by_label("紙張").select_option("A4")
    tool.get_by_label("比例尺").select_option("5000")
    links = tool.get_by_role("list", name="下載圖層資料")
    assert links.get_by_role("link", name="下載 建物（互動網頁地圖）").get_attribute("href") == \
        "/api/v1/layers/buildings/download/?format=html"
    assert links.get_by_role("link", name="下載 建物（CSV）").get_attribute("href") == \
        "/api/v1/layers/buildings/download/?format=csv&labels=1"  # a header of labels for the spreadsheet
    with page.expect_download(timeout=60_000) as download:
        tool.get_by_role("button", name="下載 PDF").click()
    pdf = tmp_path / "map.pdf"
    download.value.save_as(pdf)
    assert download.value.suggested_filename.endswith(".pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M) and "841.89 x 595.276 pts" in info  # one A4 landscape page
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "中正路周邊現況圖" in text and "圖例" in text and "比例尺 1:5,000" in text
    assert re.search(r"^\s*建物\s*$", text, re.M)  # the legend names the layers on the map, a title line of its own
    tool.get_by_text("PDF 已下載").wait_for()
    shot(page, "16-tool-print")


def test_tools_on_a_phone_in_english(server, browser):
    phone = new_page(browser, server, viewport=PHONE, locale="en-US")
    try:
        open_map(phone)
        phone.locator("#workbar").get_by_role("button", name="Buffer").click()
        panel = phone.locator("#tool-panel")
        assert panel.get_by_role("heading", name="Buffer").is_visible()
        assert panel.get_by_label("Distances (m, separated by commas)").is_visible()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "17-phone-buffer-tool-english")
        phone.keyboard.press("Escape")
        assert not panel.is_visible()
        phone.locator("#workbar").get_by_role("button", name="Event hot spots").click()
        panel.get_by_text("Sign in to use this tool").wait_for()  # signed out: the tool asks first
        phone.keyboard.press("Escape")
        phone.locator("#menu-toggle").click()  # on a phone, sign-in folds behind the header's menu
        phone.get_by_role("button", name="Sign in").click()
        dialog = phone.locator("#sign-in-dialog")
        dialog.get_by_label("Username").fill("planner")
        dialog.get_by_label("Password").fill(PASSWORD)
        dialog.get_by_role("button", name="Sign in").click()
        phone.wait_for_selector("#signed-in-as", state="attached")  # folded in the menu too
        phone.locator("#workbar").get_by_role("button", name="Event hot spots").click()
        panel.get_by_label("Grid cell size (m)").wait_for()
        assert panel.get_by_label("Time step (days)").is_visible()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shot(phone, "17b-phone-hotspot-tool-english")
        phone.keyboard.press("Escape")
        assert not phone.errors
    finally:
        phone.context.close()


# --- One language at a time (issue 14): every page, panel and report in zh-Hant and in English ---------------------
# What may stay in the other language, and why:
# - in English: proper nouns from the data (place, road, section, facility, hotspot and sensor names, the titles and
#   file names a user gave), the language switch's own 繁體中文, and 坪 (a proper unit: Taiwan's land-area unit,
#   written in CJK in both languages, as "m² (… 坪)")
# - in zh-Hant: units (m, km, m², ha, MB, Mbps, μg/m³, NT$), codes and standards (EPSG, TWD97, TM2, WGS84, WMS, WFS,
#   OGC, OGC API - Features, CRS, UTF-8, Big5, A4, A3, 2D, 3D,
#   PM2.5, PM10), formats (CSV, GeoJSON, GeoPackage, Shapefile, KML, KMZ,
#   GeoTIFF, HTML, PDF, PNG, zip), product and brand names (civgis, Leaflet, OpenStreetMap, MapLibre), the language
#   switch's English, the user's name and the data's own values (file names, sensor models)
ALLOWED_IN_ZH = re.compile(
    r"civgis|Leaflet|OpenStreetMap|MapLibre|English|planner|PM2\.5|PM10|μg/m³|NT\$|Mbps|MB|km²?|m²|\bha\b|\bm\b|"
    r"OGC API - Features|EPSG|TWD97|TWD67|TM2|WGS ?84|WMS|WMTS|WFS|WCS|OGC|CRS|UTF-8|Big5|\bA[34]\b|\b[23]D\b|"
    r"CSV|GeoJSON|GeoPackage|"
    r"GPKG|Shapefile|KMZ?|GeoTIFF|HTML|PDF|PNG|zip|XYZ|URL|API|OK|"
    r"[\w-]*\.?\b(?:csv|geojson|gpkg|shp|shx|dbf|prj|cpg|zip|ZIP|kml|kmz|tif)\b|'[^']*'|__\w+|\b(?:mi|ft)\b|"
    r"AirBox G3|AQ-Node 2|PMS5003|[A-Z]+-[A-Z0-9-]+|\d[\d,.]*\w*")
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
ALLOWED_IN_EN = {"繁體中文", "坪"}


def proper_nouns(page) -> set[str]:
    """The names the data holds (what may stay Chinese in English), read through the page's own session."""
    return set(page.evaluate("""async () => {
        const names = [];
        for (const [slug, props] of [["villages", "name,district"], ["districts", "name"], ["roads", "road_name,name"],
                                     ["facilities", "name"], ["wifi-hotspots", "name,venue_type"],
                                     ["air-sensors", "district,model"], ["parcels", "section,district,village"]]) {
            const r = await fetch(`/api/v1/layers/${slug}/features/?limit=10000&properties=${props}`);
            if (!r.ok) continue;
            for (const f of (await r.json()).features) names.push(...Object.values(f.properties));
        }
        // what the data owner wrote in the catalog (abstract, keywords, agency, source, licence): one language only
        const r = await fetch("/api/v1/layers/?limit=1000");
        const list = r.ok ? await r.json() : [];
        for (const layer of (list.results || list)) {
            const full = await (await fetch(`/api/v1/layers/${layer.slug}/`)).json();
            names.push(full.abstract, full.owner_agency, full.source, full.license, full.update_frequency,
                       ...(full.keywords || []));
            if (!full.title_en) names.push(full.title_zh);  // a title a user gave in one language (a result's name)
        }
        return names.filter((n) => typeof n === "string" && n); }"""))


def wrong_language(text: str, lang: str, nouns: set[str]) -> list[str]:
    for noun in sorted(nouns, key=len, reverse=True):
        text = text.replace(noun, " ")
    if lang == "en":
        return sorted({run for run in CJK_RUN.findall(text) if run not in ALLOWED_IN_EN})
    return sorted(set(re.findall(r"[A-Za-z]{2,}", ALLOWED_IN_ZH.sub(" ", text))))


LANGUAGES = {"zh-hant": {"locale": "zh-TW", "sign_in": ("登入", "帳號", "密碼"), "upload": "圖檔上傳",
                         "info": "圖層資訊"},
             "en": {"locale": "en-US", "sign_in": ("Sign in", "Username", "Password"), "upload": "Upload",
                    "info": "Layer information"}}


def test_every_page_speaks_one_language_at_a_time(celery_worker_process, browser, server, no_script_errors):
    """Each page, tool panel, dialog, import report (with an error), job progress, the share page, the siting report
    and an HTML export, in zh-Hant and in English: no word of the other language but the allow-lists above."""
    no_script_errors.allow(r"status of 409 .*/api/v1/layers/")  # the second upload of 巡查點 is asked about
    from test_viewer_browser import PASSWORD

    found, report_job = {}, None
    for lang, words in LANGUAGES.items():
        page = new_page(browser, server, locale=words["locale"])
        page.set_default_timeout(60_000)  # many pages in a row on a machine shared with other suites
        seen, nouns = {}, set()

        def check(where: str, text: str, lang=lang, seen=seen, nouns=nouns):
            wrong = wrong_language(text, lang, nouns)
            if wrong:
                seen[where] = wrong

        try:
            open_map(page)
            button, user, password = words["sign_in"]
            page.get_by_role("button", name=button).click()
            dialog = page.locator("#sign-in-dialog")
            dialog.get_by_label(user).fill("planner")
            dialog.get_by_label(password).fill(PASSWORD)
            dialog.get_by_role("button", name=button).click()
            page.wait_for_selector("#signed-in-as")
            page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
            nouns |= proper_nouns(page) | {"巡查點", "社區回報", "lon"}  # the uploads' own names and fields
            settle(page)
            check("/", page.locator("body").inner_text())
            page.locator("#layer-tree").get_by_role("button", name=re.compile(f"^{words['info']}")).first.click()
            page.locator("#metadata-dialog table, #metadata-dialog dl").first.wait_for()
            check("layer-info dialog", page.locator("#metadata-dialog").inner_text())
            page.keyboard.press("Escape")
            for tool in page.locator("#workbar button").all():
                name = tool.get_attribute("data-tool")
                tool.click()
                panel = page.locator("#tool-panel")
                panel.wait_for()
                check(f"tool {name}", panel.inner_text())
                shot(page, f"18-lang-{lang}-tool-{name}")
                page.keyboard.press("Escape")
            # an import report with an error, and a job's progress notes (opened)
            tool = open_tool(page, words["upload"])
            page.evaluate("""([good, broken]) => {
                const data = new DataTransfer();
                data.items.add(new File([good], "巡查點.geojson", {type: "application/geo+json"}));
                data.items.add(new File([broken], "bad.csv", {type: "text/csv"}));
                document.querySelector('#tool-panel .dropzone').dispatchEvent(
                    new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})); }""",
                          [json.dumps(GOOD, ensure_ascii=False), BROKEN])
            # 巡查點 exists from an earlier upload: the upload asks (its words are checked too), a new layer it is
            page.wait_for_function("(() => { const jobs = [...document.querySelectorAll('#tool-panel li.job')]; "
                                   "return jobs.some(li => li.dataset.status === 'clash') || jobs.filter(li => "
                                   "['succeeded', 'failed'].includes(li.dataset.status)).length === 2; })()",
                                   timeout=90_000)
            if tool.locator("li.job[data-status=clash]").count():
                check("upload name clash", tool.locator("li.job[data-status=clash]").inner_text())
                tool.locator("li.job[data-status=clash] button[data-choice=new_layer]").click()
            page.wait_for_function("[...document.querySelectorAll('#tool-panel li.job')].filter(li => "
                                   "['succeeded', 'failed'].includes(li.dataset.status)).length === 2", timeout=90_000)
            for summary in tool.locator("li.job details summary").all():
                summary.click()
            check("import report", tool.inner_text())
            shot(page, f"18-lang-{lang}-import-report")
            if report_job is None:  # a siting job for the report (once; the report follows the reader's language)
                started = page.evaluate("""async () => {
                    const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
                    const r = await fetch("/api/v1/analysis/siting/", {method: "POST", headers: {
                        "Content-Type": "application/json", "X-CSRFToken": token}, body: JSON.stringify({
                        constraints: {exclude_layers: ["flood-zones"], min_area_m2: 1500},
                        factors: [{kind: "distance", layer: "roads", prefer: "near", weight: 1}],
                        allocation: {model: "covering", k: 2, radius: 1000, pool: 200,
                                     demand: [{layer: "villages", attribute: "population"}]}})});
                    return await r.json(); }""")
                report_job = started["id"]
            for _ in range(240):
                job = page.evaluate(f"fetch('/api/v1/imports/{report_job}/').then(r => r.json())")
                if job["status"] in ("succeeded", "failed"):
                    break
                page.wait_for_timeout(500)
            assert job["status"] == "succeeded", job["errors"]
            check("siting job progress notes", "\n".join(job["messages"]))
            for path in ("/siting/", "/wifi/", "/sensors/", f"/siting/?job={report_job}"):
                page.goto(path)
                settle(page)
                text = page.locator("body").inner_text()
                if path == "/sensors/":  # this city's sensors have no readings: the page must still load
                    assert not page.locator("#load-error").inner_text()
                check(path, text)
                shot(page, f"18-lang-{lang}-{path.strip('/').replace('/?job=', '-job-') or 'map'}")
            share = page.evaluate("""async () => {
                const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
                const r = await fetch("/api/v1/views/", {method: "POST", headers: {"Content-Type": "application/json",
                    "X-CSRFToken": token}, body: JSON.stringify({state: {center: [121.3, 24.99], zoom: 14,
                    layers: [{slug: "villages", opacity: 0.7, visible: true}]}})});
                return await r.json(); }""")
            page.goto(share["url"])
            page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
            settle(page)
            check("share page", page.locator("body").inner_text())
            for path in (f"/api/v1/analysis/siting/{report_job}/report.html",
                         "/api/v1/layers/facilities/download/?format=html"):
                # the export is a download: its page is opened from its text, fetched as the browser asks (its
                # Accept-Language; Playwright's own request context sends none)
                html = page.evaluate("path => fetch(path).then(r => r.ok ? r.text() : '')", path)
                assert html
                page.set_content(html, wait_until="load")
                page.wait_for_timeout(500)
                check(path, page.locator("body").inner_text())
                shot(page, f"18-lang-{lang}-{'siting-report' if 'siting' in path else 'html-export'}")
            assert not page.errors, page.errors
        finally:
            page.context.close()
        found[lang] = seen
    (SHOTS / "language-findings.json").write_text(json.dumps(found, ensure_ascii=False,
                                                             indent=1))
    assert found == {"zh-hant": {}, "en": {}}, json.dumps(found, ensure_ascii=False, indent=1)
