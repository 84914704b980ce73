"""The style editor in a real browser (Playwright + Debian's Chromium against gunicorn on a small demo city): an
editor of the 民政局 restyles 行政區界 from one symbol to graduated classes; the map's tiles take the previewed
classes' colours before anything is saved; Save stores it and a reload draws it again. Any script error fails it.
Screenshots (zh-Hant, English, 390 px phone) go to .var/screenshots/ for a person to look at."""

from pathlib import Path

import pytest
from conftest import CHROMIUM, PHONE, assert_fits, committed_demo_city, new_page, settle, shot
from django.contrib.auth.models import Group, User

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]
PASSWORD = "styler-pw-2026"

# the distinct opaque-enough colours painted in the canvases of one layer's vector tiles
TILE_COLOURS = """slug => {
  const grid = Object.values(civgis.map._layers).find(l => (l._url || '').includes(`/tiles/${slug}/`)
    && l.options.pane === 'overlayPane');  // not the offline basemap, drawn from the same tiles
  const seen = {};
  for (const tile of Object.values(grid._tiles)) {
    const canvas = tile.el;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 16) {
      if (data[i + 3] < 120) continue;
      const hex = '#' + [data[i], data[i + 1], data[i + 2]].map(v => v.toString(16).padStart(2, '0')).join('');
      seen[hex] = (seen[hex] || 0) + 1;
    }
  }
  return seen;
}"""


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=7, size=0.3) as demo:
        with django_db_blocker.unblock():
            User.objects.create_user("styler", password=PASSWORD).groups.add(Group.objects.get(name="民政局"))
        yield demo
        with django_db_blocker.unblock():
            User.objects.filter(username="styler").delete()


@pytest.fixture(scope="module")
def facts(city) -> dict:
    return {}


def close_to(colour: str, seen: dict, tolerance: int = 4) -> int:
    """How many sampled pixels have `colour` (within a few levels per channel: canvas alpha rounding)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return sum(n for hex_, n in seen.items()
               if all(abs(int(hex_[1 + 2 * k:3 + 2 * k], 16) - rgb[k]) <= tolerance for k in range(3)))


def drawn_classes(page, colours: list[str], expected: list[str] | None = None) -> list[str]:
    """The class colours the districts' tiles show, once the tiles drawn (and, given `expected`, once they match)."""
    found = []
    for _ in range(40):
        seen = page.evaluate(TILE_COLOURS, "districts")
        found = [c for c in colours if close_to(c, seen) > 20]
        if expected is None or found == expected:
            break
        page.wait_for_timeout(250)
    return found


def sign_in(page, phone=False):
    if phone:
        page.locator("#menu-toggle").click()  # on a phone, sign-in sits in the header's menu
    page.locator("#sign-in-open").click()
    page.locator("#username").fill("styler")
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in-dialog button[type=submit]").click()
    page.wait_for_selector("#signed-in-as", state="attached")  # on a phone it sits in the folded menu
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)


def show_districts(page):
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)
    with page.expect_response(lambda r: "/tiles/districts/" in r.url and r.status == 200):
        page.locator("#layer-tree").get_by_label("行政區界", exact=True).check()
    settle(page)


