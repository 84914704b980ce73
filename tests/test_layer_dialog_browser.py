"""The layer dialog and the upload dialog in a real browser (issue 15, "layers managed in the map"): a reader sees
the tabs read-only; an editor of the owner agency changes the title, an attribute's label and the metadata, is
told which field is wrong in the page's language, and sees the panel follow the save; the 詮釋資料 report lists
the layers with links that open their dialog; an upload with a name a layer already has offers new version / new
layer / cancel, each going through, with a colour of its own and the map zoomed to it.

One page for the module (one sign-in, one tile cache), on the size-1 demo city of tests/test_viewer_browser.py
with its gunicorn and Celery worker. Any script error or unexpected console error fails the test that caused it.
Screenshots (zh-Hant, English, phone) go to .var/screenshots/16-*.png.
"""
# ruff: noqa: F811 - the fixtures imported from test_viewer_browser are requested by name as arguments

import json
import re
from pathlib import Path

import pytest
from conftest import DESKTOP, PHONE, assert_fits, shot
from django.contrib.auth.models import Group, User
from test_viewer_browser import checkbox, city, facts, open_map  # noqa: F401 - city and facts are fixtures

pytestmark = [pytest.mark.django_db]
EDITOR_PASSWORD = "water-editor-2026"
# responses the page asks for and expects (a refused save, a name clash): Chromium logs each as a console error
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of (400|409)")


@pytest.fixture(scope="module")
def editor(city, django_db_blocker):
    """A member of 水務局, the owner agency of the demo's flood zones and rivers."""
    with django_db_blocker.unblock():
        user = User.objects.create_user("water-editor", password=EDITOR_PASSWORD)
        user.groups.add(Group.objects.get(name="水務局"))
    yield user
    with django_db_blocker.unblock():
        User.objects.filter(username="water-editor").delete()


@pytest.fixture(scope="module")
def shared(browser, server, editor):
    context = browser.new_context(viewport=DESKTOP, locale="zh-TW", base_url=server)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.set_default_navigation_timeout(90_000)  # the first page of a busy 2-core machine has taken over 30 s
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: m.type == "error" and not EXPECTED_CONSOLE.search(m.text)
            and page.problems.append(f"console: {m.text}"))
    open_map(page)
    yield page
    context.close()


@pytest.fixture
def page(shared):
    shared.problems.clear()
    yield shared
    shared.keyboard.press("Escape")
    assert not shared.problems, shared.problems


def api(page, path: str, method: str = "GET", body=None):
    return page.evaluate("""async ([path, method, body]) => {
        const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
        const r = await fetch(path, {method, credentials: "same-origin", headers: {"Content-Type": "application/json",
            "X-CSRFToken": token}, body: body === null ? undefined : JSON.stringify(body)});
        return {status: r.status, body: r.headers.get("Content-Type").includes("json") ? await r.json() : null}; }""",
                         [path, method, body])


def open_dialog(page, title: str):
    page.locator("#layer-tree").get_by_role("button", name=f"圖層資訊：{title}", exact=True).click()
    dialog = page.locator("#metadata-dialog")
    dialog.get_by_role("tab", name="一般").wait_for()
    return dialog


def test_a_reader_sees_the_tabs_without_inputs(page):
    dialog = open_dialog(page, "淹水潛勢區")
    general = dialog.locator("#ld-panel-general")
    assert "水務局" in general.inner_text() and "淹水潛勢範圍" in general.inner_text()
    service = general.locator("a.ld-ogcapi")  # the same features for QGIS and GDAL: its OGC API collection
    assert service.inner_text() == "OGC API - Features"
    assert service.get_attribute("href") == "/ogcapi/collections/flood-zones?f=html"
    assert dialog.locator("input, textarea, select").count() == 0
    assert dialog.get_by_role("button", name="儲存").count() == 0
    assert "只有權責機關的編輯者與管理者可以修改" in dialog.inner_text()
    dialog.get_by_role("tab", name="屬性欄位").click()
    assert "depth_class" in dialog.locator("#ld-panel-attributes").inner_text()
    dialog.get_by_role("tab", name="詮釋資料").click()
    score = int(dialog.locator("#ld-score").get_attribute("value"))
    assert score == api(page, "/api/v1/layers/flood-zones/")["body"]["completeness"]["score"]
    shot(page, "16-layer-dialog-read-only")
    dialog.get_by_role("button", name="關閉").click()


