import contextlib
import functools
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"


def worker_database_url(db_name: str) -> str:
    """DATABASE_URL of this run with the database name replaced (the test database pytest-django made)."""
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + db_name))


def leftover_guard(name: str, pid: int) -> None:
    """A pid file in the stack's folder (geo.localstack): if pytest is killed before its teardown, the runner or the
    next run stops the process."""
    from geo.localstack import PidFile

    if os.environ.get("CIVGIS_STACK_DIR"):
        PidFile(Path(os.environ["CIVGIS_STACK_DIR"]) / "pids" / f"{name}.pid").write(pid)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test database and the test Redis; yields its node name."""
    from django.db import connection

    from geo.celery import app

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    env = dict(os.environ, DATABASE_URL=worker_database_url(db_name))
    node = f"pytest-{os.getpid()}@localhost"
    log = open(Path(settings.DATA_DIR).parent / "pytest-worker.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "geo", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--hostname", node, "--without-gossip", "--without-mingle"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    leftover_guard(f"pytest-worker-{os.getpid()}", proc.pid)
    try:
        deadline = time.monotonic() + 180  # its imports have taken over 60 s on the loaded 2-core machine
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"celery worker exited with {proc.returncode}; see {log.name}")
            if any(node in reply for reply in app.control.ping(timeout=0.5)):
                break
        else:
            pytest.fail(f"celery worker did not answer a ping within 180 s; see {log.name}")
        yield node
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def audited(db):
    """Audit entries are appended on commit (never, in a test's transaction): `audited(**filters)` runs what waits
    for it, then reads the entries (the log is emptied first)."""
    from django.db import connection

    from audit.models import AuditEntry

    AuditEntry.objects.all().delete()

    def entries(**filters):
        pending, connection.run_on_commit[:] = list(connection.run_on_commit), []
        for _, callback, _ in pending:
            callback()
        return list(AuditEntry.objects.filter(**filters).order_by("seq"))
    return entries


@pytest.fixture
def themes(db):
    """The default theme tree (a migration makes it; transactional tests truncate it away, so make it again)."""
    import importlib

    from django.apps import apps

    importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)


CITY_CACHE = PROJECT_DIR / ".var" / "democity-cache"


@functools.lru_cache(maxsize=None, typed=True)  # size 1 and 1.0: the same city, named apart
def generated_city(seed: int, size: float):
    """The demo city of (seed, size), generated once a run: several modules commit the same one (the size-1 city
    took ~5 s to generate on the loaded 2-core machine, five modules use it). Read it; do not change it.

    Kept on disk between runs too (.var/democity-cache), under the generator's source and numpy's version: the
    generator is deterministic (test_democity.py checks that, and generates its cities afresh)."""
    import dataclasses
    import hashlib
    import pickle

    import numpy as np
    import shapely

    from layers.democity import city as generator

    def geometries(city, convert):  # as WKB on disk: pickling shapely objects one by one took 4 times as long
        return dataclasses.replace(city, layers={name: dataclasses.replace(
            layer, geoms=None if layer.geoms is None else convert(layer.geoms)) for name, layer in city.layers.items()})

    source = hashlib.sha256(np.__version__.encode() + shapely.__version__.encode())
    for path in sorted(Path(generator.__file__).parent.glob("*.py")):
        source.update(path.read_bytes())
    version = source.hexdigest()[:16]
    cached = CITY_CACHE / f"{seed}-{size!r}-{version}.pickle"
    try:
        return geometries(pickle.loads(cached.read_bytes()), shapely.from_wkb)  # written below, in this checkout
    except Exception:  # noqa: BLE001 - absent or unreadable: made again
        pass
    made = generator.generate(seed=seed, size=size)
    CITY_CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CITY_CACHE.glob("*.pickle"):  # an older generator's
        if not stale.name.endswith(f"-{version}.pickle"):
            stale.unlink(missing_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps(geometries(made, lambda g: shapely.to_wkb(g, include_srid=True)),
                                     protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(cached)  # whole or absent for a run beside this one
    return made


@contextlib.contextmanager
def committed_demo_city(django_db_blocker, seed: int, size: float):
    """A demo city stored, registered and committed (visible to other processes, e.g. a live server) for a module
    of tests; removed again afterwards."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group
    from django.db import connection

    from layers.democity.store import register, store
    from layers.models import Layer

    with django_db_blocker.unblock():
        importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)
        demo = generated_city(seed, size)
        store(demo, progress=lambda _m: None)
        register(demo)
        try:
            yield demo
        finally:
            Layer.objects.all().delete()
            Group.objects.all().delete()
            with connection.cursor() as cur:
                cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a lon/lat point at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config):
    # WhiteNoise warns about a missing STATIC_ROOT; the demo fills it with collectstatic, tests need it only to exist.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # every failed sign-in and refused token its own audit entry (the tests run many a minute from one address);
    # the flood test sets its own allowance (audit.refusals)
    settings.AUDIT_REFUSALS_PER_MINUTE = 0


