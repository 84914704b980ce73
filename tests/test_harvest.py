"""Harvesting other agencies' services into the catalog (harvest/): recorded documents — NLSC's real WMS 1.1.1 and
WMTS capabilities, a real TGOS ISO 19139 record inside a CSW answer, ArcGIS REST JSON written from Esri's published
specification (tests/arcgis_rest/) — served by a local HTTP server; broken remotes (slow, 500, bad XML, too big)
failing only their own run; new / changed / vanished kept in step; the API for superusers only."""

import http.server
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from harvest import readers
from harvest.models import HarvestRun, HarvestSource
from harvest.runner import execute
from layers.models import Layer

pytestmark = pytest.mark.django_db

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
NLSC_WMS = REAL / "nlsc-wmts" / "nlsc_wms_capabilities_2017.xml"
NLSC_WMTS = REAL / "nlsc-wmts" / "nlsc_wmts_capabilities_2017.xml"
TGOS_VILLAGES = REAL / "tgos-metadata" / "TW-07-301000100G-613995.xml"
ARCGIS = Path(__file__).resolve().parent / "arcgis_rest"
needs_real = pytest.mark.skipif(not NLSC_WMTS.exists(), reason=f"the real NLSC/TGOS documents are not at {REAL}")


class Remote:
    """A tiny HTTP server answering what a test puts in `routes`: path → (status, content type, body[, delay s])."""

    def __init__(self):
        self.routes: dict = {}
        self.hits: dict = {}
        self.queries: list = []
        remote = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                remote.hits[path] = remote.hits.get(path, 0) + 1
                if path.endswith("/query"):  # a page of features: query-<resultOffset>.json
                    remote.queries.append(dict(parse_qsl(urlsplit(self.path).query)))
                    path += "-" + remote.queries[-1].get("resultOffset", "0")
                route = remote.routes.get(path)
                if route is None and path.startswith("/arcgis/rest/services"):
                    file = ARCGIS / (path.removeprefix("/arcgis/rest/services").strip("/") or "services")
                    file = file.with_name(file.name + ".json")
                    route = (200, "application/json", file.read_bytes()) if file.exists() else None
                if route is None:
                    self.send_error(404)
                    return
                status, kind, body, *delay = route
                if callable(body):
                    body = body()
                if delay:
                    time.sleep(delay[0])
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    if not kind.startswith("stream;"):
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def remote():
    server = Remote()
    yield server
    server.httpd.shutdown()


@pytest.fixture(autouse=True)
def quick(settings, remote):
    settings.HARVEST_TIMEOUT_S, settings.HARVEST_RETRIES, settings.HARVEST_BACKOFF_S = 1.0, 2, 0.01
    settings.HARVEST_MAX_BYTES = 200_000
    remote.routes.clear()
    remote.hits.clear()
    remote.queries.clear()


def harvest(kind: str, url: str, slug: str = "src", **fields) -> HarvestRun:
    source = HarvestSource.objects.filter(slug=slug).first() or HarvestSource.objects.create(
        name=f"{slug} 來源", slug=slug, kind=kind, url=url, visibility="public", **fields)
    return execute(HarvestRun.objects.create(source=source))


# -- recorded documents ------------------------------------------------------------------------------------------

@needs_real
def test_nlsc_wmts_layers_become_drawable_catalog_entries_kept_in_step(remote):
    document = NLSC_WMTS.read_bytes()
    remote.routes["/wmts"] = (200, "application/xml", lambda: document)
    run = harvest("wmts", remote.url + "/wmts")
    assert run.state == "ok", run.error
    assert run.found == 26 and run.new == 26 and run.vanished == 0 and run.requests == 1
    emap = Layer.objects.get(harvested__source__slug="src", harvested__remote_id="EMAP")
    assert emap.kind == "service" and emap.visibility == "public" and emap.ogc_status == "none"
    assert emap.service["type"] == "wmts" and emap.service["matrix_set"] == "GoogleMapsCompatible"
    assert "{z}" in emap.service["tile_url"] and emap.extent is not None
    # the remote changes: a title, and one layer gone
    document = document.replace("<ows:Title>臺灣通用電子地圖</ows:Title>".encode(),
                                b"<ows:Title>EMAP renamed</ows:Title>")
    gone = readers.read_wmts(readers.Fetcher(5, 10**6), remote.url + "/wmts").entries[-1].remote_id
    start = document.index(f"<ows:Identifier>{gone}</ows:Identifier>".encode())
    layer_start = document.rindex(b"<Layer>", 0, start)
    document = document[:layer_start] + document[document.index(b"</Layer>", start) + len(b"</Layer>"):]
    second = harvest("wmts", remote.url + "/wmts")
    assert second.state == "ok", second.error
    assert (second.new, second.vanished, second.found) == (0, 1, 25)
    assert (second.changed, second.unchanged) == (1, 24)
    emap.refresh_from_db()
    assert emap.title_zh == "EMAP renamed" and second.report["changed"] == [emap.slug]
    assert not Layer.objects.filter(harvested__remote_id=gone).exists()
    assert second.report["vanished"] and second.report["vanished"][0].startswith("src-")


