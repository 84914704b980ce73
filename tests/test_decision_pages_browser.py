"""The decision pages in a real browser (the same gunicorn + Debian Chromium set-up as the viewer's tests, on the
size-1 demo city with its sensor feeds taken in): the siting wizard run to the end on a real Celery worker, the
Wi-Fi hotspot page and the sensor page. Each test compares what the page shows with what the API answers.
Screenshots go to .var/screenshots/ (decision-*.png)."""

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    SMALL_PHONE,
    UNNAMED_CONTROLS,
    assert_fits,
    committed_demo_city,
    new_page,
    shot,
)
from django.contrib.auth.models import User
from django.core.management import call_command

from jobs.models import Job

PASSWORD = "planner-pw-2026"
JOB_TIMEOUT_MS = 120_000
# the page's numbers: zh-TW grouping, at most two decimals
NUMBER = re.compile(r"-?[\d,]+(?:\.\d+)?")
CJK = re.compile(r"[\u3400-\u9fff]")
# what may stay in the other language: units, codes, product and language names
ALLOWED_LATIN = re.compile(r"civgis|PM2\.5|PM10|μg/m³|MB|km|m²|HTTP|MQTT|API|English|Leaflet|OpenStreetMap|CSV|HTML|"
                           r"[A-Z]+-[A-Z0-9-]+|\bk\b|\bp-|\d[\d,.]*")
FLAG_ZH = {"under-used": "低使用", "overloaded": "超載", "no usage records": "無使用紀錄"}

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from iot.models import Alert, Device, Latest, Observation, Quantity, RejectCount, Threshold

    with committed_demo_city(django_db_blocker, seed=2026, size=1) as demo:
        with django_db_blocker.unblock():
            User.objects.create_user("planner", password=PASSWORD)
            # a threshold this week's readings cross (the demo's own, 35.5 µg/m³, may not be reached in this city)
            Threshold.objects.create(quantity=Quantity.objects.get(code="pm25"), device=None, above=20,
                                     label="PM2.5 測試門檻")
            call_command("demo_feeds")  # the sensors' week of readings, as `make demo` takes them in
        yield demo
        with django_db_blocker.unblock():
            Job.objects.filter(created_by__username="planner").delete()
            User.objects.filter(username="planner").delete()
            for model in (Alert, Latest, Observation, Threshold, Device, RejectCount):
                model.objects.all().delete()


@pytest.fixture(scope="module")
def facts(city):
    return {}  # these pages are checked against the API, read through the page's own session (and pass on ids)


def number(text: str) -> float:
    return float(NUMBER.search(text)[0].replace(",", ""))


def api(page, path: str, body: dict | None = None):
    """The API as the page's session sees it (a POST carries the CSRF token like the page's script)."""
    return page.evaluate("""async ([path, body]) => {
        const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
        const r = await fetch(path, body === null ? {} : {method: "POST", body: JSON.stringify(body),
            headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
        return {status: r.status, body: await r.json()}; }""", [path, body])


def sign_in(page, labels=("登入", "帳號", "密碼")):
    button, account, password = labels
    page.get_by_role("button", name=button).click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label(account).fill("planner")
    dialog.get_by_label(password).fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name=button).click()
    page.wait_for_selector("#signed-in-as", state="attached")  # in the closed menu on a phone