def run_analysis_job(client, path: str, body: dict):
    """POST an analysis that answers 202 with a job, run the job here and return it, succeeded."""
    from analysis import jobs as analysis_jobs

    resp = client.post(f"/api/v1/analysis/{path}/", body, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    return job


# Browser tests (test_viewer_browser.py, test_decision_pages_browser.py): gunicorn on the test database serving the
# built bundle, Debian's Chromium driven by Playwright. A module using them defines `city` (its committed data)
# and `facts` (what its pages should show, read before the browser starts).
CHROMIUM = "/usr/bin/chromium"
# WebGL (the 3D view) on a machine without a GPU: SwiftShader through ANGLE
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
BUNDLE = PROJECT_DIR / "web" / "static" / "web" / "dist" / "main.js"
SHOTS = PROJECT_DIR / ".var" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
# every visible control of the header, the tool strip and the open tool's panel, with its box as far as it shows
# (clipped by the boxes that scroll it, such as the tool strip scrolling sideways)
TARGETS = """sel => [...document.querySelectorAll(sel)].filter(el => el.offsetParent !== null)
    .map(el => { const r = el.getBoundingClientRect(); let left = r.left, right = r.right;
                 for (let p = el.parentElement; p; p = p.parentElement) {
                   if (getComputedStyle(p).overflowX !== "visible") {
                     const b = p.getBoundingClientRect();
                     left = Math.max(left, b.left); right = Math.min(right, b.right);
                   }
                 }
                 return {html: el.outerHTML.slice(0, 60), left, right, height: r.height}; })"""


def assert_fits(page, width: int, controls: str):
    """No sideways scrolling of the page; the controls inside the screen and at least 40 px tall (a finger)."""
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    for c in page.evaluate(TARGETS, controls):
        assert c["left"] >= 0 and c["right"] <= width + 0.5, c
        assert c["height"] >= 40, c
# the visible controls a screen reader could not name (no label, title, aria-label or text)
UNNAMED_CONTROLS = """[...document.querySelectorAll('button, input, select, [role=application]')]
    .filter(el => el.offsetParent !== null)
    .filter(el => !(el.getAttribute('aria-label') || el.title || (el.labels && el.labels.length)
                    || el.textContent.trim()))
    .map(el => el.outerHTML.slice(0, 80))"""


class ScriptErrors:
    """Console errors and uncaught exceptions of every page the browser tests open (every context made by the
    `browser` fixture is watched); `no_script_errors` fails the test that saw any. A test that provokes an error on
    purpose (a 4xx answer the page shows) says so with `allow(pattern)`."""

    def __init__(self):
        self.seen: list[str] = []
        self.allowed: list[re.Pattern] = []

    def watch(self, context):
        context.on("page", self.watch_page)
        for page in context.pages:
            self.watch_page(page)

    def watch_page(self, page):
        page.on("console", lambda m: m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
                and self.seen.append(f"console error: {m.text} ({m.location.get('url', '')})"))  # the browser's guess
        page.on("pageerror", lambda e: self.seen.append(f"page error: {e} ({page.url})"))

    def allow(self, pattern: str):
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.allowed)]

    def reset(self):
        self.seen.clear()
        self.allowed.clear()