@needs_real
def test_nlsc_wms_111_layers_with_their_legends(remote):
    remote.routes["/wms"] = (200, "application/vnd.ogc.wms_xml", NLSC_WMS.read_bytes())
    run = harvest("wms", remote.url + "/wms?VERSION=1.1.1")
    assert run.state == "ok", run.error
    assert run.new == run.found > 5
    layer = Layer.objects.filter(harvested__source__slug="src").order_by("slug").first()
    assert layer.service["type"] == "wms" and layer.service["version"] == "1.1.1"
    assert layer.service["url"] == remote.url + "/wms"


@needs_real
def test_a_csw_answer_with_a_tgos_record_fills_the_layer_metadata(remote):
    record = TGOS_VILLAGES.read_bytes().lstrip(b"\xef\xbb\xbf")
    record = record[record.index(b"<gmd:MD_Metadata"):]
    answer = (b'<?xml version="1.0" encoding="UTF-8"?><csw:GetRecordsResponse '
              b'xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" version="2.0.2"><csw:SearchStatus timestamp="x"/>'
              b'<csw:SearchResults numberOfRecordsMatched="1" numberOfRecordsReturned="1" nextRecord="0">'
              + record + b"</csw:SearchResults></csw:GetRecordsResponse>")
    remote.routes["/csw"] = (200, "application/xml", answer)
    run = harvest("csw", remote.url + "/csw")
    assert run.state == "ok", run.error
    layer = Layer.objects.get(harvested__remote_id="TW-07-301000100G-613995")
    assert layer.title_zh == "村里界圖(TWD97經緯度)" and layer.contact_organisation
    assert layer.extent.extent == pytest.approx((118.12, 21.90, 124.56, 26.39), abs=0.01)


def test_arcgis_rest_directory_its_folders_mapservers_and_featureservers(remote):
    run = harvest("arcgis", remote.url + "/arcgis/rest/services")
    assert run.state == "ok", run.error
    entries = {h.remote_id: h.layer for h in HarvestSource.objects.get(slug="src").layers.select_related("layer")}
    assert set(entries) == {"Basemap/MapServer/0", "Parcels/FeatureServer/0", "Transport/Roads/MapServer/0",
                            "Transport/Roads/MapServer/1"}  # a group layer and a GeocodeServer are not layers
    assert entries["Basemap/MapServer/0"].service["type"] == "xyz"  # a web-mercator tile cache
    roads = entries["Transport/Roads/MapServer/0"]
    assert roads.service == {"type": "arcgis", "url": remote.url + "/arcgis/rest/services/Transport/Roads/MapServer",
                             "layer_id": 0}
    west, south, east, north = roads.extent.extent  # TWD97 TM2 metres → lon/lat
    assert 120.9 < west < east < 121.5 and 24.7 < south < north < 25.2
    assert roads.source == "桃園市政府交通局"
    assert entries["Parcels/FeatureServer/0"].service["type"] == "arcgis_feature"
    assert run.requests == 1 + 1 + 3 * 2  # the directory, its folder, two per service
    # the viewer draws the MapServer layers (tiles, export) and leaves the FeatureServer layer to the catalog
    drawn = {e["slug"]: e["service"]["type"] for e in APIClient().get("/viewer/layers.json").json()["layers"]
             if e["slug"].startswith("src-")}
    assert sorted(drawn.values()) == ["arcgis", "arcgis", "xyz"]


