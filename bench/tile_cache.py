"""The server-side tile cache (issue 21): cached vector tiles per second — anonymous and signed in — against the
same bytes from a static file server (the limit), and uncached tiles per second, in one run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/tile_cache.py
    … bench/tile_cache.py --seconds 5 --connections 16 --worker-class sync

On the demo city (public buildings, the densest vector layer anyone may see), the city's z14–16 tiles:

1. cached: gunicorn (production settings, `--workers`, by default gthread workers with keep-alive as
   docker-compose runs it) with the tile cache on, every tile asked for once first (the cache filled), then wrk
   over the same tiles, answered by the WSGI fast path (`layers/serving/tile_fastpath.py`): anonymous, then with
   the session cookie of a signed-in user (a session the bench signs in for gunicorn's SECRET_KEY);
2. behind nginx, as docker-compose runs it (when nginx is installed): the shipped template (deploy/nginx, through
   geo.localstack.NginxFront) in front of the same gunicorn with TILE_ACCEL_REDIRECT set — the fast path decides
   and answers with X-Accel-Redirect, nginx sends the cache file — anonymous and signed in;
3. uncached: the same with TILE_CACHE=false (each tile drawn by PostGIS): what a miss costs;
4. the limit: the same tile files served by nginx (when installed) and by Python's ThreadingHTTPServer, wrk
   with the same paths and connections.

Printed: tiles/s, mean latency and the machine's load average beside each, the ratios cached / static (the nginx
front's against nginx alone) and cached / uncached, the goal (≥ 3,000 cached tiles/s on this machine) and the
cache's statistics. Not part of the test suite.
"""

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8, help="wrk's duration per figure")
    parser.add_argument("--warmup", type=int, default=2, help="wrk's uncounted run before each figure (s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread: keep-alive)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--city", type=float, default=1, help="demo city size")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.conf import settings  # noqa: E402

from layers.models import Layer  # noqa: E402

SLUG = "buildings"
GOAL = 3000
CACHED, SIGNED_IN = "cached, anonymous (fast path)", "cached, signed in (fast path)"
FRONT = "cached via nginx + X-Accel-Redirect, anonymous"
FRONT_SIGNED_IN = "cached via nginx + X-Accel-Redirect, signed in"
ACCEL = "/_tile-cache/"
UNCACHED, NGINX = "uncached (Django, PostGIS)", "static: nginx (the limit)"


def city_tiles() -> list[tuple[int, int, int]]:
    west, south, east, north = Layer.objects.get(slug=SLUG).extent.extent
    out = []
    for z in (14, 15, 16):
        n = 2**z

        def tx(lon, n=n):
            return int((lon + 180) / 360 * n)

        def ty(lat, n=n):
            return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

        out += [(z, x, y) for x in range(tx(west), tx(east) + 1) for y in range(ty(north), ty(south) + 1)]
    return out


def wrk(base: str, paths: list[str], seconds: int, connections: int, headers: tuple[str, ...] = ()
        ) -> tuple[float, str, str]:
    """(requests/s, mean latency, load average after) of wrk cycling through `paths` on `base`; non-2xx answers
    fail the bench."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        quoted = ",".join(f'"{p}"' for p in paths)
        script.write(f"""
