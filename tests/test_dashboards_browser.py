"""The 市政儀表板 in a real browser (gunicorn + Debian Chromium, a small demo city and the loader's dashboard): its
figures as the values API gives them, with units and the change against the previous period; cross-filtering from a
chart bar, from a village on the map and from a table row, the selectors and clearing them; English and a phone;
then an officer builds a dashboard from scratch in edit mode (an indicator KPI and bars, a layer widget: the demo
facilities counted by kind, whose bars filter; who may see it), saves it, and its auto-refresh picks up new figures;
its embed snippet and embedded page, its PDF link with the filters; and the demo's 1999 cases on /events/ (English,
then zh-Hant on a phone). One page, one context; screenshots in
.var/screenshots/dashboard-*.png."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import CHROMIUM, PHONE, UNNAMED_CONTROLS, assert_fits, committed_demo_city, new_page, shot
from django.contrib.auth.models import Group, User
from django.db import connection, connections
from django.utils import timezone
from test_dashboards import ensure_quantities

from dashboards import demo
from iot.ingest import ingest
from iot.models import Device
from iot.tokens import new_token

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]
PASSWORD = "dash-officer-2026"


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from dashboards.models import Dashboard

    with committed_demo_city(django_db_blocker, seed=2026, size=0.3) as made, django_db_blocker.unblock():
        demo.make(log=lambda _m: None)
        User.objects.create_user("dash-builder", password=PASSWORD).groups.add(Group.objects.get(name=demo.AGENCY))
        sensor_reading()
        try:
            yield made
        finally:
            Dashboard.objects.all().delete()
            User.objects.filter(username="dash-builder").delete()
            Device.objects.filter(device_id="DASH-AQ-1").delete()


def sensor_reading():
    """One air-quality sensor with a PM2.5 reading ten minutes ago, taken in as a device's readings are."""
    ensure_quantities()
    device = Device.objects.create(device_id="DASH-AQ-1", token_hash=new_token()[1], name="示範感測器")
    reading = {"quantity": "pm25", "value": 18.4, "observed_at": (timezone.now() - timedelta(minutes=10)).isoformat()}
    assert ingest(device, [reading], "http").accepted == 1


@pytest.fixture(scope="module")
def facts(city, django_db_blocker):
    """What the page should show, read before Playwright's loop runs."""
    from layers.models import Layer

    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("SELECT district, population, village_code FROM layerdata.villages ORDER BY district, "
                    "village_code")
        rows = cur.fetchall()
        table = Layer.objects.get(slug=demo.TABLE).table_name
        cur.execute("SELECT count(*), count(*) FILTER (WHERE kind = 'park') FROM layerdata.facilities")
        facilities, parks = cur.fetchone()
    district = rows[0][0]
    return {"total": sum(r[1] for r in rows), "district": district,
            "district_total": sum(r[1] for r in rows if r[0] == district),
            "district_villages": sum(1 for r in rows if r[0] == district),
            "village": rows[0][2], "village_population": rows[0][1], "villages": len(rows), "table": table,
            "facilities": facilities, "parks": parks}


def kpi(page, wid="pop") -> int:
    return int(page.locator(f"#widget-{wid} .kpi-value data").inner_text().replace(",", ""))


def drawn(page):
    """Wait for the widgets' drawing after a filter change."""
    page.wait_for_function("() => !document.querySelector('.widget[aria-busy]')")


def sign_in(page, username="dash-builder"):
    """Through the header's sign-in dialog (zh-Hant), back on the same page signed in."""
    page.locator("#sign-in-open").click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label("帳號").fill(username)
    dialog.get_by_label("密碼").fill(PASSWORD)
    with page.expect_navigation(wait_until="domcontentloaded"):
        dialog.get_by_role("button", name="登入").click()