# -- broken remotes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("route, reason, tries", [
    ((200, "text/html", b"<html><body>Service Unavailable"), "not well-formed XML", 1),
    ((500, "text/plain", b"boom"), "answered HTTP 500", 3),
    ((404, "text/plain", b"gone"), "answered HTTP 404", 1),
    ((200, "application/xml", b"<ServiceExceptionReport><ServiceException>no</ServiceException>"
                              b"</ServiceExceptionReport>"), "service exception", 1),
    ((200, "application/xml", b"<a>" + b"x" * 300_000 + b"</a>"), "over the limit of 200,000 bytes", 1),
    ((200, "stream;application/xml", b"<a>" + b"x" * 300_000 + b"</a>"), "over the limit of 200,000 bytes", 1),
    ((200, "application/xml", b"<late/>", 1.5), "no answer within 1 s", 3),
])
def test_a_broken_remote_fails_only_its_own_run_with_the_reason(remote, route, reason, tries):
    remote.routes["/wms"] = route
    kept = harvest("wms", remote.url + "/ok", slug="fine")  # another source
    run = harvest("wms", remote.url + "/wms")
    assert run.state == "failed" and reason in run.error and str(remote.url) in run.error
    assert run.requests == tries == remote.hits["/wms"]
    if tries > 1:
        assert f"after {tries} tries" in run.error
    assert "Traceback" not in run.error and "/work" not in run.error
    assert kept.state == "failed"  # /ok is not routed: its own 404, nothing to do with the other
    assert not Layer.objects.filter(harvested__source__slug="src").exists()


def test_a_remote_that_suddenly_offers_nothing_removes_nothing(remote):
    assert harvest("arcgis", remote.url + "/arcgis/rest/services").state == "ok"
    remote.routes["/arcgis/rest/services"] = (200, "application/json", b'{"folders": [], "services": []}')
    run = harvest("arcgis", remote.url + "/arcgis/rest/services")
    assert run.state == "failed" and "offers no layers now" in run.error
    assert Layer.objects.filter(harvested__source__slug="src").count() == 4


def wms_130(names: list[str], renamed: set[str] = frozenset()) -> bytes:
    layers = "".join(f"<Layer queryable=\"1\"><Name>{n}</Name><Title>{n}{' 改名' if n in renamed else ''}</Title>"
                     "<EX_GeographicBoundingBox><westBoundLongitude>121.0</westBoundLongitude><eastBoundLongitude>121.1"
                     "</eastBoundLongitude><southBoundLatitude>24.9</southBoundLatitude><northBoundLatitude>25.0"
                     "</northBoundLatitude></EX_GeographicBoundingBox></Layer>" for n in names)
    return ('<?xml version="1.0" encoding="UTF-8"?><WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms"'
            ' xmlns:xlink="http://www.w3.org/1999/xlink"><Service><Name>WMS</Name><Title>t</Title></Service><Capability>'
            '<Request><GetMap><Format>image/png</Format><DCPType><HTTP><Get><OnlineResource xlink:href="http://r/wms"/>'
            f'</Get></HTTP></DCPType></GetMap></Request><Layer><Title>root</Title>{layers}</Layer></Capability>'
            '</WMS_Capabilities>').encode()


