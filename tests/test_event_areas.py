"""Event counts and rates by any polygon layer (statistical areas), grid cells and H3 cells, with residents
apportioned from the villages by their door numbers (dasymetric) or, without a visible address layer, by area — on a
tiny world whose answers are computed by hand (and, for H3, independently with h3 and shapely).

The world (metres from X0, Y0 in EPSG:3826; 500 m grid cells A = [0,500)², B = [500,1000)×[0,500),
C = [1000,1500)×[0,500)):
  villages  V1 = [0,1000)×[0,1000) 1,000 residents, door numbers 3 in A and 1 in B;
            V2 = [1000,2000)×[0,1000) 600 residents, no door numbers (so by area: a quarter in each 500 m cell)
  events    3 in A, 2 in B, 1 in C
  statistical areas S1 = [0,1000)×[0,500) (no population), S2 = V2
"""

import io
import json
from pathlib import Path

import h3
import importfiles as files
import numpy as np
import pyogrio
import pytest
import shapely
from django.contrib.auth.models import Group, User
from django.test import Client
from pyproj import Transformer

from events import residents
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000
EVENTS = [(120, 130), (140, 150), (410, 420), (800, 400), (900, 100), (1200, 200)]
DOORS = [(100, 100), (200, 200), (300, 300), (600, 100)]


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def make_layer(tmp_path, slug, geoms, visibility="public", agency=None, keywords=(), **fields):
    fields = {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in fields.items()}
    path = files.write_vector(tmp_path / f"{slug}.gpkg", np.array(geoms, dtype=object), fields, "EPSG:3826", "GPKG")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": visibility,
                                                "keywords": list(keywords),
                                                "owner_agency": agency.pk if agency else None}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


@pytest.fixture
def world(db, tmp_path):
    agency = Group.objects.create(name="民政局")
    admin = User.objects.create_superuser("ea-admin")
    officer = User.objects.create_user("ea-officer")
    clerk = User.objects.create_user("ea-clerk")
    clerk.groups.add(agency)
    make_layer(tmp_path, "villages", [box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], name=["甲里", "乙里"],
               population=[1000, 600])
    # the door numbers are the civil affairs bureau's: the officer does not see them, the clerk does
    make_layer(tmp_path, "doors", [pt(x, y) for x, y in DOORS], "restricted", agency, keywords=["門牌"],
               road=["中正路"] * 4, number=[f"{n}號" for n in range(1, 5)])
    make_layer(tmp_path, "stat-areas", [box(0, 0, 1000, 500), box(1000, 0, 2000, 1000)],
               codebase=["A0001-0001-00", "A0001-0002-00"])
    make_layer(tmp_path, "hidden-areas", [box(0, 0, 1000, 500)], "restricted", agency, name=["祕"])
    csv = "案件編號,受理日期,案件類別,處理狀態,TWD97 X,TWD97 Y\n" + "".join(
        f"E-{i},2026-11-0{1 + i % 3} 08:00,坑洞,待派工,{X0 + x},{Y0 + y}\n" for i, (x, y) in enumerate(EVENTS))
    f = io.BytesIO(csv.encode())
    f.name = "cases.csv"
    c = Client()
    c.force_login(admin)
    resp = c.post("/api/v1/events/import/", {"file": f, "slug": "ea-cases", "visibility": "public"})
    assert resp.status_code == 201, resp.content
    return {"officer": officer, "clerk": clerk, "admin": admin}


def counts(user, query):
    c = Client()
    c.force_login(user)
    return c.get(f"/api/v1/events/layers/ea-cases/counts/?{query}")


def by_area(answer):
    return {r["area"]: (r["count"], r["population"], r["rate_per_1000"]) for r in answer["results"]}


A, B, C = "560,5530", "561,5530", "562,5530"  # (X0 + x) // 500, (Y0 + y) // 500