def test_city_dashboard_cross_filters_and_building_one(browser, server, facts, django_db_blocker,
                                                       celery_worker_process):
    page = new_page(browser, server)
    page.set_default_navigation_timeout(60_000)  # a cold server worker on a loaded machine
    try:
        page.goto("/dashboards/")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.get_by_role("link", name="市政儀表板").click()
        page.wait_for_selector("#widget-pop .kpi-value data")
        drawn(page)
        assert kpi(page) == facts["total"]
        assert "人" in page.locator("#widget-pop .unit").inner_text()
        change = page.locator("#widget-pop .kpi-change").inner_text()
        assert re.search(r"較 2024-12-01 [+−±][\d,]+ 人（[+−±][\d.]+%）", change), change
        assert "人/平方公里" in page.locator("#widget-dens").inner_text()
        assert page.locator("#widget-villages tbody tr").count() == facts["villages"]
        assert page.evaluate(UNNAMED_CONTROLS) == []
        air = page.locator("#widget-air").inner_text()  # the live sensor widget: value, unit, time
        assert "18.4" in air and "µg/m³" in air and "最新觀測" in air and "1 個感測器" in air
        assert page.locator("#widget-wifi").count() == 0  # the Wi-Fi usage table is internal
        week = page.locator("#widget-airweek").inner_text()  # this week's daily means: today's reading
        assert "18.4" in week and "µg/m³" in week
        parks = page.locator("#widget-parks").inner_text()  # the share of the people near a park, and its method
        assert "%" in parks and "500 公尺" in parks and "人" in parks
        shot(page, "dashboard-01-city")
        # a bar of the district chart filters every other widget to that district
        page.locator("#widget-popbar .bar-row", has_text=facts["district"]).click()
        drawn(page)
        assert kpi(page) == facts["district_total"]
        assert page.locator("#widget-villages tbody tr").count() == facts["district_villages"]
        assert facts["district"] in page.locator("#board-status").inner_text()
        assert page.locator("#widget-popbar .bar-row[aria-pressed=true]").count() == 1
        assert "town=" in page.url  # the filtered dashboard is shared by its link
        assert "town=" in page.locator("#print-pdf").get_attribute("href")  # its PDF prints the filters
        page.locator("#share-board summary").click()
        assert "/dashboards/city/embed/" in page.locator("#embed-code").input_value()
        shot(page, "dashboard-02-district")
        # a village on the map: the figures are the village's, its row is marked
        page.locator(f"#widget-map path[data-key='{facts['village']}']").dispatch_event("click")
        drawn(page)
        assert kpi(page) == facts["village_population"]
        assert page.locator(f"#widget-villages tr.chosen[data-key='{facts['village']}']").count() == 1
        # its profile: every indicator beside the city's, with units
        profile = page.locator("#profile-link").get_attribute("href")
        page.locator("#clear-filters").click()
        drawn(page)
        assert kpi(page) == facts["total"] and "town=" not in page.url
        # a table row filters too; the period and category selectors
        page.locator("#widget-villages tbody tr").first.get_by_role("button").click()
        drawn(page)
        assert page.locator("#widget-villages tr.chosen").count() == 1
        page.locator("#clear-filters").click()
        page.get_by_label("期別", exact=True).select_option("2024-12-01")
        drawn(page)
        assert kpi(page) != facts["total"] and "2024-12-01" in page.locator("#widget-pop .count").inner_text()
        page.get_by_label("年齡結構", exact=True).select_option(label="老化指數")
        drawn(page)
        assert "老化指數" in page.locator("#widget-agebar").inner_text()
        page.locator("#clear-filters").click()
        drawn(page)
        page.goto(profile, wait_until="domcontentloaded")
        table = page.locator("#profile").inner_text()
        assert "人口密度" in table and "人/平方公里" in table and "%" in table
        # English, and a phone
        page.goto("/dashboards/city/", wait_until="domcontentloaded")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("en")
        page.wait_for_selector("#widget-pop .kpi-value data")
        drawn(page)
        text = page.locator("#board").inner_text()
        assert "Population by district" in text and "people/km²" in text and "vs 2024-12-01" in text
        assert "人口" not in text.replace("示範市", "")
        shot(page, "dashboard-03-city-en")
        page.set_viewport_size(PHONE)
        assert_fits(page, PHONE["width"], "#report button, #report select")
        shot(page, "dashboard-04-phone-en")
        page.set_viewport_size({"width": 1366, "height": 900})  # the language menu is folded away on a phone
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("zh-hant")
        page.set_viewport_size(PHONE)
        drawn(page)
        shot(page, "dashboard-05-phone")
        page.set_viewport_size({"width": 1366, "height": 900})
        # an officer builds one from scratch
        page.goto("/dashboards/")
        sign_in(page)
        page.locator("summary", has_text="建立儀表板").click()
        page.get_by_label("名稱", exact=True).fill("區政快覽")
        page.get_by_label("英文名稱").fill("District glance")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.get_by_role("button", name="建立並編輯").click()
        assert page.url.endswith("/dashboards/district-glance/?edit=1")
        page.get_by_label("元件類型").select_option("kpi")
        page.get_by_label("指標", exact=True).select_option("city-population")
        page.get_by_role("button", name="加入").click()
        page.get_by_label("元件類型").select_option("bar")
        page.get_by_label("指標", exact=True).select_option("city-households")
        page.get_by_role("button", name="加入").click()
        # a widget over a layer: the facilities counted by kind (its bars filter the widgets over that layer)
        page.get_by_label("元件類型").select_option("bar")
        page.get_by_label("資料來源").select_option("layer")
        page.get_by_label("圖層或統計表", exact=True).select_option("facilities")
        page.get_by_label("統計方式").select_option("count")
        page.get_by_label("分組").select_option("kind")
        page.get_by_label("標題（留空則用指標名稱）").fill("各類設施數")
        page.get_by_role("button", name="加入").click()
        page.get_by_label("元件類型").select_option("kpi")
        page.get_by_label("資料來源").select_option("layer")
        page.get_by_label("圖層或統計表", exact=True).select_option("facilities")
        page.get_by_role("button", name="加入").click()
        page.get_by_label("誰可以查看").select_option("restricted")
        page.get_by_label(demo.AGENCY).check()
        page.get_by_label("自動更新間隔（秒，0 為不更新）").fill("1")
        page.get_by_role("button", name="儲存").click()
        page.wait_for_selector("#b-saved:has-text('已儲存')")
        shot(page, "dashboard-06-builder")
        page.set_viewport_size(PHONE)
        assert_fits(page, PHONE["width"], "#builder button, #builder select, #builder input")
        shot(page, "dashboard-10-builder-phone")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto("/dashboards/district-glance/", wait_until="domcontentloaded")
        page.wait_for_selector(".widget.type-bar .bar-row")
        drawn(page)
        assert page.locator(".widget").count() == 4 and kpi(page, page.locator(".widget").first.get_attribute(
            "id").removeprefix("widget-")) == facts["total"]
        # the layer widget: a kind's bar filters the facilities' count, not the statistics
        kinds = page.locator(".widget", has_text="各類設施數")
        count = page.locator(".widget").nth(3)
        every = kpi(page, count.get_attribute("id").removeprefix("widget-"))
        assert every == facts["facilities"] and "筆" in count.inner_text()
        kinds.locator(".bar-row", has_text="公園").click()
        drawn(page)
        assert kpi(page, count.get_attribute("id").removeprefix("widget-")) == facts["parks"]
        assert "pick=facilities" in page.url and "公園" in page.locator("#board-status").inner_text()
        shot(page, "dashboard-09-layer-widget")
        page.locator("#clear-filters").click()
        drawn(page)
        page.locator(".widget.type-bar .bar-row").first.click()  # a bar of a fresh dashboard filters its KPI
        drawn(page)
        first = page.locator(".widget").first.get_attribute("id").removeprefix("widget-")
        assert kpi(page, first) < facts["total"]
        page.locator("#clear-filters").click()
        drawn(page)
        # auto-refresh: new figures in the table show without reloading
        # on a connection of its own (committed at once: the test's own runs in a transaction the server never sees)
        with django_db_blocker.unblock(), connections.create_connection("default").cursor() as cur:
            table = facts["table"]
            cur.execute(f"UPDATE layerdata.{table} SET population = population + 1000 WHERE fid = "  # noqa: S608
                        f"(SELECT min(fid) FROM layerdata.{table} WHERE period = DATE '2025-12-01')")
            assert cur.rowcount == 1
        page.wait_for_function(f"() => document.querySelector('#widget-{first} .kpi-value data')?.value == "
                               f"'{facts['total'] + 1000}'", timeout=10_000)
        # signed in, the 市政儀表板 shows the Wi-Fi use too
        page.goto("/dashboards/city/", wait_until="domcontentloaded")
        page.wait_for_selector("#widget-wifi .kpi-value data")
        drawn(page)
        assert "人次" in page.locator("#widget-wifi").inner_text()
        assert "目標 20.0 %" in page.locator("#widget-aged").inner_text()  # the gauge against its target
        shot(page, "dashboard-07-live", full_page=True)
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("en")
        page.set_viewport_size(PHONE)
        page.wait_for_selector("#widget-wifi .kpi-value data")
        drawn(page)
        assert "sessions" in page.locator("#widget-wifi").inner_text()
        assert_fits(page, PHONE["width"], "#report button, #report select")
        shot(page, "dashboard-08-live-phone-en", full_page=True)
        # embedded: the dashboard alone (the restricted one too, for its group), in English on a phone, and at 1366
        page.goto("/dashboards/district-glance/embed/", wait_until="domcontentloaded")
        page.wait_for_selector(".widget.type-bar .bar-row")
        drawn(page)
        assert page.locator("#top").count() == 0 and "District glance" in page.locator(".embed-title").inner_text()
        shot(page, "dashboard-11-embed-phone-en")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto("/dashboards/city/", wait_until="domcontentloaded")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("zh-hant")
        page.goto("/dashboards/city/embed/", wait_until="domcontentloaded")
        page.wait_for_selector("#widget-parks .kpi-value data")
        drawn(page)
        assert "市政儀表板" in page.locator(".embed-title").inner_text()
        shot(page, "dashboard-12-embed")
        # /stats/: the upload form, and an indicator's name, unit and formula changed on the page
        page.goto("/stats/", wait_until="domcontentloaded")
        page.locator("#upload summary").click()
        assert page.get_by_label("檔案（CSV、XLSX、ODS、JSON 或 SEGIS 套件）").count() == 1
        row = page.locator("#indicator-city-households")
        row.locator("details.edit-indicator summary").click()
        row.get_by_label("英文名稱").fill("Households registered")
        row.get_by_label("單位").select_option("households")
        shot(page, "dashboard-13-stats-edit")
        with page.expect_navigation(wait_until="domcontentloaded"):
            row.get_by_role("button", name="儲存").click()
        assert page.url.endswith("#indicator-city-households")
        assert page.evaluate(UNNAMED_CONTROLS) == []
        page.set_viewport_size(PHONE)
        page.locator("#upload summary").click()
        shot(page, "dashboard-14-stats-phone")
        page.set_viewport_size({"width": 1366, "height": 900})
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("en")
        assert "Households registered" in page.locator("#indicator-city-households").inner_text()
        page.locator("#upload summary").click()
        page.locator("#indicator-city-households details.edit-indicator summary").click()
        shot(page, "dashboard-15-stats-en")
        page.set_viewport_size(PHONE)
        shot(page, "dashboard-16-stats-phone-en")
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto("/dashboards/district-glance/?edit=1", wait_until="domcontentloaded")
        page.get_by_label("Widget type").select_option("pie")
        page.get_by_label("Source").select_option("layer")
        page.wait_for_selector(".widget.type-bar .bar-row")
        shot(page, "dashboard-17-builder-en")
        # the demo's 1999 cases on 事件統計 (events/): tables with units, in English and in zh-Hant on a phone
        page.goto("/events/?layer=hotline-cases&by=village", wait_until="domcontentloaded")
        assert "cases/1,000" in page.locator("#counts-table thead").inner_text()
        assert page.locator("#counts-table tbody tr").count() >= facts["villages"] // 2
        assert page.locator("#times-table tbody tr").count() >= 5 and page.locator("#changes-table tbody tr").count()
        shot(page, "events-01-en")
        # 熱點分析 on the same page: the demo's planted intensifying street-light hot spot, as a job on the worker,
        # its summary with each class's meaning and a link to the result layer on the map
        page.locator("#h-categories").get_by_role("button", name="None").click()
        page.locator("#h-categories").get_by_label("Street light out").check()
        page.get_by_role("button", name="Run the analysis").click()
        page.wait_for_selector("#hotspot-classes", timeout=60_000)
        assert "Intensifying hot spot" in page.locator("#hotspot-classes").inner_text()
        assert page.locator("#sign-in-open").count() == 0  # the header knows the officer is signed in
        assert page.locator("#hotspot-map").get_attribute("href").startswith("/?layer_dialog=")
        page.locator("#hotspot-heading").scroll_into_view_if_needed()
        shot(page, "events-03-hotspots-en")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("zh-hant")
        page.set_viewport_size(PHONE)
        assert "件/千人" in page.locator("#counts-table thead").inner_text()
        assert "小時" in page.locator("#times-table thead").inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate(UNNAMED_CONTROLS) == []
        shot(page, "events-02-phone")
        page.locator("#h-method").select_option("hotspots")
        page.get_by_role("button", name="開始分析").click()
        page.wait_for_selector("#hotspot-classes", timeout=60_000)
        assert "熱點（99% 信賴）" in page.locator("#hotspot-classes").inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        page.locator("#hotspot-classes").scroll_into_view_if_needed()
        shot(page, "events-04-hotspots-phone")
    finally:
        page.context.close()