def test_siting_wizard_on_the_demo_city_shows_the_jobs_answer(page, facts, server, celery_worker_process):
    page.goto("/siting/")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    sign_in(page)
    assert page.url.endswith("/siting/")  # back on the wizard after signing in
    page.get_by_label("場館類型").select_option("sports_centre")
    assert page.get_by_label("住宅區").is_checked() and not page.get_by_label("工業區").is_checked()
    page.get_by_role("button", name="下一步").click()
    assert page.get_by_role("heading", name="2. 限制條件").is_visible()
    assert page.get_by_label("排除淹水潛勢區內的宗地").is_checked()
    page.get_by_label("最小宗地面積").fill("1500")
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("服務範圍內人口", exact=True).focus()
    page.keyboard.press("End")  # the weight sliders answer the keyboard
    assert page.locator("#w-population-value").inner_text() == "5"
    page.get_by_role("button", name="下一步").click()
    assert page.get_by_label("需求圖層").input_value() == "villages"
    assert page.get_by_label("需求數量欄位").input_value() == "population"
    page.get_by_role("button", name="下一步").click()
    k = 3
    page.get_by_label("新設場址數 k").fill(str(k))
    page.get_by_label("涵蓋半徑（公尺）").fill("1200")
    shot(page, "decision-01-siting-wizard-allocation-step")
    page.get_by_role("button", name="執行選址").click()
    page.locator("#result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    assert "完成 100%" in page.locator("#job-message").inner_text()

    job_id = page.locator("#result").get_attribute("data-job")
    job = api(page, f"/api/v1/imports/{job_id}/")["body"]
    a = job["counts"]["result"]["allocation"]
    assert job["status"] == "succeeded" and a["model"] == "covering" and len(a["chosen"]) == k
    assert page.locator("#chosen-count").inner_text() == str(k)
    words = job["counts"]["result"]["wording"]
    money, said = a["accounting"], words["zh-hant"]["accounting"]
    # demand with its unit, whole people, "約" for the area-weighted estimate
    covered = page.locator("#covered").inner_text()
    assert covered == said["covered"] and covered.startswith("約 ") and covered.endswith(" 人")
    assert number(covered) == money["covered"] == pytest.approx(a["objective"], abs=0.5)
    assert number(page.locator("#uncovered").inner_text()) == money["uncovered"]
    assert page.locator(".site-pin").count() == k  # the chosen sites, numbered on the map
    # existing coverage + each site's gain = the covered total, on the page, to the person
    gains = page.locator("#gains tr")
    assert gains.count() == k
    shown = [number(gains.nth(i).locator("td.gain").inner_text()) for i in range(k)]
    assert shown == money["gains"]
    already = number(page.locator("#already").inner_text())
    assert already + sum(shown) == number(page.locator("#sum-covered").inner_text()) == number(covered)
    assert page.locator("#sum-line").inner_text() == said["sum"]
    # each site by its 地段地號 and district/village, not a database id
    sites = [gains.nth(i).locator("td.site").inner_text() for i in range(k)]
    assert sites == words["zh-hant"]["sites"] and all("地號" in s and "（" in s for s in sites)
    assert not any(re.search(r"宗地 \d+", s) for s in sites)
    assert page.locator("#gain-chart svg rect.bar").count() == k + 2  # existing, each site, one more
    # the ten best scores, the chosen ones marked, and why the others were not chosen
    top = page.locator("#top-candidates tr")
    assert top.count() == 10
    chosen_rows = [i for i in range(10) if a["top"][i]["pick_order"]]
    assert [i for i in range(10) if "chosen" in (top.nth(i).get_attribute("class") or "")] == chosen_rows
    not_chosen = [t for t in a["top"] if not t["pick_order"]]
    assert not_chosen and page.locator("#why li").count() == len(not_chosen)
    assert "多選它只增加" in page.locator("#why").inner_text() and page.locator("#why-intro").inner_text()
    facts["siting_job"] = job_id

    first = page.locator("#top-candidates tr").first
    assert first.locator("td").first.inner_text() == "1"
    first.get_by_role("button").click()  # the best candidate: each factor's part of its score
    contributions = page.locator("#contrib tr")
    assert contributions.count() == 4
    score = number(first.locator("td").nth(2).inner_text())
    parts = [number(contributions.nth(i).locator("td").nth(1).inner_text()) for i in range(4)]
    assert sum(parts) == pytest.approx(score, abs=0.003)  # each shown to three decimals
    assert "服務範圍內人口" in page.locator("#contrib").inner_text()
    for link, kind in (("報告（HTML 地圖）", "text/html"), ("候選地排名（CSV）", "text/csv")):
        href = page.get_by_role("link", name=link).get_attribute("href")
        assert href == f"/api/v1/analysis/siting/{job_id}/{'report.html' if kind == 'text/html' else 'candidates.csv'}"
        response = page.request.get(href)
        assert response.ok and response.headers["content-type"].startswith(kind)
    page.wait_for_timeout(500)
    shot(page, "decision-02-siting-result")
    page.locator("#gains-table").scroll_into_view_if_needed()
    shot(page, "decision-02-siting-result-sum")
    page.locator("#top-candidates").scroll_into_view_if_needed()
    shot(page, "decision-02-siting-result-why")

    # the report opens whole with no internet: nothing is fetched from elsewhere, no script error
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"/api/v1/analysis/siting/{job_id}/report.html")
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert page.locator(".leaflet-container").count() == 1 and page.locator(".site-pin").count() == k
    assert page.get_by_text(words["zh-hant"]["accounting"]["sum"]).is_visible()
    assert fetched and not [u for u in fetched if not u.startswith(server)]
    shot(page, "decision-07-siting-report")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    shot(page, "decision-07-siting-report-numbers")