def sign_in_as_editor(page):
    if page.locator("#signed-in-as").count():
        return
    page.get_by_role("button", name="登入").click()
    form = page.locator("#sign-in-dialog")
    form.get_by_label("帳號").fill("water-editor")
    form.get_by_label("密碼").fill(EDITOR_PASSWORD)
    form.get_by_role("button", name="登入").click()
    page.wait_for_selector("#signed-in-as")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)


def test_an_editor_is_told_the_wrong_field_then_saves_and_the_panel_follows(page, no_script_errors):
    no_script_errors.allow(r"status of 400 .*/api/v1/layers/flood-zones/")  # the wrong field, said in the dialog
    sign_in_as_editor(page)
    before = api(page, "/api/v1/layers/flood-zones/")["body"]
    checkbox(page, "淹水潛勢區").check()
    dialog = open_dialog(page, "淹水潛勢區")
    general = dialog.locator("#ld-panel-general")
    general.get_by_label("中文名稱", exact=True).fill("淹水潛勢區（114年）")
    general.get_by_label("英文名稱", exact=True).fill("Flood-prone areas (2025)")
    dialog.get_by_role("tab", name="屬性欄位").click()
    dialog.get_by_label("中文名稱：depth_class").fill("淹水深度級距")
    dialog.get_by_role("tab", name="詮釋資料").click()
    meta = dialog.locator("#ld-panel-metadata")
    meta.get_by_label("聯絡電子郵件").fill("not-an-address")
    meta.get_by_label("聯絡人姓名").fill("林水利")
    meta.get_by_label("主題類別").select_option("inlandWaters")
    meta.get_by_label("資料處理歷程").fill("由 24 小時 350 毫米降雨情境模擬產製")
    dialog.get_by_role("tab", name="一般").click()
    dialog.get_by_role("button", name="儲存").click()
    # refused: the dialog goes to the tab of the wrong field and says which field, in zh-Hant
    error = meta.locator("[data-field=contact_email] .field-error")
    error.wait_for()
    assert meta.is_visible() and not general.is_visible() and error.inner_text().startswith("聯絡電子郵件：")
    assert meta.get_by_label("聯絡電子郵件").get_attribute("aria-invalid") == "true"
    assert api(page, "/api/v1/layers/flood-zones/")["body"]["title_zh"] == before["title_zh"]  # nothing half-saved
    shot(page, "16-layer-dialog-field-error")

    meta.get_by_label("聯絡電子郵件").fill("flood@water.city.gov.tw")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/layers/flood-zones/")
                              and r.request.method == "PATCH") as saved:
        dialog.get_by_role("button", name="儲存").click()
    sent = json.loads(saved.value.request.post_data)
    assert set(sent) == {"title_zh", "title_en", "attribute_descriptions", "contact_email", "contact_name",
                         "topic_category", "lineage"}  # what changed, nothing else
    dialog.locator(".ld-status", has_text="已儲存").wait_for()
    after = api(page, "/api/v1/layers/flood-zones/")["body"]
    assert after["title_zh"] == "淹水潛勢區（114年）" and after["topic_category"] == "inlandWaters"
    assert after["completeness"]["score"] > before["completeness"]["score"]
    assert int(dialog.locator("#ld-score").get_attribute("value")) == after["completeness"]["score"]
    depth = next(a for a in after["attributes"] if a["name"] == "depth_class")
    assert depth["label"] == "淹水深度級距"
    shot(page, "16-layer-dialog-saved")
    dialog.get_by_role("button", name="關閉").click()
    # the panel shows the new title at once, in the tree and in the list of layers switched on
    assert checkbox(page, "淹水潛勢區（114年）").is_checked()
    assert page.locator(".active-layer[data-slug=flood-zones] .title").inner_text() == "淹水潛勢區（114年）"
    assert "淹水深度級距" in page.locator(".active-layer[data-slug=flood-zones] .legend-title").inner_text()


