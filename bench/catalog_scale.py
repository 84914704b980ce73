"""Flat in the size of the catalog (issue 21): the same requests with 15, 600 and 5,000 layers in the catalog.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/catalog_scale.py
    … bench/catalog_scale.py --sizes 15,600 --runs 5          # quicker, without the 5,000-layer step

The catalog starts as the demo city (its ~15 layers) and grows by small vector layers the bench adds itself: each a
real PostGIS table of 20 roads copied from the demo's (`layerdata.bench_NNNN`), a catalog entry (public, spread
over the demo's themes, with version 1 and a default style) and one mapfile rewrite at the end of each step (what
publishing each would leave; the import pipeline itself is measured in bench/import_parcels.py). The added layers
are removed at the start and at the end.

Anonymous requests to gunicorn (2 workers, production settings) on loopback; each figure is the median of `--runs`
sequential requests after one warm-up:

- WMS 1.3.0 and WFS 2.0 GetCapabilities: cached (the served answer); right after a catalog change (a document
  slow to build is served as it was while a Celery task rebuilds it: layers.ogc.capabilities_cache); and a cold
  build (the change and the previous documents gone: what a variant asked for the first time costs; one run);
- one GetMap (roads, 256², PNG); the viewer page with its embedded config (the page loads the tree lazily: a
  theme's layers when it is opened, the filter box's matches from the server); one theme's layers
  (/viewer/layers.json?theme=…, what opening it costs) and the panel's search (?q=…); the catalog list
  (/api/v1/layers/, a first page of 10 and the default first page of 100); OGC API's /ogcapi/collections (every
  visible vector layer), kept and right after a catalog change (the generation bumped before each request); one
  vector tile (roads, z14, the tile cache emptied before each request, and cached).

In the bench's own process, per size: MapServer's GetMap of roads on a map of the named layer only (what /ows
does now) against one of every visible layer (before), three alternating rounds.

Printed: the table with the growth from the first size to each larger one (goal ≤ ×1.2) and the capabilities'
uncached / cached ratio. Not part of the test suite.
"""

import argparse
import math
import statistics
import time

import common
import requests


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="15,600,5000", help="catalog sizes (layers), smallest first")
    parser.add_argument("--runs", type=int, default=7, help="requests per figure (the median is printed)")
    parser.add_argument("--city", type=float, default=1, help="demo city size")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())


from layers.models import Layer  # noqa: E402
from layers.ogc import get_engine, mapfile  # noqa: E402
from layers.ogc.publishing import publish_all  # noqa: E402

PREFIX = "bench-"
TEMPLATE = "roads"


def publish() -> None:
    """The mapfile for the whole catalog, once (publishing each layer rewrites it each time)."""
    mapfile.write(check=None)
    get_engine()._rewrite()  # noqa: SLF001 - parse-checks and swaps it in, as a publish does


def timed(session: requests.Session, url: str, runs: int, before=None, warm: bool = True) -> tuple[float, int]:
    """(median ms, bytes) of `runs` GETs after one warm-up (`warm`); `before()` runs before each (not timed). A
    request that fails (gunicorn's 120 s worker timeout) gives (nan, 0): reported, and the bench goes on."""
    try:
        if warm:
            session.get(url).raise_for_status()
    except requests.RequestException as exc:
        print(f"  {url[:90]} failed: {exc}", flush=True)
        return math.nan, 0
    times, size = [], 0
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        try:
            answer = session.get(url)
            answer.raise_for_status()
        except requests.RequestException as exc:
            print(f"  {url[:90]} failed: {exc}", flush=True)
            return math.nan, 0
        times.append(1000 * (time.perf_counter() - started))
        size = len(answer.content)
    return statistics.median(times), size


def tile_of_roads(z: int = 14) -> tuple[int, int, int]:
    west, south, east, north = Layer.objects.get(slug=TEMPLATE).extent.extent
    lon, lat = (west + east) / 2, (south + north) / 2
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return z, x, y


def measure(base: str, runs: int) -> dict[str, tuple[float, int]]:
    session = requests.Session()
    ows = base + "/ows?SERVICE={}&REQUEST=GetCapabilities&VERSION={}"
    from geo.counters import client
    from layers.ogc.capabilities_cache import LATEST_PREFIX, bump
    from layers.serving import tilecache

    def cold():  # a change, and no earlier document of any variant to serve meanwhile
        bump()
        for key in client().scan_iter(LATEST_PREFIX + "*"):
            client().delete(key)

    def settle():  # the background rebuild a change queued (the bench's stack runs no worker: built on the next ask)
        time.sleep(0.2)

    def no_tiles():
        tilecache.invalidate_now(Layer.objects.get(slug=TEMPLATE))
    west, south, east, north = Layer.objects.get(slug=TEMPLATE).extent.extent
    cx, cy = (west + east) / 2, (south + north) / 2
    getmap = (f"{base}/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={TEMPLATE}&STYLES=&CRS=EPSG:4326"
              f"&BBOX={cy - 0.01},{cx - 0.01},{cy + 0.01},{cx + 0.01}&WIDTH=256&HEIGHT=256&FORMAT=image/png")
    z, x, y = tile_of_roads()
    theme = Layer.objects.get(slug=TEMPLATE).theme.slug
    out = {}
    for service, version in (("WMS", "1.3.0"), ("WFS", "2.0.0")):
        url = ows.format(service, version)
        out[f"{service} {version} GetCapabilities (cached)"] = timed(session, url, runs)
        out[f"{service} {version} GetCapabilities (after a change)"] = timed(session, url, runs, bump)
        settle()
        out[f"{service} {version} GetCapabilities (cold build)"] = timed(session, url, 1, cold, warm=False)
        timed(session, url, 1)  # built again for the next figures
    out |= {
        "one GetMap (roads, 256²)": timed(session, getmap, runs),
        "viewer page + embedded config": timed(session, base + "/", runs),
        "one theme's layers (opening it)": timed(session, f"{base}/viewer/layers.json?theme={theme}", runs),
        "layer search in the panel": timed(session, base + "/viewer/layers.json?q=roads", runs),
        "catalog list (first 10)": timed(session, base + "/api/v1/layers/?limit=10", runs),
        "catalog list (first page of 100)": timed(session, base + "/api/v1/layers/", runs),
        "OGC API collections (cached)": timed(session, base + "/ogcapi/collections", runs),
        "OGC API collections (after a change)": timed(session, base + "/ogcapi/collections", runs, bump),
        "one vector tile (roads z14, drawn)": timed(session, f"{base}/tiles/{TEMPLATE}/{z}/{x}/{y}.mvt", runs,
                                                    no_tiles),
        "one vector tile (roads z14, cached)": timed(session, f"{base}/tiles/{TEMPLATE}/{z}/{x}/{y}.mvt", runs),
    }
    return out


