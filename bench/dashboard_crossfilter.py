"""A dashboard of 8 widgets over every village of the country, cross-filtered district by district (issue 16).

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/dashboard_crossfilter.py
    … bench/dashboard_crossfilter.py --filters 5      # a quick try

Imports the household registry's 7,771 villages (../shared/data/real, ODRP013 2026-06) and the NLSC village
attributes, joins them by VILLCODE, defines four indicators (population, density, share of men, plain-indigenous men
per 1,000 men) and a dashboard of 8 widgets over them: three KPIs, two bar charts by district, a density map of all
villages, a table and a ranked list of the chosen district's villages. A cross-filter (a district clicked) is the one
request the page makes, /api/v1/dashboards/{slug}/values/?town=…&have=… (the bars over every district and the map's
every village were read when the page opened and are kept: `have`); its server time is measured in process (Django's
test client: routing, visibility, SQL, JSON). For comparison, the 7 requests to /api/v1/stats/indicators/{slug}/values/
the page made before, one after another, and the time inside stats.indicators.values (the SQL and its rows).
Baseline, in the same run: the same aggregates computed with pandas from the two tables, (a) read from
PostgreSQL for each cross-filter, (b) already in memory. p50 over --filters districts. Not part of the test
suite; removes what it made.
"""

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import common

REAL = common.ROOT.parent / "shared" / "data" / "real"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filters", type=int, default=25, help="districts clicked (p50 over them)")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import warnings  # noqa: E402

import pandas as pd  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from stats_indicators import load_country  # noqa: E402

from dashboards import batch  # noqa: E402
from dashboards.models import Dashboard  # noqa: E402
from layers import catalog  # noqa: E402
from stats import indicators as indicator_code  # noqa: E402
from stats import joins  # noqa: E402
from stats.models import Indicator  # noqa: E402

warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")
INDICATORS = [("b-pop", "value", "people_total", ""), ("b-density", "density", "people_total", ""),
              ("b-men", "share", "people_total_m", "people_total"),
              ("b-plain", "per_1000", "indigenous_plain_total_m", "people_total_m")]


V = "/api/v1/stats/indicators/{}/values/?".format
# asked when the page opens and kept (dashboard.js keeps answers until the next auto-refresh): the two bar charts over
# every district and the map's every village do not change with the district chosen (the chosen bar is marked, the
# map fades the villages whose town_key is another)
OPENING = [V("b-pop") + "level=town", V("b-men") + "level=town", V("b-density") + "level=area"]


def requests(town: str) -> list[str]:
    """What dashboards' script asks for when a district is clicked, widget by widget."""
    return [V("b-pop") + f"level=town&areas={town}", V("b-density") + f"level=town&areas={town}",
            V("b-men") + f"level=town&areas={town}",                            # 3 KPIs
            *(V(s) + f"level=area&town={town}" for s in ("b-pop", "b-men", "b-plain")),  # the table
            V("b-density") + f"level=area&town={town}"]                       # the ranked list


WIDGETS = [{"type": "kpi", "indicator": "b-pop"}, {"type": "kpi", "indicator": "b-density"},
           {"type": "kpi", "indicator": "b-men"}, {"type": "bar", "indicator": "b-pop", "level": "town"},
           {"type": "bar", "indicator": "b-men", "level": "town"}, {"type": "map", "indicator": "b-density",
                                                                    "level": "area"},
           {"type": "table", "indicators": ["b-pop", "b-men", "b-plain"], "level": "area"},
           {"type": "list", "indicator": "b-density", "level": "area"}]
HAVE = "&".join("have=" + k for k in (batch.key("b-pop", "town"), batch.key("b-men", "town"),
                                      batch.key("b-density", "area")))


def pandas_answers(frame: pd.DataFrame, town: str) -> list:
    """The same figures from a frame of the statistics merged with the join's matches."""
    def figures(group, what):
        s = group[["p", "m", "plain", "km2"]].sum()
        return {"pop": s.p, "density": s.p / s.km2 if s.km2 else None, "men": s.m * 100 / s.p if s.p else None,
                "plain": s.plain * 1000 / s.m if s.m else None}[what]

    def by(key, rows, what):
        sums = rows.groupby(key)[["p", "m", "plain", "km2"]].sum()
        return {"pop": sums.p, "density": sums.p / sums.km2, "men": sums.m * 100 / sums.p,
                "plain": sums.plain * 1000 / sums.m}[what].round(2)

    mine = frame[frame.town_key == town]
    return [figures(mine, "pop"), figures(mine, "density"), figures(mine, "men"),
            by("area_key", mine, "pop"), by("area_key", mine, "men"), by("area_key", mine, "plain"),
            by("area_key", mine, "density").sort_values(ascending=False).head(10)]