local paths = {{{quoted}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
""")
    try:
        out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", script.name,
                              *[part for header in headers for part in ("-H", header)], base],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed answers:\n{out}")
    rate = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    latency = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("Latency"))
    return rate, latency, common.load()


def signed_in_cookie() -> str:
    """A session of a signed-in user (no groups: public and internal layers), signed for the bench's gunicorn."""
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    user = User.objects.get_or_create(username="bench-tile-reader")[0]
    with override_settings(SECRET_KEY=common.SECRET_KEY):
        browser = Client()
        browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


def answered_by(base: str, path: str, headers: dict) -> str:
    """Who answered: Django (its middleware's headers), the fast path, or nginx after the fast path's
    X-Accel-Redirect (a static file's Accept-Ranges)."""
    with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as answer:
        answer.read()
        if answer.headers.get("X-Frame-Options"):
            return "Django"
        return "nginx (X-Accel-Redirect)" if answer.headers.get("Accept-Ranges") == "bytes" else "fast path"


def static_server_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@contextlib.contextmanager
def nginx_front(app: str, folder: Path):
    """nginx in front of the app as docker-compose runs it (deploy/nginx's template), 2 workers as the limit's;
    yields its base URL."""
    from geo.localstack import NginxFront

    front = NginxFront(folder, app.removeprefix("http://"), Path(settings.TILE_CACHE_DIR), folder / "static", ACCEL)
    front.start()
    try:
        yield front.url
    finally:
        front.stop()


@contextlib.contextmanager
def static_server(kind: str, folder: Path):
    """The tile files served as static files on a free loopback port: nginx (a minimal config) or Python's
    ThreadingHTTPServer; yields the base URL, or None when that server is not installed."""
    port = common.free_port()
    if kind == "nginx":
        nginx = static_server_binary()
        if nginx is None:
            yield None
            return
        conf = folder.parent / "nginx.conf"
        conf.write_text(f"""
worker_processes 2; daemon off; pid {folder.parent}/nginx.pid; error_log {folder.parent}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; types {{ application/vnd.mapbox-vector-tile mvt; }}
  client_body_temp_path {folder.parent}/ncb; proxy_temp_path {folder.parent}/np; fastcgi_temp_path {folder.parent}/nf;
  uwsgi_temp_path {folder.parent}/nu; scgi_temp_path {folder.parent}/ns;
  server {{ listen 127.0.0.1:{port}; root {folder}; }} }}
""")
        command = [nginx, "-c", str(conf), "-p", str(folder.parent)]
    else:
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def main() -> None:
    from layers.serving import tilecache

    common.demo_city(ARGS.city)
    if not common.tools("wrk"):
        return
    tiles = city_tiles()
    paths = [f"/tiles/{SLUG}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    shutil.rmtree(tilecache.root(), ignore_errors=True)
    options = ("--worker-class", ARGS.worker_class, "--threads", str(ARGS.threads)) \
        if ARGS.worker_class == "gthread" else ("--worker-class", ARGS.worker_class)
    print(f"{len(paths)} {SLUG} tiles at z14–16; wrk {ARGS.connections} connections, {ARGS.seconds} s each; "
          f"gunicorn {ARGS.workers} {' '.join(options[1::2])} workers", flush=True)
    results = {}

    def measure(label, base, headers=()):
        if ARGS.warmup:  # not counted: the first figure of a run was taken on workers that had just started
            wrk(base, paths, ARGS.warmup, ARGS.connections, headers)
        results[label] = wrk(base, paths, ARGS.seconds, ARGS.connections, headers)
        print(f"  {label}: {results[label][0]:,.0f} tiles/s ({results[label][2]})", flush=True)

    cookie = signed_in_cookie()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # nginx's workers run as another user
        static = Path(tmp) / "static"
        with common.gunicorn(ARGS.workers, extra=options) as base:
            for path in paths:  # fills the cache; the same bytes into the static folder
                body = urllib.request.urlopen(base + path).read()
                (static / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                (static / path.lstrip("/")).write_bytes(body)
            sizes = [p.stat().st_size for p in static.rglob("*.mvt")]
            print(f"tiles: {len(sizes)}, {sum(sizes) / 2**20:.1f} MiB, mean {sum(sizes) / len(sizes) / 1024:.1f} KB",
                  flush=True)
            for _ in range(2 * ARGS.workers):  # Django authenticates the session once and tells the fast path
                answered_by(base, paths[0], {"Cookie": cookie})
            print(f"answered by: anonymous {answered_by(base, paths[1], {})}, signed in "
                  f"{answered_by(base, paths[1], {'Cookie': cookie})}", flush=True)
            measure(CACHED, base)
            measure(SIGNED_IN, base, (f"Cookie: {cookie}",))
        if static_server_binary() is None:
            print(f"  {FRONT}: nginx not installed, skipped")
        else:
            os.environ["TILE_ACCEL_REDIRECT"] = ACCEL
            try:
                with common.gunicorn(ARGS.workers, extra=options) as app, nginx_front(app, Path(tmp)) as base:
                    for _ in range(2 * ARGS.workers):  # the session published again, for this gunicorn's workers
                        answered_by(base, paths[0], {"Cookie": cookie})
                    print(f"answered by (nginx in front): anonymous {answered_by(base, paths[1], {})}, signed in "
                          f"{answered_by(base, paths[1], {'Cookie': cookie})}", flush=True)
                    measure(FRONT, base)
                    measure(FRONT_SIGNED_IN, base, (f"Cookie: {cookie}",))
            finally:
                del os.environ["TILE_ACCEL_REDIRECT"]
        os.environ["TILE_CACHE"] = "false"
        try:
            with common.gunicorn(ARGS.workers, extra=options) as base:
                measure(UNCACHED, base)
        finally:
            del os.environ["TILE_CACHE"]
        for kind, label in (("nginx", NGINX), ("python", "static: Python http.server")):
            with static_server(kind, static) as base:
                if base is None:
                    print(f"  {label}: not installed, skipped")
                    continue
                measure(label, base)
    print("\n| server | tiles/s | mean latency | load average after (1, 5, 15 min) |\n|---|---|---|---|")
    for label, (rate, latency, load) in results.items():
        print(f"| {label} | {rate:,.0f} | {latency} | {load.removeprefix('load ')} |")
    cached = results[CACHED][0]
    print(f"\ncached / uncached: ×{cached / results[UNCACHED][0]:.1f}")
    for label in (NGINX, "static: Python http.server"):
        if label in results:
            print(f"cached / {label}: {cached / results[label][0]:.2f}; signed in / {label}: "
                  f"{results[SIGNED_IN][0] / results[label][0]:.2f}")
    if FRONT in results and NGINX in results:
        front, front_signed_in = results[FRONT][0], results[FRONT_SIGNED_IN][0]
        print(f"nginx front / {NGINX}: {front / results[NGINX][0]:.2f} anonymous, "
              f"{front_signed_in / results[NGINX][0]:.2f} signed in; nginx front / gunicorn alone: "
              f"×{front / cached:.1f} anonymous, ×{front_signed_in / results[SIGNED_IN][0]:.1f} signed in")
    print(f"goal ≥ {GOAL:,} cached tiles/s: {'met' if cached >= GOAL else 'NOT met'} by gunicorn alone "
          f"({cached:,.0f}/s anonymous, {results[SIGNED_IN][0]:,.0f}/s signed in)")
    if FRONT in results:
        front = results[FRONT][0]
        print(f"goal ≥ {GOAL:,} cached tiles/s: {'met' if front >= GOAL else 'NOT met'} with nginx in front "
              f"({front:,.0f}/s anonymous, {results[FRONT_SIGNED_IN][0]:,.0f}/s signed in)")
    print(f"cache statistics: {tilecache.statistics()}")
    print(f"(tile cache folder: {settings.TILE_CACHE_DIR})")


if __name__ == "__main__":
    main()
