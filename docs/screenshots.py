"""Screenshots of every page and main tool of a running civgis, in zh-Hant and English, at 1366×768 and 390×844.

    make demo                                   # in one terminal
    .venv/bin/python docs/screenshots.py        # in another: PNGs in docs/screenshots/all/

Signs in as a user of its own (`screenshots`, a member of 民政局 so that it may restyle the villages; made or reset in
the stack's database: by default the demo's, found with `geo.localstack env demo`; a DATABASE_URL already set wins),
opens the viewer with layers and their legends, identify over several layers (a tab each), the basemap switcher,
the attribute table with a filter (the map following it), the style editor on graduated classes (previewed, not
saved), a layer's dialog on its metadata tab, search results and a found address, a buffer, an overlay job's
progress, a road widening, an upload report, the print dialog, a share link and the page it opens, the metadata
completeness report, the siting wizard's answer and report, the Wi-Fi and sensor pages. It fails (exit 1) when a
page logs a script error. The docs' gallery is a compressed selection of these (`--gallery` writes it to
docs/screenshots/ as WebP).

Without internet (NLSC's basemaps unreachable) start the demo on the platform's own basemap:
`VIEWER_DEFAULT_BASEMAP=platform make demo`; the switcher then shows NLSC's entries without their thumbnails.

It lives in docs/ beside the pictures it makes: it is a tool for the documentation, not part of the application.
Runs with Debian's Chromium through Playwright (the browser tests' set-up).
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]  # WebGL: 3D
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"zh": ("zh-hant", "zh-TW"), "en": ("en", "en-US")}
LAYERS_ON = ["villages", "flood-zones", "buildings", "facilities"]  # the viewer's scene: areas, classes, points
USER = "screenshots"
USER_GROUP = "民政局"  # owner of the districts and villages: the style editor and the layer dialog's inputs
JOB_TIMEOUT_MS = 180_000
# answers a scene asks for on purpose: an upload whose name a layer has already (a run before uploaded it) is a 409
# the upload panel asks about (new version, new layer, cancel)
EXPECTED = re.compile(r"^409 POST .*/api/v1/layers/$")
# the docs' gallery (docs/gallery.md): (file stem, scene) pairs, each in both languages; the phone ones at phone size
GALLERY = [("viewer", "desktop"), ("viewer", "phone"), ("identify", "desktop"), ("identify", "phone"),
           ("basemaps", "desktop"), ("basemaps", "phone"), ("table", "desktop"), ("table", "phone"),
           ("style", "desktop"), ("style", "phone"), ("layer-dialog", "desktop"), ("layer-dialog", "phone"),
           ("search-results", "desktop"), ("search-results", "phone"), ("search-address", "desktop"),
           ("buffer", "desktop"), ("buffer", "phone"), ("overlay", "desktop"), ("widening", "desktop"),
           ("upload", "desktop"), ("print", "desktop"), ("share-page", "desktop"), ("menu", "phone"),
           ("metadata-report", "desktop"), ("siting-answer", "desktop"), ("siting-answer", "phone"),
           ("siting-report", "desktop"), ("wifi", "desktop"), ("wifi", "phone"), ("sensors", "desktop"),
           ("sensors", "phone")]


def ensure_user() -> str:
    """A user for the screenshots with a fresh random password (set each run; nothing to remember or leak)."""
    if "DATABASE_URL" not in os.environ:
        env = subprocess.run([sys.executable, "-m", "geo.localstack", "env", "demo"], cwd=PROJECT_DIR,
                             capture_output=True, text=True)
        if env.returncode != 0:
            sys.exit("screenshots: no DATABASE_URL and no running demo (start `make demo` first)")
        for line in env.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ.setdefault(key, value.strip("'"))
    sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
    os.environ.setdefault("CIVGIS_ENV", "development")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User

    password = secrets.token_urlsafe(16)
    user, _ = User.objects.get_or_create(username=USER)
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get(name=USER_GROUP))
    return password


def demo_places() -> dict:
    """Where the scenes look, read from the demo city: a flood zone's inner point (under it a flood zone, a village, a
    district: identify's tabs), an address to find, and the start of a road name that several places share (a list
    of results)."""
    from django.db import connection

    def one(statement):
        with connection.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone()

    flood = one("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p "
                "FROM layerdata.flood_zones ORDER BY ST_Area(geom) DESC LIMIT 1) s")
    (address,) = one("SELECT district || road || number FROM layerdata.address_points WHERE lane IS NULL "
                     "AND number NOT LIKE '%之%' ORDER BY address_id LIMIT 1 OFFSET 30")
    (prefix,) = one("SELECT left(road, 2) p FROM layerdata.address_points GROUP BY p "
                    "HAVING count(DISTINCT road) > 1 ORDER BY count(DISTINCT road) DESC, p LIMIT 1")
    return {"flood": flood, "address": address, "prefix": prefix}


class Shooter:
    def __init__(self, browser, base: str, out: Path, password: str, places: dict):
        self.browser, self.base, self.out, self.password, self.places = browser, base, out, password, places
        self.errors: list[str] = []
        self.siting_job: str | None = None

    def context(self, lang: str, size: str):
        code, locale = LANGUAGES[lang]
        context = self.browser.new_context(viewport=VIEWPORTS[size], locale=locale, base_url=self.base,
                                           device_scale_factor=1)
        context.add_cookies([{"name": "django_language", "value": code, "url": self.base}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.set_default_navigation_timeout(60_000)  # after the map, the server may still be drawing its tiles
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and self.errors.append(f"{page.url}: console: {m.text}"))
        # failed requests are counted by their address (the browser's own /favicon.ico guess aside)
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                and not EXPECTED.match(f"{r.status} {r.request.method} {r.url}")
                and self.errors.append(f"{page.url}: {r.status} {r.url}"))
        return page

    @staticmethod
    def settle_map(page):
        """A map on the page: its zoom come to rest and every tile layer's tiles in (networkidle, once reached after
        the page loaded, does not wait for the tiles of a later move)."""
        page.wait_for_load_state("networkidle")
        page.wait_for_function("!(window.civgis && civgis.map) || (!civgis.map._animatingZoom && Object.values("
                               "civgis.map._layers).every(l => !l.isLoading || !l.isLoading()))", timeout=60_000)

    @contextmanager
    def kept_view(self, page):
        """A scene that goes elsewhere on the map puts the view back for the next (the tools work on the city's
        middle)."""
        view = page.evaluate("[civgis.map.getCenter(), civgis.map.getZoom()]")
        yield
        page.evaluate("([centre, zoom]) => void civgis.map.setView(centre, zoom, {animate: false})", view)

    def shot(self, page, name: str, lang: str, size: str, full_page: bool = False):
        self.settle_map(page)
        page.wait_for_timeout(500)  # tiles fade in
        path = self.out / f"{name}-{lang}-{size}.png"
        page.screenshot(path=path, full_page=full_page)
        print(path.relative_to(PROJECT_DIR) if path.is_relative_to(PROJECT_DIR) else path, flush=True)

    def sign_in(self, page):
        if page.locator("#menu-toggle").is_visible():  # phone size: sign-in is in the header's menu
            page.locator("#menu-toggle").click()
        page.locator("#sign-in-open").click()
        page.locator("#username").fill(USER)
        page.locator("#password").fill(self.password)
        page.locator("#sign-in-dialog button[type=submit]").click()
        page.locator("#signed-in-as").wait_for(state="attached")

    # --- the viewer and its tools ---
    def open_map(self, page):
        page.goto("/")
        page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)

    def tool(self, page, tool_id: str):
        page.locator(f"#workbar [data-tool={tool_id}]").click()
        page.locator("#tool-panel").wait_for()
        return page.locator("#tool-panel")

    def close_tool(self, page):
        if page.locator("#tool-panel").is_visible():
            page.locator("#tool-panel [data-close-tool]").click()

    def panel_button(self, page, row: str, icon: str, close_panel: bool = True):
        """Click a layer's icon button in the panel. On a phone the panel slides in first, and out again after
        (unless what opened covers it: `close_panel=False`, and close_panel() once that is closed)."""
        if page.locator("#panel-toggle").is_visible():
            page.locator("#panel-toggle").click()
        page.locator(f"{row} button", has_text=icon).first.click()
        if close_panel:
            self.close_panel(page)
        page.locator("#panel").evaluate("panel => { panel.scrollTop = 0; }")  # the open layers, as before

    def close_panel(self, page):
        if page.locator("#panel-close").is_visible():
            page.locator("#panel-close").click()

    def menu(self, page):
        """On a phone the header's menu holds the basemap button, the pages and sign-in: open it."""
        if page.locator("#menu-toggle").is_visible():
            page.locator("#menu-toggle").click()

    def viewer(self, page, lang, size):
        self.open_map(page)
        self.sign_in(page)
        page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)
        phone = size == "phone"
        if phone:
            page.locator("#panel-toggle").click()
        for slug in LAYERS_ON:
            box = page.locator(f"#layer-tree .layer-row[data-slug={slug}] input[type=checkbox]")
            if not box.is_checked():
                box.check()
        page.evaluate("void civgis.map.setZoom(14)")
        page.locator("#panel").evaluate("panel => { panel.scrollTop = 0; }")  # the open layers and their legends
        self.shot(page, "viewer", lang, size)
        if phone:
            page.locator("#panel-close").click()
            page.locator("#menu-toggle").click()
            self.shot(page, "menu", lang, size)
            page.locator("#menu-toggle").click()
        self.identify(page, lang, size)

    def identify(self, page, lang, size):
        """A click on a flood zone: every visible layer under it (flood zone, village, building) in a tab of its own."""
        lon, lat = self.places["flood"]
        with self.kept_view(page):
            page.evaluate(f"void civgis.map.setView([{lat}, {lon}], 15, {{animate: false}})")
            self.settle_map(page)
            box = page.locator("#map").bounding_box()
            x, y = page.evaluate(f"(() => {{ const p = civgis.map.latLngToContainerPoint([{lat}, {lon}]); "
                                 "return [p.x, p.y]; })()")
            tabs = page.locator(".identify [role=tab]")
            for _attempt in range(20):  # until the three layers' tiles are drawn
                page.mouse.click(box["x"] + x, box["y"] + y)
                page.wait_for_timeout(700)
                if tabs.count() >= 3:
                    break
            page.locator(".identify table.attributes").first.wait_for()
            self.shot(page, "identify", lang, size)
            page.evaluate("void civgis.map.closePopup()")

    def basemaps(self, page, lang, size):
        self.menu(page)
        page.locator("#basemap").click()
        dialog = page.locator("#basemap-dialog")
        dialog.wait_for()
        page.wait_for_function("[...document.querySelectorAll('#basemap-dialog img')].every(i => i.complete)")
        self.shot(page, "basemaps", lang, size)
        page.keyboard.press("Escape")
        if page.locator("#menu-toggle").is_visible() and page.locator("#basemap").is_visible():
            page.locator("#menu-toggle").click()

    def table(self, page, lang, size):
        """The buildings' attribute table filtered to seven floors and more; the map draws only those."""
        page.evaluate("void civgis.map.setZoom(16)")
        self.panel_button(page, ".active-layer[data-slug=buildings]", "▦", close_panel=False)  # full screen on a phone
        table = page.locator("#attribute-table")
        page.wait_for_function("civgis.table.view.rows.length > 0")
        every = page.evaluate("civgis.table.view.matched")
        table.locator(".at-toggle-filter").click()
        condition = table.locator(".f-condition").first
        condition.locator(".f-attribute").select_option("floors")
        condition.locator(".f-operator").select_option("≥")
        condition.locator(".f-value").fill("7")
        table.locator(".f-apply").click()
        table.locator(".at-filtered").wait_for()
        page.wait_for_function(f"civgis.table.view.matched < {every}")
        self.shot(page, "table", lang, size)
        table.locator(".f-clear").click()
        page.wait_for_function("Object.keys(civgis.state.filters).length === 0")
        table.locator(".at-close").click()
        self.close_panel(page)
        page.evaluate("void civgis.map.setZoom(14)")

    def style(self, page, lang, size):
        """The villages in graduated classes of their population, previewed on the map; cancelled, nothing saved."""
        self.panel_button(page, ".active-layer[data-slug=villages]", "◐")
        editor = page.locator("#style-editor")
        editor.wait_for()
        kind = editor.locator("input[name=style-kind][value=graduated]")
        steps = [] if kind.is_checked() else [kind.check]  # the demo's villages are graduated (by density) already
        steps += [lambda: editor.locator(".kinds + fieldset select").first.select_option("population"),
                  editor.locator("input[name=style-ramp][value=Greens]").check]
        for step in steps:  # each choice previewed on the map (a dry run of the style) before the next
            with page.expect_response(lambda r: "dry_run=true" in r.url and r.status == 200):
                step()
        self.shot(page, "style", lang, size)
        editor.locator(".actions button:not(.primary)").click()
        editor.wait_for(state="hidden")

    def layer_dialog(self, page, lang, size):
        self.panel_button(page, ".layer-row[data-slug=villages]", "ⓘ", close_panel=False)  # a modal dialog
        dialog = page.locator("#metadata-dialog")
        dialog.locator("#ld-tab-metadata").click()
        dialog.locator("#ld-panel-metadata").wait_for()
        self.shot(page, "layer-dialog", lang, size)
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
        self.close_panel(page)

    def search(self, page, lang, size):
        """The start of a road name several places share: the results under their kinds; then an address, marked."""
        page.locator("#search-input").fill(self.places["prefix"])
        page.keyboard.press("Enter")
        page.locator("#search-results .search-kind").first.wait_for()
        self.shot(page, "search-results", lang, size)
        with self.kept_view(page):
            page.locator("#search-input").fill(self.places["address"])
            page.evaluate("void (window.moved = new Promise(done => civgis.map.once('moveend', done)))")
            page.keyboard.press("Enter")
            page.locator(".found-tooltip").wait_for()
            page.evaluate("window.moved.then(() => null)")  # the flight to it over, its tiles asked for
            self.shot(page, "search-address", lang, size)
            page.locator(".found-clear").click()
            page.locator("#search-input").fill("")

    def buffer(self, page, lang, size):
        panel = self.tool(page, "buffer")
        panel.locator("[data-draw=point]").click()
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
        page.locator("#buffer-distances").fill("250, 600")
        panel.locator("button[type=submit]").click()
        panel.locator("table.results tbody tr").first.wait_for()
        panel.locator(".tool-result").scroll_into_view_if_needed()
        self.shot(page, "buffer", lang, size)
        self.close_tool(page)

    def overlay(self, page, lang, size):
        panel = self.tool(page, "overlay")
        panel.locator("button[type=submit]").click()
        panel.locator("li.job progress[value='100']").wait_for(timeout=JOB_TIMEOUT_MS)
        panel.locator("li.job .job-report").first.wait_for()
        panel.locator("li.job").first.scroll_into_view_if_needed()
        self.shot(page, "overlay", lang, size)
        self.close_tool(page)

    def widening(self, page, lang, size):
        page.evaluate("void civgis.map.setZoom(17)")
        page.wait_for_function("!civgis.map._animatingZoom")
        panel = self.tool(page, "widening")
        panel.locator("[data-draw=line]").click()
        # from the keyboard: a vertex at the crosshair, pan with the arrows, another vertex, Enter
        page.focus("#map")
        page.keyboard.press("Space")
        for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowRight", "ArrowDown"):
            page.keyboard.press(key)
            page.wait_for_function("!civgis.map._panAnim || !civgis.map._panAnim._inProgress")
        page.keyboard.press("Space")
        page.keyboard.press("Enter")
        page.locator("#widening-width").fill("24")
        panel.locator("button[type=submit]").click()
        panel.locator("[data-total]").first.wait_for()
        panel.locator("[data-total]").first.scroll_into_view_if_needed()
        self.shot(page, "widening", lang, size)
        self.close_tool(page)
        page.evaluate("void civgis.map.setZoom(14)")

    def upload(self, page, lang, size):
        panel = self.tool(page, "upload")
        with tempfile.TemporaryDirectory() as tmp:
            name = "巡查點.geojson" if lang == "zh" else "inspections.geojson"
            path = Path(tmp) / name
            lon, lat = page.evaluate("[civgis.map.getCenter().lng, civgis.map.getCenter().lat]")
            path.write_text(json.dumps({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"note": f"#{i}"},
                 "geometry": {"type": "Point", "coordinates": [lon + i * 0.002, lat]}} for i in range(3)]}))
            page.locator("#upload-files").set_input_files(str(path))
            finished = "states => states.includes(document.querySelector('#tool-panel li.job')?.dataset.status)"
            page.wait_for_function(finished, arg=["clash", "succeeded", "failed"], timeout=JOB_TIMEOUT_MS)
            if panel.locator("li.job").first.get_attribute("data-status") == "clash":  # uploaded by a run before
                panel.locator("li.job [data-choice=new_version]").click()
                page.wait_for_function(finished, arg=["succeeded", "failed"], timeout=JOB_TIMEOUT_MS)
            panel.locator("li.job progress[value='100']").wait_for(timeout=JOB_TIMEOUT_MS)
        panel.locator("li.job details summary").first.click()  # the import report, opened
        panel.locator("li.job").first.scroll_into_view_if_needed()
        self.shot(page, "upload", lang, size)
        self.close_tool(page)

    def print_dialog(self, page, lang, size):
        self.tool(page, "print")
        page.locator("#print-title").fill("中正路周邊現況圖" if lang == "zh" else "Around Zhongzheng Road")
        self.shot(page, "print", lang, size)
        self.close_tool(page)

    def share(self, page, lang, size):
        panel = self.tool(page, "share")
        panel.locator("button[type=submit]").click()
        page.wait_for_function("document.getElementById('share-link')?.value.includes('/s/')")
        self.shot(page, "share", lang, size)
        link = page.locator("#share-link").input_value()
        self.close_tool(page)
        page.goto(link)
        page.wait_for_function("window.civgis && civgis.tileTimings.length > 0", timeout=30_000)
        page.wait_for_timeout(2000)  # every layer's tiles, not only the first
        self.shot(page, "share-page", lang, size)

    # --- the decision pages ---
    def metadata_report(self, page, lang, size):
        page.goto("/metadata/")
        page.locator("#report-table tbody tr").first.wait_for()
        self.shot(page, "metadata-report", lang, size)

    def siting(self, page, lang, size):
        if self.siting_job is None:
            page.goto("/siting/")
            while not page.locator("#run").is_visible():
                page.locator("section:not([hidden]) [data-next]").first.click()
            page.locator("#run").click()
            page.locator("#result").wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
            self.siting_job = page.locator("#result").get_attribute("data-job")
        page.goto(f"/siting/?job={self.siting_job}")
        page.locator("#result").wait_for(state="visible")
        page.locator("#gains-table").scroll_into_view_if_needed()
        self.shot(page, "siting-answer", lang, size)
        page.goto(f"/api/v1/analysis/siting/{self.siting_job}/report.html")
        self.shot(page, "siting-report", lang, size)

    def wifi(self, page, lang, size):
        page.goto("/wifi/")
        page.locator("#hotspots tr").first.wait_for()
        page.locator("#coverage-form button[type=submit]").click()
        page.locator("#coverage-result").wait_for(state="visible")
        self.shot(page, "wifi", lang, size)

    def sensors(self, page, lang, size):
        page.goto("/sensors/")
        page.locator("#sensors tr").first.wait_for()
        self.shot(page, "sensors", lang, size)

    def run(self, lang: str, size: str, scenes: list[str]):
        page = self.context(lang, size)
        try:
            for scene in scenes:
                getattr(self, scene)(page, lang, size)
        finally:
            page.context.close()


