"""Import benchmark: the demo parcels from a GeoPackage into PostGIS, index and statistics included.

Baseline, measured in the same run on the same file and database: ogr2ogr -f PostgreSQL with PG_USE_COPY=YES
(GiST index built by ogr2ogr, then ANALYZE). Ours: the whole import job (read, validate/repair, load into
staging, primary key, GiST index, ANALYZE, swap in, catalog rows).

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/import_parcels.py --size 50 --runs 3
    … bench/import_parcels.py --size 1 --runs 1      # a quick try

Not part of the test suite.
"""

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=50, help="demo city size of the parcels file (50: ~1M)")
    parser.add_argument("--runs", type=int, default=3)
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from layers.importing import jobs  # noqa: E402
from layers.importing.pipeline import run_job  # noqa: E402
from layers.models import Layer  # noqa: E402
from layers.pgload import tune_allocator  # noqa: E402

tune_allocator()  # as the Celery workers do


def pg_dsn() -> str:
    db = settings.DATABASES["default"]
    parts = [f"dbname={db['NAME']}", f"host={db['HOST']}", f"user={db['USER']}"]
    if db.get("PORT"):
        parts.append(f"port={db['PORT']}")
    if db.get("PASSWORD"):
        parts.append(f"password={db['PASSWORD']}")
    return "PG:" + " ".join(parts)


def run_ogr2ogr(path: Path) -> float:
    with connection.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.parcels_ogr")
    start = time.perf_counter()
    subprocess.run(["ogr2ogr", "-f", "PostgreSQL", pg_dsn(), str(path), "parcels", "-nln", "bench.parcels_ogr",
                    "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=GIST", "-lco", "FID=fid",
                    "--config", "PG_USE_COPY", "YES", "-overwrite"], check=True)
    with connection.cursor() as cur:
        cur.execute("ANALYZE bench.parcels_ogr")
    elapsed = time.perf_counter() - start
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench.parcels_ogr")
        count = cur.fetchone()[0]
        cur.execute("DROP TABLE bench.parcels_ogr")
    return elapsed, count


def run_ours(path: Path) -> float:
    Layer.objects.filter(slug="bench-parcels").delete()
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS layerdata.bench_parcels")
    job = jobs.create(path, path.name, {"mode": "upsert", "slug": "bench-parcels"})
    start = time.perf_counter()
    job = run_job(job.pk)
    elapsed = time.perf_counter() - start
    assert job.status == "succeeded", job.errors
    layer = Layer.objects.get(slug="bench-parcels")
    return elapsed, layer.feature_count


def main(args):
    path = common.demo_city(args.size, geopackage=("parcels",))
    print(f"file: {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    ogr, ours = [], []
    for run in range(args.runs):
        t, n_ogr = run_ogr2ogr(path)
        ogr.append(t)
        t2, n_ours = run_ours(path)
        ours.append(t2)
        assert n_ogr == n_ours, (n_ogr, n_ours)
        print(f"run {run + 1}: ogr2ogr {t:.2f} s, civgis {t2:.2f} s ({n_ours:,} features)", flush=True)
    base, mine = statistics.median(ogr), statistics.median(ours)
    print(f"\nmedian of {args.runs}: ogr2ogr {base:.2f} s ({n_ogr / base:,.0f} rows/s), civgis {mine:.2f} s "
          f"({n_ours / mine:,.0f} rows/s)")
    print(f"ratio civgis / ogr2ogr = {mine / base:.2f}  (target ≤ 1.0, aim 0.5)")


if __name__ == "__main__":
    main(ARGS)
