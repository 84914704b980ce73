"""OGC API - Features at /ogcapi/ through third-party clients — OWSLib's owslib.ogcapi.features and GDAL's OAPIF
driver (ogrinfo, ogr2ogr) — on a small committed demo city served over HTTP, with counts checked against the REST
API, WFS (the same city published to MapServer) and the database, and coordinates in TWD97 / WGS 84 / Web Mercator
checked numerically against the stored TWD97 geometry and PROJ."""

import json
import subprocess
import threading
from wsgiref.simple_server import make_server

import pytest
import requests
from conftest import committed_demo_city
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from owslib.ogcapi.features import Features
from pyproj import Transformer
from test_ows import _QuietHandler, _Server
from test_time_layers import readings

from accounts import tokens
from audit import actors
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TIMED = "pm25-readings"


@pytest.fixture(scope="module")
def base(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo city (flood-zones restricted, parcels internal) and a time-enabled layer of readings, committed and
    published; served by a thread of this process. Yields the server's root URL."""
    with committed_demo_city(django_db_blocker, seed=11, size=0.05):
        Layer.objects.filter(slug="flood-zones").update(visibility=Layer.Visibility.RESTRICTED)
        path = tmp_path_factory.mktemp("ogcapi") / "readings.geojson"
        path.write_text(json.dumps(readings()))
        job = run_job(jobs.create(path, path.name, {"slug": TIMED, "visibility": "public"}).pk)
        assert job.status == "succeeded", job.errors
        Layer.objects.filter(slug=TIMED).update(time_attribute="measured_at")
        for slug in ("buildings", "villages"):  # WFS answers the counts compared (MapServer)
            publishing.apply(slug, publishing.PUBLISH)
        server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            import mapscript

            mapscript.msConnPoolCloseUnreferenced()
            User.objects.filter(username__startswith="oapif-").delete()
            with connection.cursor() as cur:  # the server threads' sessions, which would hold the database open
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()")


@pytest.fixture(scope="module")
def secret(base, django_db_blocker):
    """A personal API token (read scope) of a signed-in clerk, committed for the server's threads to see."""
    with django_db_blocker.unblock():
        clerk = User.objects.create_user("oapif-clerk", password="pw")
        return tokens.create(clerk, "gdal", ["read"], 1, actors.SYSTEM)[1]


def count(sql: str, params=None) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def wfs_hits(base: str, slug: str, **extra) -> int:
    answer = requests.get(base + "/ows", params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                                 "TYPENAMES": slug, "RESULTTYPE": "hits", **extra}, timeout=30)
    marker = 'numberMatched="'
    return int(answer.text.split(marker, 1)[1].split('"', 1)[0])


def rest_matched(base: str, slug: str, query: str = "") -> int:
    return requests.get(f"{base}/api/v1/layers/{slug}/features/?limit=1&{query}", timeout=30).json()["numberMatched"]


def items(base: str, slug: str, **params) -> requests.Response:
    return requests.get(f"{base}/ogcapi/collections/{slug}/items", params=params, timeout=30)


def test_owslib_reads_the_catalog_and_pages_with_the_rest_and_wfs_counts(base):
    api = Features(base + "/ogcapi/")
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in api.conformance()["conformsTo"]
    ids = {c["id"] for c in api.collections()["collections"]}
    public = set(Layer.objects.filter(kind="vector", visibility="public").exclude(table_name="")
                 .values_list("slug", flat=True))
    assert ids == public and "parcels" not in ids and "flood-zones" not in ids  # internal, restricted
    villages = api.collection("villages")
    assert villages["storageCrs"] == EPSG + "3826" and EPSG + "3828" in villages["crs"]
    assert villages["title"] == Layer.objects.get(slug="villages").title_zh  # zh-Hant by default
    west, south, east, north = villages["extent"]["spatial"]["bbox"][0]
    assert 120 < west < east < 122 and 21 < south < north < 26
    assert "population" in api.collection_queryables("villages")["properties"]

    n = count("SELECT count(*) FROM layerdata.buildings")
    page = api.collection_items("buildings", limit=7, offset=3)
    assert page["numberMatched"] == n == rest_matched(base, "buildings") == wfs_hits(base, "buildings")
    assert page["numberReturned"] == 7
    with connection.cursor() as cur:
        cur.execute("SELECT fid FROM layerdata.buildings ORDER BY fid OFFSET 3 LIMIT 7")
        assert [f["id"] for f in page["features"]] == [r[0] for r in cur.fetchall()]
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert "offset=10" in rels["next"] and "offset=0" in rels["prev"]

    # following `next` links reads every feature exactly once
    seen, url = [], f"{base}/ogcapi/collections/villages/items?limit=40"
    while url:
        answer = requests.get(url, timeout=30).json()
        seen += [f["id"] for f in answer["features"]]
        url = next((link["href"] for link in answer["links"] if link["rel"] == "next"), None)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == count("SELECT count(*) FROM layerdata.villages")