def test_siting_on_driving_time_sends_the_network_profile_and_minutes(page, no_script_errors):
    """Step 5 shows the fields of the problem type and distance chosen and sends the network, the profile and the
    minutes (the request is stopped here: the job on travel time is tests/test_network.py's; the answer's words in
    both languages are checked on the stored answer by test_stale_feeds_and_both_languages_on_every_page)."""
    page.goto("/siting/")
    sign_in(page)
    page.get_by_role("button", name="5 配置").click()
    page.get_by_label("目標市場占有率（達到目標的最少場址）").check()
    assert page.get_by_label("目標市場占有率（%）").is_visible() and page.get_by_label("新設場址數 k").is_hidden()
    assert page.get_by_label("競爭者的場館（點圖層）").is_visible()
    page.get_by_label("最大涵蓋（範圍內需求最多）").check()
    assert page.get_by_label("競爭者的場館（點圖層）").is_hidden()
    page.get_by_label("開車行駛時間（分鐘，沿道路網）").check()
    assert page.get_by_label("涵蓋半徑（公尺）").is_hidden()
    assert page.get_by_label("道路網圖層（線）").input_value() == "roads"
    page.get_by_label("涵蓋時間（分鐘）").fill("3")
    page.get_by_label("新設場址數 k").fill("2")
    shot(page, "decision-15-siting-travel-time-step")
    no_script_errors.allow(r"status of 400 .*/api/v1/analysis/siting/")
    page.route("**/api/v1/analysis/siting/", lambda route: route.fulfill(status=400, json={"detail": "stopped"}))
    with page.expect_request(lambda r: r.url.endswith("/api/v1/analysis/siting/") and r.method == "POST") as sent:
        page.get_by_role("button", name="執行選址").click()
    a = sent.value.post_data_json["allocation"]
    assert (a["network"], a["profile"], a["cutoff_min"], a["k"]) == ("roads", "driving", 3, 2) and "radius" not in a
    page.get_by_role("button", name="調整條件").click()
    page.get_by_role("button", name="5 配置").click()
    page.get_by_label("步行時間（分鐘，沿道路網）").check()
    page.get_by_label("最少場址涵蓋全部（涵蓋所有可達需求所需的最少場址）").check()
    with page.expect_request(lambda r: r.url.endswith("/api/v1/analysis/siting/") and r.method == "POST") as sent:
        page.get_by_role("button", name="執行選址").click()
    a = sent.value.post_data_json["allocation"]
    assert (a["model"], a["profile"], a["cutoff_min"]) == ("set_covering", "walking", 3) and "k" not in a
    # market share: the decay curve and its parameter, each side's attractiveness from an attribute of its layer
    page.get_by_role("button", name="調整條件").click()
    page.get_by_role("button", name="5 配置").click()
    assert page.get_by_label("遞減方式").is_hidden()
    page.get_by_label("最大出席（需求隨距離或時間遞減）").check()
    assert page.get_by_label("遞減方式").input_value() == "linear" and page.locator("#decay-beta").is_disabled()
    page.get_by_label("最大市場占有率（與競爭者分食需求）").check()
    assert page.get_by_label("遞減方式").input_value() == "power"
    page.get_by_label("遞減方式").select_option("exponential")
    page.locator("#decay-beta").fill("0.2")
    page.get_by_label("競爭者的場館（點圖層）").select_option("facilities")
    page.get_by_label("新場址的吸引力（候選地屬性；空白表示每處相同）").select_option("land_value")
    shot(page, "decision-16-siting-market-share-step")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#decay-field").scroll_into_view_if_needed()
    shot(page, "decision-16-siting-market-share-step-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    with page.expect_request(lambda r: r.url.endswith("/api/v1/analysis/siting/") and r.method == "POST") as sent:
        page.get_by_role("button", name="執行選址").click()
    a = sent.value.post_data_json["allocation"]
    assert a["model"] == "market_share" and a["decay"] == {"kind": "exponential", "beta": 0.2}
    assert a["competitors"]["layer"] == "facilities" and a["attractiveness"] == "land_value"
    page.unroute("**/api/v1/analysis/siting/")
    with page.expect_navigation():  # the same step in English, wide and on a phone
        page.get_by_label("語言").select_option("en")
    page.get_by_role("button", name="5 Allocation").click()
    page.get_by_label("Maximise market share", exact=False).check()
    assert page.get_by_label("Decay", exact=True).input_value() == "power"
    shot(page, "decision-16-siting-market-share-step-en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#decay-field").scroll_into_view_if_needed()
    shot(page, "decision-16-siting-market-share-step-en-390")
    page.set_viewport_size({"width": 1366, "height": 768})


def test_siting_on_cycling_time_shows_the_demand_within_each_break(page, celery_worker_process):
    """Cycling minutes on the demo city's roads, run to the end: the answer lists the demand within each break of
    the existing and of all the sites, as the job words it, in both languages, wide and on a phone."""
    page.goto("/siting/")
    sign_in(page)
    page.get_by_role("button", name="5 配置").click()
    page.get_by_label("自行車騎乘時間（分鐘，沿道路網）").check()
    page.get_by_label("涵蓋時間（分鐘）").fill("8")
    page.get_by_label("新設場址數 k").fill("2")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/analysis/siting/") and r.method == "POST") as sent:
        page.get_by_role("button", name="執行選址").click()
    assert sent.value.post_data_json["allocation"]["profile"] == "cycling"
    page.locator("#result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    job_id = page.locator("#result").get_attribute("data-job")
    for lang in ("zh-hant", "en"):
        if lang == "en":
            with page.expect_navigation():
                page.get_by_label("語言").select_option("en")
            page.goto(f"/siting/?job={job_id}")
            page.locator("#result").wait_for(state="visible")
        job = api(page, f"/api/v1/imports/{job_id}/")["body"]
        a, said = job["counts"]["result"]["allocation"], job["counts"]["result"]["wording"][lang]
        assert a["profile"] == "cycling" and [b["break_min"] for b in a["by_break"]] == [5, 8]
        assert a["by_break"][-1]["with_new"] == pytest.approx(a["accounting"]["covered"], abs=1)
        shown = [[c.inner_text() for c in page.locator("#by-break tr").nth(i).locator("th, td").all()]
                 for i in range(page.locator("#by-break tr").count())]
        assert shown == [[b["minutes"], b["existing"], b["with_new"], b["added"]] for b in said["by_break"]]
        assert shown[-1][0] == ("8 分鐘內" if lang == "zh-hant" else "within 8 min")
        page.locator("#by-break-box").scroll_into_view_if_needed()
        shot(page, f"decision-17-siting-cycling-breaks-{lang}")
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("#by-break-box").scroll_into_view_if_needed()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        shot(page, f"decision-17-siting-cycling-breaks-{lang}-390")
        page.set_viewport_size({"width": 1366, "height": 768})


def upload_points(page, name: str, points: list[list[float]]) -> str:
    """A point layer uploaded through the API with the page's session (run by the worker); its slug."""
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f"{name} {i + 1}", "kind": "巡查站"},
         "geometry": {"type": "Point", "coordinates": xy}} for i, xy in enumerate(points)]}
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post("/api/v1/layers/", headers={"X-CSRFToken": token, "Referer": page.url}, multipart={
        "files": {"name": f"{name}.geojson", "mimeType": "application/geo+json",
                  "buffer": json.dumps(collection, ensure_ascii=False).encode()}, "title": name})
    assert answer.status == 202, answer.text()
    job_id = answer.json()[0]["id"]
    for _ in range(300):
        job = api(page, f"/api/v1/imports/{job_id}/")["body"]
        if job["status"] in ("succeeded", "failed"):
            break
        page.wait_for_timeout(200)
    assert job["status"] == "succeeded", job
    return job["layers"][0]


