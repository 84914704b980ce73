"""Overlay and road widening on layers whose answers are known by hand, plus property tests on random polygons."""

import json

import importfiles as files
import numpy as np
import pytest
import shapely
from django.contrib.auth.models import Group, User
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from analysis import jobs as analysis_jobs
from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def make_layer(tmp_path, slug, geoms, names, **more):
    fields = {"name": np.array(names, dtype=object), **{k: np.array(v) for k, v in more.items()}}
    path = files.write_vector(tmp_path / f"{slug}.gpkg", np.array(geoms, dtype=object), fields, "EPSG:3826", "GPKG")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


@pytest.fixture
def user(db):
    person = User.objects.create_user("planner")
    person.groups.add(Group.objects.create(name="都市發展局"))
    return person


@pytest.fixture
def lots_and_zones(tmp_path, db):
    make_layer(tmp_path, "lots", [box(0, 0, 100, 100), box(100, 0, 200, 100), box(300, 0, 400, 100),
                                  box(1020, 20, 1080, 80)], ["L1", "L2", "L3", "L4"], value=[1, 2, 3, 4])
    make_layer(tmp_path, "zones", [box(50, -50, 150, 50), box(1000, 0, 1100, 100)], ["Z1", "Z2"], depth=[0.5, 1.0])


def overlay(user, **body):
    resp = APIClient()
    resp.force_authenticate(user)
    answer = resp.post("/api/v1/analysis/overlay/", body, format="json")
    assert answer.status_code == 202, answer.content
    job = analysis_jobs.run(answer.json()["id"])
    assert job.status == "succeeded", job.errors
    return job.layers.get()


def rows(layer, columns, ordered=True):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM layerdata.{layer.table_name}{' ORDER BY fid' if ordered else ''}")
        return cur.fetchall()


def test_intersect_keeps_both_sides_and_takes_whole_features_unclipped(user, lots_and_zones):
    result = overlay(user, operation="intersect", a="lots", b="zones", title="套疊成果")
    assert result.title_zh == "套疊成果" and result.theme.slug == "analysis-results"
    assert [a["name"] for a in result.attributes] == ["a_fid", "name", "value", "b_fid", "zones_name", "depth"]
    got = rows(result, "name, zones_name, round(ST_Area(geom))")
    assert got == [("L1", "Z1", 2500), ("L2", "Z1", 2500), ("L4", "Z2", 3600)]
    assert rows(result, "count(*) FILTER (WHERE NOT ST_IsValid(geom))", ordered=False) == [(0,)]
    assert result.provenance["analysis"] == "overlay" and result.provenance["inputs"] == ["lots", "zones"]
    assert result.provenance["by"] == "planner" and result.owner_agency.name == "都市發展局"


def test_erase_clip_identity_union_areas(user, lots_and_zones):
    erase = overlay(user, operation="erase", a="lots", b="zones")
    assert rows(erase, "name, round(ST_Area(geom))") == [("L1", 7500), ("L2", 7500), ("L3", 10000)]
    clip = overlay(user, operation="clip", a="lots", b="zones")
    assert rows(clip, "name, round(ST_Area(geom))") == [("L1", 2500), ("L2", 2500), ("L4", 3600)]
    assert "zones_name" not in [a["name"] for a in clip.attributes]
    identity = overlay(user, operation="identity", a="lots", b="zones")
    assert rows(identity, "count(*), round(sum(ST_Area(geom)))", ordered=False) == [(6, 33600)]  # all of A, split by B
    union = overlay(user, operation="union", a="lots", b="zones")
    # area(A ∪ B) = 33,600 + 20,000 − 8,600
    assert rows(union, "count(*), round(sum(ST_Area(geom)))", ordered=False) == [(8, 45000)]
    b_only = [r for r in rows(union, "coalesce(name, '-'), zones_name, round(ST_Area(geom))") if r[0] == "-"]
    assert b_only == [("-", "Z1", 5000), ("-", "Z2", 6400)]  # the parts of B outside A


def test_filters_on_either_side(user, lots_and_zones):
    result = overlay(user, operation="intersect", a="lots", b="zones", a_filter={"value__lte": 2},
                     b_filter={"name": "Z1"})
    assert rows(result, "name") == [("L1",), ("L2",)]


