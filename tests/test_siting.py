"""Facility siting: suitability scores known by hand, location-allocation on the demo city checked against an
independent count, the two result layers and the report, and bad requests."""

import importfiles as files
import numpy as np
import pytest
import shapely
from conftest import generated_city, run_analysis_job
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient
from scipy.spatial import cKDTree

from analysis import jobs as analysis_jobs
from analysis.siting.demand import demand_points
from layers.democity.store import register, store
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000


def make_layer(tmp_path, slug, geoms, **fields):
    fields = {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in fields.items()}
    path = files.write_vector(tmp_path / f"{slug}.gpkg", np.array(geoms, dtype=object), fields, "EPSG:3826", "GPKG")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


@pytest.fixture
def planner(db, monkeypatch):
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)  # run here, not on a worker that may be up
    person = User.objects.create_user("siting-planner")
    person.groups.add(Group.objects.get_or_create(name="都市發展局")[0])
    return person


def run_siting(user, body):
    client = APIClient()
    client.force_authenticate(user)
    return run_analysis_job(client, "siting", body), client


def rows(slug, columns):
    table = Layer.objects.get(slug=slug).table_name
    with connection.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM layerdata.{table} ORDER BY source_fid")
        return cur.fetchall()


@pytest.fixture
def lots(tmp_path, db):
    # L1..L5; L3 is too small, L4 lies in the flood zone
    make_layer(tmp_path, "lots", [box(0, 0, 100, 100), box(200, 0, 300, 100), box(400, 0, 410, 10),
                                  box(600, 0, 700, 100), box(800, 0, 900, 100)],
               name=["L1", "L2", "L3", "L4", "L5"], land_value=[300, 100, 50, 10, 200])
    make_layer(tmp_path, "zones", [box(550, -50, 750, 150)], depth=["1.0"])
    make_layer(tmp_path, "stops", [pt(0, 50)], name=["站"])
    make_layer(tmp_path, "homes", [pt(50, 150), pt(250, 150), pt(260, 60), pt(850, 50)], people=[10, 30, 5, 50])


def test_scores_contributions_and_allocation_known_by_hand(planner, lots):
    body = {"candidates": {"layer": "lots"},
            "constraints": {"exclude_layers": ["zones"], "min_area_m2": 1000},
            "factors": [{"name": "price", "kind": "attribute", "attribute": "land_value", "prefer": "low", "weight": 1},
                        {"name": "stop", "kind": "distance", "layer": "stops", "prefer": "near", "weight": 3}],
            "allocation": {"model": "covering", "k": 2, "radius": 120, "demand": {"layer": "homes",
                                                                                  "attribute": "people"}}}
    job, client = run_siting(planner, body)
    ranked, sites = sorted(job.layers.all(), key=lambda layer: layer.slug)
    assert sites.slug == ranked.slug + "-sites" and ranked.provenance["analysis"] == "siting"
    got = [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows(
        ranked.slug, "feasible, excluded_by, rank, score, contrib_price, contrib_stop, value_stop, chosen, pick_order,"
                     " marginal_gain")]
    l3 = float(np.hypot(405, 45))  # from the stop to the small lot's centre
    # price (low is good) over feasible L1, L2, L5: 300 → 0, 100 → 1, 200 → 0.5, weight 1/4
    # stop distance (near is good): 50 → 1, 250 → 0.75, 850 → 0, weight 3/4
    assert got == [
        (True, None, 2, 0.75, 0.0, 0.75, 50.0, False, None, None),
        (True, None, 1, 0.8125, 0.25, 0.5625, 250.0, True, 2, 35.0),
        (False, "smaller than 1000 m²", None, None, 0.25, round(0.75 * (1 - (l3 - 50) / 800), 6), round(l3, 6),
         False, None, None),  # excluded lots are scored too (clipped to 0–1), so the user sees what they missed
        (False, "in zones", None, None, 0.25, 0.1875, 650.0, False, None, None),
        (True, None, 3, 0.125, 0.125, 0.0, 850.0, True, 1, 50.0),
    ]
    result = job.counts["result"]["allocation"]
    assert result["objective"] == 85 and result["uncovered"] == 10 and result["next_gain"] == 10
    assert result["status"] == "optimal" and result["gap"] == 0
    assert rows(sites.slug, "status, pick_order, marginal_gain") == [("new", 2, 35.0), ("new", 1, 50.0)]
    page = client.get(f"/api/v1/analysis/siting/{job.pk}/report.html")
    html = b"".join(page.streaming_content).decode()
    assert page.status_code == 200 and "公有場館選址報告" in html and "leaflet" in html.lower()
    csv = b"".join(client.get(f"/api/v1/analysis/siting/{job.pk}/candidates.csv").streaming_content).decode(
        "utf-8-sig").splitlines()
    assert csv[0].startswith("rank,source_fid,score,chosen") and [line.split(",")[1] for line in csv[1:]] == [
        "2", "1", "5"]
    assert APIClient().get(f"/api/v1/analysis/siting/{job.pk}/report.html").status_code == 404  # internal result


