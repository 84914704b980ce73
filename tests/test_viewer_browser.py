"""The map viewer in a real browser: Playwright driving Debian's Chromium (headless, no downloaded browser) against
gunicorn serving the test database with the demo city (size 1, as `make demo` makes it).

Every test asserts on what the page shows. Screenshots go to .var/screenshots/ for a person to look at; the
first-map time and the tile latencies while panning go to .var/screenshots/performance.json (reported, not
asserted).
"""

import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    SHOTS,
    SMALL_PHONE,
    UNNAMED_CONTROLS,
    assert_fits,
    committed_demo_city,
    new_page,
    settle,
    shot,
)
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pyproj import Geod, Transformer

from layers.models import Layer, Style

PASSWORD = "planner-pw-2026"
GRS80 = Geod(ellps="GRS80")

# django_db: pytest-django sets the test database up only when some test of the session is marked so
pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=2026, size=1) as demo:
        with django_db_blocker.unblock():
            User.objects.create_user("planner", password=PASSWORD)
        yield demo
        with django_db_blocker.unblock():
            User.objects.filter(username="planner").delete()


@pytest.fixture(scope="module")
def facts(city, django_db_blocker) -> dict:
    """What the page should show, read from the database before the browser starts (Django's connection must not
    be used while Playwright's event loop runs in this thread)."""

    def one(sql: str, params=()):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    (SHOTS / "performance.json").unlink(missing_ok=True)  # this run's figures only
    with django_db_blocker.unblock():
        lon, lat = one("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_Centroid(ST_Extent(geom)"
                       "::geometry), 3826), 4326) c FROM layerdata.parcels) s")
        # the largest parcel near the centre, and a point inside it
        section, number, plon, plat = one(
            "SELECT section, parcel_no, ST_X(p), ST_Y(p) FROM (SELECT section, parcel_no, ST_Area(geom) a, "
            "ST_Transform(ST_PointOnSurface(geom), 4326) p FROM layerdata.parcels ORDER BY geom <-> ST_Transform("
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326), 3826) LIMIT 20) s ORDER BY a DESC LIMIT 1", [lon, lat])
        village, *village_box = one(
            "SELECT name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT name, ST_Transform(geom, "
            "4326) e FROM layerdata.villages ORDER BY population DESC LIMIT 1) v")
        (road,) = one("SELECT name FROM layerdata.roads GROUP BY name ORDER BY count(*) DESC, name LIMIT 1")
        # a point in the most populous village that no building covers (for identify on the villages)
        village_point = one(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(ST_Difference(v.geom, (SELECT "
            "ST_Union(ST_Buffer(b.geom, 30)) FROM layerdata.buildings b WHERE b.geom && v.geom))), 4326) p "
            "FROM layerdata.villages v ORDER BY population DESC LIMIT 1) s")
        return {
            "centre": (lon, lat), "parcel": {"section": section, "number": number, "point": (plon, plat)},
            "village": village, "village_box": village_box, "road": road, "village_point": village_point,
            "flood_box": Layer.objects.get(slug="flood-zones").extent.extent,
            "flood_legend": [c["label"] for c in Style.objects.get(layer__slug="flood-zones").classes],
        }


def open_map(page):
    page.goto("/")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)


def record(**figures):
    """Performance figures, merged into one file a person (and the README) reads."""
    path = SHOTS / "performance.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(figures)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(json.dumps(figures, ensure_ascii=False))


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sign_in(page):
    page.get_by_role("button", name="登入").click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label("帳號").fill("planner")
    dialog.get_by_label("密碼").fill(PASSWORD)
    dialog.get_by_role("button", name="登入").click()
    page.wait_for_selector("#signed-in-as")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)


TO_LONLAT = "points => points.map(p => { const l = civgis.map.containerPointToLatLng(p); return [l.lng, l.lat]; })"


def checkbox(page, layer_title: str):
    return page.locator("#layer-tree").get_by_label(layer_title, exact=True)


def go_to(page, text: str):
    page.get_by_role("button", name="坐標定位").click()
    page.get_by_label("經度, 緯度 (WGS84) 或 X, Y (TWD97)").fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function("civgis.map.getZoom() >= 17 && !civgis.map._animatingZoom")  # it flies to zoom 17
    settle(page)


def wait_for_view_on(page, box, factor: float):
    """Until the map (after its animation) shows all of box, and not more than `factor` times its width or height."""
    page.wait_for_function("""([w, s, e, n, f]) => { const b = civgis.map.getBounds();
        return !civgis.map._animatingZoom && b.getWest() <= w && b.getSouth() <= s && b.getEast() >= e
            && b.getNorth() >= n
            && (b.getEast() - b.getWest() < f * (e - w) || b.getNorth() - b.getSouth() < f * (n - s));
    }""", arg=[*box, factor])


def test_first_map_in_traditional_chinese_with_the_demo_layers(browser, server, page):
    # a server that has just started answers its first requests slowly (imports, connections): one visit in a
    # throwaway browser context warms it; the measured visit has an empty cache of its own, like a new user's
    warm = new_page(browser, server)
    open_map(warm)
    settle(warm)
    warm.context.close()
    page.goto("/")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
    settle(page)
    timings = page.evaluate("civgis.tileTimings.map(t => t.at)")
    record(first_tile_drawn_ms=round(min(timings)), initial_view_complete_ms=round(max(timings)),
           initial_tiles=len(timings))
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert page.get_by_role("heading", name="已開啟圖層").is_visible()
    assert page.get_by_role("heading", name="圖層目錄").is_visible()
    # the catalog shows what an anonymous visitor may see: public layers, not the internal cadastre
    assert checkbox(page, "村里界與人口").is_checked()
    assert checkbox(page, "建物").is_checked()
    assert checkbox(page, "地籍宗地").count() == 0
    assert page.locator("#map canvas").count() > 0
    assert re.search(r"\d+ (m|km)", page.locator(".leaflet-control-scale").inner_text())
    # legends say what they show: the villages are coloured by density per km², not population
    legends = page.locator(".active-layer .legend-title").all_inner_texts()
    assert "人口密度（人/平方公里） · 分位數" in legends and "高度（公尺） · 分位數" in legends
    shot(page, "01-first-map-1366x768")


def test_toggle_layers_reorder_and_zoom_to_a_layer(facts, page):
    open_map(page)
    with page.expect_response(lambda r: "/tiles/flood-zones/" in r.url and r.status == 200):
        checkbox(page, "淹水潛勢區").check()
    item = page.locator(".active-layer[data-slug=flood-zones]")
    assert [li.inner_text().strip() for li in item.locator(".legend li").all()] == facts["flood_legend"]
    assert page.evaluate("civgis.state.active[0]") == "flood-zones"  # a layer switched on goes on top

    checkbox(page, "建物").uncheck()
    assert page.locator(".active-layer[data-slug=buildings]").count() == 0
    assert not page.evaluate("Object.values(civgis.map._layers).some(l => (l._url || '').includes('/buildings/'))")

    slider = item.get_by_label("透明度：淹水潛勢區")
    slider.focus()
    page.keyboard.press("Home")  # the slider answers the keyboard: 0 …
    for _ in range(3):
        page.keyboard.press("PageUp")  # … then +10 three times
    assert page.evaluate("Object.values(civgis.map._layers).find(l => (l._url || '').includes('/flood-zones/'))"
                         ".getContainer().style.opacity") == "0.3"
    page.get_by_role("button", name="下移：淹水潛勢區").click()
    assert page.evaluate("civgis.state.active.indexOf('flood-zones')") == 1
    page.locator(".active-layer[data-slug=villages]").drag_to(page.locator(".active-layer[data-slug=facilities]"))
    assert page.evaluate("civgis.state.active[0]") == "villages"

    page.locator("#layer-tree").get_by_role("button", name="圖層資訊：淹水潛勢區").click()
    dialog = page.locator("#metadata-dialog")
    dialog.get_by_text("水務局").wait_for()  # the owner agency, from the catalog API
    assert "淹水潛勢範圍" in dialog.inner_text()
    dialog.get_by_role("button", name="關閉").click()

    page.locator("#layer-tree").get_by_role("button", name="圖層定位：淹水潛勢區").click()
    wait_for_view_on(page, facts["flood_box"], 4)  # zoomed to it, not just somewhere around
    settle(page)
    shot(page, "02-layers-toggled-zoomed-to-flood-zones")


def test_sign_in_then_identify_a_parcel_shows_its_number(facts, page):
    open_map(page)
    assert checkbox(page, "地籍宗地").count() == 0
    sign_in(page)
    assert "planner" in page.locator("#signed-in-as").inner_text()
    parcel = facts["parcel"]
    lon, lat = parcel["point"]
    checkbox(page, "地籍宗地").check()
    # go to a point 5 m north (in TWD97 X, Y): the located-point marker then stands clear of the parcel's point
    x, y = Transformer.from_crs(4326, 3826, always_xy=True).transform(lon, lat)
    go_to(page, f"{x:.2f}, {y + 5:.2f}")
    assert "已定位至" in page.locator("#status").inner_text()
    settle(page)  # the parcel tiles are drawn before the pointer looks for a feature in them (slow under load)
    box = page.locator("#map").bounding_box()
    px, py = page.evaluate(f"(() => {{ const p = civgis.map.latLngToContainerPoint([{lat}, {lon}]); "
                           "return [p.x, p.y]; })()")
    page.mouse.move(box["x"] + px, box["y"] + py)
    # the status bar tells where the pointer is, in both systems
    shown_x, shown_y = (float(v) for v in page.locator("#pos-twd97").inner_text().split(","))
    assert (shown_x, shown_y) == pytest.approx((x, y), abs=3)  # within a pixel or two at zoom 17
    shown_lon, shown_lat = (float(v) for v in page.locator("#pos-wgs84").inner_text().split(","))
    assert (shown_lon, shown_lat) == pytest.approx((lon, lat), abs=3e-5)
    # the hover highlight (checked on an animation frame after the pointer moves); under load the parcel tile may
    # still be parsed when the pointer arrives, so the pointer moves again as a user's hand would
    highlighted = ("Object.keys(Object.values(civgis.map._layers).find(l => (l._url || '')"
                   ".includes('/parcels/'))._overriddenStyles).length === 1")
    for _ in range(20):
        try:
            page.wait_for_function(highlighted, timeout=1_000)
            break
        except PlaywrightTimeoutError:
            page.mouse.move(box["x"] + px + 1, box["y"] + py)
            page.mouse.move(box["x"] + px, box["y"] + py)
    assert page.evaluate(highlighted)
    page.mouse.click(box["x"] + px, box["y"] + py)
    popup = page.locator(".identify")
    popup.get_by_text(parcel["number"], exact=True).wait_for()
    assert popup.locator("h3").inner_text() == "地籍宗地"
    assert parcel["section"] in popup.inner_text()
    # labels a city officer reads, values with their units
    rows = dict(zip(popup.locator("th").all_inner_texts(), popup.locator("td").all_inner_texts(), strict=True))
    assert rows["地號"] == parcel["number"] and rows["地段"] == parcel["section"]
    assert re.fullmatch(r"[\d,]+\.\d\d 平方公尺（([\d,.]+ 公頃，)?[\d,]+\.\d 坪）", rows["面積"]), rows["面積"]
    assert rows["公告土地現值"].endswith(" 元/平方公尺") and rows["宗地編號"].isdigit()
    assert not {"parcel_id", "land_use_code", "area_m2", "land_value"} & set(rows)
    shot(page, "03-signed-in-identify-parcel")


def test_search_a_village_name_zooms_to_it(facts, page):
    name, box = facts["village"], facts["village_box"]
    open_map(page)
    page.get_by_role("searchbox", name="搜尋圖層、地名、地址或坐標").fill(name)
    page.keyboard.press("Enter")
    page.locator("#status").get_by_text(f"已定位至 {name}").wait_for()
    wait_for_view_on(page, box, 6)
    settle(page)
    shot(page, "04-search-village")

    road = facts["road"]
    page.get_by_role("searchbox", name="搜尋圖層、地名、地址或坐標").fill(road[:2])
    page.keyboard.press("Enter")
    results = page.locator("#search-results")
    results.get_by_role("button", name=re.compile(re.escape(road))).first.click()
    page.locator("#status").get_by_text(f"已定位至 {road}").wait_for()
    assert checkbox(page, "道路中心線").is_checked()  # the matched layer is switched on
    settle(page)
    shot(page, "04-search-road")


def test_measure_a_known_line_and_area_with_the_analysis_api(facts, page):
    lon, lat = facts["centre"]
    open_map(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    page.get_by_role("button", name="量距離").click()
    box = page.locator("#map").bounding_box()
    points = [(150, 420), (650, 420)]
    for px, py in points:
        page.mouse.click(box["x"] + px, box["y"] + py)
    page.keyboard.press("Enter")
    output = page.locator("#measure-output")
    output.get_by_text("公尺").wait_for()
    vertices = json.loads(output.get_attribute("data-geometry"))["coordinates"]
    clicked = page.evaluate(TO_LONLAT, points)
    assert sum(vertices, []) == pytest.approx(sum(clicked, []), abs=1e-5)  # the line measured is the one clicked
    shown = float(re.search(r"距離 ([\d,.]+) 公尺", output.inner_text())[1].replace(",", ""))
    _, _, geodesic = GRS80.inv(*vertices[0], *vertices[1])
    assert shown == pytest.approx(geodesic, abs=0.01)  # the API's geodesic figure, as displayed (2 decimals)
    assert 300 < shown < 2000
    shot(page, "05-measure-line")

    page.get_by_role("button", name="量面積").click()
    square = [(200, 200), (500, 200), (500, 500), (200, 500)]
    for px, py in square:
        page.mouse.click(box["x"] + px, box["y"] + py)
    page.keyboard.press("Enter")
    output.get_by_text("坪").wait_for()
    text = output.inner_text()
    m2 = float(re.search(r"面積 ([\d,.]+) 平方公尺", text)[1].replace(",", ""))
    ping = float(re.search(r"＝ ([\d,.]+) 坪", text)[1].replace(",", ""))
    corners = json.loads(output.get_attribute("data-geometry"))["coordinates"][0][:-1]
    assert len(corners) == 4
    area, _ = GRS80.polygon_area_perimeter([c[0] for c in corners], [c[1] for c in corners])
    assert m2 == pytest.approx(abs(area), rel=1e-6)
    assert ping == pytest.approx(m2 / (400 / 121), abs=0.01)  # 1 坪 = 400/121 m²
    shot(page, "05-measure-area")


def test_3d_view_extrudes_buildings_on_terrain_and_comes_back_to_the_same_place(facts, page):
    lon, lat = facts["centre"]
    open_map(page)
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    before = page.evaluate("[civgis.map.getCenter().lng, civgis.map.getCenter().lat, civgis.map.getZoom()]")
    with page.expect_response(lambda r: "/tiles/demo-dem/terrain/" in r.url and r.status == 200, timeout=30_000):
        page.get_by_role("button", name="3D 檢視").click()
        page.wait_for_function("civgis.map3d && civgis.map3d.loaded() && civgis.map3d.getLayer('overlay:buildings')",
                               timeout=30_000)
    assert page.locator("#map3d canvas.maplibregl-canvas").is_visible()
    assert not page.locator("#map").is_visible()
    assert page.evaluate("civgis.map3d.getLayer('overlay:buildings').type") == "fill-extrusion"
    assert page.evaluate("!!civgis.map3d.getTerrain()")
    assert page.evaluate("civgis.map3d.getPitch()") > 0
    centre = page.evaluate("[civgis.map3d.getCenter().lng, civgis.map3d.getCenter().lat, civgis.map3d.getZoom()]")
    assert centre[:2] == pytest.approx(before[:2], abs=1e-5) and centre[2] == pytest.approx(before[2] - 1)
    page.wait_for_function("civgis.map3d.queryRenderedFeatures({layers: ['overlay:buildings']}).length > 0",
                           timeout=30_000)
    heights = page.evaluate("civgis.map3d.queryRenderedFeatures({layers: ['overlay:buildings']})"
                            ".map(f => f.properties.height_m)")
    assert max(heights) > 3
    page.locator("#map3d canvas").click()  # identify in 3D: the full attributes of what is under the pointer
    popup = page.locator(".maplibregl-popup.identify")
    popup.locator("table.attributes").wait_for()
    assert popup.locator("h3").inner_text() in {"建物", "村里界與人口", "公共設施"}
    assert popup.locator("tr").count() >= 3
    page.keyboard.press("Escape")
    bearing = page.evaluate("civgis.map3d.getBearing()")
    page.locator("#map3d canvas").focus()
    page.keyboard.press("Shift+ArrowLeft")  # rotate, from the keyboard
    page.wait_for_function(f"Math.abs(civgis.map3d.getBearing() - ({bearing})) > 5")
    page.wait_for_timeout(1500)
    shot(page, "06-3d-buildings-terrain")

    page.get_by_role("button", name="2D 檢視").click()
    assert page.locator("#map").is_visible()
    after = page.evaluate("[civgis.map.getCenter().lng, civgis.map.getCenter().lat, civgis.map.getZoom()]")
    assert after[:2] == pytest.approx(before[:2], abs=1e-5) and after[2] == before[2]
    assert page.evaluate("civgis.state.active") == ["facilities", "buildings", "villages"]
    settle(page)
    shot(page, "06-back-to-2d")


def test_english_switch(page):
    open_map(page)
    with page.expect_navigation():
        page.get_by_label("語言").select_option("en")
    page.wait_for_function("document.documentElement.lang === 'en' && window.civgis", timeout=20_000)
    assert page.get_by_role("button", name="Measure distance").is_visible()
    assert page.get_by_role("heading", name="Layers on the map").is_visible()
    assert page.locator(".active-layer .opacity").first.inner_text().strip() == "Opacity"
    assert checkbox(page, "Villages and population").is_checked()
    settle(page)
    shot(page, "07-english")


def identify_at(page, lon: float, lat: float):
    """Click the map at a lon/lat (centred at zoom 16) and wait for the identify popup."""
    page.evaluate(f"civgis.map.setView([{lat}, {lon}], 16, {{ animate: false }})")
    settle(page)
    box = page.locator("#map").bounding_box()
    px, py = page.evaluate(f"(() => {{ const p = civgis.map.latLngToContainerPoint([{lat}, {lon}]); "
                           "return [p.x, p.y]; })()")
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + px, box["y"] + py)
    popup = page.locator(".identify")
    popup.locator("table.attributes").wait_for()
    return popup, dict(zip(popup.locator("th").all_inner_texts(), popup.locator("td").all_inner_texts(), strict=True))


def test_identify_and_legends_in_both_languages_carry_labels_and_units(facts, server, browser):
    lon, lat = facts["village_point"]
    for locale, expect in (("zh-TW", {"title": "村里界與人口", "population": "人口數", "unit": " 人",
                                      "young": "0–14 歲人口", "density": "人口密度",
                                      "legend": "人口密度（人/平方公里） · 分位數"}),
                           ("en-US", {"title": "Villages and population", "population": "Population",
                                      "unit": " people", "young": "Population aged 0–14",
                                      "density": "Population density", "legend":
                                          "Population density (people/km²) · quantiles"})):
        page = new_page(browser, server, locale=locale)
        try:
            open_map(page)
            legends = page.locator(".active-layer .legend-title").all_inner_texts()
            assert expect["legend"] in legends, legends
            page.locator("#layer-tree").get_by_label(
                "建物" if locale == "zh-TW" else "Buildings", exact=True).uncheck()
            popup, rows = identify_at(page, lon, lat)
            assert popup.locator("h3").inner_text() == expect["title"]
            assert rows[expect["population"]].endswith(expect["unit"]) and "." not in rows[expect["population"]]
            assert rows[expect["young"]].endswith(expect["unit"])
            assert "/" in rows[expect["density"]]  # per km², not people
            assert not [name for name in rows if "_" in name], rows  # no column names
            shot(page, f"08-identify-and-legend-{locale}")
            assert not page.errors, page.errors
        finally:
            page.context.close()


def test_phone_layout_and_keyboard_and_screen_reader_labels(server, browser):
    phone = new_page(browser, server, viewport=PHONE)
    try:
        open_map(phone)
        settle(phone)
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        assert not phone.locator("#panel").is_visible()
        assert phone.locator("#map").bounding_box()["height"] > PHONE["height"] / 2
        shot(phone, "08-phone-map")
        phone.get_by_role("button", name="☰ 圖層").click()
        assert phone.locator("#panel").is_visible()
        shot(phone, "08-phone-layer-panel")
        phone.get_by_role("button", name="✕ 關閉").click()
        assert not phone.locator("#panel").is_visible()
        assert not phone.errors
    finally:
        phone.context.close()

    page = new_page(browser, server)
    try:
        open_map(page)
        # every control has a name a screen reader can say
        unnamed = page.evaluate(UNNAMED_CONTROLS)
        assert unnamed == []
        # the keyboard reaches the search box first and works the layer tree
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") in ("search-input", "panel-toggle")
        page.focus("#layer-rivers")
        page.keyboard.press("Space")
        assert page.evaluate("civgis.state.active[0]") == "rivers"
        page.focus("#map")
        zoom = page.evaluate("civgis.map.getZoom()")
        page.keyboard.press("+")
        page.wait_for_function(f"civgis.map.getZoom() > {zoom}")
        assert not page.errors
    finally:
        page.context.close()


def test_panning_at_z16_over_the_parcels_reports_tile_latency(facts, page):
    lon, lat = facts["centre"]
    open_map(page)
    sign_in(page)
    checkbox(page, "地籍宗地").check()
    go_to(page, f"{lon:.6f}, {lat:.6f}")
    page.get_by_role("button", name="縮小").click()
    page.wait_for_function("civgis.map.getZoom() === 16")
    settle(page)
    page.evaluate("performance.setResourceTimingBufferSize(5000); performance.clearResourceTimings()")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 80  # off the located-point marker
    for dx, dy in [(-450, 0), (-450, 0), (0, -300), (450, 0), (450, 0), (450, 0), (0, 300), (-450, 0)]:
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=8)
        page.mouse.up()
        settle(page)
    entries = page.evaluate("performance.getEntriesByType('resource')"
                            ".filter(e => e.name.includes('/tiles/parcels/16/'))"
                            ".map(e => [e.duration, e.responseStart - e.requestStart, e.transferSize])")
    # tiles seen before come from the browser's cache (transferSize 0): latency counts the ones fetched. `duration`
    # is what the map waited (queueing behind the browser's 6 connections included); `server` is the request's
    # time to first byte once sent
    fetched = [(d, server) for d, server, size in entries if size > 0]
    assert fetched, "panning requested no parcel tiles"
    waited = sorted(d for d, _ in fetched)
    served = sorted(server for _, server in fetched)
    record(pan_z16_parcel_tiles_fetched=len(fetched), pan_z16_parcel_tiles_from_cache=len(entries) - len(fetched),
           pan_z16_parcel_tile_p50_ms=round(percentile(waited, 50), 1),
           pan_z16_parcel_tile_p95_ms=round(percentile(waited, 95), 1),
           pan_z16_parcel_tile_server_p50_ms=round(percentile(served, 50), 1),
           pan_z16_parcel_tile_server_p95_ms=round(percentile(served, 95), 1))
    shot(page, "09-pan-z16-parcels")