def test_wizard_takes_layers_from_the_catalog_and_the_advanced_options(page, server, browser, celery_worker_process,
                                                                     no_script_errors):
    """An uploaded point layer as the existing facilities and a second demand source reach the job and the job
    runs; the advanced options (capacity, spacing, pool, time limit, gap, a category factor) reach the request."""
    page.goto("/siting/")
    sign_in(page)
    near = [f["geometry"]["coordinates"] for f in
            api(page, "/api/v1/layers/facilities/features/?limit=2&kind=school")["body"]["features"]]
    slug = upload_points(page, "巡查站", [[x + 0.002, y] for x, y in near])
    page.reload()
    page.wait_for_function("document.querySelectorAll('#candidate-values input').length > 0")
    page.get_by_label("既有設施圖層（點）").select_option(slug)
    shot(page, "decision-14-siting-layers-step-zh-hant")
    assert page.get_by_label("既有設施的類別欄位").input_value() == "kind"  # its category attribute, by kind
    page.get_by_label("場館類型").select_option("巡查站")
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("button", name="新增需求來源").click()
    second = page.locator(".demand-source").nth(1)
    second.get_by_label("需求圖層").select_option("facilities")
    options = second.get_by_label("需求數量欄位").locator("option").all_inner_texts()
    assert options == ["容納人數（人）"]  # count attributes only, with their unit
    second.get_by_label("倍數").fill("0.5")
    shot(page, "decision-12-siting-two-demand-sources-zh-hant")
    page.get_by_role("button", name="下一步").click()
    page.locator("#allocation-advanced summary").click()
    page.get_by_label("自分數最高的前幾名候選地中挑選").fill("150")
    page.get_by_label("新場址間最小間距").fill("300")
    page.get_by_label("求解時間上限（秒）").fill("30")
    page.get_by_label("可接受的最佳性差距").fill("1")
    page.get_by_label("新設場址數 k").fill("2")
    shot(page, "decision-13-siting-advanced-zh-hant")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/analysis/siting/") and r.method == "POST") as sent:
        page.get_by_role("button", name="執行選址").click()
    body = sent.value.post_data_json
    a = body["allocation"]
    assert a["existing"] == {"layer": slug, "filter": {"kind": "巡查站"}}
    assert a["demand"] == [{"layer": "villages", "attribute": "population"},
                           {"layer": "facilities", "attribute": "capacity", "scale": 0.5}]
    assert (a["pool"], a["min_spacing"], a["time_limit"], a["gap"], a["k"]) == (150, 300, 30, 0.01, 2)
    assert {"name": "existing", "kind": "distance", "layer": slug, "filter": {"kind": "巡查站"}, "prefer": "far",
            "weight": 2} in body["factors"]
    page.locator("#result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)  # the API took it: the job ran
    job = api(page, f"/api/v1/imports/{page.locator('#result').get_attribute('data-job')}/")["body"]
    assert job["status"] == "succeeded" and len(job["counts"]["result"]["allocation"]["fixed"]) == len(near)
    assert job["options"]["allocation"]["existing"]["layer"] == slug

    # p-median with a capacity and a category factor: the request, stopped before a job starts
    requests = []

    def stop(route):
        requests.append(route.request.post_data_json)
        route.fulfill(status=400, json={"detail": "stopped by the test"})
    no_script_errors.allow(r"status of 400 .*/api/v1/analysis/siting/")
    page.route("**/api/v1/analysis/siting/", stop)
    page.get_by_role("button", name="調整條件").click()
    page.get_by_role("button", name="3 因子").click()
    page.locator("#category-advanced summary").click()
    page.get_by_label("依候選地類別評分的欄位").select_option("land_use_code")
    page.wait_for_function("document.querySelectorAll('#category-scores input').length > 0")
    page.locator("#category-scores").get_by_label("住宅區", exact=True).fill("0.2")
    page.get_by_role("button", name="5 配置").click()
    page.locator("input[name=model][value=p_median]").check()
    page.get_by_label("每處容量上限").fill("40000")
    page.get_by_role("button", name="執行選址").click()
    page.get_by_text("stopped by the test").wait_for()
    body = requests[-1]
    assert body["allocation"]["model"] == "p_median" and body["allocation"]["capacity"] == 40000
    assert "min_spacing" not in body["allocation"]  # a covering option, not sent with the p-median
    category = next(f for f in body["factors"] if f["kind"] == "category")
    assert category["attribute"] == "land_use_code" and category["scores"]["residential"] == 0.2
    assert set(category["scores"]) >= {"residential", "commercial", "industrial"}
    page.unroute("**/api/v1/analysis/siting/")

    english = new_page(browser, server, locale="en-US")  # the same steps in English
    try:
        english.goto("/siting/")
        sign_in_as(english, "en")
        english.wait_for_function("document.querySelectorAll('#candidate-values input').length > 0")
        assert english.get_by_label("Existing facilities layer (points)").input_value() == "facilities"
        shot(english, "decision-14-siting-layers-step-en")
        english.get_by_role("button", name="4 Demand").click()
        english.get_by_role("button", name="Add a demand source").click()
        assert english.get_by_label("Demand count attribute").first.locator("option:checked").inner_text() \
            == "Population (people)"
        shot(english, "decision-12-siting-two-demand-sources-en")
        english.locator("[data-goto='4']").click()
        english.locator("#allocation-advanced summary").click()
        words = other_language(english.locator("#wizard").inner_text(), "en",
                               [*english.locator("#wizard option").all_inner_texts(),
                                *english.locator("#candidate-values label").all_inner_texts()])
        assert not words, words
        shot(english, "decision-13-siting-advanced-en")
        assert not english.errors, english.errors
    finally:
        english.context.close()


def test_wifi_page_flags_chart_coverage_and_recommendation(page, celery_worker_process):
    page.goto("/wifi/")
    assert page.get_by_role("note").is_visible()  # signed out: told why the use is not shown …
    places = api(page, "/api/v1/layers/wifi-hotspots/features/?limit=10000")["body"]["numberReturned"]
    page.wait_for_function(f"civgis.spots.getLayers().length === {places}")  # … the hotspots are, uncoloured
    sign_in(page)
    rows = page.locator("#hotspots tr")
    rows.first.wait_for()
    usage = api(page, "/api/v1/analysis/wifi/usage/", {})["body"]["hotspots"]
    assert rows.count() == len(usage)
    shown = {r.get_attribute("data-hotspot"): r.locator("td.flag").inner_text().strip() for r in rows.all()}
    expected = {h["id"]: next((FLAG_ZH[f] for f in ("overloaded", "under-used", "no usage records") if f in h["flags"]),
                              "正常") for h in usage}
    assert shown == expected
    flagged = next(h for h in usage if h["flags"])
    page.locator(f"#hotspots tr[data-hotspot='{flagged['id']}']").get_by_role("button").click()
    series = api(page, "/api/v1/analysis/wifi/usage/", {"hotspot": flagged["id"]})["body"]["series"]
    line = page.locator("#usage-chart svg polyline")
    line.wait_for()
    assert len(line.get_attribute("points").split()) == len(series)
    assert page.locator("#chart-flags").inner_text() == expected[flagged["id"]]
    assert flagged["name"] in page.locator("#chart-title").inner_text()

    page.get_by_label("熱點半徑（公尺）").fill("150")
    page.get_by_role("button", name="計算涵蓋").click()
    page.locator("#coverage-result").wait_for(state="visible", timeout=30_000)
    coverage = api(page, "/api/v1/analysis/wifi/coverage/", {"radius": 150})["body"]
    # an area-weighted estimate of people, shown whole
    assert number(page.locator("#covered-people").inner_text()) == round(coverage["total"]["covered_population"])
    assert page.locator("#gaps li").count() == min(10, len(coverage["gaps"])) > 0

    page.get_by_label("增設數量 k").fill("2")
    page.get_by_role("button", name="建議位置").click()
    page.locator("#recommend-result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    job = api(page, f"/api/v1/imports/{page.locator('#recommend-result').get_attribute('data-job')}/")["body"]
    assert job["options"] and job["options"]["allocation"]["k"] == 2
    assert number(page.locator("#gain").inner_text()) == pytest.approx(job["counts"]["result"]["gain"], abs=0.01)
    assert job["counts"]["result"]["gain"] > 0
    assert page.locator(".site-pin").count() == 2
    shot(page, "decision-03-wifi")


def test_sensor_page_latest_values_series_alerts_and_placement(page, celery_worker_process):
    page.goto("/")
    page.wait_for_load_state("networkidle")  # the map's tiles, which would otherwise queue ahead of the page's requests
    page.get_by_text("決策支援", exact=True).click()  # the viewer's menu leads to the pages
    page.get_by_role("link", name="物聯網感測器").click()
    page.wait_for_url("**/sensors/")
    rows = page.locator("#sensors tr")
    rows.first.wait_for()
    latest = api(page, "/api/v1/iot/sensors/latest/")["body"]["features"]
    assert rows.count() == len(latest)
    sensor = next(f for f in latest if "pm25" in f["properties"]["latest"])
    device = sensor["properties"]["device_id"]
    row = page.locator(f"#sensors tr[data-sensor='{device}']")
    assert number(row.locator("td.value").inner_text()) == pytest.approx(
        sensor["properties"]["latest"]["pm25"]["value"], abs=0.01)
    row.get_by_role("button").click()
    series = api(page, f"/api/v1/iot/sensors/{device}/series/?quantity=pm25&bucket=hour")["body"]["points"]
    line = page.locator("#series-chart svg polyline")
    line.wait_for()
    assert len(line.get_attribute("points").split()) == len(series) > 1
    alerts = api(page, "/api/v1/iot/alerts/")["body"]["alerts"]
    assert page.locator("#alerts li").count() == min(20, len(alerts)) > 0
    assert page.evaluate(UNNAMED_CONTROLS) == []
    shot(page, "decision-04-sensors")

    page.get_by_label("量測項目", exact=True).select_option("temperature_c")  # the map and table follow the quantity
    assert number(row.locator("td.value").inner_text()) == pytest.approx(
        sensor["properties"]["latest"]["temperature_c"]["value"], abs=0.01)

    sign_in(page)  # placement reads the cadastre
    page.get_by_label("新增數量 k").fill("2")
    page.get_by_label("最小間距（公尺）").fill("400")
    page.get_by_role("button", name="建議位置").click()
    page.locator("#placement-result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    job = api(page, f"/api/v1/imports/{page.locator('#placement-result').get_attribute('data-job')}/")["body"]
    a = job["counts"]["result"]["allocation"]
    assert job["options"]["allocation"]["min_spacing"] == 400 and len(a["chosen"]) == 2
    assert number(page.locator("#placement-covered").inner_text()) == pytest.approx(a["objective"], abs=0.01)
    assert page.locator(".site-pin").count() == 2 and page.locator("#placement-gains li").count() == 2
    shot(page, "decision-04-sensors-placement")


PM25_CLASSES = [(15.4, "#00e400"), (35.4, "#ffff00"), (54.4, "#ff7e00"), (150.4, "#ff0000"), (float("inf"), "#8f3f97")]


def _playback_page(browser, server, viewport, locale, name):
    page = new_page(browser, server, viewport, locale)
    page.goto("/sensors/")
    page.locator("#sensors tr").first.wait_for()
    page.locator("#playback-start").click()
    page.locator("#playback-forward").click()
    shot(page, name)
    page.context.close()
    page = new_page(browser, server, viewport, locale)  # the hotspots' days (signed in)
    page.goto("/wifi/")
    if viewport == PHONE:
        page.locator("#menu-toggle").click()  # sign-in is in the menu on a phone
    sign_in(page, ("登入", "帳號", "密碼") if locale == "zh-TW" else ("Sign in", "Username", "Password"))
    page.locator("#hotspots tr").first.wait_for()
    page.locator("#playback-start").click()
    page.locator("#playback-forward").click()
    shot(page, name.replace("sensors", "wifi"))
    page.context.close()


def test_sensor_and_wifi_playback_recolour_the_markers(page, facts, browser, server, no_script_errors):
    """逐時回放: one step on from the week's first hour colours each sensor by its mean of that hour (AQI classes);
    逐日回放: one day on, a hotspot by its sessions that day on the page's five-colour spread."""
    page.goto("/sensors/")
    page.locator("#sensors tr").first.wait_for()
    page.get_by_role("button", name="逐時回放").click()
    page.get_by_role("button", name="下一小時").click()
    assert page.locator("#playback-time").inner_text().endswith("01:00")  # 2026-10-25 01:00 Taipei, the 2nd hour
    assert "2026/10/25" in page.locator("#playback-time").inner_text()
    second_hour = datetime(2026, 10, 25, 1, tzinfo=timezone(timedelta(hours=8)))
    latest = api(page, "/api/v1/iot/sensors/latest/")["body"]["features"]
    checked = 0
    for device in [f["properties"]["device_id"] for f in latest if f["geometry"]][:3]:
        points = api(page, f"/api/v1/iot/sensors/{device}/series/?quantity=pm25&bucket=hour")["body"]["points"]
        mean = next(p["mean"] for p in points if datetime.fromisoformat(p["t"]) == second_hour)
        colour = next(c for top, c in PM25_CLASSES if mean <= top)
        drawn = page.evaluate("(id) => window.civgis.page.markers[id].options.fillColor", device)  # a canvas map
        assert drawn == colour, (device, mean)
        checked += 1
    assert checked == 3
    unit = next(f["properties"]["latest"]["pm25"]["unit"] for f in latest if "pm25" in f["properties"]["latest"])
    assert page.locator(".page-legend").inner_text().count(unit) == 6  # the title and the five classes
    play = page.locator("#playback-play")
    play.click()  # plays on, then pauses where it is
    page.wait_for_function("!document.querySelector('#playback-time').textContent.endsWith('01:00')")
    play.click()
    assert play.get_attribute("aria-label") == "播放"
    shot(page, "decision-04-sensors-playback")
    page.get_by_role("button", name="回到最新值").click()
    assert page.locator("#playback").is_hidden()

    page.goto("/wifi/")  # 逐日回放 of the hotspots' sessions (internal: signed in)
    sign_in(page)
    page.locator("#hotspots tr").first.wait_for()
    page.get_by_role("button", name="逐日回放").click()
    page.get_by_role("button", name="後一天").click()
    daily = api(page, "/api/v1/analysis/wifi/usage/", {"daily": True})["body"]["daily"]
    assert page.locator("#playback-time").inner_text() == daily["days"][1]
    counts = [n for row in daily["sessions"].values() for n in row if n is not None]
    lo, hi = min(counts), max(counts)
    hotspot, sessions = next((h, row[1]) for h, row in daily["sessions"].items() if row[1] is not None)
    spread = ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"]
    assert page.evaluate("(id) => window.civgis.page.markers[id].options.fillColor", hotspot) == \
        spread[min(4, int((sessions - lo) / (hi - lo) * 5))]
    shot(page, "decision-03-wifi-playback")
    if os.environ.get("CIVGIS_ALL_SCREENSHOTS"):  # the other language and the phone, for the docs
        _playback_page(browser, server, DESKTOP, "en-US", "decision-04-sensors-playback-en")
        _playback_page(browser, server, PHONE, "zh-TW", "decision-04-sensors-playback-phone-zh")
        _playback_page(browser, server, PHONE, "en-US", "decision-04-sensors-playback-phone-en")


@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390x844", "360x740"])
@pytest.mark.parametrize("path", ["/siting/", "/wifi/", "/sensors/"])
def test_phone_size_and_labels(browser, server, path, viewport):
    """A one-row header whose menu button opens the pages, language and sign-in; the map first, then the panel;
    nothing wider than the screen and every control a finger can hit."""
    width = viewport["width"]
    phone = new_page(browser, server, viewport=viewport)
    try:
        phone.goto(path)
        phone.wait_for_load_state("networkidle")
        assert phone.locator("#map").bounding_box()["height"] > 300
        assert phone.evaluate(UNNAMED_CONTROLS) == []
        assert phone.locator("#top").bounding_box()["height"] <= 56
        assert not phone.locator("#sign-in-open").is_visible()
        assert_fits(phone, width, "#top button, #top a, #side button, #side select, #side input:not([type=checkbox])")
        phone.locator("#menu-toggle").click()
        menu = phone.locator("#top-menu")
        for control in ("#sign-in-open", "#lang", "nav a[href='/wifi/']", "nav a[href='/sensors/']"):
            assert menu.locator(control).is_visible(), control
        assert_fits(phone, width, "#top-menu a, #top-menu button, #top-menu select")
        shot(phone, f"decision-05-phone-{path.strip('/')}-{width}")
        phone.locator("#menu-toggle").click()
        assert not menu.is_visible()
        assert not phone.errors
    finally:
        phone.context.close()


def test_english_switch_keeps_the_page(page):
    page.goto("/sensors/")
    with page.expect_navigation():
        page.get_by_label("語言").select_option("en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.url.endswith("/sensors/")
    heading = page.locator("#latest-heading")  # the demo feed's week is long past: its readings are "out of date"
    assert heading.is_visible() and heading.inner_text() in ("Latest values", "Last readings (out of date)")
    assert page.get_by_role("link", name="Facility siting").is_visible()
    page.locator("#sensors tr").first.wait_for()
    assert page.get_by_label("Quantity", exact=True).locator("option:checked").inner_text() == "PM2.5 (fine particles)"
    shot(page, "decision-06-sensors-english")


def layer_titles(page) -> list[str]:
    """The layers the pickers offer, by their titles: names from the catalog (an upload, an earlier job's result)."""
    return page.locator("select[data-role=layers] option").all_inner_texts()


def other_language(text: str, lang: str, proper_nouns: list[str] = ()) -> list[str]:
    """Words of the other language left in a page's text once proper nouns, units and codes are set aside."""
    for noun in sorted({n for n in [*proper_nouns, "planner"] if n}, key=len, reverse=True):  # + the user
        text = text.replace(noun, " ")
    if lang == "en":
        return sorted(set(re.findall(r"[\u3400-\u9fff]+", text.replace("繁體中文", ""))))
    return sorted(set(re.findall(r"[A-Za-z]{2,}", ALLOWED_LATIN.sub(" ", text))))


def test_stale_feeds_and_both_languages_on_every_page(browser, server, facts):
    """The sensor and Wi-Fi pages warn that the demo feeds are weeks old (their last readings are from 2026-11-01
    and 2026-10-29); each page and the siting answer in zh-Hant and in English, at 1366×768 and phone size."""
    job_id = facts.get("siting_job")
    for lang, locale in (("zh-hant", "zh-TW"), ("en", "en-US")):
        page = new_page(browser, server, locale=locale)
        try:
            page.goto("/sensors/")
            sign_in_as(page, lang)
            latest = api(page, "/api/v1/iot/sensors/latest/")["body"]
            warning = page.locator("#stale-warning")
            warning.wait_for()
            assert latest["freshness"]["stale"] == len(latest["features"]) > 0  # the demo week is long past
            text = warning.inner_text()
            assert re.search(r"\d+ 天前" if lang == "zh-hant" else r"\d+ days ago", text), text
            rows = page.locator("#sensors tr.stale")
            assert rows.count() == len(latest["features"])
            assert page.locator("#latest-heading").inner_text() == ("最後讀數（已過時）" if lang == "zh-hant"
                                                                   else "Last readings (out of date)")
            names = [f["properties"]["name"] for f in latest["features"]] + layer_titles(page)
            words = other_language(page.locator("body").inner_text(), lang, names)
            assert not words, words
            shot(page, f"decision-08-sensors-stale-{lang}")
            page.set_viewport_size(PHONE)
            shot(page, f"decision-08-sensors-stale-{lang}-phone")
            page.set_viewport_size({"width": 1366, "height": 768})

            page.goto("/wifi/")
            usage = api(page, "/api/v1/analysis/wifi/usage/", {})["body"]
            warning = page.locator("#wifi-stale-warning")
            warning.wait_for()
            assert usage["freshness"]["stale"] and usage["freshness"]["last_day"] in warning.inner_text()
            twins = [h for h in usage["hotspots"] if h["duplicate_name"]]
            assert page.locator("#hotspots .tag").count() == len(twins)
            hotspot_names = [h["name"] for h in usage["hotspots"]] + layer_titles(page)
            words = other_language(page.locator("body").inner_text(), lang, hotspot_names)
            assert not words, words
            shot(page, f"decision-09-wifi-stale-{lang}")
            page.set_viewport_size(PHONE)
            shot(page, f"decision-09-wifi-stale-{lang}-phone")
            page.set_viewport_size({"width": 1366, "height": 768})

            if job_id:
                page.goto(f"/siting/?job={job_id}")
                page.locator("#result").wait_for(state="visible")
                job = api(page, f"/api/v1/imports/{job_id}/")["body"]
                a, said = job["counts"]["result"]["allocation"], job["counts"]["result"]["wording"][lang]
                assert page.locator("#sum-line").inner_text() == said["accounting"]["sum"]
                assert page.locator("#covered").inner_text() == said["accounting"]["covered"]
                unit = " 人" if lang == "zh-hant" else " people"
                assert said["accounting"]["covered"].endswith(unit)
                assert [page.locator("#gains td.site").nth(i).inner_text() for i in range(len(a["chosen"]))] == \
                    said["sites"]
                nouns = [v for s in [*a["sites"], *(t["site"] for t in a["top"]),
                                     *(a.get("existing_sites") or {}).values()]
                         for v in [s.get("section"), s.get("name"), *s.get("places", [])] if v]
                words = other_language(page.locator("#result").inner_text(), lang, nouns)
                assert not words, words
                page.locator("#gains-table").scroll_into_view_if_needed()
                shot(page, f"decision-10-siting-answer-{lang}")
                page.set_viewport_size(PHONE)
                page.locator("#gains-table").scroll_into_view_if_needed()
                shot(page, f"decision-10-siting-answer-{lang}-phone")
                page.goto(f"/api/v1/analysis/siting/{job_id}/report.html")
                page.wait_for_load_state("load")
                assert page.locator("html").get_attribute("lang") == ("zh-Hant" if lang == "zh-hant" else "en")
                shot(page, f"decision-11-siting-report-{lang}-phone")
            assert not page.errors, page.errors
        finally:
            page.context.close()


def sign_in_as(page, lang):
    button, user, password = ("登入", "帳號", "密碼") if lang == "zh-hant" else ("Sign in", "Username", "Password")
    page.get_by_role("button", name=button).click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label(user).fill("planner")
    dialog.get_by_label(password).fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name=button).click()
    page.wait_for_selector("#signed-in-as", state="attached")  # in the closed menu on a phone