def test_spatial_joins(user, lots_and_zones):
    one = overlay(user, operation="spatial_join", a="lots", b="zones")
    assert rows(one, "name, join_count, zones_name") == [("L1", 1, "Z1"), ("L2", 1, "Z1"), ("L3", 0, None),
                                                         ("L4", 1, "Z2")]
    many = overlay(user, operation="spatial_join", a="lots", b="zones", join="one_to_many", predicate="within")
    assert rows(many, "name, zones_name") == [("L4", "Z2")]
    near = overlay(user, operation="spatial_join", a="lots", b="zones", predicate="dwithin", distance=200)
    assert rows(near, "name, join_count") == [("L1", 1), ("L2", 1), ("L3", 1), ("L4", 1)]


@pytest.mark.parametrize("body, status, message", [
    ({"operation": "explode", "a": "lots", "b": "zones"}, 400, "operation 'explode'：請使用 intersect, union"),
    ({"operation": "intersect", "a": "lots", "b": "secret"}, 404, "無法提供給您"),
    ({"operation": "intersect", "a": "lots", "b": "nowhere"}, 404, "無法提供給您"),
    ({"operation": "intersect", "a": "lots", "b": "points"}, 400, "的疊合圖層必須是面；'points' 的圖形是 Point"),
    ({"operation": "union", "a": "points", "b": "zones"}, 400, "union 兩邊都必須是面"),
    ({"operation": "intersect", "a": "lots", "b": "zones", "a_filter": {"colour": "red"}}, 400,
     "'lots' 的篩選條件：不認得的篩選條件 'colour'"),
    ({"operation": "spatial_join", "a": "lots", "b": "zones", "predicate": "dwithin", "distance": 90_000}, 400,
     "distance：90000 公尺不在 0–50,000 公尺之間"),
])
def test_bad_overlay_requests(user, lots_and_zones, tmp_path, body, status, message):
    make_layer(tmp_path, "points", [shapely.Point(X0, Y0)], ["P"])
    secret = make_layer(tmp_path, "secret", [box(0, 0, 10, 10)], ["S"])
    Layer.objects.filter(pk=secret.pk).update(visibility="restricted")
    client = APIClient()
    client.force_authenticate(user)
    resp = client.post("/api/v1/analysis/overlay/", body, format="json")
    assert resp.status_code == status and message in resp.json()["detail"]
    assert not Job.objects.filter(kind="analysis").exists()


polygon = st.builds(
    lambda x, y, w, h, angle: shapely.affinity.rotate(box(x, y, x + w, y + h), angle),
    st.floats(0, 200), st.floats(0, 200), st.floats(5, 150), st.floats(5, 150), st.floats(0, 90))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.lists(polygon, min_size=1, max_size=3), b=st.lists(polygon, min_size=1, max_size=3))
def test_overlay_area_identities(user, tmp_path_factory, a, b):
    """area(A∩B) ≤ min(area A, area B); area(A∪B) = A + B − A∩B; erase + intersect = A — over dissolved inputs."""
    folder = tmp_path_factory.mktemp("prop")
    a_union, b_union = shapely.union_all(a), shapely.union_all(b)
    # dissolved, so that overlapping polygons within one layer do not count twice
    make_layer(folder, "pa", list(shapely.get_parts(a_union)), ["a"] * len(shapely.get_parts(a_union)))
    make_layer(folder, "pb", list(shapely.get_parts(b_union)), ["b"] * len(shapely.get_parts(b_union)))
    area = {}
    for op in ("intersect", "erase", "union"):
        result = overlay(user, operation=op, a="pa", b="pb")
        area[op] = rows(result, "coalesce(sum(ST_Area(geom)), 0)", ordered=False)[0][0]
        Layer.objects.filter(pk=result.pk).delete()
    area_a, area_b = a_union.area, b_union.area
    tolerance = 1e-6 * (area_a + area_b) + 1e-3
    assert area["intersect"] <= min(area_a, area_b) + tolerance
    assert area["union"] == pytest.approx(area_a + area_b - area["intersect"], abs=tolerance)
    assert area["erase"] + area["intersect"] == pytest.approx(area_a, abs=tolerance)
    assert area["intersect"] == pytest.approx(a_union.intersection(b_union).area, abs=tolerance)
    Layer.objects.filter(slug__in=["pa", "pb"]).delete()