def main() -> None:
    work = Path(tempfile.mkdtemp())
    made = []
    try:
        table, villages = load_country(work, "bench-dash", made, visibility="public")
        join = joins.join(table.stat_table, villages)
        for slug, formula, num, den in INDICATORS:
            Indicator.objects.filter(slug=slug).delete()
            Indicator.objects.create(slug=slug, title_zh=slug, join=join, formula=formula, numerator=num,
                                     denominator=den, decimals=2)
        Dashboard.objects.filter(slug="bench-dash").delete()
        Dashboard.objects.create(slug="bench-dash", title_zh="bench", visibility="public",
                                 spec={"selectors": [], "widgets": [{"id": f"w{n}", "width": 1, **w}
                                                                     for n, w in enumerate(WIDGETS, 1)]})
        print(f"{join.matched_rows:,} of {join.rows:,} villages joined; 8 widgets, one request per cross-filter")
        client = Client()
        towns = client.get("/api/v1/stats/indicators/b-pop/values/?level=town").json()["values"]
        chosen = random.Random(16).sample([t["key"] for t in towns], min(ARGS.filters, len(towns)))
        for url in requests(chosen[0]):  # warm: the first requests load the URL configuration and more
            assert client.get(url).status_code == 200, url
        opening = {}
        for url in OPENING:
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                assert client.get(url).status_code == 200
                runs.append((time.perf_counter() - t0) * 1000)
            opening[url.split("/")[5] + " " + url.split("?")[1]] = statistics.median(runs)

        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert client.get("/api/v1/dashboards/bench-dash/values/").status_code == 200
            runs.append((time.perf_counter() - t0) * 1000)
        opening["the page's one opening request"] = statistics.median(runs)

        def read() -> pd.DataFrame:
            stat = pd.read_sql_query(f"SELECT fid, people_total AS p, people_total_m AS m, "  # noqa: S608
                                     f"indigenous_plain_total_m AS plain FROM layerdata.{table.table_name}",
                                     connection.connection)
            matches = pd.read_sql_query("SELECT row_fid, area_key, town_key, coalesce(area_km2, 0) AS km2 FROM "
                                        "stats_joinmatch WHERE join_id = %s", connection.connection,
                                        params=[join.pk])
            return matches.merge(stat, left_on="row_fid", right_on="fid")

        in_memory = read()
        real_values, inside = indicator_code.values, []

        def timed_values(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return real_values(*args, **kwargs)
            finally:
                inside[-1] += (time.perf_counter() - t0) * 1000

        one, sums, slowest, with_read, memory = [], [], [], [], []
        for town in chosen:
            inside.append(0.0)
            indicator_code.values = timed_values
            t0 = time.perf_counter()
            answer = client.get(f"/api/v1/dashboards/bench-dash/values/?town={town}&{HAVE}")
            one.append((time.perf_counter() - t0) * 1000)
            indicator_code.values = real_values
            assert answer.status_code == 200 and len(answer.json()["answers"]) == 7, answer.content[:200]
            times = []
            for url in requests(town):
                t0 = time.perf_counter()
                answer = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, (url, answer.status_code)
            sums.append(sum(times))
            slowest.append(max(times))
            t0 = time.perf_counter()
            pandas_answers(read(), town)
            with_read.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            pandas_answers(in_memory, town)
            memory.append((time.perf_counter() - t0) * 1000)
        ours, theirs, theirs_mem = (statistics.median(x) for x in (one, with_read, memory))
        print("opening the page (asked once, kept), p50 of 5: "
              + "; ".join(f"{k} {v:.1f} ms" for k, v in opening.items()))
        print(f"cross-filter, p50 over {len(chosen)} districts:")
        print(f"  platform, the one request of the page:   {ours:8.1f} ms   (target ≤ 150 ms; of which "
              f"stats.indicators.values {statistics.median(inside):.1f} ms)")
        print(f"  before: 7 requests one after another:     {statistics.median(sums):8.1f} ms   (slowest single "
              f"request p50 {statistics.median(slowest):.1f} ms)")
        print(f"  pandas, tables read from PostgreSQL:      {theirs:8.1f} ms   ratio {theirs / ours:.2f}×")
        print(f"  pandas, tables already in memory:         {theirs_mem:8.1f} ms   ratio {theirs_mem / ours:.2f}×")
    finally:
        Dashboard.objects.filter(slug="bench-dash").delete()
        Indicator.objects.filter(slug__startswith="b-").delete()
        for layer in made:
            catalog.drop_layer_data(layer)
            layer.delete()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