def test_grid_rates_apportioned_by_door_numbers_and_by_area(world):
    got = counts(world["clerk"], "by=grid&cell=500&per_category=false").json()
    # V1's 1,000 residents: 3 of its 4 door numbers in A (750), 1 in B (250); V2 has none: a quarter of its area
    # (and of its 600 residents) in C
    assert by_area(got) == {A: (3, 750.0, 4.0), B: (2, 250.0, 8.0), C: (1, 150.0, 6.667)}
    assert got["population"]["source"] == residents.BY_ADDRESS_POINTS == "apportioned from villages by address points"
    assert got["population"]["address_layers"] == ["doors"] and got["population"]["villages_by_area"] == 1
    # without a visible address layer: every village by area — a quarter of V1 in A and in B
    got = counts(world["officer"], "by=grid&cell=500&per_category=false").json()
    assert by_area(got) == {A: (3, 250.0, 12.0), B: (2, 250.0, 8.0), C: (1, 150.0, 6.667)}
    assert got["population"]["source"] == "apportioned from villages by area"
    assert got["population"]["address_layers"] == []  # the restricted layer is not named


def test_an_area_layer_without_population_gets_apportioned_residents(world):
    got = counts(world["clerk"], "by=layer&areas=stat-areas&per_category=false").json()
    rows = {r["name"]: (r["count"], r["population"], r["rate_per_1000"]) for r in got["results"]}
    # S1 holds all of V1's door numbers (1,000 residents); S2 is V2 (by area: all 600)
    assert rows == {"A0001-0001-00": (5, 1000.0, 5.0), "A0001-0002-00": (1, 600.0, 1.667)}
    assert got["by"] == "layer" and got["areas"] == "stat-areas"
    # the villages themselves: their own residents
    got = counts(world["clerk"], "by=layer&areas=villages&per_category=false").json()
    assert {r["name"]: r["rate_per_1000"] for r in got["results"]} == {"甲里": 5.0, "乙里": 1.667}
    assert got["population"]["source"] == "layer"


def test_a_hidden_or_missing_area_layer_is_404_alike(world):
    hidden = counts(world["officer"], "by=layer&areas=hidden-areas")
    missing = counts(world["officer"], "by=layer&areas=no-such-areas")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.decode().replace("hidden-areas", "X") == missing.content.decode().replace(
        "no-such-areas", "X")
    assert counts(world["clerk"], "by=layer&areas=hidden-areas").status_code == 200
    assert counts(world["officer"], "by=layer").status_code == 400  # which layer?
    assert counts(world["officer"], "by=layer&areas=doors").status_code == 404  # not seen by the officer
    assert counts(world["clerk"], "by=layer&areas=doors").status_code == 400  # seen, but points
    for bad in ("resolution=6", "resolution=11", "resolution=x"):
        resp = counts(world["officer"], f"by=h3&{bad}")
        assert resp.status_code == 400 and "resolution" in resp.json()


def test_h3_cells_with_their_polygons_and_apportioned_rates(world):
    to_lonlat = Transformer.from_crs(3826, 4326, always_xy=True)
    to_metres = Transformer.from_crs(4326, 3826, always_xy=True)
    for resolution in (7, 9):
        got = counts(world["clerk"], f"by=h3&resolution={resolution}&per_category=false&geometry=true").json()
        assert got["h3"] == {"resolution": resolution,
                             "edge_m": round(h3.average_hexagon_edge_length(resolution, unit="m"), 1)}
        expected = {}
        for x, y in EVENTS:
            lon, lat = to_lonlat.transform(X0 + x, Y0 + y)
            cell = h3.latlng_to_cell(lat, lon, resolution)
            expected[cell] = expected.get(cell, 0) + 1
        assert {r["area"]: r["count"] for r in got["results"]} == expected
        for r in got["results"]:
            ring = r["polygon"]["coordinates"][0]
            assert ring[0] == ring[-1] and len(ring) == 7  # a hexagon (these cells are no pentagons)
            # residents by hand: V1's 1,000 by its door numbers in the cell, V2's 600 by its area in the cell
            hexagon = shapely.Polygon([to_metres.transform(lon, lat) for lon, lat in ring])
            doors = sum(hexagon.contains(pt(x, y)) for x, y in DOORS)
            v2 = hexagon.intersection(box(1000, 0, 2000, 1000)).area / 1e6
            people = 1000 * doors / 4 + 600 * v2
            assert r["population"] == pytest.approx(people, abs=0.1)
            if people:  # from the residents before rounding
                assert r["rate_per_1000"] == pytest.approx(r["count"] / people * 1000, rel=1e-4, abs=1e-3)
        assert {f["properties"]["area"] for f in got["features"]["features"]} == set(expected)
    assert h3.average_hexagon_edge_length(8, unit="m") == pytest.approx(531.4, abs=0.1)


