"""The search box, the found-feature highlight and identify across layers in a real browser (Debian's Chromium via
Playwright) on the demo city: an address gives a marker with its match level, every coordinate form gives a marker
at the same place, bad input gives a message saying what was expected, a place is outlined until cleared, and a
click lists every visible layer under it in tabs. One page walks through all of it; any script error fails it."""

import re
from pathlib import Path

import pytest
from conftest import CHROMIUM, PHONE, committed_demo_city, new_page, settle, shot
from django.db import connection

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]
SEARCH = "搜尋圖層、地名、地址或坐標"


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=11, size=0.3) as demo:
        yield demo


@pytest.fixture(scope="module")
def facts(city, django_db_blocker) -> dict:
    def one(sql: str, params=()):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    with django_db_blocker.unblock():
        district, road, number, lon, lat, x, y = one(
            "SELECT district, road, number, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)), "
            "ST_X(geom), ST_Y(geom) FROM layerdata.address_points WHERE lane IS NULL AND number NOT LIKE '%%之%%' "
            "ORDER BY address_id LIMIT 1 OFFSET 30")
        (highest,) = one("SELECT max(substring(number from '^[0-9]+')::int) FROM layerdata.address_points "
                         "WHERE road = %s AND lane IS NULL", [road])
        # a beginning two or more roads share: a search for it lists its results instead of going to the only one
        (prefix,) = one("SELECT left(road, 2) p FROM layerdata.address_points GROUP BY p "
                        "HAVING count(DISTINCT road) > 1 ORDER BY count(DISTINCT road) DESC, p LIMIT 1")
        village, vlon, vlat = one(
            "SELECT name, ST_X(p), ST_Y(p) FROM (SELECT name, ST_Transform(ST_PointOnSurface(geom), 4326) p "
            "FROM layerdata.villages ORDER BY population DESC LIMIT 1) s")
    return {"address": f"{district}{road}{number}", "road": road, "prefix": prefix, "beyond": highest + 41,
            "lonlat": (lon, lat), "twd97": (x, y), "village": village, "village_point": (vlon, vlat)}


def watch(page):
    """Console errors fail the test as page errors do (except the browser's own note of the 400 that bad input is
    meant to get)."""
    page.set_default_timeout(45_000)  # a loaded 2-core machine is slow to answer the first page
    page.console_errors = []
    expected = re.compile(r"^Failed to load resource: the server responded with a status of 400")
    page.on("console", lambda m: page.console_errors.append(m.text)
            if m.type == "error" and not expected.match(m.text) else None)
    return page


def search(page, text: str):
    clear = page.get_by_role("button", name=re.compile("清除搜尋標示|Clear search marks"))
    if clear.count():  # so that waiting for a mark waits for this search's
        clear.click()
    page.locator("#search-input").fill(text)
    page.keyboard.press("Enter")


def dms(value: float, positive: str, negative: str, wide: bool = False) -> str:
    d = int(abs(value))
    m = int((abs(value) - d) * 60)
    s = (abs(value) - d - m / 60) * 3600
    text = f"{d}°{m:02d}'{s:05.2f}\"{positive if value >= 0 else negative}"
    return text.translate(str.maketrans("0123456789.'\"NE", "０１２３４５６７８９．’”ＮＥ")) if wide else text


def marker_at(page) -> tuple[float, float]:
    page.locator(".found-tooltip").wait_for()
    return tuple(page.evaluate("(() => { const m = civgis.foundLayer().getLayers().find(l => l.options.alt); "
                               "const p = m.getLatLng(); return [p.lng, p.lat]; })()"))


