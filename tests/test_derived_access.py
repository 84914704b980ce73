"""Nothing derived from a layer shows more than its inputs allow, and no answer tells whether a layer one may not
see exists.

Each kind of analysis result is made from one restricted input (of 地政局) by a person in two agencies, so the
result's owner agency (交通局, first by name) is one whose members may not see the input: the result must show to
exactly those who may see every input — on every path that serves a layer."""

from types import SimpleNamespace

import importfiles as files
import numpy as np
import pytest
import shapely
from conftest import run_analysis_job, tile_of
from django.contrib.auth.models import Group, User
from rasterio.io import MemoryFile
from rest_framework.test import APIClient

from analysis import jobs as analysis_jobs
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import views as ows_views
from web import printing
from web.models import Marker

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000
ROLES = ("anonymous", "other_agency", "owner_agency", "maker", "admin")


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def make_layer(tmp_path, slug, geoms, visibility, agency=None, **fields):
    fields = {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in fields.items()}
    path = files.write_vector(tmp_path / f"{slug}.gpkg", np.array(geoms, dtype=object), fields, "EPSG:3826", "GPKG")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": visibility,
                                                "owner_agency": agency.pk if agency else None}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


@pytest.fixture
def people(db):
    land, transport = Group.objects.create(name="地政局"), Group.objects.create(name="交通局")
    out = {"anonymous": None, "admin": User.objects.create_superuser("root")}
    for name, groups in (("other_agency", [transport]), ("owner_agency", [land]), ("maker", [land, transport])):
        out[name] = User.objects.create_user(name)
        out[name].groups.add(*groups)
    return out, land, transport


@pytest.fixture
def world(people, tmp_path, monkeypatch):
    """Public lots, stops, homes and hotspots; restricted zones and points of interest of 地政局, and restricted
    zones of 交通局."""
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)  # run here, not on a worker that may be up
    users, land, transport = people
    make_layer(tmp_path, "lots", [box(0, 0, 100, 100), box(200, 0, 300, 100), box(400, 0, 500, 100)], "public",
               name=["L1", "L2", "L3"], land_value=[300, 100, 200])
    make_layer(tmp_path, "stops", [pt(0, 50)], "public", name=["站"])
    make_layer(tmp_path, "homes", [pt(50, 150), pt(250, 150), pt(450, 150)], "public", people=[10, 30, 50])
    make_layer(tmp_path, "hotspots", [pt(-500, 0)], "public", hotspot_id=["H1"], name=["甲"], max_users=[10])
    make_layer(tmp_path, "secret-zones", [box(50, -50, 250, 150)], "restricted", land, name=["機密區"])
    make_layer(tmp_path, "secret-pois", [pt(250, 50), pt(450, 50)], "restricted", land, name=["甲點", "乙點"])
    make_layer(tmp_path, "transit-zones", [box(0, -50, 500, 60)], "restricted", transport, name=["路網"])
    return users


def client_of(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)  # a session: tiles, /ows and the viewer's config are plain Django views
    return client


def png(width: int, height: int) -> bytes:
    with MemoryFile() as mem:
        with mem.open(driver="PNG", width=width, height=height, count=4, dtype="uint8") as out:
            out.write(np.full((4, height, width), 200, np.uint8))
        return mem.read()


@pytest.fixture
def engine(monkeypatch):
    """The OGC engine stood in for: it records which layers the front lets it see, and draws grey."""
    seen = []

    def ows(params, body, visible, url=None, filters=None):
        seen.append(set(visible))
        drawn = params.get("REQUEST") in ("GetMap", "GetLegendGraphic")
        return SimpleNamespace(status=200, headers={}, content_type="image/png" if drawn else "text/xml",
                               body=png(int(params.get("WIDTH", 20)), int(params.get("HEIGHT", 20))) if drawn
                               else b"<ok/>")

    fake = SimpleNamespace(ows=ows, seen=seen)
    monkeypatch.setattr(ows_views, "get_engine", lambda: fake)
    monkeypatch.setattr(printing, "get_engine", lambda: fake)
    return fake


