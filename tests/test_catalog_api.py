"""The catalog REST API: permissions on every path, search, metadata, styles, uploads, versions."""

import time

import importfiles as files
import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db


@pytest.fixture
def agencies():
    return Group.objects.create(name="地政局"), Group.objects.create(name="交通局")


@pytest.fixture
def users(agencies):
    land, transport = agencies
    clerk = User.objects.create_user("clerk", password="pw")
    clerk.groups.add(land)
    driver = User.objects.create_user("driver", password="pw")
    driver.groups.add(transport)
    admin = User.objects.create_superuser("admin", password="pw")
    return {"clerk": clerk, "driver": driver, "admin": admin}


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user:
        client.force_authenticate(user)
    return client


def csv_layer(tmp_path, slug, visibility, agency=None, rows=None, allowed=()):
    rows = rows or [["桃園車站", 121.313, 24.989, 12], ["中壢車站", 121.2256, 24.9537, 7]]
    path = tmp_path / f"{slug}.csv"
    path.write_bytes(files.csv_bytes(["name", "lon", "lat", "rank"], rows))
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": visibility,
                                                  "owner_agency": agency.pk if agency else None}).pk)
    assert job.status == "succeeded", job.errors
    layer = Layer.objects.get(slug=slug)
    layer.allowed_groups.set(allowed)
    return layer


@pytest.fixture
def layers(tmp_path, agencies):
    land, transport = agencies
    return {
        "public": csv_layer(tmp_path, "public-sites", "public", land),
        "internal": csv_layer(tmp_path, "internal-sites", "internal", land),
        "restricted": csv_layer(tmp_path, "land-only", "restricted", land),
        "shared": csv_layer(tmp_path, "shared-with-transport", "restricted", land, allowed=[transport]),
    }


def slugs(resp) -> set[str]:
    assert resp.status_code == 200, resp.content
    return {entry["slug"] for entry in resp.json()["results"]}


def test_list_shows_each_user_only_what_they_may_see(layers, users):
    assert slugs(client_for().get("/api/v1/layers/")) == {"public-sites"}
    assert slugs(client_for(users["driver"]).get("/api/v1/layers/")) == {
        "public-sites", "internal-sites", "shared-with-transport"}
    assert slugs(client_for(users["clerk"]).get("/api/v1/layers/")) == {
        "public-sites", "internal-sites", "land-only", "shared-with-transport"}
    assert slugs(client_for(users["admin"]).get("/api/v1/layers/")) == {layer.slug for layer in layers.values()}


def test_unseen_layers_answer_404_like_missing_ones(layers, users):
    anon = client_for()
    assert anon.get("/api/v1/layers/public-sites/").status_code == 200
    for slug in ("internal-sites", "land-only", "no-such-layer"):
        assert anon.get(f"/api/v1/layers/{slug}/").status_code == 404
    driver = client_for(users["driver"])
    assert driver.get("/api/v1/layers/land-only/").status_code == 404
    assert driver.get("/api/v1/layers/land-only/versions/").status_code == 404
    assert driver.get("/api/v1/layers/land-only/style/").status_code == 404
    assert driver.get("/api/v1/layers/shared-with-transport/").status_code == 200


def test_entries_carry_slug_and_feature_count(layers):
    [entry] = client_for().get("/api/v1/layers/").json()["results"]
    assert entry["slug"] == "public-sites" and entry["feature_count"] == 2
    assert entry["geometry_type"] == "Point" and len(entry["bbox"]) == 4
    detail = client_for().get("/api/v1/layers/public-sites/").json()
    assert [a["name"] for a in detail["attributes"]] == ["name", "rank"]
    assert detail["owner_agency"] == "地政局" and detail["srid"] == 3826 and detail["style"]["kind"] == "single"


def test_search_by_text_theme_and_bbox(layers, users, themes):
    admin = client_for(users["admin"])
    Layer.objects.filter(slug="internal-sites").update(abstract="各區圖書館與閱覽室",
                                                       theme_id=_theme("facilities"))
    assert slugs(admin.get("/api/v1/layers/?q=圖書館")) == {"internal-sites"}
    assert slugs(admin.get("/api/v1/layers/?theme=facilities")) == {"internal-sites"}
    assert slugs(admin.get("/api/v1/layers/?bbox=121.2,24.9,121.4,25.1")) == {layer.slug for layer in layers.values()}
    assert slugs(admin.get("/api/v1/layers/?bbox=120.0,22.0,120.5,22.5")) == set()
    bad = admin.get("/api/v1/layers/?bbox=121.4,25,121.2")
    assert bad.status_code == 400 and "west,south,east,north" in bad.json()["bbox"]
    assert admin.get("/api/v1/layers/?theme=nope").status_code == 400


