"""Collaborative editing in a real browser (Playwright + Debian's Chromium against gunicorn on a small demo city),
two editors of the 環境保護局 in two browser contexts on 空氣品質感測器 and a signed-in user without the right:

- both open the same sensor; the first saves, the second's save is a conflict showing both versions, and taking
  the current one shows it in the form;
- a point the first adds appears on the second's map without a reload (live edits, server-sent events);
- the form does not send a value outside the layer's range, and the server refuses one outside its value list;
- a user without the edit right sees no edit tool, and the server refuses a forged change;
- a polygon split by a line drawn across it, a piece merged into its neighbour, a vertex snapped to another layer
  on the map, and undo/redo of vertices while drawing.
Screenshots (zh-Hant, English, a 390 px phone) go to .var/screenshots/ for a person to look at."""

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import CHROMIUM, PHONE, assert_fits, committed_demo_city, new_page, settle, shot
from django.contrib.auth.models import Group, User
from django.db import connection

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]
PASSWORD = "editor-pw-2026"
SLUG = "air-sensors"
RULES = {
    "status": {"values": [{"value": "運作中", "label": "運作中", "label_en": "Working"},
                          {"value": "離線", "label": "離線", "label_en": "Offline"}], "default": "運作中"},
    "model": {"required": True},
    "traffic_exposure": {"min": 0, "max": 1},
}


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from editing.models import LayerForm
    from layers.models import Layer

    with committed_demo_city(django_db_blocker, seed=7, size=0.3) as demo:
        with django_db_blocker.unblock():
            agency = Group.objects.get(name="環境保護局")
            for name in ("ed-a", "ed-b"):
                User.objects.create_user(name, password=PASSWORD).groups.add(agency)
            User.objects.create_user("ed-viewer", password=PASSWORD)
            LayerForm.objects.create(layer=Layer.objects.get(slug=SLUG), fields=RULES)
        yield demo
        with django_db_blocker.unblock():
            User.objects.filter(username__in=["ed-a", "ed-b", "ed-viewer"]).delete()


@pytest.fixture(scope="module")
def facts(city) -> dict:
    from layers.models import Layer

    layer = Layer.objects.get(slug=SLUG)
    with connection.cursor() as cur:
        cur.execute(f"SELECT fid, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)) "
                    f"FROM layerdata.{layer.table_name} ORDER BY fid LIMIT 1")
        fid, lon, lat = cur.fetchone()
    return {"fid": fid, "lon": lon, "lat": lat}


def sign_in(page, name: str, phone: bool = False):
    page.goto("/", timeout=90_000)  # a server just started answers its first page slowly on a busy machine
    if phone:
        page.locator("#menu-toggle").click()  # on a phone, sign-in sits in the header's menu
    page.locator("#sign-in-open").click()
    page.locator("#username").fill(name)
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in-dialog button[type=submit]").click()
    page.wait_for_selector("#signed-in-as", state="attached")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=20_000)


def open_editor(page, facts):
    with page.expect_response(lambda r: f"/layers/{SLUG}/form/" in r.url):
        page.locator("[data-tool=edit]").click()
        page.locator("#edit-layer").select_option(SLUG)
    show_beside_panel(page, facts)
    page.locator(f".leaflet-marker-icon[title='#{facts['fid']}']").wait_for()


def show_beside_panel(page, facts):
    """The sensor in the middle of the map part the tool's panel leaves free, as a person would pan it."""
    page.evaluate("""([lat, lon]) => {
      const panel = document.getElementById('tool-panel').getBoundingClientRect();
      const map = civgis.map.getContainer().getBoundingClientRect();
      const covered = panel.right - map.left;
      civgis.map.setView([lat, lon], 18, {animate: false});
      const top = document.getElementById('workbar').getBoundingClientRect().bottom;  // a phone: below the tools
      if (covered < map.width * 0.6) civgis.map.panBy([-covered / 2, 0], {animate: false});
      else civgis.map.panBy([0, map.top + map.height / 2 - (top + panel.top) / 2], {animate: false}); }""",
                  [facts["lat"], facts["lon"]])


def pick(page, fid: int, tap: bool = False):
    marker = page.locator(f".leaflet-marker-icon[title='#{fid}']")
    with page.expect_response(lambda r: f"/features/{fid}/" in r.url and r.request.method == "GET"):
        if tap:  # the marker's own click event (on a phone the tool strip may lie over that part of the map)
            marker.dispatch_event("click")
        else:
            marker.click()
    page.locator("#edit-f-model").wait_for()