# (endpoint, body) of each kind of result; every one reads a restricted layer of 地政局 somewhere
WIDENING = {"centreline": {"type": "LineString", "coordinates": [[X0 - 50, Y0 + 50], [X0 + 550, Y0 + 50]]},
            "crs": 3826, "target_width": 20, "parcels": "secret-zones"}
SITING = {"candidates": {"layer": "lots"}, "constraints": {"exclude_layers": ["secret-zones"]},
          "factors": [{"name": "stop", "kind": "distance", "layer": "stops", "prefer": "near", "weight": 1}],
          "allocation": {"model": "covering", "k": 1, "radius": 200,
                         "demand": {"layer": "homes", "attribute": "people"}}}
SENSORS = {**SITING, "constraints": {}, "allocation": {**SITING["allocation"], "demand": {"layer": "secret-pois"}}}
KINDS = {
    "overlay": ("overlay", {"operation": "intersect", "a": "lots", "b": "secret-zones"}),
    "buffer_layer": ("buffer-layer", {"layer": "secret-pois", "distances": [50]}),
    "road_widening": ("road-widening", WIDENING),
    "siting": ("siting", SITING),  # the restricted layer only as a constraint: not in the old list of inputs
    "sensor_siting": ("siting", SENSORS),  # the restricted layer as the demand (pollution sources, say)
    "wifi_recommend": ("wifi/recommend", {"k": 1, "radius": 100, "candidates": {"layer": "lots"},
                                          "demand": {"layer": "homes", "attribute": "people"},
                                          "pois": [{"layer": "secret-pois"}], "hotspots": "hotspots"}),
}


def make_result(users, kind: str, **more):
    path, body = KINDS[kind]
    return run_analysis_job(client_of(users["maker"]), path, {**body, "visibility": "internal", **more})


def what_shows(user, layer: Layer, engine, job=None) -> dict[str, bool]:
    """Every path that serves a layer: does it show `layer` to `user`?"""
    client, slug = client_of(user), layer.slug
    lon, lat = layer.extent.centroid.coords
    x, y = tile_of(lon, lat, 16)
    shows = {
        "list": slug in {e["slug"] for e in client.get("/api/v1/layers/?limit=1000").json()["results"]},
        "detail": client.get(f"/api/v1/layers/{slug}/").status_code == 200,
        "features": client.get(f"/api/v1/layers/{slug}/features/").status_code == 200,
        "tile": client.get(f"/tiles/{slug}/16/{x}/{y}.mvt").status_code in (200, 204),
        "tilejson": client.get(f"/tiles/{slug}.json").status_code == 200,
        **{f"download_{f}": client.get(f"/api/v1/layers/{slug}/download/?format={f}").status_code == 200
           for f in ("geojson", "csv", "html")},
        "viewer_config": slug in {e["slug"] for e in client.get("/viewer/layers.json").json()["layers"]},
    }
    before = len(engine.seen)
    wfs = client.get(f"/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={slug}")
    shows["wfs_getfeature"] = wfs.status_code == 200 and len(engine.seen) > before
    client.get("/ows?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetCapabilities")
    shows["wfs_capabilities"] = slug in engine.seen[-1]
    view = {"center": [lon, lat], "zoom": 16, "layers": [slug]}
    shows["print"] = client.post("/api/v1/print/", {"state": view, "format": "png"},
                                 format="json").status_code == 200
    if job is not None:  # siting: the report and the ranked candidates
        for name in ("report.html", "candidates.csv"):
            shows[name] = client.get(f"/api/v1/analysis/siting/{job.pk}/{name}").status_code == 200
    return shows


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_result_shows_exactly_to_those_who_may_see_every_input(world, engine, kind):
    job = make_result(world, kind)
    results = list(job.layers.all())
    assert results and len(results) == (2 if kind.endswith("siting") else 1)
    may_see = {"anonymous": False, "other_agency": False, "owner_agency": True, "maker": True, "admin": True}
    for result in results:
        assert result.owner_agency.name == "交通局"  # whose members may not see the input: no loophole
        assert result.visibility == Layer.Visibility.RESTRICTED
        assert "secret-zones" in result.source_links.values_list("slug", flat=True) or \
            "secret-pois" in result.source_links.values_list("slug", flat=True)
        for role in ROLES:
            shows = what_shows(world[role], result, engine, job if kind.endswith("siting") else None)
            assert shows == dict.fromkeys(shows, may_see[role]), (role, result.slug)