def test_the_page_offers_the_new_area_kinds_and_draws_them(world):
    c = Client()
    c.force_login(world["clerk"])
    page = c.get("/events/?layer=ea-cases&by=h3&resolution=9").content.decode()
    assert "H3 六角網格" in page and 'id="events-map-data"' in page and "由村里人口依門牌點數比例分配" in page
    edge = round(h3.average_hexagon_edge_length(9, unit="m"), 1)
    assert f"六角形平均邊長 {edge} 公尺" in page
    english = c.get("/events/?layer=ea-cases&by=layer&areas=stat-areas", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "H3 hexagons" in english and "A0001-0001-00" in english and "Rate per 1,000 residents" in english
    assert "apportioned from the villages by door numbers" in english
    hidden = Client().get("/events/?layer=ea-cases&by=layer&areas=hidden-areas").content.decode()
    assert "hidden-areas" in hidden and "祕" not in hidden  # answered as a missing layer, nothing of it shown


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not beside the project")
def test_rates_by_the_real_statistical_areas_with_their_segis_residents(tmp_path):
    """Taoyuan's 二級發布區 (723 polygons) with SEGIS's 最小統計區 population (106Y06M) joined by CODE2: events in
    A6801-01 per 1,000 of its residents, summed by hand from the JSON."""
    from test_stats_real import import_layer, import_stats

    from stats import joins

    admin = User.objects.create_superuser("ea-real")
    segis = import_stats(tmp_path, "segis/segisws_68000_U0200_106Y06M.json")
    code2 = import_layer(tmp_path, "taoyuan-stat-areas/code2_68000.topo.json", slug="ty-code2")
    joins.join(segis, code2, key="code2")
    frame = pyogrio.read_dataframe(REAL / "taoyuan-stat-areas/code2_68000.topo.json", where="CODE2 = 'A6801-01'")
    inside = shapely.union_all(frame.geometry.values).representative_point()
    csv = "案件編號,受理日期,案件類別,經度,緯度\n" + "".join(
        f"R-{i},2026-11-02 08:00,坑洞,{inside.x},{inside.y}\n" for i in range(7))
    f = io.BytesIO(csv.encode())
    f.name = "real.csv"
    c = Client()
    c.force_login(admin)
    assert c.post("/api/v1/events/import/", {"file": f, "slug": "ea-real", "visibility": "public"}).status_code == 201
    got = c.get("/api/v1/events/layers/ea-real/counts/?by=layer&areas=ty-code2&per_category=false").json()
    doc = json.loads((REAL / "segis/segisws_68000_U0200_106Y06M.json").read_text())
    people = sum(r["P_CNT"] for r in doc["RowDataList"] if r["CODE2"] == "A6801-01")
    [row] = got["results"]
    assert (row["name"], row["count"], row["population"]) == ("A6801-01", 7, people)
    assert row["rate_per_1000"] == round(7 / people * 1000, 3)
    assert got["population"]["source"] == "statistics" and got["population"]["period"] == "2017-06-01"
