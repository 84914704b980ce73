"""Indicator values over every village of the country: what a choropleth or a dashboard widget asks for.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/stats_indicators.py
    … bench/stats_indicators.py --runs 5      # a quick try

Imports the household registry's 7,771 villages (../shared/data/real, ODRP013 2026-06) and the NLSC village
attributes, joins them by VILLCODE, then times `stats.indicators.values` (one SQL query) for a share (男性比例) at the
village, district and county level and for one county's villages, against the same aggregates computed with pandas
from the two tables: (a) already in memory (groupby only: the most favourable baseline), (b) read from PostgreSQL
first. Medians of --runs. Not part of the test suite; removes what it made.
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import common

REAL = common.ROOT.parent / "shared" / "data" / "real"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import warnings  # noqa: E402

import pandas as pd  # noqa: E402
from django.db import connection  # noqa: E402

from jobs.models import Job  # noqa: E402
from layers import catalog  # noqa: E402
from layers.importing import jobs as layer_jobs  # noqa: E402
from layers.importing.pipeline import run_job  # noqa: E402
from stats import importing, indicators, joins  # noqa: E402
from stats.models import Indicator  # noqa: E402

warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")


def median_ms(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def load_country(work: Path, prefix: str, made: list, **options) -> tuple:
    """The household registry's villages (ODRP013) and the NLSC village attributes imported as `<prefix>-odrp013`
    and `<prefix>-nlsc` (appended to `made`, for the caller to remove): also bench/dashboard_crossfilter.py's."""
    if not REAL.is_dir():
        raise SystemExit(f"no {REAL}: the real files are needed")
    src = work / "a"
    src.mkdir()
    name = "moi-odrp013-population-by-indigenous-status-11506.json"
    shutil.copy(REAL / "household-registry" / name, src / name)
    job = run_job(importing.create(src / name, [name], {"slug": f"{prefix}-odrp013", **options}).pk,
                  work=importing._import)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    made.append(job.layers.get())
    dst = work / "b"
    dst.mkdir()
    shutil.copy(REAL / "tw-village-attrs-nlsc/VILLAGE_NLSC_1120928.dbf", dst / "v.dbf")
    job = run_job(layer_jobs.create(dst / "v.dbf", "v.dbf", {"slug": f"{prefix}-nlsc", **options}).pk)
    made.append(job.layers.get())
    return made[-2], made[-1]


def main() -> None:
    work = Path(tempfile.mkdtemp())
    made = []
    try:
        table, villages = load_country(work, "bench", made)
        t0 = time.perf_counter()
        join = joins.join(table.stat_table, villages)
        print(f"join by VILLCODE: {join.matched_rows:,} of {join.rows:,} rows in {time.perf_counter() - t0:.2f} s")
        share = Indicator.objects.create(slug="bench-male-share", title_zh="男性比例", join=join, formula="share",
                                         numerator="people_total_m", denominator="people_total")
        with connection.cursor() as cur:
            cur.execute(f"SELECT fid, people_total_m, people_total FROM layerdata.{table.table_name}")  # noqa: S608
            stat = pd.DataFrame(cur.fetchall(), columns=["fid", "m", "p"])

        def read_matches():
            return pd.read_sql_query("SELECT row_fid, area_key, town_key, county_key FROM stats_joinmatch "
                                     "WHERE join_id = %s", connection.connection, params=[join.pk])

        matches = read_matches()

        def pandas_level(frame_stat, frame_match, key, county=None):
            frame = frame_match.merge(frame_stat, left_on="row_fid", right_on="fid")
            if county:
                frame = frame[frame.county_key == county]
            sums = frame.groupby(key)[["m", "p"]].sum()
            return (sums.m * 100 / sums.p).round(1)

        print(f"{'query':<28} {'platform p50':>13} {'pandas in memory':>17} {'pandas + read':>14} {'areas':>6}")
        for label, level, county, key in (("villages (area)", "area", "", "area_key"),
                                          ("districts (town)", "town", "", "town_key"),
                                          ("counties", "county", "", "county_key"),
                                          ("one county's villages", "area", "68000", "area_key")):
            ours, answer = median_ms(lambda lv=level, c=county: indicators.values(share, lv, county=c), ARGS.runs)
            theirs, result = median_ms(lambda k=key, c=county: pandas_level(stat, matches, k, c or None), ARGS.runs)
            with_read, _r = median_ms(lambda k=key, c=county: pandas_level(
                pd.read_sql_query(f"SELECT fid, people_total_m AS m, people_total AS p FROM layerdata."  # noqa: S608
                                  f"{table.table_name}", connection.connection), read_matches(), k, c or None),
                max(3, ARGS.runs // 4))
            assert len(answer["values"]) == len(result), (label, len(answer["values"]), len(result))
            print(f"{label:<28} {ours:>10.1f} ms {theirs:>14.1f} ms {with_read:>11.1f} ms {len(result):>6,}"
                  f"   ratio vs pandas+read {with_read / ours:.1f}×, vs in-memory {theirs / ours:.2f}×")
    finally:
        for layer in made:
            catalog.drop_layer_data(layer)
            layer.delete()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