SCRIPT_ERRORS = ScriptErrors()


@pytest.fixture(autouse=True)
def no_script_errors():
    """Fails a test if any page it drove logged a console error or threw (tests without a browser see none)."""
    SCRIPT_ERRORS.reset()
    yield SCRIPT_ERRORS
    errors = SCRIPT_ERRORS.unexpected()
    SCRIPT_ERRORS.reset()
    assert not errors, "script errors on the pages:\n" + "\n".join(errors)


@pytest.fixture(autouse=True)
def platform_defaults(request, django_db_blocker):
    """What the migrations put in a new platform's database (every signed-in user may import new layers), put back
    for a transactional test: the flush after an earlier transactional test emptied every table."""
    from pytest_django.plugin import validate_django_db

    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")  # the database first
    elif not (marker and any(validate_django_db(marker)[:2])):
        yield
        return
    from accounts.models import ImportGrant

    with django_db_blocker.unblock():
        if not ImportGrant.objects.exists():
            ImportGrant.objects.create()
    yield


class NlscStandIn:
    """A local stand-in for NLSC's WMTS, following its RESTful template /wmts/{layer}/default/GoogleMapsCompatible/
    {z}/{y}/{x}: each layer answers 256² PNGs of its own colour (EMAP2, the names overlay, a transparent one with a
    stripe) and every request is recorded. The browser tests' server points NLSC_WMTS_URL at it."""

    COLOURS = {"EMAP": (236, 214, 160, 255), "PHOTO2": (64, 112, 48, 255), "EMAP2": (0, 0, 0, 0)}
    PATH = re.compile(r"^/wmts/(?P<layer>\w+)/default/GoogleMapsCompatible/(?P<z>\d+)/(?P<y>\d+)/(?P<x>\d+)$")

    def __init__(self):
        self.requests: list[tuple[str, int, int, int]] = []
        self.pngs = {layer: self._png(colour, stripe=layer == "EMAP2") for layer, colour in self.COLOURS.items()}

    @staticmethod
    def _png(colour, stripe: bool) -> bytes:
        import io

        from PIL import Image, ImageDraw

        image = Image.new("RGBA", (256, 256), colour)
        if stripe:
            ImageDraw.Draw(image).line([(0, 128), (256, 128)], fill=(200, 30, 30, 255), width=6)
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    def serve(self):
        import http.server
        import threading

        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                match = stand_in.PATH.match(self.path)
                if not match or match["layer"] not in stand_in.pngs:
                    self.send_error(404)
                    return
                stand_in.requests.append((match["layer"], int(match["z"]), int(match["y"]), int(match["x"])))
                body = stand_in.pngs[match["layer"]]
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the map moved on and the browser dropped the tile

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/wmts"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self


