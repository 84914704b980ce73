"""Serving benchmark on the size-10 demo city (~200k parcels): vector tiles, feature paging, downloads.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/serving.py
    … bench/serving.py --size 1 --runs 5 --seconds 2      # a quick try on the size-1 city

1. The densest z14 parcel tile: p50 latency of the endpoint (gunicorn on loopback) against the same ST_AsMVT SQL
   run directly with psycopg2 — the ratio.
2. Sustained tiles/s with wrk (Debian package `wrk`) at 1, 4 and 16 connections over the city's z14–16 tiles,
   and the same with If-None-Match (304 answers).
3. The largest tile of every demo layer at zooms 10–16 (the densest tiles), against the 500 KB limit.
4. Paging through all parcels (limit 10,000) and a full GeoPackage and GeoJSON download: time and peak memory.

Not part of the test suite.
"""

import argparse
import math
import os
import resource
import statistics
import subprocess
import tempfile
import time
import urllib.request

import common

SIZE = 10
LIMIT_KB = 500


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=SIZE, help="demo city size (10: ~200k parcels; 1 to try)")
    parser.add_argument("--runs", type=int, default=50, help="latency samples of the densest tile")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per step")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402

from layers.models import Layer  # noqa: E402
from layers.serving.tiles import tile_sql  # noqa: E402


def public_city(size: float):
    common.demo_city(size)
    Layer.objects.filter(slug="parcels").update(visibility="public")  # the load generator sends no credentials


def densest_tiles(table: str, z: int, n: int = 1) -> list[tuple[int, int, int, int]]:
    """(z, x, y, features) of the n tiles with the most feature centroids."""
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT floor((ST_X(c) + 180) / 360 * 2^{z})::int AS x,
                   floor((1 - ln(tan(radians(ST_Y(c))) + 1 / cos(radians(ST_Y(c)))) / pi()) / 2 * 2^{z})::int AS y,
                   count(*) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) c FROM layerdata.{table}) s
            GROUP BY 1, 2 ORDER BY 3 DESC LIMIT {n}""")  # noqa: S608 - fixed table names
        return [(z, x, y, count) for x, y, count in cur.fetchall()]


def city_tiles(z: int) -> list[tuple[int, int, int]]:
    west, south, east, north = Layer.objects.get(slug="parcels").extent.extent

    def tx(lon):
        return int((lon + 180) / 360 * 2**z)

    def ty(lat):
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)

    return [(z, x, y) for x in range(tx(west), tx(east) + 1) for y in range(ty(north), ty(south) + 1)]


def p50(samples):
    return statistics.median(samples)


def bench_latency(base: str, runs: int):
    layer = Layer.objects.get(slug="parcels")
    (z, x, y, n), = densest_tiles("parcels", 14)
    statement = tile_sql(layer, z, x, y, QueryDict())
    url = f"{base}/tiles/parcels/{z}/{x}/{y}.mvt"
    direct, endpoint = [], []
    connection.ensure_connection()
    with connection.connection.cursor() as cur:  # psycopg2 itself: the SQL and nothing else
        for _ in range(runs):  # interleaved, so both see the same machine
            start = time.perf_counter()
            cur.execute(statement)
            direct_tile = bytes(cur.fetchone()[0])
            direct.append(time.perf_counter() - start)
            start = time.perf_counter()
            with urllib.request.urlopen(url) as resp:
                body = resp.read()
            endpoint.append(time.perf_counter() - start)
    size = len(direct_tile)
    # the same features (a parallel scan may order rows differently, so compare ids, not bytes)
    assert _ids(body) == _ids(direct_tile), url
    d, e = p50(direct), p50(endpoint)
    print(f"densest z14 parcel tile {z}/{x}/{y}: {n:,} parcels, {size / 1024:.0f} KB")
    print(f"  p50 direct SQL {d * 1000:.1f} ms, endpoint {e * 1000:.1f} ms — ratio {e / d:.2f} (target ≤ 1.3)")
    return url


def _ids(tile: bytes) -> list[int]:
    import mapbox_vector_tile

    return sorted(f["id"] for f in mapbox_vector_tile.decode(tile)["parcels"]["features"])


def bench_throughput(base: str, seconds: int):
    if not common.tools("wrk"):
        return
    tiles = [t for z in (14, 15, 16) for t in city_tiles(z)]
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    paths = ",".join(f'"/tiles/parcels/{z}/{x}/{y}.mvt"' for z, x, y in tiles)
    etag = urllib.request.urlopen(f"{base}/tiles/parcels.json").headers["ETag"]
    script.write(f"""