def engine_getmap(runs: int = 25, rounds: int = 3) -> None:
    """In this process, without HTTP: the MapServer engine's GetMap of roads on a map of the named layer only (as
    /ows does now) against a map of every visible layer (as before), alternating; the time to clone each map (the
    per-request part), and the whole GetMap (median)."""
    from layers.ogc import mapserver

    engine = get_engine()
    visible = frozenset(Layer.objects.visible_to(None).exclude(kind=Layer.Kind.TABLE).values_list("slug", flat=True))
    west, south, east, north = Layer.objects.get(slug=TEMPLATE).extent.extent
    cx, cy = (west + east) / 2, (south + north) / 2
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": TEMPLATE, "STYLES": "",
              "CRS": "EPSG:4326", "BBOX": f"{cy - 0.01},{cx - 0.01},{cy + 0.01},{cx + 0.01}", "WIDTH": "256",
              "HEIGHT": "256", "FORMAT": "image/png"}
    path = mapfile.path()
    for _ in range(rounds):
        for label, shown in ((f"every visible layer ({len(visible)}), cloned", visible),
                             ("the named layer only", frozenset({TEMPLATE}))):
            engine.ows(params, None, shown)  # parses and caches the mapfile in this process
            started = time.perf_counter()
            built = mapserver._parsed(str(path), path.stat().st_mtime_ns, shown).clone()  # noqa: SLF001
            build_ms = 1000 * (time.perf_counter() - started)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                answer = engine.ows(params, None, shown)
                times.append(1000 * (time.perf_counter() - started))
                assert answer.status == 200 and answer.content_type.startswith("image/png"), answer.body[:200]
            print(f"  engine GetMap on a map of {label}: cloning the map {build_ms:.1f} ms ({built.numlayers} "
                  f"layers), whole GetMap median {statistics.median(times):.1f} ms", flush=True)


def main() -> None:
    sizes = [int(s) for s in ARGS.sizes.split(",")]
    common.demo_city(ARGS.city)
    common.remove_small_layers(PREFIX)
    Layer.objects.filter(slug=TEMPLATE).update(visibility=Layer.Visibility.PUBLIC)
    if Layer.objects.exclude(ogc_status=Layer.OgcStatus.PUBLISHED).filter(kind__in=["vector", "raster"]).exists():
        publish_all()
    results: dict[int, dict[str, tuple[float, int]]] = {}
    try:
        for size in sizes:
            have = Layer.objects.exclude(kind=Layer.Kind.TABLE).count()
            if size > have:
                started = time.perf_counter()
                common.add_small_layers(size - have, PREFIX, TEMPLATE)
                publish()
                print(f"added {size - have} layers in {time.perf_counter() - started:.0f} s", flush=True)
            count = Layer.objects.exclude(kind=Layer.Kind.TABLE).count()
            public = Layer.objects.visible_to(None).exclude(kind=Layer.Kind.TABLE).count()
            print(f"catalog: {count} map layers ({public} public)", flush=True)
            with common.gunicorn(2) as base:
                results[size] = measure(base, ARGS.runs)
            engine_getmap()
            report([s for s in sizes if s in results], results)  # so far: a later size may fail or be cut short
    finally:
        common.remove_small_layers(PREFIX)
        publish()


def report(sizes: list[int], results: dict[int, dict[str, tuple[float, int]]]) -> None:
    first = sizes[0]
    head = " | ".join(f"{s:,} layers" for s in sizes)
    growth = " | ".join(f"{first}→{s:,}" for s in sizes[1:])
    print(f"\n| request | {head} | {growth} |")
    print("|---" * (1 + len(sizes) + len(sizes) - 1) + "|")
    for name in results[first]:
        cells = [f"{results[s][name][0]:,.0f} ms ({results[s][name][1] / 1024:,.0f} KB)" for s in sizes]
        ratios = [f"×{results[s][name][0] / max(results[first][name][0], 0.1):.2f}" for s in sizes[1:]]
        print(f"| {name} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    print("\ncapabilities, after a change / cached and cold build / cached:")
    for s in sizes:
        for service in ("WMS 1.3.0", "WFS 2.0.0"):
            after, cold, warm = (results[s][f"{service} GetCapabilities ({k})"][0]
                                 for k in ("after a change", "cold build", "cached"))
            print(f"  {s:,} layers, {service}: {after:,.0f} / {warm:,.1f} ms = ×{after / max(warm, 0.1):.1f}; "
                  f"cold {cold:,.0f} ms = ×{cold / max(warm, 0.1):.1f}")


if __name__ == "__main__":
    main()
