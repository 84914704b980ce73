"""What attributes are (issue 14): labels in both languages, units, kinds and formats, guessed from names and
values (the demo city, real Taiwanese files), editable in the catalog API; buffer summaries that add up only what
adds up; CSV downloads without float noise."""

import csv
import io
import json

import importfiles as files
import numpy as np
import pytest
import shapely
from conftest import SHARED_DATA, generated_city
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from layers import attribute_kinds
from layers.attribute_kinds import guess, known
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

REAL = SHARED_DATA / "real"
pytestmark = pytest.mark.django_db

# (kind, zh-Hant label, English label, zh unit, English unit, aggregate) the demo city's key columns must get
DEMO_EXPECTED = {
    ("parcels", "parcel_id"): ("identifier", "宗地編號", "Parcel ID", "", "", "none"),
    ("parcels", "section"): ("category", "地段", "Cadastral section", "", "", "none"),
    ("parcels", "parcel_no"): ("identifier", "地號", "Parcel number", "", "", "none"),
    ("parcels", "land_use_code"): ("category", "使用分區代碼", "Land-use code", "", "", "none"),
    ("parcels", "area_m2"): ("measure", "面積", "Area", "平方公尺", "m²", "sum"),
    ("parcels", "land_value"): ("money", "公告土地現值", "Announced land value", "元/平方公尺", "NT$/m²", "mean"),
    ("buildings", "year_built"): ("date", "建造年份", "Year built", "年", "", "mean"),
    ("buildings", "height_m"): ("measure", "高度", "Height", "公尺", "m", "mean"),
    ("buildings", "floors"): ("count", "樓層數", "Floors", "層", "floors", "mean"),
    ("villages", "village_code"): ("identifier", "村里代碼", "Village code", "", "", "none"),
    ("villages", "population"): ("count", "人口數", "Population", "人", "people", "sum"),
    ("villages", "households"): ("count", "戶數", "Households", "戶", "households", "sum"),
    ("villages", "age_0_14"): ("count", "0–14 歲人口", "Population aged 0–14", "人", "people", "sum"),
    ("villages", "age_65_plus"): ("count", "65 歲以上人口", "Population aged 65+", "人", "people", "sum"),
    ("villages", "density_per_km2"): ("ratio", "人口密度", "Population density", "人/平方公里", "people/km²", "mean"),
    ("flood_zones", "depth_max_m"): ("measure", "最大淹水深度", "Maximum flood depth", "公尺", "m", "mean"),
    ("flood_zones", "area_ha"): ("measure", "面積", "Area", "公頃", "ha", "sum"),
    ("roads", "width_m"): ("measure", "寬度", "Width", "公尺", "m", "mean"),
    ("facilities", "opened_year"): ("date", "啟用年份", "Year opened", "年", "", "mean"),
    ("wifi_usage", "traffic_mb"): ("measure", "流量", "Traffic", "MB", "MB", "sum"),
}


def _values(column):
    pgtype, values = column
    return pgtype, [v.item() if hasattr(v, "item") else v for v in list(values)[:500]]


def test_every_demo_city_column_is_a_known_one_labelled_in_both_languages():
    city = generated_city(2026, 0.05)
    for layer_name, layer in city.layers.items():
        for name, column in layer.columns.items():
            pgtype, values = _values(column)
            assert known(name), f"{layer_name}.{name} is not in the table of known columns"
            g = guess(name, pgtype, "", values)
            assert g["label"] != name and g["label_en"] and "_" not in g["label_en"], (layer_name, name, g)
            expected = DEMO_EXPECTED.get((layer_name, name))
            if expected:
                assert (g["kind"], g["label"], g["label_en"], g["unit"], g["unit_en"], g["aggregate"]) == expected


def test_nothing_that_must_not_be_summed_is_summable_in_the_demo_city():
    city = generated_city(2026, 0.05)
    for layer in city.layers.values():
        for name, column in layer.columns.items():
            pgtype, values = _values(column)
            g = guess(name, pgtype, "", values)
            if g["kind"] in ("identifier", "category", "text", "date", "ratio") or name in ("height_m", "width_m"):
                assert g["aggregate"] != "sum", name