def test_another_agencys_wms_registered_in_the_catalog_is_drawn_on_the_map(server, page):
    # registered over HTTP, as a user would (the server commits it); the "other agency" is our own /ows
    def call(path, body, token=None):
        request = urllib.request.Request(server + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Token {token}"} if token else {})})
        with urllib.request.urlopen(request, timeout=60) as resp:
            return json.loads(resp.read())

    token = call("/api/v1/auth/token/", {"username": "planner", "password": PASSWORD})["token"]
    call("/api/v1/layers/services/", {"type": "wms", "url": server + "/ows", "layer": "roads",
                                       "slug": "neighbour-roads", "title": "鄰近縣市道路（WMS）",
                                       "visibility": "public", "attribution": "鄰近縣市交通局"}, token)
    open_map(page)
    with page.expect_response(lambda r: "/ows?" in r.url and "REQUEST=GetMap" in r.url.replace("request=", "REQUEST=")
                              and "roads" in r.url and r.status == 200) as answer:
        checkbox(page, "鄰近縣市道路（WMS）").check()
    assert answer.value.headers["content-type"] == "image/png"
    legend = page.locator(".active-layer[data-slug=neighbour-roads] .legend img")
    legend.wait_for()
    assert "GetLegendGraphic" in legend.get_attribute("src")
    settle(page)
    shot(page, "10-external-wms-layer")


@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390x844", "360x740"])
def test_phone_header_menu_tool_strip_panels_and_share_page(browser, server, viewport):
    """At phone size the header is one row (layers, a short title, search, one menu button), the menu holds the
    tools, pages, language and sign-in; the tool strip scrolls inside itself to its last tool; that tool's panel,
    the layer drawer and the shared view's page fit the screen."""
    width = viewport["width"]
    phone = new_page(browser, server, viewport=viewport)
    try:
        open_map(phone)
        assert_fits(phone, width, "#top button, #top input, #workbar button")
        assert phone.locator("#top").bounding_box()["height"] <= 56  # one row
        assert phone.locator("#top h1").inner_text() == "civgis"
        menu = phone.locator("#top-menu")
        assert not menu.is_visible() and not phone.locator("#sign-in-open").is_visible()
        phone.locator("#menu-toggle").click()
        assert phone.locator("#menu-toggle").get_attribute("aria-expanded") == "true"
        for control in ("#sign-in-open", "#lang", "#basemap", ".decision-menu summary", "[data-measure=line]"):
            assert menu.locator(control).is_visible(), control
        assert_fits(phone, width, "#top-menu button, #top-menu select, #top-menu summary")
        phone.keyboard.press("Escape")
        assert not menu.is_visible()
        assert phone.locator("#menu-toggle").get_attribute("aria-expanded") == "false"

        phone.locator("#panel-toggle").click()
        assert_fits(phone, width, "#panel button, #panel input:not([type=checkbox])")  # a box: its 40 px row
        phone.locator("#panel-close").click()

        # the buffer tool: its panel steps down while the point is placed, then its table fits the panel
        phone.locator("#workbar [data-tool=buffer]").click()
        panel = phone.locator("#tool-panel")
        panel.locator("[data-draw=point]").click()
        box = phone.locator("#map").bounding_box()
        assert panel.bounding_box()["y"] > box["y"] + box["height"] / 2  # the map's upper half takes the tap
        phone.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3)
        phone.locator("#buffer-distances").fill("250, 600")
        panel.locator("button[type=submit]").click()
        table = panel.locator("table.results")
        table.locator("tbody tr").nth(1).wait_for()
        assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth"), "the buffer table scrolls"
        assert_fits(phone, width, "#tool-panel button, #tool-panel input:not([type=checkbox])")
        panel.locator("[data-close-tool]").click()

        strip = phone.locator("#workbar")
        assert phone.evaluate("document.getElementById('workbar').scrollWidth") > strip.bounding_box()["width"]
        share = strip.locator("[data-tool=share]")
        share.scroll_into_view_if_needed()  # inside the strip: the page itself never scrolls sideways
        box = share.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        share.click()
        panel = phone.locator("#tool-panel")
        panel.locator("button[type=submit]").click()
        phone.wait_for_function("document.getElementById('share-link').value.includes('/s/')")
        assert_fits(phone, width, "#top button, #workbar button, #tool-panel button, #tool-panel input")
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= viewport["height"]

        phone.goto(panel.locator("#share-link").input_value())
        phone.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
        assert_fits(phone, width, "#top button, #top input, #workbar button")
        shot(phone, f"phone-share-page-{width}")
        assert not phone.errors, phone.errors
    finally:
        phone.context.close()