def test_two_editors_conflict_live_updates_form_rules_and_no_tools_without_the_right(
        browser, server, facts, no_script_errors):
    no_script_errors.allow(r"status of 409")  # the second editor's stale save, shown as the conflict
    no_script_errors.allow(r"status of 40[03]")  # the forged requests below
    a, b = new_page(browser, server), new_page(browser, server)
    sign_in(a, "ed-a")
    sign_in(b, "ed-b")
    open_editor(a, facts)
    open_editor(b, facts)
    fid = facts["fid"]
    pick(a, fid)
    pick(b, fid)
    labels = a.locator(".edit-field label").all_inner_texts()
    assert any("狀態" in text for text in labels) and not [t for t in labels if "_" in t], labels  # labels, not columns
    assert a.locator("#edit-f-status option").all_inner_texts() == ["—", "運作中", "離線"]  # the value list

    # the first save wins; the second, from the same version, is a conflict with both versions
    a.locator("#edit-f-model").fill("A 型")
    with a.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        a.locator("[data-edit=save]").click()
    b.locator("#edit-f-model").fill("B 型")
    with b.expect_response(lambda r: r.request.method == "PATCH" and r.status == 409):
        b.locator("[data-edit=save]").click()
    conflict = b.locator(".edit-conflict")
    conflict.get_by_role("heading", name="版本衝突").wait_for()
    assert "ed-a" in conflict.inner_text() and "A 型" in conflict.inner_text() and "B 型" in conflict.inner_text()
    shot(b, "editing-conflict-zh")
    with b.expect_response(lambda r: f"/features/{fid}/" in r.url and r.request.method == "GET"):
        conflict.locator("[data-edit=take-theirs]").click()
    b.locator(".edit-form h3", has_text="版本 1").wait_for()
    assert b.locator("#edit-f-model").input_value() == "A 型"

    # a point the first editor adds appears on the second one's map, no reload
    a.locator("[data-edit=add]").click()
    box = a.locator("#map").bounding_box()
    a.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
    a.locator("#edit-f-model").fill("新感測器")
    a.locator("#edit-f-traffic_exposure").fill("5")  # outside 0–1: the form does not send it
    a.locator("[data-edit=save]").click()
    assert a.evaluate("document.querySelector('#edit-f-traffic_exposure').validity.rangeOverflow")
    a.locator("#edit-f-traffic_exposure").fill("0.5")
    with a.expect_response(lambda r: r.request.method == "POST" and r.status == 201) as made:
        a.locator("[data-edit=save]").click()
    new_fid = made.value.json()["id"]
    assert made.value.json()["properties"]["status"] == "運作中"  # the rule's default
    b.locator(f".leaflet-marker-icon[title='#{new_fid}']").wait_for(timeout=10_000)
    assert any(e["fid"] == new_fid for e in b.evaluate("civgis.live.seen"))

    # the server refuses what the form would not offer, naming the field
    refused = a.evaluate("""async ([slug, csrf]) => {
      const r = await fetch(`/api/v1/layers/${slug}/features/`, {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
        body: JSON.stringify({geometry: {type: 'Point', coordinates: [121.3, 25]},
                              properties: {model: 'x', status: '失竊'}})});
      return [r.status, (await r.json()).detail]; }""",
        [SLUG, a.evaluate("document.cookie.match(/csrftoken=([^;]+)/)[1]")])
    assert refused[0] == 400 and "status" in refused[1] and "值域" in refused[1], refused

    # a signed-in user without the right: no edit tool, and a forged change is refused
    viewer = new_page(browser, server)
    sign_in(viewer, "ed-viewer")
    assert viewer.locator("[data-tool=edit]").count() == 0
    assert viewer.locator("[data-tool=markers]").count() == 1  # the other tools are there
    forged = viewer.evaluate("""async ([slug, fid]) => {
      const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
      const r = await fetch(`/api/v1/layers/${slug}/features/${fid}/`, {method: 'PATCH', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
        body: JSON.stringify({properties: {model: 'forged'}, version: 1})});
      return r.status; }""", [SLUG, fid])
    assert forged == 403
    for page in (a, b, viewer):
        page.context.close()


