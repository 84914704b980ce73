"""Measurement, distance, nearest and buffer, checked against answers known by hand."""

import math

import importfiles as files
import numpy as np
import pytest
import shapely
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from geo.crs import transform
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db


def post(path, body, user=None, language="zh-hant"):
    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user:
        c.force_authenticate(user)
    return c.post(f"/api/v1/analysis/{path}/", body, format="json")


def square_3826(x0=280_000, y0=2_765_000, side=1000.0):
    return shapely.geometry.mapping(shapely.box(x0, y0, x0 + side, y0 + side))


def test_a_one_kilometre_square_in_twd97():
    body = post("measure", {"geometry": square_3826(), "crs": 3826}).json()
    planar = body["planar_twd97"]
    assert planar["area"]["m2"] == pytest.approx(1_000_000)
    assert planar["area"]["ha"] == pytest.approx(100) and planar["area"]["km2"] == pytest.approx(1)
    assert planar["area"]["ping"] == pytest.approx(302_500)  # 1 坪 = 400/121 m²
    assert planar["perimeter"]["km"] == pytest.approx(4)
    # ~30 km east of the central meridian the TM2 scale is ~0.99991: the true area is a little larger
    assert body["geodesic"]["area"]["m2"] == pytest.approx(1_000_000 / 0.99991**2, rel=1e-4)


def test_a_circle_and_a_line_in_lonlat():
    centre = transform(shapely.Point(280_000, 2_765_000), 3826, 4326)
    circle = transform(shapely.buffer(shapely.Point(280_000, 2_765_000), 500, quad_segs=64), 3826, 4326)
    body = post("measure", {"geometry": shapely.geometry.mapping(circle)}).json()
    assert body["planar_twd97"]["area"]["m2"] == pytest.approx(math.pi * 500**2, rel=1e-3)
    line = shapely.LineString([(centre.x, centre.y), (centre.x, centre.y + 0.01)])
    length = post("measure", {"geometry": shapely.geometry.mapping(line)}).json()["geodesic"]["length"]["m"]
    # 0.01° of latitude at 25°N on GRS80: meridian radius of curvature × 0.01 × π/180
    a, e2 = 6_378_137.0, 0.00669438002290
    m = a * (1 - e2) / (1 - e2 * math.sin(math.radians(centre.y + 0.005)) ** 2) ** 1.5
    assert length == pytest.approx(m * math.radians(0.01), abs=0.01)


def test_distance_between_geometries():
    a = shapely.geometry.mapping(shapely.Point(280_000, 2_765_000))
    b = square_3826(281_000, 2_765_000, 100)
    body = post("distance", {"from": a, "to": b, "crs": "EPSG:3826"}).json()
    assert body["planar_twd97"]["m"] == pytest.approx(1000)
    assert body["geodesic"]["m"] == pytest.approx(1000 / 0.99991, rel=2e-4)


@pytest.mark.parametrize("body, message", [
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "crs": 3826},
     "invalid geometry — Self-intersection"),
    ({"geometry": {"type": "Point", "coordinates": [25.0, 121.5]}}, "axes swapped"),
    ({"geometry": {"type": "Point", "coordinates": [121.5, 25.0]}, "crs": 999999}, "EPSG:999999"),
    ({"geometry": "not json"}, "not a GeoJSON geometry"),
    ({}, "geometry: missing"),
])
def test_bad_measure_input(body, message):
    resp = post("measure", body, language="en")
    assert resp.status_code == 400 and message in resp.json()["detail"]


@pytest.fixture
def city_layers(tmp_path, db):
    """Three points 100 m, 400 m and 900 m east of a centre, and two 1 km² villages with 1,000 people each."""
    points = shapely.points([(280_100, 2_765_000), (280_400, 2_765_000), (280_900, 2_765_000)])
    files.write_vector(tmp_path / "shops.gpkg", points, {"name": np.array(["甲", "乙", "丙"], dtype=object),
                                                         "sales": np.array([10, 20, 30])}, "EPSG:3826", "GPKG")
    villages = np.array([shapely.box(279_000, 2_764_000, 280_000, 2_765_000),
                               shapely.box(280_000, 2_764_000, 281_000, 2_765_000)])
    files.write_vector(tmp_path / "villages.gpkg", villages, {"name": np.array(["東里", "西里"], dtype=object),
                                                              "population": np.array([1000, 1000])},
                       "EPSG:3826", "GPKG")
    for name in ("shops.gpkg", "villages.gpkg"):
        job = run_job(jobs.create(tmp_path / name, name, {"mode": "upsert", "visibility": "public"}).pk)
        assert job.status == "succeeded", job.errors