@pytest.fixture
def demo_city(db, themes):
    city = generated_city(11, 0.3)
    store(city, progress=lambda _m: None)
    register(city)
    return city


def test_sports_centre_siting_on_the_demo_city(planner, demo_city):
    body = {"candidates": {"layer": "parcels", "filter": {"land_use_code__in": "government,commercial,residential"}},
            "constraints": {"exclude_layers": ["flood-zones"], "min_area_m2": 1500, "max_slope_deg": 2.5},
            "factors": [{"kind": "distance", "layer": "roads", "prefer": "near", "weight": 1},
                        {"kind": "population", "layer": "villages", "attribute": "population", "radius": 1500,
                         "weight": 3},
                        {"name": "existing", "kind": "distance", "layer": "facilities",
                         "filter": {"kind": "sports_centre"}, "prefer": "far", "weight": 2},
                        {"kind": "attribute", "attribute": "land_value", "prefer": "low", "weight": 1}],
            "allocation": {"model": "covering", "k": 3, "radius": 1200, "pool": 200,
                           "demand": {"layer": "villages", "attribute": "population"},
                           "existing": {"layer": "facilities", "filter": {"kind": "sports_centre"}}}}
    job, _client = run_siting(planner, body)
    ranked = next(layer for layer in job.layers.all() if not layer.slug.endswith("-sites"))
    result = job.counts["result"]
    a = result["allocation"]
    assert a["status"] == "optimal" and len(a["chosen"]) == 3 and a["fixed"]
    assert result["excluded"]["in flood-zones"] > 0 and result["excluded"]["slope over 2.5°"] > 0
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM layerdata.{ranked.table_name} r WHERE r.chosen AND (NOT r.feasible OR "
                    "r.rank > 200 OR EXISTS (SELECT 1 FROM layerdata.flood_zones f WHERE ST_Intersects(f.geom, "
                    "r.geom)) OR ST_Area(r.geom) < 1500)")
        assert cur.fetchone()[0] == 0
        cur.execute(f"SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM "
                    f"layerdata.{ranked.table_name} WHERE chosen UNION ALL SELECT ST_X(geom), ST_Y(geom) FROM "
                    "layerdata.facilities WHERE kind = 'sports_centre'")
        open_sites = np.array(cur.fetchall())
    # an independent count of the demand within 1.2 km of the open sites
    xy, weight = demand_points(Layer.objects.get(slug="villages"), "population", None)
    reached = np.zeros(len(xy), bool)
    for hits in cKDTree(xy).query_ball_point(open_sites, 1200):
        reached[hits] = True
    assert a["objective"] == pytest.approx(weight[reached].sum())
    assert a["demand_total"] == pytest.approx(weight.sum())
    assert a["marginal_gain"] == sorted(a["marginal_gain"], reverse=True) and a["marginal_gain"][-1] >= a["next_gain"]


def test_p_median_along_the_roads_on_the_demo_city(planner, demo_city):
    body = {"candidates": {"layer": "parcels", "filter": {"land_use_code": "government"}},
            "factors": [{"kind": "population", "layer": "villages", "attribute": "population", "radius": 1500}],
            "allocation": {"model": "p_median", "k": 2, "pool": 25, "network": "roads",
                           "demand": {"layer": "villages", "attribute": "population"}}}
    job, _client = run_siting(planner, body)
    a = job.counts["result"]["allocation"]
    assert a["status"] == "optimal" and len(a["chosen"]) == 2
    assert a["marginal_gain"][0] > 0 and a["objective"] > 0


BAD_REQUESTS = [
    ({}, 400, "factors：請填 1 到 12 個因子的清單"),
    ({"factors": [{"kind": "magic"}]}, 400, "factors[0].kind"),
    ({"factors": [{"kind": "distance", "layer": "nowhere"}]}, 404, "無法提供給您"),
    ({"factors": [{"kind": "attribute", "attribute": "colour"}]}, 400, "沒有屬性 'colour'"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value", "prefer": "sideways"}]}, 400, "prefer"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value", "weight": -1}]}, 400, "weight"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}], "constraints": {"max_slope": 5}}, 400,
     "constraints：不認得的鍵 max_slope"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}], "allocation": {"k": 0, "radius": 500}}, 400,
     "allocation.k"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}], "allocation": {"k": 1, "radius": 90000}}, 400,
     "allocation.radius"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}],
      "allocation": {"k": 1, "radius": 500, "model": "p_centre"}}, 400, "allocation.model"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}], "allocation": {"k": 1, "radius": 500}}, 400,
     "allocation.demand"),
    ({"factors": [{"kind": "population", "layer": "lots", "radius": 500}]}, 400,
     "factors[0].attribute：'lots' 是面圖層"),
    ({"factors": [{"kind": "attribute", "attribute": "land_value"}],
      "allocation": {"k": 1, "radius": 500, "demand": {"layer": "lots", "attribute": "people"}}}, 400,
     "allocation.demand.attribute：圖層 'lots' 沒有屬性 'people'"),
]