def test_the_edit_tool_in_english_and_on_a_phone(browser, server, facts):
    page = new_page(browser, server, locale="en-US")
    sign_in(page, "ed-a")
    open_editor(page, facts)
    pick(page, facts["fid"])
    text = page.locator("#tool-panel").inner_text()
    assert all(words in text for words in ("Edit features", "Layer to edit", "Status", "Save", "Undo", "Split",
                                           "Merge", "Snap")), text
    assert not [words for words in ("編輯", "儲存", "復原", "狀態", "必填", "分割", "貼齊") if words in text], text
    shot(page, "editing-form-en")
    page.context.close()
    phone = new_page(browser, server, viewport=PHONE)
    sign_in(phone, "ed-b", phone=True)
    phone.locator("[data-tool=edit]").click()
    phone.locator("#edit-layer").select_option(SLUG)
    show_beside_panel(phone, facts)
    pick(phone, facts["fid"], tap=True)
    settle(phone)
    assert_fits(phone, PHONE["width"], "#tool-panel button, #tool-panel select, #tool-panel input")
    shot(phone, "editing-form-phone")
    phone.context.close()



ZONES = "ed-zones"


@pytest.fixture(scope="module")
def zones(facts, django_db_blocker):
    """Two 40 m squares side by side east of the sensor, on a polygon layer of the editors' agency."""
    from layers import catalog
    from layers.models import Layer

    lon, lat, d = facts["lon"] + 0.0003, facts["lat"] - 0.0002, 0.0004
    with django_db_blocker.unblock():
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE layerdata.ed_zones (fid serial PRIMARY KEY, name text, geom geometry(Polygon,"
                        " 3826))")
            for i, name in enumerate(("甲區", "乙區")):
                cur.execute("INSERT INTO layerdata.ed_zones (name, geom) VALUES (%s, ST_Transform(ST_MakeEnvelope("
                            "%s, %s, %s, %s, 4326), 3826))", [name, lon + i * d, lat, lon + (i + 1) * d, lat + d])
        layer = Layer.objects.create(slug=ZONES, title_zh="管制區", title_en="Control zones", table_name="ed_zones",
                                     kind="vector", srid=3826, geometry_type="Polygon", feature_count=2,
                                     owner_agency=Group.objects.get(name="環境保護局"), visibility="internal",
                                     attributes=[{"name": "name", "type": "text", "label": "名稱",
                                                  "label_en": "Name"}])
        catalog.default_style(layer)
    yield {"lon": lon, "lat": lat, "d": d}
    with django_db_blocker.unblock():
        layer.delete()
        with connection.cursor() as cur:
            cur.execute("DROP TABLE layerdata.ed_zones")


def test_split_merge_snapping_and_undo_while_drawing(browser, server, facts, zones):
    page = new_page(browser, server)
    sign_in(page, "ed-a")
    page.locator("#layer-air-sensors").check()  # on the map: a layer to snap to
    with page.expect_response(lambda r: f"/layers/{ZONES}/form/" in r.url):
        page.locator("[data-tool=edit]").click()
        page.locator("#edit-layer").select_option(ZONES)
    def around_zones(response) -> bool:  # the features of the view the squares are in (not an earlier view's)
        if f"/layers/{ZONES}/features/?" not in response.url:
            return False
        west, south, east, north = map(float, parse_qs(urlparse(response.url).query)["bbox"][0].split(","))
        return west < zones["lon"] < east and south < zones["lat"] < north and east - west < 0.02  # zoom 18

    with page.expect_response(around_zones):
        show_beside_panel(page, facts)  # (drawn on the map's canvas)
    page.locator("path.leaflet-interactive").nth(1).wait_for()  # the two squares, as SVG

    def at(lon, lat, dx=0, dy=0):
        box = page.locator("#map").bounding_box()
        point = page.evaluate("([lat, lon]) => civgis.map.latLngToContainerPoint([lat, lon])", [lat, lon])
        return box["x"] + point["x"] + dx, box["y"] + point["y"] + dy

    lon, lat, d = zones["lon"], zones["lat"], zones["d"]
    # split 甲區 by a line drawn across it
    with page.expect_response(lambda r: "/features/1/" in r.url and r.request.method == "GET"):
        page.mouse.click(*at(lon + d / 2, lat + d / 2))
    page.locator("[data-edit=split]").click()
    for x, y in (at(lon + d / 3, lat - d / 4), at(lon + d / 3, lat + d * 1.25)):
        page.mouse.click(x, y)
    with page.expect_response(lambda r: "/split/" in r.url) as cut:
        page.mouse.click(x, y)  # the last vertex again: done
    assert cut.value.status == 200, cut.value.text()
    pieces = [f["id"] for f in cut.value.json()["features"]]
    assert len(pieces) == 2 and "已分割" in page.locator(".edit-message").inner_text()
    # merge the east piece and 乙區 into 乙區
    with page.expect_response(lambda r: "/features/2/" in r.url and r.request.method == "GET"):
        page.mouse.click(*at(lon + d * 1.5, lat + d / 2))
    page.locator("[data-edit=merge]").click()
    with page.expect_response(lambda r: r.request.method == "GET" and "/features/" in r.url):
        page.mouse.click(*at(lon + d * 0.8, lat + d / 2))
    assert page.locator("[data-edit=merge]").inner_text() == "合併 2 個圖徵"
    shot(page, "editing-merge-zh")
    with page.expect_response(lambda r: "/merge/" in r.url) as merged:
        page.locator("[data-edit=merge]").click()
    assert merged.value.status == 200, merged.value.text()
    assert merged.value.json()["features"][0]["id"] == 2

    # snapping to the sensors: a vertex placed 6 px off the sensor lands on it; undo/redo take back vertices
    with page.expect_response(lambda r: "/layers/air-sensors/features/" in r.url):
        page.locator("#edit-snap-layer").focus()
        page.locator("#edit-snap-layer").select_option("air-sensors")
    page.locator("[data-edit=add]").click()
    first = at(facts["lon"], facts["lat"], 6, 5)
    page.mouse.move(first[0] - 20, first[1] - 20)
    page.mouse.move(*first, steps=4)
    page.mouse.click(*first)
    page.mouse.click(*at(facts["lon"], facts["lat"], 60, 5))
    vertices = "n => civgis.map.pm.Draw.Polygon._markers?.length === n"  # the polygon being drawn
    page.wait_for_function(vertices, arg=2)
    page.locator("[data-edit=undo]").click()
    page.wait_for_function(vertices, arg=1)
    page.locator("[data-edit=redo]").click()
    page.wait_for_function(vertices, arg=2)
    page.mouse.click(*at(facts["lon"], facts["lat"], 60, 60))
    page.wait_for_function(vertices, arg=3)  # a busy machine: the third vertex is in before the shape is closed
    closing = at(facts["lon"], facts["lat"])  # the first vertex where it snapped to (its marker's centre)
    page.mouse.move(*closing, steps=4)
    page.mouse.click(*closing)  # the first vertex again: done
    page.locator("#edit-f-name").fill("新區", timeout=30_000)
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 201) as made:
        page.locator("[data-edit=save]").click()
    corner = made.value.request.post_data_json["geometry"]["coordinates"][0][0]
    # on the sensor to the 6 decimals Leaflet writes (0.1 m); unsnapped it would be 6 px (~3 m, 3e-5°) off
    assert corner == pytest.approx([facts["lon"], facts["lat"]], abs=1e-6), corner
    shot(page, "editing-snapped-zh")

    # an event map made on its page: the editor's agency edits its own sub-layer only; English; a phone
    page.goto("/event-maps/")
    page.locator("#e-title").fill("燈會交通與環境")
    page.locator("#e-title-en").fill("Lantern Festival")
    page.locator("#new-event-form input[value=Point]").check()
    for agency in ("環境保護局", "交通局"):
        page.locator("#new-event-form label", has_text=agency).locator("input").check()
    page.locator("#new-event-form button[type=submit]").click()
    page.locator("#event-made").wait_for()
    rows = page.locator("section.event tbody tr")
    assert rows.count() == 2 and "可編輯" in rows.nth(0).inner_text() + rows.nth(1).inner_text()
    assert "僅檢視" in page.locator("section.event").inner_text()
    shot(page, "event-maps-zh", full_page=True)
    page.locator("#lang").select_option("en")
    page.locator("section.event .open-map").wait_for()
    text = page.locator("main").inner_text()
    assert "Events I take part in" in text and "view only" in text and "Lantern Festival" in text, text
    shot(page, "event-maps-en", full_page=True)
    page.set_viewport_size(PHONE)
    page.reload()
    assert_fits(page, PHONE["width"], "main button, main input:not([type=checkbox]):not([type=radio]), main a")
    shot(page, "event-maps-phone", full_page=True)
    page.locator("#lang").select_option("zh-hant") if page.locator("#lang").is_visible() else None
    page.context.close()