def test_values_decide_decimals_and_unknown_numbers_are_averaged():
    assert guess("score", "double precision", "", [2226.7000000000003, 12.25, 3.0])["decimals"] == 2
    unknown = guess("score", "integer", "", [3, 5, 8])
    assert (unknown["kind"], unknown["aggregate"]) == ("measure", "mean")
    assert guess("built_year", "integer", "", [1970, 1985, 2001])["kind"] == "date"
    assert guess("share_x", "double precision", "", [0.1, 0.5])["kind"] == "ratio"
    # a Chinese header keeps its own words; a known one gets an English label
    exit_name = guess("field_2", "text", "出入口名稱", ["淡水站出口1"])
    assert (exit_name["label"], exit_name["label_en"]) == ("出入口名稱", "Name")
    assert guess("field_3", "integer", "人口數", [10, 20])["label_en"] == "Population"


def test_household_registry_columns():
    path = REAL / "household-registry" / "taoyuan_odrp013_11506_derived.json"
    if not path.exists():
        pytest.skip("the household-registry file is not present")
    rows = json.loads(path.read_text(encoding="utf-8"))["data"]
    got = {name: guess(name, "text", "", [r[name] for r in rows[:300]]) for name in rows[0]}
    assert (got["district_code"]["kind"], got["district_code"]["label"]) == ("identifier", "村里代碼")
    assert (got["site_id"]["kind"], got["site_id"]["label"]) == ("category", "區域別")
    assert (got["people_total"]["kind"], got["people_total"]["unit"]) == ("count", "人")
    assert got["people_total_m"]["label"] == "男性人口" and got["people_total_f"]["label_en"] == "Female population"
    assert got["indigenous_plain_total_f"]["label"] == "平地原住民女性人口"
    assert got["nindigenous_total_m"]["label_en"] == "Non-indigenous male population"
    assert got["statistic_yyymm"]["kind"] == "date"
    # numbers kept as text are shown, never added up until converted
    assert {g["aggregate"] for g in got.values()} == {"none"}


def run_import(path, **options):
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": "public", **options}).pk)
    assert job.status == "succeeded", job.errors
    return job.layers.get()


def by_name(layer):
    return {a["name"]: a for a in Layer.objects.get(pk=layer.pk).attributes}


def test_real_files_are_described_on_import():
    sanhe, mrt = REAL / "tw-village-attrs-nlsc" / "Village_Sanhe.shp", REAL / "taipei-mrt" / "TpeMRTRoutes_TWD97.shp"
    census = REAL / "tw-villages-2010" / "census2013-03.csv"
    if not (sanhe.exists() and mrt.exists() and census.exists()):
        pytest.skip("the real files are not present")
    village = by_name(run_import(sanhe))
    assert (village["villcode"]["kind"], village["villcode"]["label"]) == ("identifier", "村里代碼")
    assert (village["towncode"]["label_en"], village["countyname"]["label"]) == ("Township code", "縣市")
    assert village["villname"]["kind"] == "category"
    routes = by_name(run_import(mrt))
    assert (routes["routename"]["label"], routes["routename"]["kind"]) == ("路線", "category")
    assert (routes["length"]["unit"], routes["length"]["aggregate"]) == ("公尺", "sum")
    assert routes["objectid"]["kind"] == "identifier"
    people = by_name(run_import(census))
    assert (people["household"]["label"], people["household"]["unit"]) == ("戶數", "戶")
    assert (people["male"]["kind"], people["ivid"]["kind"]) == ("count", "identifier")


@pytest.fixture
def town(tmp_path):
    """Two buildings (years, heights, a float with noise) and two 1 km² villages of 1,001 people each."""
    buildings = np.array([shapely.box(279_990, 2_764_990, 280_010, 2_765_010),
                          shapely.box(280_050, 2_764_990, 280_070, 2_765_010)])
    files.write_vector(tmp_path / "houses.gpkg", buildings, {
        "building_id": np.array([7, 8]), "year_built": np.array([1988, 2004]),
        "height_m": np.array([12.5, 30.1]), "floor_area_m2": np.array([2226.7000000000003, 1000.05]),
    }, "EPSG:3826", "GPKG")
    villages = np.array([shapely.box(279_000, 2_764_000, 280_000, 2_765_000),
                         shapely.box(280_000, 2_764_000, 281_000, 2_765_000)])
    files.write_vector(tmp_path / "wards.gpkg", villages, {
        "name": np.array(["東里", "西里"], dtype=object), "village_code": np.array(["68000010001", "68000010002"],
                                                                                 dtype=object),
        "population": np.array([1001, 1001]), "density_per_km2": np.array([1001.0, 1001.0]),
    }, "EPSG:3826", "GPKG")
    return run_import(tmp_path / "houses.gpkg"), run_import(tmp_path / "wards.gpkg")


