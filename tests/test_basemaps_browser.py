"""Basemaps in a real browser: the thumbnail switcher (mouse, keyboard, phone), NLSC's WMTS drawn from the local
stand-in server that follows NLSC's URL template (conftest.NlscStandIn), overlays over a basemap, 無底圖, and the
platform's own basemap with names. Same set-up as tests/test_viewer_browser.py (its city and facts); every page is
watched for console and page errors by conftest's `no_script_errors`. Screenshots go to .var/screenshots/.
"""
# ruff: noqa: F811 - the fixtures imported from test_viewer_browser are requested by name as arguments

import io

import pytest
from conftest import DESKTOP, PHONE, assert_fits, new_page, settle, shot, tile_of
from PIL import Image
from test_viewer_browser import (  # noqa: F401 - city and facts are fixtures, requested by name
    checkbox,
    city,
    facts,
    open_map,
)

pytestmark = [pytest.mark.django_db]
NAMES = {"zh-TW": {"platform": "城市底圖（本平台圖層，離線可用）", "nlsc-emap": "臺灣通用電子地圖",
                   "nlsc-photo": "正射影像", "nlsc-labels": "道路與地名標註", "none": "無底圖",
                   "layers": ("村里界與人口", "建物", "公共設施"), "close": "關閉"},
         "en-US": {"platform": "City basemap (platform layers, works offline)", "nlsc-emap": "Taiwan e-Map",
                   "nlsc-photo": "Orthophoto", "nlsc-labels": "Road and place names", "none": "No basemap",
                   "layers": ("Villages and population", "Buildings", "Public facilities"), "close": "Close"}}


@pytest.fixture(scope="module", autouse=True)
def warm(browser, server):
    """One visit first: a server that has just started answers its first requests slowly (imports, connections,
    the basemap's map parsed)."""
    page = new_page(browser, server)
    page.goto("/", timeout=60_000)
    settle(page)
    page.context.close()


def choose(page, name: str, locale: str = "zh-TW"):
    """Open the switcher, pick a basemap (or tick an overlay) by its name, close it."""
    page.locator("#basemap").click()
    dialog = page.locator("#basemap-dialog")
    dialog.get_by_label(name, exact=True).click()
    dialog.get_by_role("button", name=NAMES[locale]["close"]).click()
    assert not dialog.is_visible()


def basemap_tiles(page, entry_id: str) -> list[dict]:
    return page.evaluate("""id => [...document.querySelectorAll(`.basemap-${id} img.leaflet-tile-loaded`)]
        .map(img => ({src: img.src, width: img.naturalWidth}))""",
                         entry_id)


def map_pixels(page) -> Image.Image:
    return Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")


def share_of(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 6) -> float:
    pixels = list(image.getdata())
    near = sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, rgb, strict=True)))
    return near / len(pixels)


def test_no_basemap_then_zooming_and_switching_never_throw(facts, page):
    """無底圖 used to leave a tile layer without a URL that threw `reading 'replace'` on every later zoom."""
    open_map(page)
    choose(page, "無底圖")
    assert page.locator("#basemap").get_attribute("data-value") == "none"
    for zoom in (15, 13, 16, 14):
        page.evaluate(f"civgis.map.setZoom({zoom}, {{ animate: false }})")
        page.wait_for_timeout(150)
    settle(page)
    # every basemap and overlay in turn, with a layer switched on and off between
    names = NAMES["zh-TW"]
    for key in ("nlsc-emap", "nlsc-labels", "nlsc-photo", "none", "platform", "nlsc-labels"):
        choose(page, names[key])
        checkbox(page, "淹水潛勢區").click()
        page.evaluate("civgis.map.zoomIn(1, { animate: false })")
    settle(page)
    assert page.locator("#basemap").get_attribute("data-value") == "platform"