def _theme(slug):
    from layers.models import Theme

    return Theme.objects.get(slug=slug).pk


def test_parent_theme_finds_layers_of_sub_themes(layers, users, themes):
    Layer.objects.filter(slug="public-sites").update(theme_id=_theme("roads"))
    assert slugs(client_for().get("/api/v1/layers/?theme=transport")) == {"public-sites"}


def test_only_the_owner_agency_and_admins_edit(layers, users):
    body = {"title_zh": "站點", "keywords": ["車站"], "attribute_labels": {"rank": "等級"}}
    assert client_for().patch("/api/v1/layers/public-sites/", body, format="json").status_code in (401, 403)
    resp = client_for(users["driver"]).patch("/api/v1/layers/public-sites/", body, format="json")
    assert resp.status_code == 403 and "您沒有發布或描述這個圖層的權限" in resp.json()["detail"]
    resp = client_for(users["clerk"]).patch("/api/v1/layers/public-sites/", body, format="json")
    assert resp.status_code == 200, resp.content
    layer = Layer.objects.get(slug="public-sites")
    assert layer.title_zh == "站點" and layer.keywords == ["車站"]
    assert {a["name"]: a["label"] for a in layer.attributes}["rank"] == "等級"
    bad = client_for(users["clerk"]).patch("/api/v1/layers/public-sites/", {"attribute_labels": {"nope": "x"}},
                                           format="json")
    assert bad.status_code == 400 and "nope" in str(bad.json())
    assert client_for(users["driver"]).delete("/api/v1/layers/public-sites/").status_code == 403


def test_delete_removes_catalog_entry_and_table(layers, users):
    from layers.catalog import table_exists

    assert client_for(users["admin"]).delete("/api/v1/layers/internal-sites/").status_code == 204
    assert not Layer.objects.filter(slug="internal-sites").exists()
    assert not table_exists("layerdata", "internal_sites")


def test_graduated_and_categorized_styles(layers, users):
    clerk = client_for(users["clerk"])
    resp = clerk.put("/api/v1/layers/public-sites/style/", {"kind": "graduated", "attribute": "rank",
                                                            "method": "natural_breaks", "class_count": 2,
                                                            "ramp": "Blues"}, format="json")
    assert resp.status_code == 200, resp.content
    classes = resp.json()["classes"]
    assert len(classes) == 2 and classes[0]["min"] == 7 and classes[-1]["max"] == 12
    assert classes[0]["color"] == "#eff3ff"
    resp = clerk.patch("/api/v1/layers/public-sites/style/", {"kind": "categorized", "attribute": "name",
                                                              "label_attribute": "name"}, format="json")
    assert {c["value"] for c in resp.json()["classes"]} == {"桃園車站", "中壢車站"}
    bad = clerk.patch("/api/v1/layers/public-sites/style/", {"kind": "graduated", "attribute": "name",
                                                             "method": "quantiles"}, format="json")
    assert bad.status_code == 400 and "數值屬性" in str(bad.json()["attribute"])  # in the reader's language
    assert client_for(users["driver"]).patch("/api/v1/layers/public-sites/style/", {"kind": "single"},
                                             format="json").status_code == 403


def test_upload_needs_sign_in_and_reports_bad_files(users):
    upload = {"files": [SimpleUploadedFile("a.csv", b"lon,lat\n121.3,25.0\n")]}
    assert client_for().post("/api/v1/layers/", upload, format="multipart").status_code in (401, 403)
    resp = client_for(users["clerk"]).post(
        "/api/v1/layers/", {"files": [SimpleUploadedFile("readme.txt", b"hello")]}, format="multipart")
    assert resp.status_code == 400 and "沒有可匯入的資料" in resp.json()["message"]  # zh-Hant by default
    resp = client_for(users["clerk"]).post("/api/v1/layers/", {**upload, "crs": "EPSG:99999"}, format="multipart")
    assert resp.status_code == 400 and "crs" in resp.json()