def test_a_run_audits_every_layer_it_creates_changes_or_removes_in_one_append(remote, monkeypatch,
                                                                               django_capture_on_commit_callbacks):
    from audit import chain
    from audit.models import AuditEntry

    appends = []
    real_append = chain.append
    monkeypatch.setattr(chain, "append", lambda drafts: appends.append(len(drafts)) or real_append(drafts))
    before = chain.verify()["checked"]  # another connection's test may have left entries
    owner = User.objects.create_user("harvest-owner")
    names = [f"road_{i}" for i in range(12)]
    remote.routes["/wms"] = (200, "text/xml", wms_130(names))
    with django_capture_on_commit_callbacks(execute=True):
        first = harvest("wms", remote.url + "/wms", created_by=owner)
    assert first.state == "ok" and first.new == 12, first.error
    assert appends == [12]  # one append (one transaction, one lock of the chain's head) for the run's 12 entries
    remote.routes["/wms"] = (200, "text/xml", wms_130(names[2:], renamed={"road_5"}))
    with django_capture_on_commit_callbacks(execute=True):
        second = harvest("wms", remote.url + "/wms")
    assert (second.changed, second.vanished) == (1, 2) and appends == [12, 3]
    assert chain.verify()["valid"] and chain.verify()["checked"] == before + 15
    auditor = User.objects.create_superuser("harvest-auditor")
    client = APIClient()
    client.force_authenticate(auditor)
    for slug, action in ((first.report["new"][0], "create"), (second.report["changed"][0], "change"),
                         (second.report["vanished"][0], "delete")):
        found = client.get(f"/api/v1/audit/?layer={slug}&action={action}").json()["results"]
        assert len(found) == 1 and found[0]["actor_name"] == "harvest-owner", found
    by_run = AuditEntry.objects.filter(detail__harvest_run=second.pk).order_by("seq")
    assert [e.action for e in by_run] == ["change", "delete", "delete"]
    assert {e.actor_name for e in by_run} == {"harvest-owner"}
    assert by_run[0].detail["fields"] == ["title_zh"] and by_run[0].detail["harvest_source"] == "src"
    assert AuditEntry.objects.filter(detail__harvest_run=first.pk, action="create").count() == 12
    # a run that breaks off while writing leaves no layers and no entries
    remote.routes["/wms"] = (200, "text/xml", wms_130(["new_one"]))
    monkeypatch.setattr("harvest.runner.HarvestedLayer.objects.create", lambda **kw: 1 / 0)
    with django_capture_on_commit_callbacks(execute=True):
        broken = harvest("wms", remote.url + "/wms")
    assert broken.state == "failed"
    assert not Layer.objects.filter(harvested__remote_id="new_one").exists()
    assert not AuditEntry.objects.filter(detail__harvest_run=broken.pk).exists() and chain.verify()["valid"]


# -- the API -------------------------------------------------------------------------------------------------------