def wait_until_answering(url: str, proc: subprocess.Popen, seconds: float, failure: str) -> None:
    """Until `url` answers 200 (a server `proc` started); the test fails with `failure` if `proc` ends or time runs
    out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen, seconds: float = 20, sig: int = signal.SIGTERM) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:  # e.g. a worker stuck in a request on a loaded machine
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def nlsc_standin():
    stand_in = NlscStandIn().serve()
    yield stand_in
    stand_in.httpd.shutdown()


# A server and a browser are shared by the browser modules that run one after another (the browser modules are run
# together, at the end of their group, see pytest_collection_modifyitems): each module still commits its own city
# before its `server` answers, the server's caches are keyed by the data's versions (nothing of an earlier module's
# data is served), and each module's pages live in contexts of their own, closed when the module ends. Measured at a
# load of ~22 on the 2-core machine: gunicorn took 62-88 s to answer its first page and 20 s to stop (killed at the
# limit), Chromium 3-9 s to launch and 1-2 s to close, once a module before (docs/benchmarks.md).
SERVER_ENV_IGNORED = {"PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by pytest / the browser, not settings


class LiveServer:
    """gunicorn on the test database, serving the built bundle from web/static, with the environment `env`."""

    def __init__(self, env: dict):
        port = free_port()
        self.env = env
        self.log = open(SHOTS.parent / "viewer-server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "geo.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--worker-class", "gthread", "--threads", "8", "--error-logfile", "-",  # live edits: a thread each
             "--no-control-socket"],  # the default socket (~/.gunicorn/gunicorn.ctl) belongs to every gunicorn
            cwd=PROJECT_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        leftover_guard(f"pytest-web-{os.getpid()}-{port}", self.proc.pid)
        self.base = f"http://127.0.0.1:{port}"
        try:
            # a loaded 2-core machine has taken over 120 s to answer the first page
            wait_until_answering(self.base + "/", self.proc, 240,
                                 f"the viewer's server did not start; see {self.log.name}")
        except BaseException:
            self.stop(None)
            raise

    def stop(self, django_db_blocker, db_name: str = ""):
        from django.db import connection

        stop_process(self.proc, sig=signal.SIGINT)  # gunicorn's quick stop: no waiting on Chromium's kept-alive sockets
        self.log.close()
        if django_db_blocker is None:
            return
        # the server's sessions end a moment after it exits; the test database is dropped after the tests
        with django_db_blocker.unblock(), connection.cursor() as cur:
            for _ in range(50):
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            [db_name])
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.1)


class Shared:
    """The server and the browser the browser modules share; each is closed after the last test of the run of
    modules that use it (pytest_runtest_teardown), so that no later test runs beside Playwright's event loop."""

    server: LiveServer | None = None
    server_db: tuple = (None, "")  # django_db_blocker and the database's name, for the stop
    playwright = None
    chromium = None

    @classmethod
    def close_browser(cls):
        from django.db import connections

        if cls.playwright is None:
            return
        try:
            cls.chromium.close()
            connections.close_all()  # the ones Django opened while the loop ran (the test database is dropped later)
            cls.playwright.stop()
        finally:
            cls.playwright = cls.chromium = None
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    @classmethod
    def close_server(cls):
        if cls.server is not None:
            server, cls.server = cls.server, None
            server.stop(*cls.server_db)


def uses(item, name: str) -> bool:
    """Whether any test of item's module uses the fixture `name` (directly or through another fixture)."""
    return name in getattr(getattr(item, "module", None), "_civgis_fixtures", ())