def test_token_sign_in(users):
    resp = APIClient().post("/api/v1/auth/token/", {"username": "clerk", "password": "pw"}, format="json")
    token = resp.json()["token"]
    assert Token.objects.get(key=token).user.username == "clerk"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/imports/").status_code == 200
    assert APIClient().get("/api/v1/imports/").status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_upload_runs_on_a_real_worker_and_versions_restore(celery_worker_process, users, themes, tmp_path):
    clerk = client_for(users["clerk"])
    geojson = files.write_vector(tmp_path / "sites.geojson", *files.places_lonlat(), "EPSG:4326", "GeoJSON")
    resp = clerk.post("/api/v1/layers/", {"files": [SimpleUploadedFile("sites.geojson", geojson.read_bytes())],
                                          "title": "地標", "theme": "facilities", "visibility": "public"},
                      format="multipart")
    assert resp.status_code == 202, resp.content
    [job] = resp.json()
    job = poll(clerk, job["id"])
    assert job["status"] == "succeeded", job["errors"]
    assert job["layers"] == ["sites"]
    layer = Layer.objects.get(slug="sites")
    assert layer.title_zh == "地標" and layer.owner_agency.name == "地政局" and layer.theme.slug == "facilities"

    again = clerk.post("/api/v1/layers/", {"files": [SimpleUploadedFile("sites.geojson", geojson.read_bytes())]},
                       format="multipart")
    second = poll(clerk, again.json()[0]["id"])  # a taken slug: the next free one, named in the messages
    assert second["status"] == "succeeded" and second["layers"] == ["sites-2"]
    # in the request's language (zh-Hant by default)
    assert any("代稱 'sites' 已被使用；圖層為 'sites-2'" in m for m in second["messages"]), second["messages"]

    geoms, fields = files.places_lonlat()
    smaller = files.write_vector(tmp_path / "two.geojson", geoms[:2], {k: v[:2] for k, v in fields.items()},
                                 "EPSG:4326", "GeoJSON")
    resp = clerk.post("/api/v1/layers/sites/reimport/",
                      {"files": [SimpleUploadedFile("two.geojson", smaller.read_bytes())]}, format="multipart")
    assert poll(clerk, resp.json()[0]["id"])["status"] == "succeeded"
    versions = clerk.get("/api/v1/layers/sites/versions/").json()
    assert [(v["number"], v["feature_count"], v["current"], v["restorable"]) for v in versions] == [
        (2, 2, True, False), (1, 3, False, True)]
    assert client_for(users["driver"]).post("/api/v1/layers/sites/versions/1/restore/").status_code == 403
    resp = clerk.post("/api/v1/layers/sites/versions/1/restore/")
    assert resp.status_code == 201 and resp.json()["number"] == 3
    assert clerk.get("/api/v1/layers/sites/").json()["feature_count"] == 3
    assert clerk.post("/api/v1/layers/sites/versions/3/restore/").status_code == 400


def poll(client, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}/").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not finish in {timeout} s: {job}")


def test_one_upload_with_loose_shapefile_parts_and_another_file(users, tmp_path, settings):
    from pathlib import Path

    shp = files.shapefile(tmp_path / "parts", "roads")
    uploads = [SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted((tmp_path / "parts").iterdir())]
    uploads.append(SimpleUploadedFile("sites.csv", b"name,lon,lat\na,121.3,25.0\n"))
    resp = client_for(users["clerk"]).post("/api/v1/layers/", {"files": uploads}, format="multipart")
    assert resp.status_code == 202
    created = resp.json()
    assert sorted(j["source_name"] for j in created) == ["roads.shp", "sites.csv"]  # the .dbf is part of roads
    folder = Path(Job.objects.get(pk=created[0]["id"]).source_path).parent
    first = run_job(created[0]["id"])
    assert first.status == "succeeded" and folder.exists()  # the other dataset still needs the folder
    second = run_job(created[1]["id"])
    assert second.status == "succeeded" and not folder.exists()
    assert shp.exists()


def test_reimport_keeps_the_kind_and_slugs_of_hidden_layers_reveal_nothing(layers, users, tmp_path):
    tif = files.geotiff(tmp_path / "dem.tif")
    job = run_job(jobs.create(tif, "dem.tif", {"mode": "upsert", "layer": "public-sites"}).pk)
    assert job.status == "failed" and "a re-import must bring vector data" in job.errors[0]["message"]
    path = tmp_path / "x.csv"
    path.write_bytes(b"name,lon,lat\na,121.3,25.0\n")
    job = run_job(jobs.create(path, "x.csv", {"mode": "create", "slug": "land-only"}, users["driver"]).pk)
    assert job.status == "succeeded" and [layer.slug for layer in job.layers.all()] == ["land-only-2"]