def test_gdal_oapif_driver_reads_and_copies_with_the_database_counts(base, tmp_path):
    n = count("SELECT count(*) FROM layerdata.villages")
    info = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogcapi/", "villages"], capture_output=True,
                          text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert f"Feature Count: {n}" in info.stdout and "population:" in info.stdout
    out = tmp_path / "facilities.geojson"
    kind, n_kind = next(iter(_rows("SELECT kind, count(*) FROM layerdata.facilities GROUP BY 1 ORDER BY 2 DESC")))
    copy = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogcapi/", "facilities",
                           "-where", f"kind = '{kind}'", "-oo", "PAGE_SIZE=3"], capture_output=True, text=True,
                          timeout=60)
    assert copy.returncode == 0, copy.stderr
    copied = json.loads(out.read_text())["features"]
    assert len(copied) == n_kind and {f["properties"]["kind"] for f in copied} == {kind}


def _rows(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.mark.parametrize(("ogc", "rest", "sql"), [
    ({"kind": "{kind}"}, "kind={kind}", "kind = '{kind}'"),
    ({"filter": "kind = '{kind}' OR name LIKE '%國小'"}, "filter=or;kind:eq:{kind};name:contains:國小",
     "kind = '{kind}' OR name LIKE '%%國小'"),
    ({"filter": "kind IN ('{kind}', 'park') AND NOT (name IS NULL)"}, "kind__in={kind},park&name__isnull=false",
     "kind IN ('{kind}', 'park') AND name IS NOT NULL"),
    ({"filter": "capacity BETWEEN 100 AND 800 OR kind <> '{kind}'"}, "filter=capacity:between:100,800",
     "capacity BETWEEN 100 AND 800 OR kind <> '{kind}'"),
])
def test_filters_count_as_the_rest_api_and_the_database(base, ogc, rest, sql):
    (kind,) = _rows("SELECT kind FROM layerdata.facilities GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]
    params = {k: v.replace("{kind}", kind) for k, v in ogc.items()}
    answer = items(base, "facilities", limit=2, **params)
    assert answer.status_code == 200, answer.text
    expected = count(f"SELECT count(*) FROM layerdata.facilities WHERE {sql.replace('{kind}', kind)}")
    assert 0 < answer.json()["numberMatched"] == expected
    if "OR kind <>" not in sql:
        assert rest_matched(base, "facilities", rest.replace("{kind}", kind)) == expected


def test_bbox_and_spatial_filters_match_wfs_and_bbox_crs(base):
    west, south, east, north = Layer.objects.get(slug="buildings").extent.extent
    box = (west, south, (west + east) / 2, (south + north) / 2)
    text = ",".join(map(str, box))
    by_bbox = items(base, "buildings", bbox=text).json()["numberMatched"]
    assert 0 < by_bbox == rest_matched(base, "buildings", f"bbox={text}")
    spatial = items(base, "buildings", filter=f"S_INTERSECTS(geometry, BBOX({text}))").json()
    assert spatial["numberMatched"] == by_bbox
    polygon = (f"POLYGON(({box[0]} {box[1]}, {box[2]} {box[1]}, {box[2]} {box[3]}, {box[0]} {box[3]}, "
               f"{box[0]} {box[1]}))")
    assert items(base, "buildings", filter=f"S_INTERSECTS(geometry, {polygon})").json()["numberMatched"] == by_bbox
    to_twd97 = Transformer.from_crs(4326, 3826, always_xy=True)
    x1, y1 = to_twd97.transform(box[0], box[1])
    x2, y2 = to_twd97.transform(box[2], box[3])
    in_twd97 = count("SELECT count(*) FROM layerdata.buildings WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, "
                     "%s, 3826))", [x1, y1, x2, y2])
    # in the storage CRS, WFS (MapServer) takes the same rectangle
    twd97_box = f"{x1},{y1},{x2},{y2}"
    assert items(base, "buildings", bbox=twd97_box, **{"bbox-crs": EPSG + "3826"}).json()["numberMatched"] \
        == in_twd97 == wfs_hits(base, "buildings", BBOX=twd97_box + ",urn:ogc:def:crs:EPSG::3826")
    # EPSG:4326 is latitude first
    assert items(base, "buildings", bbox=f"{box[1]},{box[0]},{box[3]},{box[2]}",
                 **{"bbox-crs": EPSG + "4326"}).json()["numberMatched"] == by_bbox


def test_crs_reprojection_checked_against_the_stored_twd97_point(base):
    fid, x, y = _rows("SELECT fid, ST_X(geom), ST_Y(geom) FROM layerdata.facilities ORDER BY fid LIMIT 1")[0]
    url = f"{base}/ogcapi/collections/facilities/items/{fid}"
    plain = requests.get(url, timeout=30)
    assert plain.headers["Content-Crs"] == f"<{CRS84}>"
    lon, lat = plain.json()["geometry"]["coordinates"]
    expected_lon, expected_lat = Transformer.from_crs(3826, 4326, always_xy=True).transform(x, y)
    assert abs(lon - expected_lon) < 1e-6 and abs(lat - expected_lat) < 1e-6
    twd97 = requests.get(url, params={"crs": EPSG + "3826"}, timeout=30)
    assert twd97.headers["Content-Crs"] == f"<{EPSG}3826>"
    assert twd97.json()["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.01)  # the stored TWD97 point
    wgs84 = requests.get(url, params={"crs": EPSG + "4326"}, timeout=30).json()["geometry"]["coordinates"]
    assert wgs84 == pytest.approx([expected_lat, expected_lon], abs=1e-6)  # EPSG:4326: latitude first
    mercator = requests.get(url, params={"crs": EPSG + "3857"}, timeout=30).json()["geometry"]["coordinates"]
    assert mercator == pytest.approx(Transformer.from_crs(3826, 3857, always_xy=True).transform(x, y), abs=0.01)
    page = items(base, "facilities", crs=EPSG + "3826", limit=500)
    assert page.headers["Content-Crs"] == f"<{EPSG}3826>"
    assert next(f for f in page.json()["features"] if f["id"] == fid)["geometry"]["coordinates"] == \
        pytest.approx([x, y], abs=0.01)
    twd67 = requests.get(url, params={"crs": EPSG + "3828"}, timeout=30).json()["geometry"]["coordinates"]
    assert abs(twd67[0] - x) < 1000 and abs(twd67[1] - y) < 1000 and twd67 != pytest.approx([x, y], abs=1)


def test_datetime_uses_the_layers_time_attribute(base):
    every = items(base, TIMED).json()["numberMatched"]
    window = items(base, TIMED, datetime="2026-11-30T01:00:00Z/2026-11-30T03:00:00Z").json()
    assert every == 7 and window["numberMatched"] == 3
    assert rest_matched(base, TIMED, "time=2026-11-30T01:00:00Z/2026-11-30T03:00:00Z") == 3
    opened = items(base, TIMED, datetime="2026-11-30T04:00:00Z/..").json()
    assert opened["numberMatched"] == 2
    temporal = requests.get(f"{base}/ogcapi/collections/{TIMED}", timeout=30).json()["extent"]["temporal"]
    assert temporal["interval"][0][0].startswith("2026-11-30T00:00")


def test_permissions_tokens_and_errors(base, secret):
    missing = requests.get(f"{base}/ogcapi/collections/no-such-layer/items", timeout=30)
    hidden = requests.get(f"{base}/ogcapi/collections/flood-zones/items", timeout=30)
    assert missing.status_code == hidden.status_code == 404
    assert missing.json()["code"] == "NotFound"
    assert hidden.text.replace("flood-zones", "X") == missing.text.replace("no-such-layer", "X")
    assert requests.get(f"{base}/ogcapi/collections/parcels", timeout=30).status_code == 404
    signed = {"Authorization": f"Bearer {secret}"}
    parcels = requests.get(f"{base}/ogcapi/collections/parcels/items?limit=1", headers=signed, timeout=30)
    assert parcels.status_code == 200 and parcels.json()["numberMatched"] == count(
        "SELECT count(*) FROM layerdata.parcels")
    listed = requests.get(f"{base}/ogcapi/collections", headers=signed, timeout=30).json()["collections"]
    assert "parcels" in {c["id"] for c in listed} and "flood-zones" not in {c["id"] for c in listed}
    assert requests.get(f"{base}/ogcapi/collections/flood-zones", headers=signed, timeout=30).status_code == 404
    gdal = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogcapi/", "parcels", "--config", "GDAL_HTTP_AUTH",
                           "BASIC", "--config", "GDAL_HTTP_USERPWD", f"x:{secret}"], capture_output=True, text=True,
                          timeout=60)
    assert gdal.returncode == 0 and "Feature Count:" in gdal.stdout, gdal.stderr
    refused = requests.get(f"{base}/ogcapi/collections", headers={"Authorization": "Bearer cgt_" + "0" * 48},
                           timeout=30)
    assert refused.status_code == 401

    for params, field in [({"crs": "EPSG:2000"}, "crs"), ({"filter": "name = "}, "CQL2"),
                          ({"filter": "nope = 1"}, "nope"), ({"bbox": "1,2,3"}, "bbox"), ({"limit": "0"}, "limit"),
                          ({"nope": "1"}, "nope"), ({"f": "xml"}, "f="), ({"filter-lang": "cql2-json"}, "cql2-text"),
                          ({"datetime": "2026-11-30"}, "datetime"), ({"filter": "name LIKE 3"}, "filter")]:
        answer = items(base, "villages", **params)
        assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameterValue", (params, answer.text)
        assert field in answer.json()["description"], (params, answer.text)
        assert "Traceback" not in answer.text and "/work" not in answer.text
    not_a_time = items(base, TIMED, datetime="yesterday")
    assert not_a_time.status_code == 400 and "datetime" in not_a_time.text and "ISO 8601" in not_a_time.text
    nothing = requests.get(f"{base}/ogcapi/collections/villages/items/999999", timeout=30)
    assert nothing.status_code == 404 and nothing.json()["code"] == "NotFound"
    sneaky = items(base, "villages", filter="name = 'x''; DROP TABLE layerdata.villages; --'")
    assert sneaky.status_code in (200, 400) and count("SELECT count(*) FROM layerdata.villages") > 0


def test_html_pages_in_both_languages_and_the_openapi_document(base):
    zh = requests.get(f"{base}/ogcapi/collections", headers={"Accept": "text/html"}, timeout=30)
    assert zh.headers["Content-Type"].startswith("text/html") and "村里" in zh.text
    en = requests.get(f"{base}/ogcapi/collections?f=html", headers={"Accept-Language": "en"}, timeout=30)
    village = Layer.objects.get(slug="villages")
    assert village.title_en in en.text and "Collections" in en.text
    english = requests.get(f"{base}/ogcapi/collections/villages", headers={"Accept-Language": "en"}, timeout=30)
    assert english.json()["title"] == village.title_en
    page = requests.get(f"{base}/ogcapi/collections/buildings/items?f=html&limit=5&offset=5",
                        headers={"Accept-Language": "en"}, timeout=30)
    assert page.status_code == 200 and 'rel="next"' in page.text and 'rel="prev"' in page.text
    n = count("SELECT count(*) FROM layerdata.buildings")
    assert f"Features 6–10 of {n}" in page.text and "Floors" in page.text
    doc = requests.get(f"{base}/ogcapi/api", timeout=30)
    assert doc.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    spec = doc.json()
    assert spec["openapi"].startswith("3.0") and "/collections/{collectionId}/items" in spec["paths"]
    ids = next(p for p in spec["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
               if p["name"] == "collectionId")["schema"]["enum"]
    assert "villages" in ids and "flood-zones" not in ids and "parcels" not in ids
    landing = requests.get(f"{base}/ogcapi/", timeout=30).json()
    assert {"service-desc", "conformance", "data"} <= {link["rel"] for link in landing["links"]}
    assert next(link for link in landing["links"] if link["rel"] == "service-desc")["href"] == f"{base}/ogcapi/api"
