"""Analysis benchmark on the size-10 demo city: overlay and road widening, against plain SQL and GeoPandas.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/overlay_and_widening.py
    … bench/overlay_and_widening.py widening --size 1 --runs 1      # one part, a quick try on the size-1 city

1. Intersect the parcels (~200k) with the flood-prone zones. Ours: the whole job (cut the zones into indexed
   pieces, intersect, repair, index the result, ANALYZE, catalog entry). Plain SQL: the obvious
   `CREATE TABLE … AS SELECT …, ST_Intersection(…) … JOIN … ON ST_Intersects(…)` (polygons extracted, no index).
   GeoPandas: read both layers from a GeoPackage, `overlay(how="intersection")`, write a GeoPackage.
2. Road widening to 40 m along a ~5 km arterial: ours as the job that saves a result layer against plain SQL
   creating a table, and ours as the report endpoint (HTTP, gunicorn, GeoJSON in lon/lat) against the plain SQL
   SELECT of the same rows; GeoPandas (read, buffer, overlay, areas, write) for both.

Each figure is the median of 3 runs (`--runs`; 7 for the report endpoint); results are checked to agree
(feature counts, total area).
Not part of the test suite.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="*", metavar="intersect|widening", help="the parts to run (default: both)")
    parser.add_argument("--size", type=float, default=10, help="demo city size (10: ~200k parcels; 1 to try)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is shown)")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import geopandas  # noqa: E402
import pyogrio  # noqa: E402
import requests  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from analysis import jobs  # noqa: E402
from layers.pgload import tune_allocator  # noqa: E402

tune_allocator()
RUNS = ARGS.runs if __name__ == "__main__" else 3
WIDTH = 40.0


def sql_rows(statement, params=None):
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def timed(fn, runs=RUNS):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_job(user, options, name):
    job = jobs.create(name, {**options, "mode": "create", "title": name, "visibility": "internal"}, user)
    job.options["slug"] = f"bench-{job.pk}"
    job.save(update_fields=["options"])
    job = jobs.run(job.pk)
    assert job.status == "succeeded", job.errors
    layer = job.layers.get()
    (n, area), = sql_rows(f"SELECT count(*), sum(ST_Area(geom)) FROM layerdata.{layer.table_name}")  # noqa: S608
    layer.delete()
    sql_rows(f"DROP TABLE layerdata.{layer.table_name}")  # noqa: S608
    return n, area


def plain_sql(statement, params=None, indexed=False):
    """The hand-written statement; `indexed` adds what our result layer also gets (GiST index, ANALYZE)."""
    sql_rows("DROP TABLE IF EXISTS bench_result")
    sql_rows(statement, params)
    if indexed:
        sql_rows("CREATE INDEX ON bench_result USING gist (geom); ANALYZE bench_result")
    (n, area), = sql_rows("SELECT count(*), sum(ST_Area(geom)) FROM bench_result")
    sql_rows("DROP TABLE bench_result")
    return n, area


def report(title, ours, sql_time, sql_indexed, gpd_time):
    print(f"{title}: civgis {ours:.2f} s, plain SQL {sql_time:.2f} s ({sql_indexed:.2f} s with index and ANALYZE),"
          f" GeoPandas {gpd_time:.2f} s — civgis/SQL {ours / sql_time:.2f} ({ours / sql_indexed:.2f} against the"
          f" indexed result; target ≤ 1.3), GeoPandas/civgis {gpd_time / ours:.1f}× (target ≥ 5)")


def bench_intersect(user, gpkg):
    ours, (n1, a1) = timed(lambda: run_job(user, {"analysis": "overlay", "operation": "intersect", "a": "parcels",
                                                  "b": "flood-zones"}, "bench intersect"))
    statement = ("CREATE TABLE bench_result AS SELECT p.*, f.depth_class, f.zone_id,"
                 " ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Intersection(p.geom, f.geom)), 3)) AS geom2"
                 " FROM layerdata.parcels p JOIN layerdata.flood_zones f ON ST_Intersects(p.geom, f.geom);"
                 " ALTER TABLE bench_result DROP COLUMN geom; ALTER TABLE bench_result RENAME geom2 TO geom;"
                 " DELETE FROM bench_result WHERE ST_IsEmpty(geom)")
    sql_time, (n2, a2) = timed(lambda: plain_sql(statement))
    sql_indexed, _ = timed(lambda: plain_sql(statement, indexed=True))

    def with_geopandas():
        parcels = pyogrio.read_dataframe(gpkg, layer="parcels")
        zones = pyogrio.read_dataframe(gpkg, layer="flood_zones")
        out = geopandas.overlay(parcels, zones[["depth_class", "zone_id", "geometry"]], how="intersection",
                                keep_geom_type=True)
        path = Path(tempfile.gettempdir()) / "civgis-bench-gpd.gpkg"
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(out, path, layer="out")
        return len(out), float(out.area.sum())

    gpd_time, (n3, a3) = timed(with_geopandas)
    print(f"parcels × flood zones: {n1:,} pieces (SQL {n2:,}, GeoPandas {n3:,}); area {a1 / 1e6:.4f} km² "
          f"(SQL {a2 / 1e6:.4f}, GeoPandas {a3 / 1e6:.4f})")
    report("intersect", ours, sql_time, sql_indexed, gpd_time)


def five_km_of_road() -> tuple[str, list[int], float]:
    """The first ~5 km of the longest arterial: its segment ids in order along the road."""
    (name,), = sql_rows("SELECT road_name FROM layerdata.roads WHERE road_class = 'arterial' GROUP BY road_name"
                        " ORDER BY sum(length_m) DESC LIMIT 1")
    ids, total = [], 0.0
    for road_id, length in sql_rows("SELECT road_id, length_m FROM layerdata.roads WHERE road_name = %s"
                                    " ORDER BY road_id", [name]):
        if total >= 5000:
            break
        ids.append(road_id)
        total += length
    return name, ids, total


def bench_widening(user, gpkg):
    name, ids, length = five_km_of_road()
    id_list = ",".join(map(str, ids))
    ours, (n1, a1) = timed(lambda: run_job(user, {"analysis": "road_widening", "road": {
        "layer": "roads", "filter": {"road_id__in": id_list}}, "target_width": WIDTH, "parcels": "parcels",
        "buildings": "buildings"}, "bench widening"))
    statement = (
        "CREATE TABLE bench_result AS WITH c AS (SELECT ST_Buffer(ST_LineMerge(ST_Union(geom)), %s,"
        " 'endcap=flat join=round') AS g FROM layerdata.roads WHERE road_id = ANY(%s))"
        " SELECT p.fid, p.parcel_no, p.owner_type, p.land_use, ST_Area(ST_Intersection(p.geom, c.g)) AS taken,"
        " (SELECT count(*) FROM layerdata.buildings b WHERE ST_Intersects(b.geom, ST_Intersection(p.geom, c.g)))"
        " AS buildings, ST_Multi(ST_CollectionExtract(ST_Intersection(p.geom, c.g), 3)) AS geom"
        " FROM layerdata.parcels p, c WHERE ST_Intersects(p.geom, c.g);"
        " DELETE FROM bench_result WHERE taken <= 0.01")

    sql_time, (n2, a2) = timed(lambda: plain_sql(statement, [WIDTH / 2, ids]))
    sql_indexed, _ = timed(lambda: plain_sql(statement, [WIDTH / 2, ids], indexed=True))

    def with_geopandas():
        roads = pyogrio.read_dataframe(gpkg, layer="roads", where=f"road_id IN ({id_list})")
        parcels = pyogrio.read_dataframe(gpkg, layer="parcels")
        corridor = geopandas.GeoDataFrame(geometry=[roads.union_all().buffer(WIDTH / 2, cap_style="flat")],
                                          crs=parcels.crs)
        hit = geopandas.overlay(parcels, corridor, how="intersection", keep_geom_type=True)
        hit["taken"] = hit.area
        hit = hit[hit["taken"] > 0.01]
        path = Path(tempfile.gettempdir()) / "civgis-bench-gpd-road.gpkg"
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(hit, path, layer="out")
        return len(hit), float(hit["taken"].sum())

    gpd_time, (n3, a3) = timed(with_geopandas)

    token = Token.objects.get_or_create(user=user)[0].key
    body = {"road": {"layer": "roads", "filter": {"road_id__in": id_list}}, "target_width": WIDTH,
            "parcels": "parcels", "buildings": "buildings"}
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    def via_report():
        answer = session.post(f"{base}/api/v1/analysis/road-widening/report/", json=body).json()
        return answer["totals"]["parcels"], answer["totals"]["affected_m2"]

    select = statement.removeprefix("CREATE TABLE bench_result AS ").split(";")[0]

    def hand_select():
        rows = [r for r in sql_rows(select, [WIDTH / 2, ids]) if r[4] > 0.01]
        return len(rows), sum(r[4] for r in rows)

    with common.gunicorn(workers=3) as base:
        timed(via_report, 2)  # warm the workers
        report_time, (n4, a4) = timed(via_report, 2 * RUNS + 1)
        select_time, (n5, a5) = timed(hand_select, 2 * RUNS + 1)
    print(f"widening report endpoint: {n4:,} parcels, {a4:,.0f} m² (SQL SELECT {n5:,}, {a5:,.0f} m²): civgis "
          f"{1000 * report_time:.0f} ms, plain SQL SELECT {1000 * select_time:.0f} ms — civgis/SQL "
          f"{report_time / select_time:.2f} (target ≤ 1.3), GeoPandas/civgis {gpd_time / report_time:.0f}×"
          " (target ≥ 5)")
    print(f"widening {name} ({length / 1000:.1f} km) to {WIDTH:g} m: {n1:,} parcels (SQL {n2:,}, GeoPandas {n3:,}),"
          f" {a1:,.0f} m² taken (SQL {a2:,.0f}, GeoPandas {a3:,.0f})")
    report("road widening", ours, sql_time, sql_indexed, gpd_time)


def main(args):
    gpkg = common.demo_city(args.size, geopackage=("parcels", "flood_zones", "roads"))
    user = User.objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})[0]
    parts = args.parts or ["intersect", "widening"]
    if "intersect" in parts:
        bench_intersect(user, gpkg)
    if "widening" in parts:
        bench_widening(user, gpkg)


if __name__ == "__main__":
    main(ARGS)