@pytest.hookimpl(trylast=True)  # after pytest-django's order (by database use), which this keeps
def pytest_collection_modifyitems(items):
    """The modules of browser tests run one after another, after the other modules of their group (pytest-django's
    order: database tests, transactional ones, the rest), so that they share one server and one browser."""
    from django.test import TestCase, TransactionTestCase
    from pytest_django.plugin import validate_django_db

    for item in items:
        module = getattr(item, "module", None)
        if module is not None:
            module._civgis_fixtures = getattr(module, "_civgis_fixtures", set()) | set(item.fixturenames)

    def group(item) -> int:  # pytest-django's order number
        cls = getattr(item, "cls", None)
        if cls and issubclass(cls, TransactionTestCase):
            return 0 if issubclass(cls, TestCase) else 1
        marker = item.get_closest_marker("django_db")
        transactional = bool(marker) and any(validate_django_db(marker)[:2])
        if transactional or {"transactional_db", "live_server"} & set(item.fixturenames):
            return 1
        return 0 if marker or "db" in item.fixturenames else 2

    items.sort(key=lambda item: (group(item), uses(item, "browser"), uses(item, "server")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        if nextitem is not None:  # the last test's: `shared_stack` closes them before the test database goes
            if not uses(nextitem, "browser"):
                Shared.close_browser()
            if not uses(nextitem, "server"):
                Shared.close_server()


@pytest.fixture(scope="session")
def shared_stack(django_db_setup):
    """The shared server and browser, closed at the end at the latest (before the test database is dropped)."""
    yield Shared
    Shared.close_browser()
    Shared.close_server()


@pytest.fixture(scope="session")
def browser_oidc_issuer():
    """The OpenID Connect issuer every browser modules' server is given: an address kept for the provider that
    test_sign_in_browser.py starts once the server's address (its callback) is known. One environment for all, so
    the sign-in module shares the one server instead of starting its own and another after it (a gunicorn start
    took 30-90 s under load); the other modules sign in with passwords only, as they did against the stack's."""
    return f"http://127.0.0.1:{free_port()}"


def server_environment(db_name: str, nlsc_standin, oidc_issuer: str) -> dict:
    env = dict(os.environ, DATABASE_URL=worker_database_url(db_name), CIVGIS_ENV="development", DEBUG="true",
               NLSC_WMTS_URL=nlsc_standin.url, VIEWER_DEFAULT_BASEMAP="platform", OIDC_ISSUER=oidc_issuer)
    for name in SERVER_ENV_IGNORED:
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def server(city, django_db_blocker, nlsc_standin, browser_oidc_issuer, shared_stack):
    """gunicorn on the test database (the committed demo city), serving the built bundle from web/static. NLSC's
    basemaps come from the local stand-in (no internet here); the map opens on the platform's own basemap.

    The server is shared with the neighbouring modules that need one with the same environment; a module that sets
    the environment before it gets a server started with it."""
    from django.db import connection

    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} is missing: `make install` builds the viewer")
    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    env = server_environment(db_name, nlsc_standin, browser_oidc_issuer)
    if Shared.server is not None and Shared.server.env != env:
        Shared.close_server()
    if Shared.server is None:
        Shared.server, Shared.server_db = LiveServer(env), (django_db_blocker, db_name)
    return Shared.server.base


def shared_chromium():
    from playwright.sync_api import sync_playwright

    if Shared.chromium is None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        # Playwright's sync API keeps an event loop in this thread, which Django's guard takes for async code; the
        # tests read nothing from the database while it runs (see `facts`), only pytest-django's per-test
        # transaction and the modules' fixtures
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        Shared.playwright = sync_playwright().start()
        chromium = Shared.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        open_context = chromium.new_context

        def watched_context(*args, **kwargs):
            context = open_context(*args, **kwargs)
            SCRIPT_ERRORS.watch(context)
            return context

        chromium.new_context = watched_context  # every page of every test is watched (see ScriptErrors)
        Shared.chromium = chromium
    return Shared.chromium


@pytest.fixture(scope="module")
def browser(facts, server):
    """Chromium for a module of browser tests; the module's `city` and `facts` fixtures come first (what the pages
    should show is read from the database before Playwright's event loop runs in this thread, for the first browser
    module). The Chromium is shared with the neighbouring browser modules; the contexts a module opened and left
    open are closed when it ends."""
    chromium = shared_chromium()
    before = set(chromium.contexts)
    yield chromium
    for context in chromium.contexts:
        if context not in before:
            context.close()


def new_page(browser, server, viewport=DESKTOP, locale="zh-TW"):
    context = browser.new_context(viewport=viewport, locale=locale, base_url=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


@pytest.fixture
def page(server, browser):
    page = new_page(browser, server)
    yield page
    page.context.close()


def settle(page):
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


def pictures_wanted() -> bool:
    """Screenshots are taken when CIVGIS_ALL_SCREENSHOTS is set (to look at a page, and for the docs); the checks
    run always. Taking them (and waiting for the tiles to fade in) was ~10 % of the suite's time."""
    return bool(os.environ.get("CIVGIS_ALL_SCREENSHOTS"))


def shot(page, name: str, full_page: bool = False):
    """.var/screenshots/{name}.png, when pictures are wanted (CIVGIS_ALL_SCREENSHOTS=1)."""
    if pictures_wanted():
        page.wait_for_timeout(400)  # tiles fade in
        page.screenshot(path=SHOTS / f"{name}.png", full_page=full_page)