def test_the_metadata_report_lists_what_is_missing_and_opens_a_layers_dialog(page, server):
    report = api(page, "/api/v1/metadata/report/")["body"]
    page.goto("/metadata/")
    rows = page.locator("#report-table tbody tr")
    assert rows.count() == report["count"] > 10
    first = rows.first
    assert first.get_attribute("data-slug") == report["results"][0]["slug"]  # the most to do, first
    flood = page.locator("#report-table tr[data-slug=flood-zones]")
    assert "淹水潛勢區（114年）" in flood.inner_text() and "可編修" in flood.inner_text()
    page.get_by_label("權責機關", exact=True).select_option("水務局")
    page.get_by_role("button", name="篩選").click()
    water = api(page, "/api/v1/metadata/report/?agency=水務局")["body"]["results"]
    assert {r.get_attribute("data-slug") for r in page.locator("#report-table tbody tr").all()} == {
        r["slug"] for r in water} >= {"flood-zones", "rivers"}
    assert {r["owner_agency"] for r in water} == {"水務局"}
    shot(page, "16-metadata-report")
    flood.get_by_role("link").click()
    page.wait_for_url(re.compile(r"layer_dialog=flood-zones"))
    dialog = page.locator("#metadata-dialog")
    dialog.locator("#ld-panel-metadata").wait_for()
    assert dialog.get_by_role("tab", name="詮釋資料").get_attribute("aria-selected") == "true"
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)
    dialog.get_by_role("button", name="關閉").click()


POINTS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.2951 + i * 0.002, 24.9912]},
     "properties": {"name": f"抽水站 {i + 1}"}} for i in range(3)]}


def drop(page, name: str):
    page.evaluate("""([text, name]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], name, {type: "application/geo+json"}));
        document.querySelector('#tool-panel .dropzone').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})); }""",
                  [json.dumps(POINTS, ensure_ascii=False), name])


def finished_job(tool, index: int):
    job = tool.locator("li.job").nth(index)
    tool.page.wait_for_function("i => ['succeeded', 'failed', 'cancelled', 'clash'].includes("
                                "document.querySelectorAll('#tool-panel li.job')[i]?.dataset.status)", arg=index,
                                timeout=90_000)
    return job


def test_upload_options_clash_choices_colours_and_zoom(celery_worker_process, page, no_script_errors):
    no_script_errors.allow(r"status of 409 .*/api/v1/layers/")  # a name clash is asked about in the panel
    page.goto("/")
    page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)
    page.locator("#workbar").get_by_role("button", name="圖檔上傳").click()
    tool = page.locator("#tool-panel")
    tool.get_by_label("主題").select_option("water")
    tool.get_by_label("開放程度").select_option("public")
    tool.get_by_label("坐標系統（檔案未註明時）").fill("4326")
    tool.get_by_label("文字編碼").select_option("utf-8")
    on_map = page.evaluate("civgis.state.active.slice()")
    drop(page, "抽水站.geojson")
    first = finished_job(tool, 0)
    assert first.get_attribute("data-status") == "succeeded", first.inner_text()
    # the job reads as done before the new layer is fetched and switched on: wait for it to be on top
    page.wait_for_function("known => !known.includes(civgis.state.active[0])", arg=on_map)
    slug = page.evaluate("civgis.state.active[0]")
    made = api(page, f"/api/v1/layers/{slug}/")["body"]
    assert made["theme"] == "water" and made["visibility"] == "public"
    entries = {e["slug"]: e for e in api(page, "/viewer/layers.json")["body"]["layers"]}
    used = {c for s in on_map for c in [entries[s]["style"]["fill_color"]] + [k["color"] for k in
                                                                             entries[s]["style"]["classes"]]}
    assert made["style"]["fill_color"] not in used | {"#3388ff"}  # a colour of its own
    # the map went to the new points
    page.wait_for_function("civgis.map.getBounds().contains([24.9912, 121.2971]) && civgis.map.getZoom() >= 15")

    drop(page, "抽水站.geojson")
    clash = finished_job(tool, 1)
    assert clash.get_attribute("data-status") == "clash"
    assert "已有同名圖層「抽水站」" in clash.inner_text()
    assert [b.inner_text() for b in clash.get_by_role("button").all()] == ["匯入為新版本", "另建新圖層", "取消"]
    shot(page, "16-upload-clash")
    clash.get_by_role("button", name="另建新圖層").click()
    page.wait_for_function("document.querySelectorAll('#tool-panel li.job')[1].dataset.status === 'succeeded'",
                           timeout=90_000)
    page.wait_for_function("slug => civgis.state.active[0] !== slug", arg=slug)
    beside = page.evaluate("civgis.state.active[0]")
    assert beside != slug and beside.startswith(slug)
    assert api(page, f"/api/v1/layers/{beside}/")["body"]["style"]["fill_color"] != made["style"]["fill_color"]

    drop(page, "抽水站.geojson")
    again = finished_job(tool, 2)
    again.get_by_role("button", name="匯入為新版本").click()
    page.wait_for_function("document.querySelectorAll('#tool-panel li.job')[2].dataset.status === 'succeeded'",
                           timeout=90_000)
    versions = api(page, f"/api/v1/layers/{slug}/versions/")["body"]
    assert [v["number"] for v in versions] == [2, 1]

    jobs_before = api(page, "/api/v1/imports/")["body"]["count"]
    drop(page, "抽水站.geojson")
    finished_job(tool, 3).get_by_role("button", name="取消").click()
    page.wait_for_function("document.querySelectorAll('#tool-panel li.job')[3].dataset.status === 'cancelled'")
    assert "已取消匯入" in tool.locator("li.job").nth(3).inner_text()
    assert api(page, "/api/v1/imports/")["body"]["count"] == jobs_before  # nothing left behind
    shot(page, "16-upload-choices-done")
    page.keyboard.press("Escape")