def test_nearest_features(city_layers):
    body = post("nearest", {"layer": "shops", "geometry": {"type": "Point", "coordinates": [280_000, 2_765_000]},
                            "crs": 3826, "count": 2}).json()
    assert [(n["label"], round(n["planar"]["m"])) for n in body["nearest"]] == [("甲", 100), ("乙", 400)]
    assert body["nearest"][0]["geodesic"]["m"] == pytest.approx(100, rel=5e-4)


def test_buffer_rings_counts_sums_and_area_weighted_population(city_layers):
    body = post("buffer", {"geometry": {"type": "Point", "coordinates": [280_000, 2_765_000]}, "crs": 3826,
                           "distances": [500, 300, 1000], "layers": ["shops", "villages"]}).json()
    assert [z["distance_m"] for z in body["zones"]] == [300, 500, 1000]
    shops = [z["summaries"][0] for z in body["zones"]]
    assert [s["count"] for s in shops] == [1, 2, 3]
    sales = [{f["name"]: f for f in s["figures"]}["sales"] for s in shops]
    assert [(f["statistic"], f["value"]) for f in sales] == [("mean", 10), ("mean", 15), ("mean", 20)]
    assert (sales[2]["min"], sales[2]["max"]) == (10, 30)  # an unknown number is averaged, never summed
    assert [f["label"] for f in shops[1]["features"]] == ["甲", "乙"]
    villages = body["zones"][0]["summaries"][1]
    # a 300 m circle centred on the corner both villages share: a quarter circle in each, below the line y=2,765,000
    quarter = math.pi * 300**2 / 4 / 1_000_000 * 1000
    [population] = [f for f in villages["figures"] if f["name"] == "population"]
    assert population["statistic"] == "estimate" and population["value"] == round(2 * quarter)
    assert (population["label"], population["label_en"], population["unit"], population["kind"]) == \
        ("人口數", "Population", "人", "count")
    assert "area-weighted estimate" in villages["estimate_note"]
    ring = shapely.geometry.shape(body["zones"][1]["ring"])
    assert ring.geom_type == "Polygon" and len(ring.interiors) == 1  # the 300–500 m band
    assert body["zones"][0]["zone_area"]["m2"] == pytest.approx(math.pi * 300**2, rel=1e-3)


@pytest.mark.parametrize("body, status, message", [
    ({"distances": [-5]}, 400, "-5 公尺不在 0–50,000 公尺之間"),
    ({"distances": [60_000]}, 400, "不在 0–50,000 公尺之間"),
    ({"distances": ["far"]}, 400, "distances：請填公尺數"),
    ({"distances": [100], "layers": [{"layer": "shops", "apportion": ["sales"]}]}, 400, "只有面圖層能依面積分攤"),
    ({"distances": [100], "layers": ["secret"]}, 404, "無法提供給您"),
    ({"distances": [100], "layers": ["no-such-layer"]}, 404, "無法提供給您"),
])
def test_bad_buffer_input(city_layers, body, status, message):
    Layer.objects.filter(slug="villages").update(slug="secret", visibility="restricted",
                                                 owner_agency=Group.objects.create(name="民政局"))
    resp = post("buffer", {"geometry": {"type": "Point", "coordinates": [280_000, 2_765_000]}, "crs": 3826, **body})
    assert resp.status_code == status and message in resp.json()["detail"]


def test_buffer_of_a_stored_feature_for_its_agency(city_layers):
    agency = Group.objects.create(name="民政局")
    Layer.objects.filter(slug="villages").update(visibility="restricted", owner_agency=agency)
    body = {"layer": "villages", "id": 1, "distances": [100], "layers": ["shops"]}
    assert post("buffer", body).status_code == 404
    member = User.objects.create_user("clerk")
    member.groups.add(agency)
    resp = post("buffer", body, member)
    assert resp.status_code == 200
    assert resp.json()["zones"][0]["zone_area"]["m2"] == pytest.approx(1_000_000 + 4 * 100_000 + math.pi * 100**2,
                                                                       rel=1e-3)