local paths = {{{paths}}}
local i = 0
request = function()
  i = i + 1
  local headers = {{}}
  if os.getenv("CACHED") then headers["If-None-Match"] = '{etag}' end
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
""")
    script.close()
    print(f"throughput over {len(tiles)} parcel tiles at z14–16 (wrk, {seconds} s each, gunicorn 3 sync workers):")
    for cached in (False, True):
        for conns in (1, 4, 16):
            env = {**os.environ, **({"CACHED": "1"} if cached else {})}
            out = subprocess.run(["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{seconds}s",
                                  "-s", script.name, base], capture_output=True, text=True, env=env).stdout
            rate = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
            latency = next((line.split()[1] for line in out.splitlines() if line.strip().startswith("Latency")), "?")
            label = "304 (If-None-Match)" if cached else "full tiles"
            print(f"  {label:<20} {conns:>2} connections: {rate} tiles/s, mean latency {latency}")
    os.unlink(script.name)


def bench_tile_sizes(client: Client):
    print(f"largest tile per layer and zoom (densest tiles; limit {LIMIT_KB} KB):")
    layers = Layer.objects.filter(kind="vector", slug__in=["parcels", "buildings", "roads", "villages", "districts",
                                                           "flood-zones", "facilities"])
    worst = 0
    for layer in layers:
        sizes = []
        for z in range(10, 17):
            candidates = city_tiles(z) if z <= 12 else [t[:3] for t in densest_tiles(layer.table_name, z, 3)]
            biggest = max(len(client.get(f"/tiles/{layer.slug}/{z}/{x}/{y}.mvt").content) for z, x, y in candidates)
            sizes.append(biggest)
            worst = max(worst, biggest)
        print(f"  {layer.slug:<12} min zoom {layer.min_zoom:>2}: " + "  ".join(
            f"z{z}:{s / 1024:.0f}KB" for z, s in zip(range(10, 17), sizes, strict=True)))
    print(f"  largest of all: {worst / 1024:.0f} KB — {'within' if worst <= LIMIT_KB * 1024 else 'OVER'} the limit")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_paging_and_downloads(client: Client):
    """Downloads first: ru_maxrss is a high-water mark, so a later step can only show growth above it."""
    for fmt in ("gpkg", "geojson"):
        before = peak_rss_mb()
        start = time.perf_counter()
        resp = client.get(f"/api/v1/layers/parcels/download/?format={fmt}")
        size = sum(len(chunk) for chunk in (resp.streaming_content if resp.streaming else [resp.content]))
        print(f"full {fmt} download: {size / 2**20:.0f} MiB in {time.perf_counter() - start:.1f} s, peak memory of "
              f"this process {peak_rss_mb():.0f} MB (before: {before:.0f} MB; the {fmt} is "
              f"{'written by ogr2ogr, a separate process' if fmt == 'gpkg' else 'streamed from a server-side cursor'})")
    start, pages, features = time.perf_counter(), 0, 0
    url = "/api/v1/layers/parcels/features/?limit=10000"
    before = peak_rss_mb()
    while url:
        body = client.get(url).json()
        pages += 1
        features += body["numberReturned"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    print(f"paging all parcels: {features:,} features in {pages} pages of 10,000: {time.perf_counter() - start:.1f} s "
          f"({(time.perf_counter() - start) / pages * 1000:.0f} ms a page, client JSON parsing included), peak "
          f"memory {peak_rss_mb():.0f} MB (before: {before:.0f} MB; a 10,000-feature page is ~5 MB of JSON)")


def main(args):
    public_city(args.size)
    client = Client()
    client.force_login(User.objects.get_or_create(username="bench", is_superuser=True, is_staff=True)[0])
    with common.gunicorn(workers=3, ready="/tiles/parcels.json") as base:
        bench_latency(base, args.runs)
        bench_throughput(base, args.seconds)
    bench_tile_sizes(client)
    bench_paging_and_downloads(client)


if __name__ == "__main__":
    main(ARGS)