def _in_own_thread(fn, blocker):
    """Run a database step while Playwright's event loop owns this thread (Django refuses it here): in a thread of
    its own, on its own (autocommit) connection."""
    import threading

    from django.db import connections

    out = {}

    def run():
        with blocker.unblock():
            try:
                out["value"] = fn()
            finally:
                connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return out.get("value")


def phone_with_the_sensors(browser, server):
    """A phone's map in English with the air-quality sensors on (the panel closed again)."""
    phone = new_page(browser, server, viewport=PHONE, locale="en-US")
    open_map(phone)
    phone.locator("#panel-toggle").click()
    checkbox(phone, "Air-quality sensors").check()
    phone.locator("#panel-close").click()
    return phone


def test_time_slider_steps_plays_and_shows_all_times_in_both_languages_and_on_a_phone(server, browser,
                                                                                          django_db_blocker):
    def enable():
        Layer.objects.filter(slug="air-sensors").update(time_attribute="install_date")
        with connection.cursor() as cur:
            cur.execute("SELECT min(install_date), max(install_date) FROM layerdata.air_sensors")
            return cur.fetchone()

    first, last = _in_own_thread(enable, django_db_blocker)
    page = new_page(browser, server)
    try:
        open_map(page)
        slider = page.locator("#time-slider")
        assert not slider.is_visible()  # no time-enabled layer on the map yet
        checkbox(page, "空氣品質感測器").check()
        slider.wait_for()
        # the extent of installation dates (~7 years) walks in 30-day windows; until touched, all times show
        assert page.locator("#time-window").input_value() == str(30 * 24 * 3600 * 1000)
        assert page.locator("#time-text").inner_text().startswith("全部時間：" + first.strftime("%Y/%m/%d"))
        assert page.locator("#time-text").inner_text().endswith(last.strftime("%Y/%m/%d"))
        with page.expect_request(lambda r: "/tiles/air-sensors/" in r.url and "time=" in r.url) as asked:
            page.get_by_role("button", name="下一段").click()
        window = page.evaluate("civgis.state.time")
        start = page.evaluate("Date.parse(civgis.state.time.split('/')[0])")
        assert start == page.evaluate(f"Date.parse('{first.isoformat()}T00:00:00+08:00')") + 30 * 86400_000
        assert urllib.parse.unquote(asked.value.url.split("time=")[1].split("&")[0]) == window
        # tiles of the other layers carry no time
        assert page.evaluate("[...performance.getEntriesByType('resource')].filter(e => e.name.includes("
                             "'/tiles/villages/') && e.name.includes('time=')).length") == 0
        page.wait_for_timeout(800)  # the window's tiles drawn (no networkidle: other tests' pages may poll)
        shot(page, "18-time-slider")
        page.get_by_role("button", name="播放").click()
        assert page.get_by_role("button", name="暫停").get_attribute("aria-pressed") == "true"
        page.wait_for_function(f"civgis.state.time && Date.parse(civgis.state.time.split('/')[0]) > {start}",
                               timeout=6_000)  # it moved on by itself
        page.get_by_role("button", name="暫停").click()
        stopped = page.evaluate("civgis.state.time")
        page.wait_for_timeout(1300)  # longer than a play step
        assert page.evaluate("civgis.state.time") == stopped  # paused
        page.get_by_label("時間窗").select_option(label="365 天")
        assert page.evaluate("Date.parse(civgis.state.time.split('/')[1]) - Date.parse(civgis.state.time.split('/')"
                             "[0])") == 365 * 86400_000 - 1000
        page.get_by_role("button", name="全部時間").click()
        assert page.evaluate("civgis.state.time") is None
        checkbox(page, "空氣品質感測器").uncheck()
        assert not slider.is_visible()
        assert not page.errors, page.errors
    finally:
        page.context.close()

    phone = phone_with_the_sensors(browser, server)
    try:
        phone.locator("#time-slider").wait_for()
        assert phone.get_by_role("heading", name="Time").is_visible()
        phone.get_by_role("button", name="Step forward").click()
        assert phone.locator("#time-text").inner_text().count("–") == 1
        assert phone.get_by_role("button", name="Play").is_visible()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        box = phone.locator("#time-slider").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        phone.wait_for_timeout(800)
        shot(phone, "18-time-slider-phone-en")
        assert not phone.errors, phone.errors
    finally:
        phone.context.close()
        _in_own_thread(lambda: Layer.objects.filter(slug="air-sensors").update(time_attribute=""), django_db_blocker)


