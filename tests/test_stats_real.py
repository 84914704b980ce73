"""The real statistics of ../shared/data/real joined to real boundaries, with the match counts measured once and
hand-checked figures (computed here independently of the platform: from the files themselves, areas with pyproj).

Skipped when ../shared is not beside the project. The files are read where they lie, never copied into the repo.
"""

import json
import shutil
from pathlib import Path

import pyogrio
import pytest
from pyproj import Geod

from jobs.models import Job
from layers.importing import jobs as layer_jobs
from layers.importing.pipeline import run_job
from stats import importing, indicators, joins
from stats.models import Indicator, StatTable

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not beside the project")]


def copy(tmp_path, *names) -> Path:
    """Uploads are consumed by their job: hand it copies in a folder of their own."""
    folder = tmp_path / f"up{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    for name in names:
        shutil.copy(REAL / name, folder / Path(name).name)
    return folder


def import_stats(tmp_path, *names, **options) -> StatTable:
    folder = copy(tmp_path, *names)
    job = importing.create(folder / Path(names[0]).name, [Path(n).name for n in names],
                           {"visibility": "public", **options})
    job = run_job(job.pk, work=importing._import)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    return job.layers.get().stat_table


def import_layer(tmp_path, name, **options):
    folder = copy(tmp_path, name)
    job = layer_jobs.create(folder / Path(name).name, Path(name).name, {"visibility": "public", **options})
    job = run_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    return job.layers.get()


def test_household_registry_joins_nlsc_villages_by_villcode_and_by_name(tmp_path):
    national = import_stats(tmp_path, "household-registry/moi-odrp013-population-by-indigenous-status-11506.json")
    assert (national.level, national.key, national.periods) == ("village", "villcode", ["2026-06-01"])
    assert national.layer.feature_count == 7771
    villages = import_layer(tmp_path, "tw-village-attrs-nlsc/VILLAGE_NLSC_1120928.dbf", slug="nlsc-villages")
    by_code = joins.join(national, villages)
    assert (by_code.rows, by_code.matched_rows, by_code.unmatched_rows) == (7771, 7745, 26)
    assert by_code.areas_without_data == 208  # 2023 villages since merged or renumbered
    assert by_code.unmatched_totals["people_total"] == 101_385
    assert by_code.boundary_version_number == 1
    # nobody dropped silently: matched + unmatched people = the file's total
    matched_people = _sum_people(national, by_code, matched=True)
    assert matched_people + by_code.unmatched_totals["people_total"] == 23_243_565
    by_name = joins.join(national, villages, key="name")
    assert (by_name.matched_rows, by_name.unmatched_rows, by_name.areas_without_data) == (7722, 49, 72)

    taoyuan = import_stats(tmp_path, "household-registry/taoyuan_odrp013_11506_derived.json")
    tj = joins.join(taoyuan, villages)
    assert (tj.rows, tj.matched_rows, tj.unmatched_rows) == (529, 516, 13)
    assert {r["code"] for r in tj.unmatched} >= {"68000010083", "68000020089", "68000080052"}
    # a district's total (桃園區, hand-summed from the file) = its matched villages + its 3 new ones
    rows = json.loads((REAL / "household-registry/taoyuan_odrp013_11506_derived.json").read_text())["data"]
    district = sum(int(r["people_total"]) for r in rows if r["district_code"].startswith("68000010"))
    new = sum(int(r["people_total"]) for r in rows if r["district_code"] in ("68000010083", "68000010084",
                                                                              "68000010085"))
    indicator = Indicator.objects.create(slug="ty-people", title_zh="人口", join=tj, formula="value",
                                         numerator="people_total", decimals=0)
    towns = {v["key"]: v for v in indicators.values(indicator, "town")["values"]}
    assert len(towns) == 13
    assert towns["68000010"]["value"] == district - new
    assert towns["68000010"]["name"] == "桃園市 桃園區"
    sex = Indicator.objects.create(slug="ty-male", title_zh="男性比例", join=tj, formula="share",
                                   numerator="people_total_m", denominator="people_total")
    city = indicators.values(sex, "county")
    [county] = city["values"]
    assert county["key"] == "68000" and 48 < county["value"] < 51
    assert city["unmatched"]["rows"] == 13


def _sum_people(table, join, matched):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT sum(people_total) FROM layerdata.{table.layer.table_name} s WHERE "  # noqa: S608
                    f"{'' if matched else 'NOT '}EXISTS (SELECT 1 FROM stats_joinmatch m WHERE m.join_id = %s "
                    "AND m.row_fid = s.fid)", [join.pk])
        return int(cur.fetchone()[0])