def test_sources_and_runs_are_for_superusers_only_and_a_run_is_a_job(remote, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    from harvest import tasks

    monkeypatch.setattr(tasks.run, "delay", tasks.run)  # the worker's part, here
    admin = User.objects.create_superuser("harvest-admin")
    clerk = User.objects.create_user("harvest-clerk")
    body = {"name": "交通局 ArcGIS", "slug": "traffic", "kind": "arcgis", "visibility": "internal",
            "url": remote.url + "/arcgis/rest/services", "every_hours": 6}
    for who in (None, clerk):
        client = APIClient()
        if who:
            client.force_authenticate(who)
        assert client.get("/api/v1/harvest/sources/").status_code == 404
        assert client.post("/api/v1/harvest/sources/", body, format="json").status_code == 404
    client = APIClient()
    client.force_authenticate(admin)
    bad = client.post("/api/v1/harvest/sources/", {**body, "kind": "gopher", "every_hours": 0.1}, format="json")
    assert bad.status_code == 400 and {"kind", "every_hours"} <= set(bad.json())
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/harvest/sources/", body, format="json")
    assert created.status_code == 201, created.content
    source = client.get(f"/api/v1/harvest/sources/{created.json()['id']}/").json()
    assert source["next_run_at"] and source["layers"] == 4
    assert source["last_run"]["state"] == "ok" and source["last_run"]["new"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/api/v1/harvest/sources/{source['id']}/run/")
    assert again.status_code == 202 and again.json()["state"] == "queued"
    runs = client.get("/api/v1/harvest/runs/?source=traffic").json()["results"]
    assert [r["state"] for r in runs] == ["ok", "ok"] and runs[0]["unchanged"] == 4
    assert client.get(f"/api/v1/harvest/runs/{runs[0]['id']}/").json()["trigger"] == "demand"
    assert client.delete(f"/api/v1/harvest/sources/{source['id']}/").status_code == 204
    assert not Layer.objects.filter(slug__startswith="traffic-").exists()


def test_the_schedule_starts_due_sources_once(remote, monkeypatch, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from harvest import tasks

    started = []
    monkeypatch.setattr(tasks.run, "delay", started.append)
    due = HarvestSource.objects.create(name="a", slug="due", kind="wms", url=remote.url + "/x", every_hours=1,
                                       next_run_at=timezone.now())
    HarvestSource.objects.create(name="b", slug="later", kind="wms", url=remote.url + "/x", every_hours=1,
                                 next_run_at=timezone.now() + timezone.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.due() == "1 harvest runs started: due"
    assert len(started) == 1 and HarvestRun.objects.get(pk=started[0]).source == due
    due.refresh_from_db()
    assert due.next_run_at > timezone.now() + timezone.timedelta(minutes=59)


def test_the_page_registers_a_source_and_shows_runs_in_both_languages(remote, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    from django.test import Client

    from harvest import tasks

    monkeypatch.setattr(tasks.run, "delay", tasks.run)
    clerk = Client()
    clerk.force_login(User.objects.create_user("page-clerk"))
    assert clerk.get("/harvest/").status_code == 404
    admin = Client()
    admin.force_login(User.objects.create_superuser("page-admin"))
    bad = admin.post("/harvest/", {"form": "add", "name": "x", "slug": "Bad Slug", "kind": "wms", "url": "ftp://x",
                                   "visibility": "public", "every_hours": "24"})
    assert bad.status_code == 400
    assert "代稱" in bad.content.decode() and "網址" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        added = admin.post("/harvest/", {"form": "add", "name": "市府 ArcGIS", "slug": "city", "kind": "arcgis",
                                         "url": remote.url + "/arcgis/rest/services", "visibility": "public",
                                         "every_hours": "12"})
    assert added.status_code == 302
    page = admin.get("/harvest/").content.decode()
    assert "已登錄「市府 ArcGIS」" in page and 'data-source="city"' in page and "4 個" in page
    admin.cookies["django_language"] = "en"
    english = admin.get("/harvest/").content.decode()
    assert "Harvesting other agencies' services" in english and "Harvest now" in english and "every 12 hours" in english


def test_a_featureserver_layer_copied_into_postgis_page_by_page_and_refreshed(remote, monkeypatch,
                                                                              django_capture_on_commit_callbacks):
    from harvest import arcgis_copy, tasks
    from jobs.models import Job
    from layers import tasks as layer_tasks

    monkeypatch.setattr(tasks.copy, "delay", tasks.copy)
    monkeypatch.setattr(layer_tasks.import_job, "delay", lambda pk: layer_tasks.import_job.apply(args=[pk]))
    assert harvest("arcgis", remote.url + "/arcgis/rest/services").state == "ok"
    parcels = Layer.objects.get(harvested__remote_id="Parcels/FeatureServer/0")
    admin = APIClient()
    admin.force_authenticate(User.objects.create_superuser("copy-admin"))
    roads = Layer.objects.get(harvested__remote_id="Transport/Roads/MapServer/0")
    assert admin.post(f"/api/v1/harvest/layers/{roads.slug}/copy/").status_code == 400
    with django_capture_on_commit_callbacks() as callbacks:
        started = admin.post(f"/api/v1/harvest/layers/{parcels.slug}/copy/")
        assert started.status_code == 202, started.content
    while callbacks:  # the copy task, then its own on-commit: the import job
        pending = list(callbacks)
        with django_capture_on_commit_callbacks() as callbacks:
            for callback in pending:
                callback()
    state = admin.get(f"/api/v1/harvest/layers/{parcels.slug}/copy/").json()
    assert state["features"] == 3 and state["error"] == "", state
    assert [q["resultOffset"] for q in remote.queries] == ["0", "2"]
    assert {q["resultRecordCount"] for q in remote.queries} == {"2"} and remote.queries[0]["outSR"] == "4326"
    job = Job.objects.get(pk=state["job"])
    assert job.status == "succeeded", job.messages
    copy = Layer.objects.get(slug=state["copy"])
    assert copy.kind == "vector" and copy.feature_count == 3 and "Polygon" in copy.geometry_type
    assert {a["name"] for a in copy.attributes} >= {"landno", "area_m2"} or \
        {a["name"] for a in copy.attributes} >= {"LANDNO", "AREA_M2"}
    # the next run of the source refreshes it: a new version of the same layer
    with django_capture_on_commit_callbacks(execute=True):
        again = harvest("arcgis", remote.url + "/arcgis/rest/services")
    assert again.report["copies"][0].startswith(f"{parcels.slug}: 3 features, import job ")
    refreshed = Job.objects.latest("pk")
    assert refreshed.status == "succeeded" and refreshed.options["layer"] == copy.slug
    assert Layer.objects.filter(slug__endswith="-copy").count() == 1
    # Esri JSON (servers before 10.4): a polygon with a hole, a point
    ring = [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]  # clockwise: outer
    hole = [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]
    assert arcgis_copy._esri_geometry({"rings": [ring, hole]}, "x") == {"type": "MultiPolygon",
                                                                       "coordinates": [[ring, hole]]}
    assert arcgis_copy._esri_geometry({"x": 121.3, "y": 25.0}, "x")["type"] == "Point"