def test_the_time_window_reaches_table_and_share_link_and_swipe_compares_two_times(server, browser,
                                                                                     django_db_blocker):
    """Issue 24: the slider's window filters the attribute table and travels in a share link (and so into prints,
    which read the same filter); the layer dialog names the time attribute; swipe shows one layer at two times
    with a divider moved by the keyboard; in both languages, on a desktop and on a phone."""
    _in_own_thread(lambda: Layer.objects.filter(slug="air-sensors").update(time_attribute="install_date"),
                   django_db_blocker)
    page = new_page(browser, server)
    page.set_default_navigation_timeout(60_000)  # run alone, this module's first page waits for a cold server
    try:
        open_map(page)
        sign_in(page)  # share links are made by people signed in
        checkbox(page, "空氣品質感測器").check()
        page.locator("#time-slider").wait_for()
        page.get_by_role("button", name="下一段").click()
        window = page.evaluate("civgis.state.time")
        # the attribute table asks for the window's rows and says which window it shows
        with page.expect_request(lambda r: "/layers/air-sensors/features/" in r.url) as asked:
            page.evaluate("civgis.table.open('air-sensors')")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(asked.value.url).query)
        assert json.loads(query["filter"][0]) == {"op": "and", "conditions": [], "time": window}
        assert page.locator(".at-time").inner_text().startswith("時間：")
        with page.expect_request(lambda r: "/layers/air-sensors/features/" in r.url) as again:
            page.get_by_role("button", name="下一段").click()  # the slider moves: the table follows
        later = page.evaluate("civgis.state.time")
        assert json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(again.value.url).query)["filter"][0])[
            "time"] == later
        page.evaluate("civgis.table.close()")
        # the layer dialog names the layer's time attribute by its label
        page.locator(".active-layer[data-slug=air-sensors]").get_by_label("圖層資訊：空氣品質感測器").click()
        page.locator("#ld-tab-attributes").click()
        assert page.locator("#ld-panel-attributes").inner_text().startswith("時間屬性：")
        shot(page, "24-layer-dialog-time")
        page.keyboard.press("Escape")
        # swipe: the same layer at the slider's window (left) and at the first window (right)
        page.get_by_role("button", name="捲簾比較").click()
        panel = page.locator("#swipe-panel")
        panel.get_by_label("右側", exact=True).select_option("air-sensors")
        first = page.evaluate("civgis.time.windows()[0]")
        with page.expect_request(lambda r: "/tiles/air-sensors/" in r.url
                                 and urllib.parse.quote(first, safe="") in r.url):
            panel.get_by_label("右側時間").select_option(first)
        page.locator(".swipe-handle").focus()
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("civgis.swipe.fraction") == pytest.approx(0.45)
        clips = page.evaluate("[...document.querySelectorAll('#map .leaflet-layer')].map(n => n.style.clip)"
                              ".filter(Boolean)")
        assert len(clips) == 2 and all(c.startswith("rect(") for c in clips), clips
        assert page.locator(".swipe-tag-right").inner_text().startswith("空氣品質感測器（")
        page.wait_for_timeout(800)
        shot(page, "24-swipe")
        page.get_by_role("button", name="關閉捲簾比較").click()
        assert page.evaluate("[...document.querySelectorAll('#map .leaflet-layer')].filter(n => n.style.clip)"
                             ".length") == 0
        # a share link keeps the window; opened, the slider stands on it again
        page.locator("#workbar").get_by_role("button", name="分享").click()
        with page.expect_request(lambda r: r.url.endswith("/api/v1/views/") and r.method == "POST") as posted:
            page.locator("#tool-panel").get_by_role("button", name="建立分享連結").click()
        layers = {entry["slug"]: entry for entry in json.loads(posted.value.post_data)["state"]["layers"]}
        assert layers["air-sensors"]["filter"]["time"] == later
        assert "filter" not in layers.get("villages", {})  # a layer without time carries none
        page.locator("#tool-panel").get_by_text("分享連結已建立").wait_for()
        page.goto(page.locator("#share-link").input_value())
        page.wait_for_function(f"window.civgis && civgis.state.time === {json.dumps(later)}", timeout=20_000)
        assert not page.locator("#time-text").inner_text().startswith("全部時間")
        assert not page.errors, page.errors
    finally:
        page.context.close()

    try:
        _swipe_page(browser, server, PHONE, "en-US", "24-swipe-phone-en")
        if os.environ.get("CIVGIS_ALL_SCREENSHOTS"):  # the other language at each size, for the docs (asserts the same)
            _swipe_page(browser, server, DESKTOP, "en-US", "24-swipe-en")
            _swipe_page(browser, server, PHONE, "zh-TW", "24-swipe-phone-zh")
    finally:
        _in_own_thread(lambda: Layer.objects.filter(slug="air-sensors").update(time_attribute=""), django_db_blocker)


