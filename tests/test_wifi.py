"""Wi-Fi hotspots: use and its flags, coverage and gaps, and where to add or move hotspots — on layers whose
answers are known by hand."""

import importfiles as files
import numpy as np
import pytest
import shapely
from conftest import run_analysis_job
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from analysis import jobs as analysis_jobs
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000


def imported(path, slug):
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": "internal"}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


def points(tmp_path, slug, xs, **fields):
    geoms = np.array([shapely.Point(X0 + x, Y0) for x in xs], dtype=object)
    fields = {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in fields.items()}
    return imported(files.write_vector(tmp_path / f"{slug}.gpkg", geoms, fields, "EPSG:3826", "GPKG"), slug)


@pytest.fixture
def city(tmp_path, db, monkeypatch):
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)
    points(tmp_path, "hotspots", [0, 1000, 2000, 5000], hotspot_id=["H1", "H2", "H3", "H4"],
           name=["甲", "乙", "丙", "丁"], max_users=[10, 10, 10, 10])
    usage = tmp_path / "usage.csv"
    lines = ["hotspot_id,day,sessions,traffic_mb,peak_concurrent"]
    for hid, sessions, peaks in (("H1", 100, [10, 10, 5, 5]), ("H2", 10, [1, 1, 1, 1]), ("H3", 50, [4, 4, 4, 4])):
        lines += [f"{hid},2026-11-0{d + 1},{sessions},{sessions * 2.0},{peak}" for d, peak in enumerate(peaks)]
    usage.write_text("\n".join(lines) + "\n")
    assert imported(usage, "usage").kind == Layer.Kind.TABLE
    blocks = np.array([shapely.box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50),
                       shapely.box(X0 + 2950, Y0 - 50, X0 + 3050, Y0 + 50)], dtype=object)
    imported(files.write_vector(tmp_path / "blocks.gpkg", blocks, {"population": np.array([400, 900])},
                                "EPSG:3826", "GPKG"), "blocks")
    points(tmp_path, "shops", [30, 1050, 4000], name=["a", "b", "c"])
    points(tmp_path, "spots", [3000, 4000, 2500], name=["C1", "C2", "C3"])
    person = User.objects.create_user("it-dept")
    person.groups.add(Group.objects.create(name="資訊科技局"))
    client = APIClient()
    client.force_authenticate(person)
    return client


SOURCES = {"hotspots": "hotspots", "usage": "usage", "demand": {"layer": "blocks", "attribute": "population"}}


def test_usage_over_time_and_flags(city):
    body = city.post("/api/v1/analysis/wifi/usage/", {**SOURCES, "hotspot": "H1"}, format="json").json()
    got = {h["id"]: (h["days"], h["mean_sessions"], h["days_at_capacity_share"], h["flags"]) for h in body["hotspots"]}
    assert got == {"H1": (4, 100, 0.5, ["overloaded"]), "H2": (4, 10, 0, ["under-used"]), "H3": (4, 50, 0, []),
                   "H4": (0, 0, 0, ["no usage records"])}
    assert body["median_sessions"] == 50
    assert [p["peak_concurrent"] for p in body["series"]] == [10, 10, 5, 5]
    daily = city.post("/api/v1/analysis/wifi/usage/", {**SOURCES, "daily": True}, format="json").json()["daily"]
    assert daily == {"days": ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"],  # for 逐日回放; H4 has none
                     "sessions": {"H1": [100] * 4, "H2": [10] * 4, "H3": [50] * 4}}
    assert APIClient().post("/api/v1/analysis/wifi/usage/", SOURCES, format="json").status_code == 404  # internal
    bad = city.post("/api/v1/analysis/wifi/usage/", {**SOURCES, "columns": {"peak": "busiest"}}, format="json")
    assert bad.status_code == 400 and "columns.peak" in bad.json()["detail"]


def test_coverage_people_pois_and_gaps(city):
    body = city.post("/api/v1/analysis/wifi/coverage/", {**SOURCES, "radius": 100, "pois": [
        {"layer": "shops", "label": "商店"}]}, format="json").json()
    per = {h["id"]: (h["population"], h["pois"]["商店"]) for h in body["hotspots"]}
    assert per == {"H1": (400, 1), "H2": (0, 1), "H3": (0, 0), "H4": (0, 0)}
    assert body["total"]["covered_population"] == 400 and body["total"]["population"] == 1300
    assert body["total"]["covered_area_m2"] == pytest.approx(4 * np.pi * 100**2, rel=0.01)
    assert sum(g["population"] for g in body["gaps"]) == pytest.approx(900)  # block B, cut by the 250 m squares
    assert body["gaps"][0]["population"] == pytest.approx(225)


def run(city, body):
    return run_analysis_job(city, "wifi/recommend", body)


def test_recommend_additions_and_moving_the_under_used(city):
    base = {**SOURCES, "radius": 100, "pois": [{"layer": "shops"}], "poi_weight": 100,
            "candidates": {"layer": "spots"}}
    job = run(city, {**base, "k": 1})
    result = job.counts["result"]
    assert (result["before"], result["after"], result["gain"], result["moved"]) == (600, 1500, 900, [])
    assert result["allocation"]["status"] == "optimal"
    job = run(city, {**base, "k": 1, "relocate_underused": True})
    result = job.counts["result"]
    # H2 goes (its shop, 100, is lost); two new hotspots: block B (900) and the shop at 4,000 m (100)
    assert (result["before"], result["after"], result["gain"], result["moved"]) == (600, 1500, 900, ["H2"])
    assert result["allocation"]["marginal_gain"] == [900, 100]
    assert job.layers.get().feature_count == 2
    bad = city.post("/api/v1/analysis/wifi/recommend/", {**base, "k": "many"}, format="json")
    assert bad.status_code == 400 and "allocation.k" in bad.json()["detail"]
