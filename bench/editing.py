"""Feature editing benchmark: single-feature edits through the API against the same change in raw SQL.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/editing.py
    … bench/editing.py --edits 200      # a quick try

A point layer of 10,000 features (TWD97 / TM2, four attributes) is made in `layerdata`; an editor of its agency
then sends `--edits` PATCH requests, one at a time over HTTP to gunicorn (one worker, production settings): each
moves one feature and changes two attributes, with the version it read (If-Match) — so each is a locked read,
a conflict check, the UPDATE, a history row with before/after, the catalog's count/extent and an audit entry.
The baseline is the same UPDATE of geometry and attributes in raw SQL, one statement per transaction over one
psycopg2 connection. Printed: p50 and p95 latency, edits per second, and the ratio of the two.

Not part of the test suite; the layer, its table and its history are removed afterwards.
"""

import argparse
import json
import random
import statistics
import time
import urllib.request

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=1000, help="single-feature edits per method")
    parser.add_argument("--features", type=int, default=10_000, help="features in the layer")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from layers.models import Layer  # noqa: E402

SLUG, TABLE = "bench-edit", "bench_edit"


def make_layer(n: int) -> tuple[Layer, str]:
    Layer.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS layerdata.{TABLE}")
        cur.execute(f"CREATE TABLE layerdata.{TABLE} (fid serial PRIMARY KEY, name text, pressure_kpa double "
                    "precision, outlets integer, checked_on date, geom geometry(Point, 3826))")
        cur.execute(f"INSERT INTO layerdata.{TABLE} (name, pressure_kpa, outlets, checked_on, geom) SELECT "  # noqa: S608 - a constant table name
                    "'H' || i, 250 + i %% 100, 1 + i %% 3, DATE '2025-01-01' + i %% 300, ST_SetSRID(ST_MakePoint("
                    "270000 + (i %% 100) * 50, 2760000 + (i / 100) * 50), 3826) FROM generate_series(1, %s) i", [n])
        cur.execute(f"CREATE INDEX ON layerdata.{TABLE} USING gist (geom)")
    agency = Group.objects.get_or_create(name="bench-消防局")[0]
    layer = Layer.objects.create(slug=SLUG, title_zh="消防栓（效能測試）", table_name=TABLE, srid=3826,
                                 geometry_type="Point", feature_count=n, owner_agency=agency,
                                 native_extent=[270000, 2760000, 274950, 2760000 + (n // 100) * 50])
    user = User.objects.get_or_create(username="bench-editor")[0]
    user.groups.add(agency)
    token = Token.objects.get_or_create(user=user)[0].key
    return layer, token


def remove(layer: Layer) -> None:
    """The bench's layer, its table and (by cascade) its history gone."""
    Layer.objects.filter(pk=layer.pk).delete()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS layerdata.{TABLE}")


def through_api(base: str, token: str, fids: list[int], versions: dict[int, int]) -> list[float]:
    times = []
    for i, fid in enumerate(fids):
        body = json.dumps({"geometry": {"type": "Point", "coordinates": [121.3 + (i % 97) * 1e-4, 24.99]},
                           "properties": {"name": f"edited {i}", "outlets": i % 4}}).encode()
        request = urllib.request.Request(f"{base}/api/v1/layers/{SLUG}/features/{fid}/", data=body, method="PATCH",
                                         headers={"Authorization": f"Token {token}",
                                                  "Content-Type": "application/json",
                                                  "If-Match": f'"{versions.get(fid, 0)}"'})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as answer:
            versions[fid] = int(answer.headers["ETag"].strip('"'))
        times.append(time.perf_counter() - started)
    return times


def raw_sql(fids: list[int]) -> list[float]:
    import psycopg2

    settings = connection.settings_dict
    conn = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
                            host=settings["HOST"], port=settings["PORT"] or None)
    times = []
    try:
        with conn.cursor() as cur:
            for i, fid in enumerate(fids):
                started = time.perf_counter()
                cur.execute(f"UPDATE layerdata.{TABLE} SET name = %s, outlets = %s, geom = ST_Transform("  # noqa: S608 - a constant table name
                            "ST_SetSRID(ST_MakePoint(%s, 24.99), 4326), 3826) WHERE fid = %s",
                            [f"raw {i}", i % 4, 121.3 + (i % 97) * 1e-4, fid])
                conn.commit()
                times.append(time.perf_counter() - started)
    finally:
        conn.close()
    return times


def summary(name: str, times: list[float]) -> float:
    ordered = sorted(times)
    p50, p95 = statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]
    rate = len(times) / sum(times)
    print(f"{name}: p50 {p50 * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, {rate:,.0f} edits/s")
    return rate


def main(args):
    layer, token = make_layer(args.features)
    fids = random.Random(common.SEED).choices(range(1, args.features + 1), k=args.edits)
    try:
        with common.gunicorn(workers=1) as base:
            versions: dict[int, int] = {}
            through_api(base, token, fids[:20], versions)  # warm the worker (imports, connections)
            api = through_api(base, token, fids, versions)
        sql_times = raw_sql(fids)
        print(f"{args.edits:,} single-feature edits on a {args.features:,}-feature point layer")
        api_rate = summary("API (PATCH, versioned, history, audit)", api)
        sql_rate = summary("raw SQL UPDATE (baseline)", sql_times)
        print(f"ratio: the API takes {sql_rate / api_rate:.1f}× the time of raw SQL per edit "
              f"(p50 {statistics.median(api) / statistics.median(sql_times):.1f}×)")
    finally:
        remove(layer)


if __name__ == "__main__":
    main(ARGS)