def test_a_result_of_two_agencies_restricted_layers_needs_both(world, engine):
    job = run_analysis_job(client_of(world["maker"]), "overlay",
                           {"operation": "intersect", "a": "secret-zones", "b": "transit-zones"})
    result = job.layers.get()
    for role, expected in {"anonymous": False, "other_agency": False, "owner_agency": False, "maker": True,
                           "admin": True}.items():
        shows = what_shows(world[role], result, engine)
        assert shows == dict.fromkeys(shows, expected), role
    # a result of that result carries both, too (sources are flattened)
    again = run_analysis_job(client_of(world["maker"]), "buffer-layer", {"layer": result.slug, "distances": [10]})
    second = again.layers.get()
    assert set(second.source_links.values_list("slug", flat=True)) == {result.slug, "secret-zones", "transit-zones"}
    assert [u for u in ROLES if Layer.objects.visible_to(world[u]).filter(pk=second.pk).exists()] == [
        "maker", "admin"]


def test_a_result_stays_hidden_when_an_input_is_deleted_or_its_owner_opens_it(world, engine):
    from layers.models import LayerSource

    result = make_result(world, "overlay").layers.get()
    colleague = client_of(world["owner_agency"])
    # the result's own editors (its owner agency) cannot open it beyond its inputs
    editor = client_of(world["maker"])
    assert editor.patch(f"/api/v1/layers/{result.slug}/", {"visibility": "public"}, format="json").status_code == 200
    assert client_of(None).get(f"/api/v1/layers/{result.slug}/").status_code == 404
    assert client_of(world["other_agency"]).get(f"/api/v1/layers/{result.slug}/").status_code == 404
    assert colleague.delete("/api/v1/layers/secret-zones/").status_code == 204
    link = LayerSource.objects.get(result=result, slug="secret-zones")
    assert link.source_id is None and link.visibility == "restricted"
    for role in ("anonymous", "other_agency"):
        assert client_of(world[role]).get(f"/api/v1/layers/{result.slug}/").status_code == 404, role
    assert colleague.get(f"/api/v1/layers/{result.slug}/").status_code == 200
    # and the input's owner may open the input up: the result follows the input's rule now
    pois = make_result(world, "buffer_layer").layers.get()
    assert colleague.patch("/api/v1/layers/secret-pois/", {"visibility": "internal"}, format="json").status_code == 200
    assert client_of(world["other_agency"]).get(f"/api/v1/layers/{pois.slug}/").status_code == 200