def test_bad_siting_requests(planner, tmp_path):
    make_layer(tmp_path, "lots", [box(0, 0, 100, 100)], land_value=[1])
    client = APIClient()
    client.force_authenticate(planner)
    for body, status, message in BAD_REQUESTS:  # one layer for all cases: an import per case would be slow
        resp = client.post("/api/v1/analysis/siting/", {"candidates": "lots", **body}, format="json")
        assert resp.status_code == status and message in resp.json()["detail"], (body, resp.content)


def test_sensor_placement_keeps_a_minimum_spacing(planner, demo_city):
    """Air-quality sensors on street lights (road parcels): cover people and industry, ≥ 400 m apart and from
    the sensors already up (a spacing this small city can still meet; a wide one is refused, see below)."""
    body = {"candidates": {"layer": "parcels", "filter": {"land_use_code": "road"}},
            "factors": [{"kind": "population", "layer": "villages", "attribute": "population", "radius": 500}],
            "allocation": {"model": "covering", "k": 3, "radius": 500, "min_spacing": 400, "pool": 150,
                           "existing": {"layer": "air-sensors"},
                           "demand": [{"layer": "villages", "attribute": "population"},
                                      {"layer": "parcels", "filter": {"land_use_code": "industrial"},
                                       "attribute": "area_m2", "scale": 0.01}]}}
    job, _client = run_siting(planner, body)
    a = job.counts["result"]["allocation"]
    assert a["status"] == "optimal" and len(a["chosen"]) == 3
    sites = next(layer for layer in job.layers.all() if layer.slug.endswith("-sites"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT min(ST_Distance(a.geom, b.geom)) FROM layerdata.{sites.table_name} a, "
                    f"layerdata.{sites.table_name} b WHERE a.fid < b.fid AND (a.status = 'new' OR b.status = 'new')")
        assert cur.fetchone()[0] >= 400
    assert "parcels" in job.layers.first().provenance["inputs"]


def test_a_spacing_no_k_sites_can_keep_fails_the_job_with_the_reason(planner, demo_city):
    client = APIClient()
    client.force_authenticate(planner)
    resp = client.post("/api/v1/analysis/siting/", {
        "candidates": {"layer": "parcels", "filter": {"land_use_code": "road"}},
        "factors": [{"kind": "population", "layer": "villages", "attribute": "population", "radius": 500}],
        "allocation": {"k": 3, "radius": 500, "min_spacing": 3000, "existing": {"layer": "air-sensors"},
                       "demand": {"layer": "villages", "attribute": "population"}}}, format="json")
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "failed" and "keep the minimum spacing" in job.errors[0]["message"]
    assert not job.layers.exists()


def test_slope_constraint_from_a_dem_known_by_hand(planner, lots, tmp_path):
    """A DEM rising 1 m in 10 m (5.7°) west of x = 500 m and flat east of it: with a 3° limit the western lots
    are excluded for their slope, the eastern ones are not."""
    import rasterio
    from rasterio.transform import from_origin

    xs = np.arange(-100, 1000, 20) + 10
    elevation = np.where(xs < 500, 0.1 * xs, 50.0)[None, :].repeat(20, axis=0).astype("float32")
    path = tmp_path / "terrain.tif"
    with rasterio.open(path, "w", driver="GTiff", width=elevation.shape[1], height=20, count=1, dtype="float32",
                       crs="EPSG:3826", transform=from_origin(X0 - 100, Y0 + 200, 20, 20)) as ds:
        ds.write(elevation, 1)
    job = run_job(jobs.create(path, path.name, {"slug": "terrain", "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors
    job, _client = run_siting(planner, {"candidates": "lots", "constraints": {"max_slope_deg": 3, "dem": "terrain"},
                                        "factors": [{"kind": "attribute", "attribute": "land_value"}]})
    ranked = job.layers.get()
    assert rows(ranked.slug, "excluded_by") == [("slope over 3°",), ("slope over 3°",), ("slope over 3°",), (None,),
                                                (None,)]