def test_restyle_to_graduated_previews_on_the_tiles_saves_and_survives_a_reload(browser, server, no_script_errors):
    no_script_errors.allow(r"status of 400 .*/style/\?dry_run=true")  # breaks out of order, said in the editor
    page = new_page(browser, server)
    page.goto("/", timeout=90_000)  # a server just started answers its first page slowly on a busy machine
    sign_in(page)
    show_districts(page)
    before = page.evaluate(TILE_COLOURS, "districts")
    assert close_to("#f2efe9", before) > 100  # the single symbol's fill

    page.get_by_role("button", name="編輯樣式：行政區界").click()
    editor = page.locator("#style-editor")
    editor.get_by_role("heading", name="樣式：行政區界").wait_for()
    with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
        editor.get_by_label("分級", exact=True).check()
    attribute = editor.get_by_label("分類屬性")
    options = attribute.locator("option").all_inner_texts()
    assert options and not [o for o in options if "_" in o or o.isascii()], options  # labels, not column names
    assert "名稱" not in options  # graduated: numeric attributes only
    with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
        attribute.select_option("population")
    with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
        editor.get_by_label("分類方法").select_option("equal_interval")
    with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
        editor.get_by_label("Greens").check()
    settle(page)
    legend = page.locator(".active-layer[data-slug=districts] .legend li")
    assert legend.count() >= 2
    preview = page.evaluate(TILE_COLOURS, "districts")
    colours = [page.evaluate("i => getComputedStyle(document.querySelectorAll("
                             "'.active-layer[data-slug=districts] .legend .swatch')[i]).getPropertyValue('--swatch')",
                             i).strip() for i in range(legend.count())]
    drawn = [c for c in colours if close_to(c, preview) > 20]
    assert len(drawn) >= 2, (colours, sorted(preview.items(), key=lambda kv: -kv[1])[:8])  # the tiles took them
    assert close_to("#f2efe9", preview) < close_to("#f2efe9", before) / 10
    assert "地圖上為預覽" in editor.inner_text()
    shot(page, "style-01-editor-preview-zh")

    with page.expect_response(lambda r: r.request.method == "PUT" and "dry_run" not in r.url and r.status == 200):
        editor.get_by_role("button", name="儲存樣式").click()
    page.get_by_text("已儲存「行政區界」的樣式").wait_for()
    assert not editor.is_visible()

    page.reload()
    page.wait_for_selector("#signed-in-as")
    show_districts(page)
    assert drawn_classes(page, colours, drawn) == drawn  # the saved classes, drawn after a reload
    assert "等距" in page.locator(".active-layer[data-slug=districts] .legend-title").inner_text()
    assert not page.errors, page.errors

    # cancel puts the stored style back on the map
    page.get_by_role("button", name="編輯樣式：行政區界").click()
    with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
        editor.get_by_label("單一符號", exact=True).check()
    settle(page)
    assert close_to("#f2efe9", page.evaluate(TILE_COLOURS, "districts")) > 100
    editor.get_by_role("button", name="取消").last.click()
    settle(page)
    assert drawn_classes(page, colours, drawn) == drawn
    # a bad input is a message in the editor, not a script error
    page.get_by_role("button", name="編輯樣式：行政區界").click()
    editor.get_by_label("分類方法").select_option("manual")
    field = editor.get_by_label("斷點（由小到大，以逗號分隔）")
    field.fill("900, 100")
    field.press("Tab")
    alert = editor.get_by_role("alert").filter(has_text="由小到大")
    alert.wait_for()
    assert alert.inner_text().startswith("斷點（由小到大，以逗號分隔）：")  # the field as the editor names it
    assert not page.errors, page.errors
    page.context.close()

    english = new_page(browser, server, locale="en-US")
    english.goto("/")
    sign_in(english)
    english.get_by_role("button", name="Edit style：Villages and population").click()
    english.locator("#style-editor").get_by_role("heading", name="Style: Villages and population").wait_for()
    settle(english)
    shot(english, "style-02-editor-en")
    assert not english.errors, english.errors
    english.context.close()

    phone = new_page(browser, server, viewport=PHONE)
    phone.goto("/")
    sign_in(phone, phone=True)
    phone.locator("#panel-toggle").click()
    phone.get_by_role("button", name="編輯樣式：村里界與人口").click()
    phone.locator("#panel-close").click()
    editor = phone.locator("#style-editor")
    editor.get_by_role("heading", name="樣式：村里界與人口").wait_for()
    settle(phone)
    assert_fits(phone, PHONE["width"], "#style-editor input, #style-editor select, #style-editor button")
    box = editor.bounding_box()
    assert box["y"] > PHONE["height"] * 0.4  # a bottom sheet: the upper map shows the preview
    shot(phone, "style-03-editor-phone")
    assert not phone.errors, phone.errors
    phone.context.close()
