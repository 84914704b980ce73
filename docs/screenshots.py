"""Screenshots of every page and main tool of a running civgis, in zh-Hant and English, at 1366×768 and 390×844.

    make demo                                   # in one terminal
    .venv/bin/python docs/screenshots.py        # in another: PNGs in docs/screenshots/all/

Signs in as a user of its own (`screenshots`, made or reset in the stack's database: by default the demo's, found
with `geo.localstack env demo`; a DATABASE_URL already set wins), opens the viewer with layers and their legends,
identify, a buffer, an overlay job's progress, a road widening, an upload report, the print dialog, a share link and
the page it opens, the siting wizard's answer and report, the Wi-Fi and sensor pages. It fails (exit 1) when a page
logs a script error. The README's gallery is a compressed selection of these (`--gallery` writes it to
docs/screenshots/ as WebP).

It lives in docs/ beside the pictures it makes: it is a tool for the documentation, not part of the application.
Runs with Debian's Chromium through Playwright (the browser tests' set-up).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]  # WebGL: 3D
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"zh": ("zh-hant", "zh-TW"), "en": ("en", "en-US")}
LAYERS_ON = ["villages", "flood-zones", "buildings", "facilities"]  # the viewer's scene: areas, classes, points
USER = "screenshots"
JOB_TIMEOUT_MS = 180_000
# the README's gallery: (file stem, scene) pairs, each in both languages; the phone ones at phone size
GALLERY = [("viewer", "desktop"), ("viewer", "phone"), ("identify", "desktop"), ("buffer", "desktop"),
           ("buffer", "phone"), ("overlay", "desktop"), ("widening", "desktop"), ("upload", "desktop"),
           ("print", "desktop"), ("share-page", "desktop"), ("menu", "phone"), ("siting-answer", "desktop"),
           ("siting-answer", "phone"), ("siting-report", "desktop"), ("wifi", "desktop"), ("wifi", "phone"),
           ("sensors", "desktop"), ("sensors", "phone")]


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
    from django.contrib.auth.models import User

    password = secrets.token_urlsafe(16)
    user, _ = User.objects.get_or_create(username=USER)
    user.set_password(password)
    user.save()
    return password


class Shooter:
    def __init__(self, browser, base: str, out: Path, password: str):
        self.browser, self.base, self.out, self.password = browser, base, out, password
        self.errors: list[str] = []
        self.siting_job: str | None = None

    def context(self, lang: str, size: str):
        code, locale = LANGUAGES[lang]
        context = self.browser.new_context(viewport=VIEWPORTS[size], locale=locale, base_url=self.base,
                                           device_scale_factor=1)
        context.add_cookies([{"name": "django_language", "value": code, "url": self.base}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and self.errors.append(f"{page.url}: console: {m.text}"))
        # failed requests are counted by their address (the browser's own /favicon.ico guess aside)
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                and self.errors.append(f"{page.url}: {r.status} {r.url}"))
        return page

    def shot(self, page, name: str, lang: str, size: str, full_page: bool = False):
        page.wait_for_load_state("networkidle")
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
        # identify: a click in the map's middle (the villages cover the whole city)
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.6)
        page.locator(".leaflet-popup-content table, .leaflet-popup-content p").first.wait_for()
        self.shot(page, "identify", lang, size)
        page.evaluate("void civgis.map.closePopup()")

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
            panel.locator("li.job .job-report").first.wait_for(timeout=JOB_TIMEOUT_MS)
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


SCENES = ["viewer", "buffer", "overlay", "widening", "upload", "print_dialog", "share", "siting", "wifi", "sensors"]


def gallery(source: Path, target: Path) -> None:
    """The README's selection as WebP: desktop pictures at 1024 px wide (the README shows them smaller still),
    quality 70; the whole gallery stays under 3 MB and its CJK text readable."""
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
    parser.add_argument("--gallery", action="store_true", help="also write the README's selection as WebP")
    args = parser.parse_args()
    password = ensure_user()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # nothing touches the database while the browser runs
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shooter = Shooter(browser, args.base.rstrip("/"), args.out, password)
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