SWIPE_WORDS = {"en-US": {"layer": "Air-quality sensors", "forward": "Step forward", "swipe": "Swipe compare",
                         "right": "Right", "time": "Right-hand time", "tag": "Air-quality sensors (All times) ▶"},
               "zh-TW": {"layer": "空氣品質感測器", "forward": "下一段", "swipe": "捲簾比較", "right": "右側",
                         "time": "右側時間", "tag": "空氣品質感測器（全部時間） ▶"}}


def _swipe_page(browser, server, viewport, locale, name):
    """Swipe one time-enabled layer against all its times, at a viewport in a language; the page must fit."""
    words = SWIPE_WORDS[locale]
    page = new_page(browser, server, viewport=viewport, locale=locale)
    try:
        open_map(page)
        phone = viewport["width"] < 700
        if phone:
            page.locator("#panel-toggle").click()
        checkbox(page, words["layer"]).check()
        if phone:
            page.locator("#panel-close").click()
        page.get_by_role("button", name=words["forward"]).click()
        if phone:
            page.locator("#menu-toggle").click()  # on a phone the header's tools fold behind the menu
        page.get_by_role("button", name=words["swipe"]).click()
        if phone and page.locator("#menu-toggle").get_attribute("aria-expanded") == "true":
            page.locator("#menu-toggle").click()
        page.locator("#swipe-panel").get_by_label(words["right"], exact=True).select_option("air-sensors")
        page.locator("#swipe-panel").get_by_label(words["time"]).select_option("all")
        assert page.locator(".swipe-tag-right").inner_text() == words["tag"]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
        box = page.locator("#swipe-panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        page.wait_for_timeout(800)
        shot(page, name)
        assert not page.errors, page.errors
    finally:
        page.context.close()


def test_the_slider_plays_sensor_readings_and_wifi_use_on_the_map(server, browser, django_db_blocker):
    """Issue 24: sensor readings and Wi-Fi usage animate on the map. With the sensors' registry layer on, the slider
    walks their week of readings; each window shows every sensor's mean reading, labelled with its unit, and
    playing moves the window and changes the values drawn; the Wi-Fi hotspots (their usage records are internal:
    signed in) play their daily sessions. In both languages, on a desktop and on a phone."""
    import io

    from django.core.management import call_command

    from iot.models import Device, Quantity

    def feeds():
        call_command("demo_feeds", stdout=io.StringIO())  # the sensors' week of readings, as `make demo` loads them
        return Quantity.objects.get(code="pm25").unit

    unit = _in_own_thread(feeds, django_db_blocker)
    labels = "[...document.querySelectorAll('.time-play-label')].map(e => e.textContent)"
    sensors = "JSON.stringify((civgis.time.playing.frames['air-sensors'] || []).map(f => f.value))"
    page = new_page(browser, server)
    try:
        open_map(page)
        sign_in(page)
        checkbox(page, "空氣品質感測器").check()
        page.locator("#time-slider").wait_for()
        assert page.locator("#time-window").input_value() == str(3600 * 1000)  # a week walks in hours
        assert "播放" in page.locator("#time-frames").inner_text()  # until a window is chosen: how to start
        page.get_by_role("button", name="下一段").click()
        page.wait_for_function(f"JSON.parse({sensors}).some(v => v !== null)")
        assert f"PM2.5（細懸浮微粒），時間窗內平均（{unit}）" in page.locator("#time-frames").inner_text()
        page.evaluate("void civgis.map.setZoom(15)")  # zoomed in, each value is written beside its sensor
        page.wait_for_function(f"{labels}.some(t => t.endsWith(' {unit}'))")
        first = page.evaluate(sensors)
        page.get_by_role("button", name="播放").click()
        start = page.evaluate("Date.parse(civgis.state.time.split('/')[0])")
        page.wait_for_function(f"Date.parse(civgis.state.time.split('/')[0]) > {start} && "
                               f"{sensors} !== {json.dumps(first)}", timeout=8_000)
        page.get_by_role("button", name="暫停").click()
        assert page.evaluate(sensors) != first  # the values drawn changed with the time
        page.get_by_label("感測項目").select_option(label="溫度")
        page.wait_for_function(f"{labels}.some(t => t.endsWith(' °C'))")
        page.evaluate("void civgis.map.setZoom(13)")
        checkbox(page, "免費無線上網熱點").check()  # ~3 months of daily records: the slider walks days
        page.wait_for_function("civgis.time.playing.frames['wifi-hotspots']?.length > 0")
        assert page.locator("#time-window").input_value() == str(24 * 3600 * 1000)
        assert "每日連線數，時間窗內平均（次/日）" in page.locator("#time-frames").inner_text()
        sessions = "JSON.stringify(civgis.time.playing.frames['wifi-hotspots'].map(f => f.value))"
        before = page.evaluate(sessions)
        page.get_by_role("button", name="下一段").click()
        page.wait_for_function(f"{sessions} !== {json.dumps(before)}")  # the next day's sessions
        assert any(v is not None for v in json.loads(page.evaluate(sessions)))
        shot(page, "18-time-slider-sensors-wifi")
        page.get_by_role("button", name="全部時間").click()  # all times: the layers as styled, no frame
        page.wait_for_function("Object.keys(civgis.time.playing.frames).length === 0")
        assert not page.errors, page.errors
    finally:
        page.context.close()

    phone = phone_with_the_sensors(browser, server)
    try:
        phone.get_by_role("button", name="Step forward").click()
        phone.wait_for_function(f"JSON.parse({sensors}).some(v => v !== null)")
        assert f"PM2.5 (fine particles), mean over the window ({unit})" in phone.locator("#time-frames").inner_text()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        shot(phone, "18-time-slider-sensors-phone-en")
        assert not phone.errors, phone.errors
    finally:
        phone.context.close()
        _in_own_thread(lambda: Device.objects.filter(layer__slug="air-sensors").delete(), django_db_blocker)