def test_synchronous_answers_read_only_what_the_caller_may_see(world):
    """Buffer, nearest, Wi-Fi coverage and the road-widening report: a hidden layer answers as a missing one."""
    other, colleague = client_of(world["other_agency"]), client_of(world["owner_agency"])
    here = {"type": "Point", "coordinates": [X0, Y0]}
    asks = {"road-widening/report": lambda slug: {**WIDENING, "parcels": slug},
            "buffer": lambda slug: {"geometry": here, "crs": 3826, "distances": [100], "layers": [slug]},
            "nearest": lambda slug: {"layer": slug, "geometry": here, "crs": 3826},
            "wifi/coverage": lambda slug: {"hotspots": "hotspots", "radius": 100, "pois": [{"layer": slug}],
                                           "demand": {"layer": "homes", "attribute": "people"}}}
    hidden = {"road-widening/report": "secret-zones"}
    for path, body in asks.items():
        slug = hidden.get(path, "secret-pois")
        refused = other.post(f"/api/v1/analysis/{path}/", body(slug), format="json")
        missing = other.post(f"/api/v1/analysis/{path}/", body("no-such-layer"), format="json")
        assert refused.status_code == missing.status_code == 404, (path, refused.content)
        assert refused.json()["detail"].replace(slug, "X") == missing.json()["detail"].replace("no-such-layer", "X")
        assert colleague.post(f"/api/v1/analysis/{path}/", body(slug), format="json").status_code == 200, path
    # a result a caller may not see is no input to them either
    result = make_result(world, "buffer_layer").layers.get()
    assert other.post("/api/v1/analysis/nearest/", asks["nearest"](result.slug), format="json").status_code == 404
    assert colleague.post("/api/v1/analysis/nearest/", asks["nearest"](result.slug),
                          format="json").status_code == 200


def test_search_finds_a_result_only_for_those_who_may_see_it(world):
    result = make_result(world, "overlay").layers.get()
    Layer.objects.filter(pk=result.pk).update(tile_attributes=["secret_zones_name"])
    assert "secret_zones_name" in {a["name"] for a in result.attributes}
    for role, expected in (("other_agency", False), ("anonymous", False), ("owner_agency", True)):
        found = client_of(world[role]).get("/api/v1/search/?q=機密區").json()["results"]
        assert (result.slug in {r["layer"] for r in found}) is expected, role


def test_share_links_keep_and_show_only_what_maker_and_opener_may_see(world, engine):
    users = world
    result = make_result(users, "overlay").layers.get()
    land = Group.objects.get(name="地政局")
    group_pin = Marker.objects.create(owner=users["owner_agency"], group=land, title="地政局註記",
                                      location="POINT(121.3 24.99)")
    own_pin = Marker.objects.create(owner=users["maker"], title="自己的", location="POINT(121.3 24.99)")
    state = {"center": [121.3, 24.99], "zoom": 16, "layers": ["lots", "secret-zones", result.slug]}
    # someone who may not see the restricted layers: they are not stored
    outsider = client_of(users["other_agency"]).post("/api/v1/views/", {"state": state}, format="json").json()
    assert [e["slug"] for e in outsider["state"]["layers"]] == ["lots"]
    made = client_of(users["maker"]).post("/api/v1/views/", {"state": state, "markers": [group_pin.pk, own_pin.pk]},
                                          format="json")
    assert made.status_code == 201, made.content
    code = made.json()["code"]
    for role, layers, markers in (("anonymous", ["lots"], ["自己的"]),
                                  ("other_agency", ["lots"], ["自己的"]),
                                  ("owner_agency", ["lots", "secret-zones", result.slug], ["地政局註記", "自己的"])):
        opened = client_of(users[role]).get(f"/api/v1/views/{code}/").json()["state"]
        assert [e["slug"] for e in opened["layers"]] == layers, role
        assert sorted(m["title"] for m in opened["markers"]) == sorted(markers), role
        assert all("group" not in m for m in opened["markers"])
    # a print through the link draws and lists only what the one printing may see
    engine.seen.clear()
    answer = client_of(users["other_agency"]).post("/api/v1/print/", {"view": code}, format="json")
    assert answer.status_code == 200
    assert set().union(*engine.seen) == {"lots"}
    assert b"secret" not in answer.content


# ---- existence oracles: a slug held by a layer one may not see answers as a slug held by one they may see


def _csv_upload(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))