SCENES = ["viewer", "basemaps", "table", "style", "layer_dialog", "search", "buffer", "overlay", "widening", "upload",
          "print_dialog", "share", "metadata_report", "siting", "wifi", "sensors"]


def gallery(source: Path, target: Path) -> None:
    """The docs' selection as WebP: desktop pictures at 1024 px wide (gallery.md shows them smaller still),
    quality 70: about 55 KB a picture on average, the 62 of them 3.5 MB, their CJK text readable."""
    from PIL import Image

    target.mkdir(parents=True, exist_ok=True)
    for stem, size in GALLERY:
        for lang in LANGUAGES:
            png = source / f"{stem}-{lang}-{size}.png"
            if png.exists():
                image = Image.open(png).convert("RGB")
                if image.width > 1024:
                    image = image.resize((1024, round(image.height * 1024 / image.width)), Image.LANCZOS)
                image.save(target / f"{png.stem}.webp", "WEBP", quality=70, method=6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
                        help="the running civgis (default: the demo's http://127.0.0.1:8000)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs" / "screenshots" / "all")
    parser.add_argument("--scenes", default=",".join(SCENES), help=f"comma-separated, of {', '.join(SCENES)}")
    parser.add_argument("--languages", default="zh,en")
    parser.add_argument("--sizes", default="desktop,phone")
    parser.add_argument("--gallery", action="store_true", help="also write the docs' gallery (docs/gallery.md) as WebP")
    args = parser.parse_args()
    password = ensure_user()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # nothing touches the database while the browser runs
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shooter = Shooter(browser, args.base.rstrip("/"), args.out, password, demo_places())
        scenes = args.scenes.split(",")
        for lang in args.languages.split(","):
            for size in args.sizes.split(","):
                shooter.run(lang, size, scenes)
        browser.close()
    if args.gallery:
        gallery(args.out, args.out.parent)
    for error in shooter.errors:
        print(f"script error: {error}", file=sys.stderr)
    return 1 if shooter.errors else 0


if __name__ == "__main__":
    sys.exit(main())