def test_events_page_draws_counts_by_h3_cells_and_area_layers_on_its_map(browser, server, facts):
    """事件統計 by H3 cells (residents apportioned from the villages by their door numbers) and by an area layer:
    the counted areas on the page's map with a legend in the page's units, in zh-Hant, in English and on a phone."""
    page = new_page(browser, server)
    page.set_default_navigation_timeout(60_000)
    try:
        page.goto("/events/")
        sign_in(page)
        page.goto("/events/?layer=hotline-cases&by=h3&resolution=8", wait_until="domcontentloaded")
        assert "531.4 公尺" in page.locator("#h3-size").inner_text()
        assert "門牌" in page.locator("#population-source").inner_text()
        assert page.locator("#counts-table tbody tr").count() > 10
        page.wait_for_selector("#events-map .page-legend li")
        assert "件/千人" in page.locator("#events-map .page-legend").inner_text()
        assert page.locator("#e-by option:checked").inner_text() == "H3 六角網格"
        shot(page, "events-05-h3")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("en")
        page.wait_for_selector("#events-map .page-legend li")
        assert "Rate per 1,000 residents" in page.locator("#events-map .page-legend").inner_text()
        assert "mean hexagon edge 531.4 m" in page.locator("#h3-size").inner_text()
        assert page.locator("#e-by option:checked").inner_text() == "H3 hexagons"
        shot(page, "events-06-h3-en")
        page.set_viewport_size(PHONE)
        page.goto("/events/?layer=hotline-cases&by=layer&areas=villages", wait_until="domcontentloaded")
        page.wait_for_selector("#events-map .page-legend li")
        assert page.locator("#counts-table tbody tr").count() >= facts["villages"] // 2
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate(UNNAMED_CONTROLS) == []
        shot(page, "events-07-areas-phone-en")
        page.set_viewport_size({"width": 1366, "height": 900})  # the language menu is folded on a phone
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.locator("#lang").select_option("zh-hant")
        page.set_viewport_size(PHONE)
        page.goto("/events/?layer=hotline-cases&by=grid&cell=1000", wait_until="domcontentloaded")
        page.wait_for_selector("#events-map .page-legend li")
        assert "1000 公尺" in page.locator("#grid-size").inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        shot(page, "events-08-grid-phone")
    finally:
        page.context.close()