def test_english_and_phone(page, browser, server):
    """The dialog and the report in English, and on a phone: labelled, inside the screen, 40 px targets."""
    english = [{"name": "django_language", "value": "en", "url": server}]
    context = browser.new_context(viewport=PHONE, locale="en-US", base_url=server, is_mobile=True, has_touch=True)
    context.add_cookies(page.context.cookies() + english)  # the editor's session, in English
    phone = context.new_page()
    problems = []
    phone.on("pageerror", lambda e: problems.append(str(e)))
    phone.on("console", lambda m: m.type == "error" and problems.append(m.text))
    try:
        phone.goto("/metadata/")
        assert phone.locator("h1").inner_text() == "Metadata completeness report"
        assert_fits(phone, PHONE["width"], "#report button, #report select")
        shot(phone, "16-metadata-report-en-phone")
        phone.goto("/?layer_dialog=rivers&tab=metadata")
        dialog = phone.locator("#metadata-dialog")
        dialog.get_by_role("tab", name="Metadata").wait_for()
        assert dialog.get_by_label("Contact email").is_visible()
        assert_fits(phone, PHONE["width"], "#metadata-dialog [role=tab], #metadata-dialog button")
        shot(phone, "16-layer-dialog-en-phone")
    finally:
        context.close()
    assert not problems, problems
    desktop = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=server)
    desktop.add_cookies(page.context.cookies() + english)
    english = desktop.new_page()
    try:
        english.goto("/?layer_dialog=flood-zones")
        dialog = english.locator("#metadata-dialog")
        dialog.get_by_role("tab", name="General").wait_for()
        assert dialog.locator("#ld-panel-general").get_by_label("English title", exact=True).input_value() == \
            "Flood-prone areas (2025)"
        shot(english, "16-layer-dialog-en")
    finally:
        desktop.close()


def test_the_iso_record_downloads_and_an_editor_imports_a_tgos_record(page, no_script_errors):
    tgos = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "tgos-metadata" / \
        "TW-07-301000100G-613995.xml"
    if not tgos.exists():
        pytest.skip(f"the real TGOS record is not at {tgos}")
    no_script_errors.allow(r"status of 400 .*/api/v1/layers/rivers/metadata/import/")  # the HTML page, refused
    sign_in_as_editor(page)
    dialog = open_dialog(page, api(page, "/api/v1/layers/rivers/")["body"]["title_zh"])
    dialog.get_by_role("tab", name="詮釋資料").click()
    download = dialog.get_by_role("link", name="下載 ISO 19139 詮釋資料（XML）")
    assert download.get_attribute("href") == "/api/v1/layers/rivers/metadata.xml"
    record = page.request.get(download.get_attribute("href"))
    assert record.ok and b"gmd:MD_Metadata" in record.body()
    status = dialog.locator(".ld-iso-status")
    dialog.locator("#ld-iso-file").set_input_files({"name": "page.xml", "mimeType": "text/html",
                                                    "buffer": b"<html><body>not a record</body></html>"})
    status.filter(has_text="未匯入：").wait_for()
    assert "gmd:MD_Metadata" in status.inner_text()
    dialog.locator("#ld-iso-file").set_input_files(str(tgos))
    dialog.locator(".ld-iso-status", has_text="已由詮釋資料檔更新").wait_for()
    after = api(page, "/api/v1/layers/rivers/")["body"]
    assert after["title_zh"] == "村里界圖(TWD97經緯度)" and after["contact_organisation"]
    assert dialog.locator("h2").inner_text() == "村里界圖(TWD97經緯度)"
    shot(page, "16-layer-dialog-iso-imported")
    dialog.get_by_role("button", name="關閉").click()
