"""Capacity of one node (issue 21): what each kind of request costs, then a load test that replays a realistic mix
(bench/locustfile.py) at rising rates until the 99th percentile passes 500 ms — the single-node capacity that
docs/capacity.md scales to 100× the city's traffic.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/loadtest.py
    … bench/loadtest.py --rates 10,20,40,80,120,160 --step-seconds 20 --workers 4

1. Per-request costs, one client, one request at a time, on gunicorn as deployed (production settings, gthread):
   a vector tile drawn (a miss of the tile cache) and cached (the same tile again), a WMS GetMap, a page of 100
   features, a catalog search — median and 90th percentile of `--runs` each; and, in this process through
   Django's test client, the PostgreSQL time of each (every query timed): what a read replica would take over.
   An analysis job (a buffer of every building by 50 m, as the analysis worker runs it): seconds per job.
2. The load test: locust (headless, FastHttpUser, loopback) at each rate of `--rates` (requests per second: that
   many users sending one request a second) for `--step-seconds`, until p99 > 500 ms, more than 1 % fail, or the
   rate reached falls under 90 % of the rate asked (the node is saturated). Per step: the rate reached, median,
   p95, p99, failures, the tile cache's hit rate in that step and the load average.

The machine may be shared: every figure is printed with the load average at that moment. Not part of the test
suite; bounded: at most `--max-seconds` for the load test.
"""

import argparse
import csv
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--city", type=float, default=1, help="demo city size")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (gthread, 16 threads each)")
    parser.add_argument("--runs", type=int, default=30, help="requests per kind for the per-request costs")
    parser.add_argument("--rates", default="5,10,20,40,60,80,120,160,240,320", help="requests/s, rising")
    parser.add_argument("--step-seconds", type=int, default=15)
    parser.add_argument("--max-seconds", type=int, default=240, help="the load test stops after this")
    parser.add_argument("--p99-ms", type=float, default=500)
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import requests  # noqa: E402

from layers.models import Layer  # noqa: E402
from layers.serving import tilecache  # noqa: E402

TILE_LAYER, MAP_LAYER = "buildings", "roads"
WORDS = ["道路", "建物", "學校", "roads", "parcels", "人口", "公園", "水", "zones", "村里"]