def test_nlsc_wmts_from_the_stand_in_is_drawn_as_the_basemap(facts, page, nlsc_standin):
    open_map(page)
    for title in NAMES["zh-TW"]["layers"]:  # the basemap alone on the map, to see what it drew
        checkbox(page, title).uncheck()
    lon, lat = facts["centre"]
    page.evaluate(f"civgis.map.setView([{lat}, {lon}], 15, {{ animate: false }})")
    settle(page)
    nlsc_standin.requests.clear()
    choose(page, "臺灣通用電子地圖")
    page.wait_for_function("document.querySelectorAll('.basemap-nlsc-emap img.leaflet-tile-loaded').length >= 4")
    settle(page)
    x, y = tile_of(lon, lat, 15)
    assert ("EMAP", 15, y, x) in nlsc_standin.requests  # the template's {z}/{y}/{x}: row before column
    assert {layer for layer, z, *_ in nlsc_standin.requests if z == 15} == {"EMAP"}  # the rest: z13 thumbnails
    tiles = basemap_tiles(page, "nlsc-emap")
    assert tiles and all(t["width"] == 256 and t["src"].startswith(nlsc_standin.url + "/EMAP/default/"
                                                                   "GoogleMapsCompatible/15/") for t in tiles)
    assert share_of(map_pixels(page), (236, 214, 160)) > 0.6  # the stand-in's e-map colour fills the map
    assert "資料來源：內政部國土測繪中心" in page.locator(".leaflet-control-attribution").inner_text()
    # the names overlay over the orthophoto: both drawn, the overlay above
    choose(page, "正射影像")
    choose(page, "道路與地名標註")
    page.wait_for_function("document.querySelectorAll('.basemap-nlsc-labels img.leaflet-tile-loaded').length >= 4")
    settle(page)
    assert page.locator("#basemap").get_attribute("data-value") == "nlsc-photo+nlsc-labels"
    assert not basemap_tiles(page, "nlsc-emap")
    pixels = map_pixels(page)
    assert share_of(pixels, (64, 112, 48)) > 0.5 and share_of(pixels, (200, 30, 30), 20) > 0.005
    assert {layer for layer, *_ in nlsc_standin.requests} >= {"PHOTO2", "EMAP2"}
    shot(page, "basemap-standin-photo-with-names")


def test_switcher_by_keyboard_with_thumbnails(facts, page):
    open_map(page)
    button = page.locator("#basemap")
    assert button.get_attribute("aria-label") == "底圖: 城市底圖（本平台圖層，離線可用）"
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#basemap-dialog")
    assert dialog.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.value") == "platform"  # focus on the current choice
    config = page.evaluate("JSON.parse(document.getElementById('viewer-config').textContent).basemaps")
    thumbs = {b["id"]: b["thumbnail"] for b in config if b.get("thumbnail")}
    page.wait_for_function("[...document.querySelectorAll('#basemap-dialog img')].every(i => i.complete)")
    shown = dialog.locator("img").evaluate_all("imgs => imgs.map(i => [i.closest('label').querySelector('input')"
                                               ".value, i.getAttribute('src'), i.naturalWidth])")
    assert {value: src for value, src, _w in shown} == thumbs
    assert all(width == 256 for _v, _s, width in shown)  # the platform's drawn offline, NLSC's from the stand-in
    settle(page)
    shot(page, "basemap-switcher-open-1366")
    page.keyboard.press("ArrowDown")  # radios: the arrow keys move the choice, and the map follows
    assert button.get_attribute("data-value") == "nlsc-emap"
    page.keyboard.press("ArrowDown")
    assert button.get_attribute("data-value") == "nlsc-photo"
    page.keyboard.press("Tab")  # to the overlays: Space ticks the names over the orthophoto
    page.keyboard.press("Space")
    assert button.get_attribute("data-value") == "nlsc-photo+nlsc-labels"
    page.keyboard.press("Escape")
    page.wait_for_function("document.getElementById('basemap').getAttribute('aria-expanded') === 'false'")
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.id") == "basemap"  # back where the keyboard was


@pytest.mark.parametrize("locale", ["zh-TW", "en-US"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_each_basemap_in_both_languages_desktop_and_phone(facts, server, browser, locale, viewport):
    names = NAMES[locale]
    width = viewport["width"]
    page = new_page(browser, server, viewport=viewport, locale=locale)
    try:
        open_map(page)
        for choice in ("platform", "nlsc-emap", "nlsc-photo", "nlsc-labels", "none"):
            if width < 760:
                page.locator("#menu-toggle").click()
            page.locator("#basemap").click()
            dialog = page.locator("#basemap-dialog")
            dialog.get_by_label(names[choice], exact=True).click()
            if choice == "platform" and width < 760:
                assert_fits(page, width, "#basemap-dialog label, #basemap-dialog button")
                box = dialog.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5
                shot(page, f"basemap-switcher-{locale}-{width}")
            dialog.get_by_role("button", name=names["close"]).click()
            settle(page)
            shot(page, f"basemap-{choice}-{locale}-{width}")
        assert page.locator("#basemap").get_attribute("data-value") == "none+nlsc-labels"  # the overlay stays
    finally:
        page.context.close()