@pytest.mark.parametrize("wanted", ["secret-zones", "lots", "services"])
def test_taking_a_slug_answers_the_same_whoever_holds_it(world, wanted, monkeypatch):
    """Taken by a layer the user may not see, by one they may see, or reserved: the next free slug, and the same
    words — an upload, a service registration and an analysis result alike."""
    from layers.ogc import external

    other = client_of(world["other_agency"])
    resp = other.post("/api/v1/layers/", {"files": [_csv_upload("x.csv")], "slug": wanted}, format="multipart")
    assert resp.status_code == 202, resp.content
    job = run_job(resp.json()[0]["id"])
    assert job.status == "succeeded", job.errors
    assert [layer.slug for layer in job.layers.all()] == [f"{wanted}-2"]
    assert any(f"the slug {wanted!r} is taken; the layer is '{wanted}-2'" in m for m in job.message_texts())

    monkeypatch.setattr(external, "describe", lambda kind, url, layer: {
        "title": "外部", "abstract": "", "bbox": None, "service": {"type": kind, "url": url}})
    registered = other.post("/api/v1/layers/services/", {"type": "xyz", "url": "https://tiles.example/{z}/{x}/{y}.png",
                                                         "slug": wanted}, format="json")
    assert registered.status_code == 201, registered.content
    assert registered.json()["slug"] == f"{wanted}-3"

    result = run_analysis_job(other, "buffer-layer", {"layer": "lots", "distances": [10], "slug": wanted})
    assert [layer.slug for layer in result.layers.all()] == [f"{wanted}-4"]


def test_a_slug_that_maps_onto_a_hidden_layers_table_cannot_take_its_data(world):
    """'secret_zones' and 'secret-zones' share a table name: the new layer must not swap the hidden one's out."""
    other = client_of(world["other_agency"])
    resp = other.post("/api/v1/layers/", {"files": [_csv_upload("x.csv")], "slug": "secret_zones"},
                      format="multipart")
    job = run_job(resp.json()[0]["id"])
    assert job.status == "succeeded", job.errors
    assert [layer.slug for layer in job.layers.all()] == ["secret_zones-2"]
    hidden = Layer.objects.get(slug="secret-zones")
    assert hidden.table_name == "secret_zones"
    features = client_of(world["owner_agency"]).get("/api/v1/layers/secret-zones/features/").json()["features"]
    assert [f["properties"]["name"] for f in features] == ["機密區"]


def test_a_free_slug_is_granted_as_asked(world):
    resp = client_of(world["other_agency"]).post("/api/v1/layers/", {"files": [_csv_upload("x.csv")],
                                                                   "slug": "fresh-name"}, format="multipart")
    job = run_job(resp.json()[0]["id"])
    assert [layer.slug for layer in job.layers.all()] == ["fresh-name"]
    bad = client_of(world["other_agency"]).post("/api/v1/analysis/buffer-layer/", {
        "layer": "lots", "distances": [10], "slug": "Not A Slug"}, format="json")
    assert bad.status_code == 400 and "slug" in bad.json()["detail"]


def test_existing_results_get_sources_from_their_provenance(world):
    """The data migration: a result made before sources were recorded is linked to the inputs its provenance
    names; an input that is gone leaves it to administrators."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("layers.migrations.0010_derived_access_data")
    old = Layer.objects.create(slug="old-result", table_name="old_result", title_zh="舊成果", visibility="internal",
                               provenance={"analysis": "overlay", "inputs": ["lots", "secret-zones"]})
    orphan = Layer.objects.create(slug="orphan", table_name="orphan", title_zh="孤兒", visibility="public",
                                  provenance={"analysis": "buffer_layer", "inputs": ["deleted-long-ago"]})
    migration.link_existing_results(apps, None)
    old.refresh_from_db()
    orphan.refresh_from_db()
    assert old.visibility == "restricted" and set(old.allowed_groups.values_list("name", flat=True)) == {"地政局"}
    assert [u for u in ROLES if Layer.objects.visible_to(world[u]).filter(pk=old.pk).exists()] == [
        "owner_agency", "maker", "admin"]
    assert [u for u in ROLES if Layer.objects.visible_to(world[u]).filter(pk=orphan.pk).exists()] == ["admin"]