def buffer(layers, distance=300, **extra):
    body = {"geometry": {"type": "Point", "coordinates": [280_000, 2_765_000]}, "crs": 3826,
            "distances": [distance], "layers": layers, **extra}
    return APIClient().post("/api/v1/analysis/buffer/", body, format="json")


def test_buffer_summary_by_kind_never_sums_years_heights_or_codes(town):
    houses, wards = town
    body = buffer([houses.slug, wards.slug]).json()
    [buildings, villages] = body["zones"][0]["summaries"]
    figures = {f["name"]: f for f in buildings["figures"]}
    assert "building_id" not in figures  # identifiers are never summed, nor averaged
    year, height = figures["year_built"], figures["height_m"]
    assert (year["statistic"], year["value"], year["min"], year["max"]) == ("mean", 1996, 1988, 2004)
    assert (height["statistic"], height["unit"], height["value"]) == ("mean", "公尺", 21.3)
    # an area layer's floor area is apportioned; the estimate carries its unit and decimals
    assert figures["floor_area_m2"]["statistic"] == "estimate" and figures["floor_area_m2"]["unit"] == "平方公尺"
    for summary in (buildings, villages):
        for f in summary["figures"]:
            assert f["statistic"] == "mean" or f["kind"] in ("count", "measure", "money"), f
    people = {f["name"]: f for f in villages["figures"]}["population"]
    quarter_circles = 2 * np.pi * 300**2 / 4 / 1e6 * 1001  # 141.5 people (the buffer's polygon is a bit less)
    assert abs(people["value"] - quarter_circles) < 1 and isinstance(people["value"], int)
    assert (people["statistic"], people["label"], people["unit_en"]) == ("estimate", "人口數", "people")
    assert "village_code" not in {f["name"] for f in villages["figures"]}
    density = {f["name"]: f for f in villages["figures"]}["density_per_km2"]
    assert (density["statistic"], density["value"], density["unit"]) == ("mean", 1001.0, "人/平方公里")


def test_a_year_cannot_be_apportioned(town):
    houses, _wards = town
    resp = buffer([{"layer": houses.slug, "apportion": ["year_built"]}])
    assert resp.status_code == 400 and "'year_built' (date)" in resp.json()["detail"]


@pytest.mark.django_db(transaction=True)  # the CSV streams from a connection of its own
def test_csv_download_rounds_by_the_attributes_format(town):
    houses, _wards = town
    resp = APIClient().get(f"/api/v1/layers/{houses.slug}/download/?format=csv")
    assert resp.status_code == 200
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["floor_area_m2"] for r in rows] == ["2226.70", "1000.05"]
    assert "0000000000003" not in text


def test_editors_correct_what_an_attribute_is_and_a_reimport_keeps_it(town, tmp_path):
    houses, _wards = town
    admin = User.objects.create_superuser("admin", password="x")
    client = APIClient()
    client.force_authenticate(admin)
    url = f"/api/v1/layers/{houses.slug}/"
    good = {"attribute_descriptions": {"height_m": {"label": "建物高度", "label_en": "Building height",
                                                    "decimals": 2}},
            "attribute_labels": {"year_built": "竣工年"}}
    assert client.patch(url, good, format="json").status_code == 200
    attrs = by_name(houses)
    assert (attrs["height_m"]["label"], attrs["height_m"]["decimals"], attrs["height_m"]["unit"]) == \
        ("建物高度", 2, "公尺")
    assert attrs["year_built"]["label"] == "竣工年"
    for edit, message in [({"year_built": {"aggregate": "sum"}}, "cannot be summed"),
                          ({"height_m": {"kind": "size"}}, "kind: 'size' is not one of"),
                          ({"height_m": {"decimals": 9}}, "decimals"),
                          ({"height_m": {"colour": "red"}}, "unknown field(s) colour"),
                          ({"nope": {"label": "x"}}, "no such attribute(s): nope")]:
        resp = client.patch(url, {"attribute_descriptions": edit}, format="json")
        assert resp.status_code == 400 and message in json.dumps(resp.json(), ensure_ascii=False), edit
    assert by_name(houses)["height_m"]["label"] == "建物高度"  # nothing half-written
    run_import(tmp_path / "houses.gpkg", layer=houses.slug)
    assert by_name(houses)["height_m"]["label_en"] == "Building height"