def test_segis_statistical_areas_join_code2_and_codebase_polygons(tmp_path):
    segis = import_stats(tmp_path, "segis/segisws_68000_U0200_106Y06M.json")
    assert (segis.level, segis.key, segis.periods) == ("codebase", "codebase", ["2017-06-01"])
    code2 = import_layer(tmp_path, "taoyuan-stat-areas/code2_68000.topo.json", slug="ty-code2")
    base = import_layer(tmp_path, "taoyuan-stat-areas/base_68000010.topo.json", slug="ty-base")
    j2 = joins.join(segis, code2, key="code2")
    assert (j2.rows, j2.matched_rows, j2.unmatched_rows, j2.areas_without_data) == (12797, 12797, 0, 29)
    jb = joins.join(segis, base)
    assert (jb.matched_rows, jb.areas_without_data) == (2003, 82)  # only 桃園區's polygons; a newer edition
    density = Indicator.objects.create(slug="code2-density", title_zh="人口密度", join=j2, formula="density",
                                       numerator="p_cnt", decimals=2)
    answer = indicators.values(density, "area")
    assert answer["indicator"]["unit"] == "人/平方公里"
    got = {v["key"]: v for v in answer["values"]}
    assert len(got) == 694
    # hand check: one 二級發布區's people (from the JSON) over its geodesic area (pyproj, GRS80)
    doc = json.loads((REAL / "segis/segisws_68000_U0200_106Y06M.json").read_text())
    people = sum(r["P_CNT"] for r in doc["RowDataList"] if r["CODE2"] == "A6801-01")
    frame = pyogrio.read_dataframe(REAL / "taoyuan-stat-areas/code2_68000.topo.json", where="CODE2 = 'A6801-01'")
    area = sum(abs(Geod(ellps="GRS80").geometry_area_perimeter(g)[0]) for g in frame.geometry) / 1e6
    assert got["A6801-01"]["value"] == pytest.approx(people / area, rel=1e-3)
    # the choropleth: every 二級發布區 polygon (29 without data), classes of the density, its unit in the legend
    from stats import maps

    layer = maps.publish(density, None, method="quantiles", class_count=5)
    assert (layer.feature_count, layer.kind, layer.slug) == (723, "vector", "ind-code2-density")
    value = next(a for a in layer.attributes if a["name"] == "value")
    assert (value["label"], value["unit"], value["unit_en"]) == ("人口密度", "人/平方公里", "people/km²")
    classes = layer.style.classes
    assert layer.style.kind == "graduated" and len([c for c in classes if not c.get("no_data")]) == 5
    assert classes[-1].get("no_data") and classes[-1]["count"] == 29
    # a district's total through the boundary's TOWN_ID: 桃園區 = every statistical area whose code is A6801-…
    people_district = sum(r["P_CNT"] for r in doc["RowDataList"] if r["CODEBASE"].startswith("A6801-"))
    total = Indicator.objects.create(slug="code2-people", title_zh="人口", join=j2, formula="value",
                                     numerator="p_cnt", decimals=0)
    towns = {v["key"]: v for v in indicators.values(total, "town")["values"]}
    assert towns["68000010"]["value"] == people_district
    assert sum(v["value"] for v in towns.values()) == 2_152_256


def test_census_2013_reaches_the_2010_village_polygons_through_the_g0v_crosswalk(tmp_path):
    census = import_stats(tmp_path, "tw-villages-2010/census2013-03.csv", code_column="ivid", period="102Y03M")
    assert (census.key, census.periods, census.layer.feature_count) == ("code", ["2013-03-01"], 7839)
    crosswalk = import_layer(tmp_path, "tw-villages-2010/districts.csv", slug="g0v-districts")
    polygons = import_layer(tmp_path, "tw-villages-2010/taoyuan_villages_2010_derived.geojson", slug="ty-vill-2010")
    record = joins.join(census, polygons, crosswalk={"layer": crosswalk, "from": "ivid", "county": "county",
                                                     "town": "town", "village": "name"})
    assert record.key == "name" and record.crosswalk["layer"] == "g0v-districts"
    # 378 of the 483 桃園縣 rows find their polygon by name (the boundaries predate the census: SOURCES.md's
    # VILLAGEID route places 381); the rest of the country is outside these polygons
    assert (record.rows, record.matched_rows, record.areas_without_data) == (7839, 378, 44)
    import csv

    with open(REAL / "tw-villages-2010/census2013-03.csv", encoding="utf-8") as f:
        people = [(r["ivid"], int(r["male"]) + int(r["female"])) for r in csv.DictReader(f)]
    total = sum(p for _i, p in people)
    assert _sum_columns(census, record, ("male", "female")) + record.unmatched_totals["male"] + \
        record.unmatched_totals["female"] == total
    count = Indicator.objects.create(slug="census-people", title_zh="男性", join=record, formula="value",
                                     numerator="male", decimals=0)
    [county] = indicators.values(count, "county")["values"]
    assert county["name"] == "桃園縣" and county["rows"] == 378


def _sum_columns(table, join, names):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT sum({' + '.join(names)}) FROM layerdata.{table.layer.table_name} s WHERE EXISTS "  # noqa: S608
                    "(SELECT 1 FROM stats_joinmatch m WHERE m.join_id = %s AND m.row_fid = s.fid)", [join.pk])
        return int(cur.fetchone()[0])


def test_segis_package_with_its_big5_dbf_joins_the_districts_by_towncode(tmp_path):
    segis = import_stats(tmp_path, "segis/Info.ini", "segis/Schema.ini", "segis/population.DBF")
    assert (segis.level, segis.key, segis.periods, segis.format) == ("town", "towncode", ["2017-12-01"], "segis")
    assert segis.layer.title_zh == "106年12月行政區人口統計_鄉鎮市區" and segis.layer.feature_count == 368
    people = next(a for a in segis.layer.attributes if a["name"] == "p_cnt")
    assert (people["label"], people["type"]) == ("人口數", "bigint")  # from Schema.ini; 165916.00000 read as a count
    districts = import_layer(tmp_path, "taoyuan-districts/taoyuan_towns_moi.json", slug="ty-towns")
    record = joins.join(segis, districts)
    # the 13 districts match; the other 355 towns of the country are outside this boundary layer
    assert (record.matched_rows, record.unmatched_rows, record.areas_without_data) == (13, 355, 0)
    assert record.unmatched_totals["p_cnt"] == 23_571_227 - 2_188_017
    total = Indicator.objects.create(slug="segis-towns", title_zh="人口", join=record, formula="value",
                                     numerator="p_cnt", decimals=0)
    [city] = indicators.values(total, "county")["values"]
    assert (city["key"], city["value"]) == ("68000", 2_188_017)