def tiles_of(slug: str, zooms=(14, 15, 16)) -> list[tuple[int, int, int]]:
    west, south, east, north = Layer.objects.get(slug=slug).extent.extent
    out = []
    for z in zooms:
        n = 2**z

        def xy(lon, lat, n=n):
            return (int((lon + 180) / 360 * n),
                    int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
        (x0, y0), (x1, y1) = xy(west, north), xy(east, south)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def plan() -> dict:
    roads = Layer.objects.get(slug=MAP_LAYER)
    for slug in (TILE_LAYER, MAP_LAYER):  # the mix is anonymous, as a geoportal's visitors are
        Layer.objects.filter(slug=slug).update(visibility=Layer.Visibility.PUBLIC)
    tiles = tiles_of(TILE_LAYER)
    random.Random(common.SEED).shuffle(tiles)  # the order of popularity (locustfile.py: Zipf)
    return {"tile_layer": TILE_LAYER, "map_layer": MAP_LAYER, "tiles": tiles,
            "bbox": list(roads.extent.extent), "getmap_span": 0.01, "feature_count": roads.feature_count,
            "words": WORDS}


def getmap_url(p: dict, i: int) -> str:
    west, south, east, north = p["bbox"]
    span = p["getmap_span"]
    lon = west + (east - west - span) * ((i * 0.618) % 1)
    lat = south + (north - south - span) * ((i * 0.382) % 1)
    return (f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={MAP_LAYER}&STYLES=&CRS=EPSG:4326"
            f"&BBOX={lat},{lon},{lat + span},{lon + span}&WIDTH=256&HEIGHT=256&FORMAT=image/png")


def kinds(p: dict, runs: int) -> dict[str, list[str]]:
    """For each kind of request, `runs` paths (distinct tiles for misses, the same ones again for hits)."""
    tiles = p["tiles"][len(p["tiles"]) // 3:][:runs]  # middle zooms: tiles with buildings on them
    return {
        "vector tile, drawn (cache miss)": [f"/tiles/{TILE_LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles],
        "vector tile, cached (hit)": [f"/tiles/{TILE_LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles],
        "WMS GetMap (roads, 256²)": [getmap_url(p, i) for i in range(runs)],
        "features page (100 roads)": [f"/api/v1/layers/{MAP_LAYER}/features/?limit=100&offset={i * 37 % 2000}"
                                      for i in range(runs)],
        "catalog search": [f"/api/v1/layers/?q={WORDS[i % len(WORDS)]}" for i in range(runs)],
    }


def cpu_seconds(pid: int) -> float:
    """CPU time of a process tree: its own, its children's now alive and those it has waited for (PostgreSQL's
    backends of closed connections, counted by the postmaster)."""
    import psutil

    parent = psutil.Process(pid)
    total = sum(parent.cpu_times()[:4])  # user, system, children_user, children_system
    for child in parent.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def postmaster_pid() -> int:
    return int((common.stack_dir() / "pg" / "pgdata" / "postmaster.pid").read_text().split()[0])


def costs(base: str, server_pid: int, p: dict, runs: int) -> dict[str, dict]:
    """Per kind: wall-clock p50/p90 seen by one client, and the CPU the app (gunicorn's workers) and PostgreSQL
    spent per request — CPU time counts only while a process runs, so it holds on a shared machine where wall time
    does not (the service demand a capacity model needs)."""
    tilecache.invalidate_now(Layer.objects.get(slug=TILE_LAYER))
    session = requests.Session()
    db = postmaster_pid()
    out = {}
    for name, paths in kinds(p, runs).items():
        times = []
        app0, db0 = cpu_seconds(server_pid), cpu_seconds(db)
        for path in paths:
            started = time.perf_counter()
            resp = session.get(base + path)
            times.append(time.perf_counter() - started)
            assert resp.status_code in (200, 204), (path, resp.status_code, resp.text[:200])
        app1, db1 = cpu_seconds(server_pid), cpu_seconds(db)
        times.sort()
        out[name] = {"p50_ms": 1000 * statistics.median(times), "p90_ms": 1000 * times[int(0.9 * len(times))],
                     "app_cpu_ms": 1000 * (app1 - app0) / len(paths), "db_cpu_ms": 1000 * (db1 - db0) / len(paths),
                     "load": common.load()}
    return out


def analysis_job_seconds() -> tuple[float, int]:
    """One analysis job as the analysis worker runs it: 50 m buffers of every building, published as a layer."""
    from django.contrib.auth.models import User

    from analysis import jobs as analysis_jobs

    user, _ = User.objects.get_or_create(username="bench-analyst", defaults={"is_superuser": True,
                                                                          "is_staff": True})
    buildings = Layer.objects.get(slug=TILE_LAYER)
    slug = "bench-load-buffer"
    Layer.objects.filter(slug__startswith=slug).delete()
    job = analysis_jobs.create("bench", {"analysis": "buffer_layer", "input": TILE_LAYER, "distances": [50],
                                         "title": "bench", "slug": slug, "mode": "create",
                                         "visibility": "internal"}, user)
    started = time.perf_counter()
    job = analysis_jobs.run(job.pk)
    seconds = time.perf_counter() - started
    assert job.status == "succeeded", job.errors
    for layer in Layer.objects.filter(slug__startswith=slug):
        from layers.catalog import drop_layer_data

        drop_layer_data(layer)
        layer.delete()
    return seconds, buildings.feature_count


def hits_misses() -> tuple[int, int]:
    stats = tilecache.statistics()
    return int(stats.get("hits", 0)), int(stats.get("misses", 0))


def step(base: str, plan_file: Path, rate: int, seconds: int, folder: Path) -> dict:
    prefix = folder / f"rate{rate}"
    env = {**os.environ, "CIVGIS_LOAD_PLAN": str(plan_file)}
    hits0, misses0 = hits_misses()
    subprocess.run([str(Path(sys.executable).parent / "locust"), "-f", str(Path(__file__).parent / "locustfile.py"),
                    "--headless", "--host", base, "-u", str(rate), "-r", str(rate), "-t", f"{seconds}s",
                    "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "5"],
                   env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hits1, misses1 = hits_misses()
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    total = rows["Aggregated"]
    asked = int(total["Request Count"])
    looked_up = (hits1 - hits0) + (misses1 - misses0)
    return {"rate": rate, "reached": float(total["Requests/s"]), "p50": float(total["50%"]),
            "p95": float(total["95%"]), "p99": float(total["99%"]),
            "failed": int(total["Failure Count"]) / max(asked, 1),
            "hit_rate": (hits1 - hits0) / looked_up if looked_up else float("nan"), "load": common.load(),
            "per_kind": {name: float(row["99%"]) for name, row in rows.items() if name != "Aggregated"}}


MIX = {"vector tile": 0.70, "WMS GetMap (roads, 256²)": 0.15, "features page (100 roads)": 0.08,
       "catalog search": 0.07}  # bench/locustfile.py's shares


def demand(found: dict, hit_rate: float, part: str) -> float:
    """CPU ms of `part` (app_cpu_ms, db_cpu_ms) per request of the mix, tiles hitting the cache at `hit_rate`."""
    tile = (hit_rate * found["vector tile, cached (hit)"][part]
            + (1 - hit_rate) * found["vector tile, drawn (cache miss)"][part])
    return sum(share * (tile if name == "vector tile" else found[name][part]) for name, share in MIX.items())


def gunicorn_pid(base: str) -> int:
    """The gunicorn master serving `base` (its listening port)."""
    import psutil

    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            # a worker may be the one seen listening (gunicorn 27's master shows no listening socket): go up to
            # the master, whose tree holds every worker
            process = psutil.Process(conn.pid)
            while (parent := process.parent()) and "gunicorn" in " ".join(parent.cmdline()):
                process = parent
            return process.pid
    raise RuntimeError("no process listens on the bench's gunicorn port")


def main(args) -> None:
    logging.getLogger("civgis.ows").setLevel(logging.WARNING)  # no line per GetMap in the figures
    common.demo_city(args.city)
    p = plan()
    workdir = Path(tempfile.mkdtemp(prefix="loadtest-", dir=common.stack_dir()))
    plan_file = workdir / "plan.json"
    plan_file.write_text(json.dumps(p))
    seconds, features = analysis_job_seconds()
    print(f"\nan analysis job (50 m buffers of {features:,} buildings, published as a layer): {seconds:.2f} s "
          f"of one worker slot ({common.load()})", flush=True)
    with common.gunicorn(workers=args.workers, ready="/api/v1/",
                         extra=["--worker-class", "gthread", "--threads", "16"]) as base:
        server_pid = gunicorn_pid(base)
        for path in ("/tiles/buildings.json", "/api/v1/layers/?q=x", getmap_url(p, 0)):  # every worker warm
            for _ in range(args.workers * 2):
                requests.get(base + path)
        print(f"\nper request, one client at a time ({args.runs} each; gunicorn {args.workers} gthread workers):")
        print(f"  {'request':34} {'p50 ms':>8} {'p90 ms':>8} {'app CPU ms':>11} {'PostgreSQL CPU ms':>18}  load")
        found = costs(base, server_pid, p, args.runs)
        for name, c in found.items():
            print(f"  {name:34} {c['p50_ms']:8.1f} {c['p90_ms']:8.1f} {c['app_cpu_ms']:11.1f} "
                  f"{c['db_cpu_ms']:18.1f}  {c['load']}", flush=True)
        cores = len(os.sched_getaffinity(0))
        print(f"\nCPU demand of the mix per request (app + PostgreSQL) and what {cores} cores serve at 100 % busy:")
        for hit in (0.5, 0.8, 0.9, 0.95, 0.99):
            app, dbms = demand(found, hit, "app_cpu_ms"), demand(found, hit, "db_cpu_ms")
            print(f"  tile hit rate {100 * hit:3.0f} %: app {app:5.1f} ms + PostgreSQL {dbms:5.1f} ms = "
                  f"{app + dbms:5.1f} ms → {1000 * cores / (app + dbms):6.0f} requests/s on one node "
                  f"(app alone {1000 * cores / app:6.0f}/s, PostgreSQL alone {1000 * cores / dbms:6.0f}/s)")

        print(f"\nload test: the mix of bench/locustfile.py at rising rates, {args.step_seconds} s each, "
              f"until p99 > {args.p99_ms:g} ms")
        print(f"  {'asked/s':>8} {'reached/s':>10} {'p50':>6} {'p95':>6} {'p99':>6} {'failed':>7} {'tile hits':>9}"
              "  load")
        tilecache.invalidate_now(Layer.objects.get(slug=TILE_LAYER))
        popular = p["tiles"][: len(p["tiles"]) // 5]
        session = requests.Session()
        for z, x, y in popular:  # the steady state: the most asked fifth cached (seeding and earlier visitors)
            session.get(f"{base}/tiles/{TILE_LAYER}/{z}/{x}/{y}.mvt")
        print(f"  ({len(p['tiles']):,} tiles z14–16 in the mix; the most asked {len(popular):,} cached first)")
        started, capacity, last = time.monotonic(), None, None
        for rate in [int(r) for r in args.rates.split(",")]:
            if time.monotonic() - started + args.step_seconds > args.max_seconds:
                print(f"  (stopped: --max-seconds {args.max_seconds} reached)")
                break
            s = step(base, plan_file, rate, args.step_seconds, workdir)
            print(f"  {s['rate']:8d} {s['reached']:10.1f} {s['p50']:6.0f} {s['p95']:6.0f} {s['p99']:6.0f} "
                  f"{100 * s['failed']:6.1f}% {100 * s['hit_rate']:8.0f}%  {s['load']}", flush=True)
            ok = s["p99"] <= args.p99_ms and s["failed"] <= 0.01 and s["reached"] >= 0.9 * rate
            if not ok:
                worst = max(s["per_kind"].items(), key=lambda kv: kv[1])
                why = ("p99 over the limit" if s["p99"] > args.p99_ms else "failures" if s["failed"] > 0.01
                       else "the rate asked was not reached")
                print(f"  → {why} at {rate}/s (slowest p99: {worst[0]} {worst[1]:.0f} ms)")
                break
            capacity, last = rate, s
        if capacity:
            print(f"\nsingle-node capacity: {last['reached']:.0f} requests/s of this mix with p99 "
                  f"{last['p99']:.0f} ms ≤ {args.p99_ms:g} ms ({last['load']} at that step)")
        else:
            print("\nsingle-node capacity: below the first rate asked")


if __name__ == "__main__":
    main(ARGS)