def test_legends_in_ascending_order_with_a_no_data_class_and_a_titled_unit(tmp_path):
    from layers.catalog import default_style
    from layers.ogc.sld import legend_title, render_sld
    from layers.styles import compute_classes

    zones = np.array([shapely.box(280_000 + 10 * i, 2_765_000, 280_008 + 10 * i, 2_765_008) for i in range(6)])
    # the deepest class is the commonest: by count it would come first
    depth = np.array(["2.0–3.0 m", "2.0–3.0 m", "2.0–3.0 m", "0.5–1.0 m", "0.3–0.5 m", None], dtype=object)
    files.write_vector(tmp_path / "floods.gpkg", zones, {"depth_class": depth,
                                                         "density_per_km2": np.array([5.0, 9, 12, 30, 31, np.nan])},
                       "EPSG:3826", "GPKG")
    layer = run_import(tmp_path / "floods.gpkg")
    style = default_style(layer)
    style.kind, style.attribute = "categorized", "depth_class"
    classes = compute_classes(style)
    assert [c["label"] for c in classes] == ["0.3–0.5 m", "0.5–1.0 m", "2.0–3.0 m", "無資料 (no data)"]
    assert classes[-1]["no_data"] and classes[-1]["count"] == 1
    style.kind, style.attribute, style.method, style.class_count = "graduated", "density_per_km2", "quantiles", 2
    style.classes = compute_classes(style)
    assert style.classes[-1].get("no_data") and all(c["min"] <= c["max"] for c in style.classes[:-1])
    assert [c["min"] for c in style.classes[:-1]] == sorted(c["min"] for c in style.classes[:-1])
    assert legend_title(layer, style).endswith("：人口密度（人/平方公里），分位數")
    sld = render_sld(layer, style).decode()
    assert "PropertyIsNull" in sld and "人/平方公里</Title>" in sld


def test_category_values_have_labels_in_both_languages_and_editors_can_correct_them(tmp_path):
    """A land-use column holding 住宅區, 公園用地 … knows them in English (legends and identify in English mode read
    `values`); an editor adds or corrects a value's labels through the same PATCH; the viewer's layer list carries
    them."""
    city = generated_city(2026, 0.05)
    pgtype, values = _values(city.layers["parcels"].columns["land_use"])
    named = guess("land_use", pgtype, "", values)["values"]
    assert named["住宅區"] == {"label": "住宅區", "label_en": "Residential zone"}
    assert set(named) == set(values)  # every zone of the demo city is known
    assert "values" not in guess("section", pgtype, "", ["中正段", "大興段"])  # place names stay as they are
    lots = np.array([shapely.box(280_000 + 20 * i, 2_765_000, 280_010 + 20 * i, 2_765_010) for i in range(3)])
    files.write_vector(tmp_path / "lots.gpkg", lots, {"zone": np.array(["住宅區", "公園用地", "特定專用區"],
                                                                       dtype=object)}, "EPSG:3826", "GPKG")
    lots_layer = run_import(tmp_path / "lots.gpkg")
    zone = by_name(lots_layer)["zone"]
    assert zone["kind"] == "category" and set(zone["values"]) == {"住宅區", "公園用地"}
    admin = User.objects.create_superuser("values-admin", password="x")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    url = f"/api/v1/layers/{lots_layer.slug}/"
    edit = {"attribute_descriptions": {"zone": {"values": {"特定專用區": {"label": "特定專用區",
                                                                            "label_en": "Special-purpose zone"},
                                                           "公園用地": {"label_en": "Park"}}}}}
    assert client.patch(url, edit, format="json").status_code == 200
    zone = by_name(lots_layer)["zone"]
    assert zone["values"]["特定專用區"]["label_en"] == "Special-purpose zone"
    assert zone["values"]["公園用地"] == {"label": "公園用地", "label_en": "Park"}
    bad = client.patch(url, {"attribute_descriptions": {"zone": {"values": {"住宅區": "Residential"}}}}, format="json")
    assert bad.status_code == 400 and "values" in json.dumps(bad.json())
    page = client.get("/viewer/layers.json").json()
    entry = next(layer for layer in page["layers"] if layer["slug"] == lots_layer.slug)
    [shown] = [a for a in entry["attributes"] if a["name"] == "zone"]
    assert shown["values"]["住宅區"]["label_en"] == "Residential zone"


def test_a_title_names_its_unit_once():
    floors = {"name": "floors", "label": "樓層數", "label_en": "Floors", "unit": "層", "unit_en": "floors"}
    assert attribute_kinds.title_of(floors) == "樓層數（層）"
    assert attribute_kinds.title_of(floors, english=True) == "Floors"  # not "Floors (floors)"
    density = {"name": "d", "label": "人口密度", "label_en": "Population density", "unit": "人/平方公里",
               "unit_en": "people/km²"}
    assert attribute_kinds.title_of(density, english=True) == "Population density (people/km²)"