def test_search_marks_addresses_and_coordinates_outlines_places_and_identify_lists_every_layer(
        facts, server, browser, no_script_errors):
    no_script_errors.allow(r"status of 400 .*/api/v1/search/")  # outside Taiwan or not a coordinate: said in the list
    page = watch(new_page(browser, server))
    try:
        page.goto("/", timeout=90_000)
        page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=60_000)
        lon, lat = facts["lonlat"]

        # an address: a marker on its door number, saying the match was exact
        search(page, facts["address"])
        tip = page.locator(".found-tooltip")
        tip.get_by_text("門牌完全相符").wait_for()
        assert facts["address"].split("區")[-1] in tip.inner_text()
        assert marker_at(page) == pytest.approx((lon, lat), abs=1e-6)
        assert "已定位至" in page.locator("#status").inner_text()
        shot(page, "search-address-exact-zh")

        # a number the road does not have: the nearest one, said so
        search(page, f"{facts['road']}{facts['beyond']}號")
        page.locator(".found-tooltip").get_by_text("最近門牌").wait_for()

        # every coordinate form puts the marker on the same point
        x, y = facts["twd97"]
        forms = {f"{x:.2f} {y:.2f}": "讀作 TWD97 X,Y", f"{x:.2f},{y:.2f}": "讀作 TWD97 X,Y",
                 f"{lon:.7f},{lat:.7f}": "讀作經緯度", f"{lat:.7f}, {lon:.7f}": "讀作經緯度",
                 f"{dms(lat, 'N', 'S')} {dms(lon, 'E', 'W')}": "讀作度分秒",
                 f"{dms(lat, 'N', 'S', wide=True)}　{dms(lon, 'E', 'W', wide=True)}": "讀作度分秒"}
        for typed, read_as in forms.items():
            search(page, typed)
            page.locator(".found-tooltip").get_by_text(read_as).wait_for()
            assert marker_at(page) == pytest.approx((lon, lat), abs=2e-6), typed
        shot(page, "search-coordinates-dms-zh")

        # bad input: a message saying what was expected, no empty list
        search(page, "0,0")
        note = page.locator("#search-results .search-note.error")
        note.wait_for()
        assert "不在臺灣範圍內" in note.inner_text() and "250000 2770000" in note.inner_text()
        shot(page, "search-bad-coordinate-zh")
        search(page, "12 34 56")
        page.locator("#search-results .search-note.error").get_by_text(re.compile("不是可讀的坐標")).wait_for()
        search(page, "火星市不存在路1號")
        page.locator("#search-results .search-note").get_by_text(re.compile("請寫出路街與門牌號")).wait_for()

        # a place: zoomed to, outlined (flashing) until cleared, also after panning
        search(page, facts["village"])
        page.locator("path.found-outline").first.wait_for()
        assert page.locator(".found-outline").first.evaluate("el => getComputedStyle(el).animationName") == (
            "found-flash")
        page.evaluate("() => { civgis.map.panBy([40, 0], { animate: false }); }")  # the map itself is no answer
        settle(page)
        assert page.locator("path.found-outline").count() >= 1
        shot(page, "search-place-outlined-zh")
        page.get_by_role("button", name="清除搜尋標示").click()
        assert page.locator(".found-outline").count() == 0 and page.locator(".found-tooltip").count() == 0

        # identify: every visible layer under the click, a tab each
        page.locator("#layer-tree").get_by_label("行政區界", exact=True).check()
        page.locator("#layer-tree").get_by_label("建物", exact=True).uncheck()
        vlon, vlat = facts["village_point"]
        page.evaluate(f"civgis.map.setView([{vlat}, {vlon}], 16, {{ animate: false }})")
        settle(page)
        box = page.locator("#map").bounding_box()
        px, py = page.evaluate(f"(() => {{ const p = civgis.map.latLngToContainerPoint([{vlat}, {vlon}]); "
                               "return [p.x, p.y]; })()")
        popup = page.locator(".identify")
        tabs = popup.get_by_role("tab")
        for _attempt in range(30):  # until both layers' tiles are drawn (slow on a loaded machine)
            page.mouse.move(box["x"] + px, box["y"] + py)
            page.mouse.click(box["x"] + px, box["y"] + py)
            page.wait_for_timeout(700)
            if popup.count() and tabs.count() >= 2:
                break
        popup.locator("table.attributes").wait_for()
        titles = tabs.all_inner_texts()
        assert {"村里界與人口", "行政區界"} <= set(titles), (titles, page.evaluate("civgis.state.active"))
        # the layer switched on last is on top, so its tab comes first and is open
        assert titles[0] == "行政區界" and tabs.first.get_attribute("aria-selected") == "true"
        districts = popup.locator("[role=tabpanel][data-slug=districts]")
        assert districts.is_visible() and "名稱" in districts.inner_text()
        popup.get_by_role("tab", name="村里界與人口").click()
        villages = popup.locator("[role=tabpanel][data-slug=villages]")
        villages.locator("table.attributes").wait_for()
        assert facts["village"] in villages.inner_text() and not districts.is_visible()
        shot(page, "search-identify-tabs-zh")
        assert not page.errors and not page.console_errors, (page.errors, page.console_errors)
    finally:
        page.context.close()


def test_search_in_english_and_on_a_phone(facts, server, browser, no_script_errors):
    no_script_errors.allow(r"status of 400 .*/api/v1/search/")
    page = watch(new_page(browser, server, locale="en-US"))
    try:
        page.goto("/", timeout=90_000)
        page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=60_000)
        search(page, facts["address"])
        page.locator(".found-tooltip").get_by_text("exact door number").wait_for()
        shot(page, "search-address-exact-en")
        search(page, "0,0")
        note = page.locator("#search-results .search-note.error")
        note.wait_for()
        assert "outside Taiwan" in note.inner_text()
        search(page, facts["prefix"])  # several kinds of result, each under its heading
        page.locator("#search-results .search-kind").get_by_text("Places").wait_for()
        shot(page, "search-results-en")
        search(page, "門牌")  # the one layer with this keyword: chosen and switched on at once
        page.wait_for_function("civgis.state.active.includes('address-points')")
        assert not page.errors and not page.console_errors, (page.errors, page.console_errors)
    finally:
        page.context.close()
    phone = watch(new_page(browser, server, viewport=PHONE))
    try:
        phone.goto("/", timeout=90_000)
        phone.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=60_000)
        search(phone, facts["prefix"])
        phone.locator("#search-results .search-kind").first.wait_for()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        shot(phone, "search-results-phone")
        search(phone, facts["address"])
        phone.locator(".found-tooltip").get_by_text("門牌完全相符").wait_for()
        settle(phone)
        shot(phone, "search-address-phone")
        assert not phone.errors and not phone.console_errors, (phone.errors, phone.console_errors)
    finally:
        phone.context.close()