@pytest.fixture
def street_blocks(tmp_path, db):
    make_layer(tmp_path, "parcels", [box(0, 10, 100, 60), box(0, -60, 100, -10), box(200, 100, 300, 200)],
               ["north", "south", "far"], owner=["私有", "市有", "私有"])
    make_layer(tmp_path, "buildings", [box(20, 12, 40, 30), box(60, 40, 80, 55)], ["b1", "b2"])
    streets = [shapely.LineString([(X0 - 50, Y0), (X0 + 50, Y0)]), shapely.LineString([(X0 + 50, Y0),
                                                                                        (X0 + 150, Y0)]),
               shapely.LineString([(X0 + 500, Y0 + 500), (X0 + 600, Y0 + 500)])]
    make_layer(tmp_path, "streets", streets, ["中正路", "中正路", "民生路"], width_m=[10.0, 10.0, 8.0])


@pytest.mark.django_db(transaction=True)  # the CSV report streams from a connection of its own
def test_road_widening_by_target_width_and_by_street_name(user, street_blocks, monkeypatch):
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)  # run here, not on a worker that may be up
    client = APIClient()
    client.force_authenticate(user)
    line = {"type": "LineString", "coordinates": [[X0 - 50, Y0], [X0 + 150, Y0]]}
    resp = client.post("/api/v1/analysis/road-widening/", {"centreline": line, "crs": 3826, "target_width": 30,
                                                            "buildings": "buildings"}, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    result = job.layers.get()
    got = rows(result, "name, owner, affected_m2, affected_ping, affected_pct, buildings_touched, building_ids")
    assert got == [("north", "私有", 500.0, 151.25, 10.0, 1, "1"), ("south", "市有", 500.0, 151.25, 10.0, 0, None)]
    assert any("1,000.0 m² (302.5 坪) taken, 1 buildings touched" in m for m in job.message_texts())
    # the same corridor from the street's own segments: 10 m today, 10 m more on each side
    resp = client.post("/api/v1/analysis/road-widening/", {"road": {"layer": "streets", "filter": {"name": "中正路"}},
                                                            "widen_each_side": 10}, format="json")
    job = analysis_jobs.run(resp.json()["id"])
    assert rows(job.layers.get(), "name, affected_m2") == [("north", 500.0), ("south", 500.0)]
    report = client.get(f"/api/v1/layers/{result.slug}/download/?format=csv")
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("parcel_fid,name,owner,affected_m2,affected_ping,affected_pct")
    page = client.get(f"/api/v1/layers/{result.slug}/download/?format=html")  # standalone folium map
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    body = page.content.decode()
    assert "<title>道路拓寬影響</title>" in body and "分析：road_widening" in body and "L.map(" in body
    assert body.count('"name": "north"') == 1 and body.count('"name": "south"') == 1


def test_road_widening_report_answers_at_once_with_whole_and_clipped_parcels(user, street_blocks):
    client = APIClient()
    client.force_authenticate(user)
    line = {"type": "LineString", "coordinates": [[X0 - 50, Y0], [X0 + 150, Y0]]}
    resp = client.post("/api/v1/analysis/road-widening/report/", {"centreline": line, "crs": 3826,
                                                                   "target_width": 30, "buildings": "buildings"},
                       format="json")
    assert resp.status_code == 200, resp.content
    answer = json.loads(resp.content)
    assert answer["totals"] == {"parcels": 2, "affected_m2": 1000.0, "affected_ping": 302.5, "buildings_touched": 1,
                                "corridor_width_m": 30.0, "centre_line_m": 200.0}
    props = [f["properties"] for f in answer["features"]]
    assert [(p["name"], p["affected_m2"], p["affected_pct"], p["building_ids"]) for p in props] == [
        ("north", 500.0, 10.0, "1"), ("south", 500.0, 10.0, None)]
    lon, lat = answer["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 121 < lon < 122 and 24 < lat < 26  # lon/lat for the map
    # 120 m wide: the blocks (10–60 m from the centre line) lie wholly inside and are taken whole
    resp = client.post("/api/v1/analysis/road-widening/report/", {"centreline": line, "crs": 3826,
                                                                   "target_width": 120}, format="json")
    props = [f["properties"] for f in json.loads(resp.content)["features"]]
    assert [(p["name"], p["affected_m2"], p["affected_pct"]) for p in props] == [
        ("north", 5000.0, 100.0), ("south", 5000.0, 100.0)]
    assert Layer.objects.filter(kind="vector").count() == 3  # nothing saved


@pytest.mark.parametrize("body, message", [
    ({"centreline": {"type": "Point", "coordinates": [X0, Y0]}, "crs": 3826, "target_width": 20}, "not a Point"),
    ({"road": {"layer": "streets", "filter": {"name": "無名路"}}, "target_width": 20}, "no feature"),
    ({"road": {"layer": "streets", "id": 1}, "target_width": 900}, "outside 0–200 m"),
    ({"road": {"layer": "streets", "id": 1}}, "give target_width"),
])
def test_bad_road_widening_requests(user, street_blocks, body, message):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    resp = client.post("/api/v1/analysis/road-widening/", body, format="json")
    assert resp.status_code == 400 and message in resp.json()["detail"]


def run_buffer_layer(user, **body):
    client = APIClient()
    client.force_authenticate(user)
    resp = client.post("/api/v1/analysis/buffer-layer/", body, format="json")
    if resp.status_code != 202:
        return resp
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    return job.layers.get()


def test_whole_layer_buffers_as_rings_and_dissolved(user, tmp_path):
    make_layer(tmp_path, "stops", [shapely.Point(X0, Y0), shapely.Point(X0 + 150, Y0), shapely.Point(X0 + 5000, Y0)],
               ["a", "b", "c"], reach=[100.0, 50.0, 0.0])
    rings = run_buffer_layer(user, layer="stops", distances=[100, 200], filter={"name__in": "a,b"})
    got = rows(rings, "source_fid, distance_m, inner_m, round(ST_Area(geom))")
    assert [r[:3] for r in got] == [(1, 100, 0), (2, 100, 0), (1, 200, 100), (2, 200, 100)]
    assert got[0][3] == pytest.approx(np.pi * 100**2, rel=2e-3)
    assert got[2][3] == pytest.approx(np.pi * (200**2 - 100**2), rel=2e-3)
    dissolved = run_buffer_layer(user, layer="stops", distances=[100], dissolve=True, filter={"name__in": "a,b"})
    assert not hasattr(dissolved, "status_code"), dissolved.json()
    (area,), = rows(dissolved, "round(ST_Area(geom))")
    lens = 2 * 100**2 * np.arccos(75 / 100) - 75 * np.sqrt(4 * 100**2 - 150**2)  # overlap of two r=100 circles
    assert area == pytest.approx(2 * np.pi * 100**2 - lens, rel=3e-3)
    by_attribute = run_buffer_layer(user, layer="stops", distance_attribute="reach")
    assert not hasattr(by_attribute, "status_code"), by_attribute.json()
    assert [round(a) for (a,) in rows(by_attribute, "ST_Area(geom)")] == pytest.approx(
        [np.pi * 100**2, np.pi * 50**2], rel=3e-3)  # the zero-reach stop has no buffer
    bad = run_buffer_layer(user, layer="stops", distances=[100], distance_attribute="reach")
    assert bad.status_code == 400 and "請擇一填寫" in bad.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_overlay_outside_a_transaction_shares_the_pieces_between_two_connections(user, lots_and_zones,
                                                                                 monkeypatch):
    """As on a worker: the pair computation runs on two connections; the answer is the same."""
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)
    result = overlay(user, operation="intersect", a="lots", b="zones")
    assert rows(result, "name, zones_name, round(ST_Area(geom))") == [("L1", "Z1", 2500), ("L2", "Z1", 2500),
                                                                      ("L4", "Z2", 3600)]
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'layerstaging'")
        assert cur.fetchall() == []  # pieces and partial pair tables are gone
