"""Time-enabled layers: a layer's date/time attribute made its time (PATCH time_attribute), then one `time` window
(layers.serving.filters) on the features API, vector tiles, downloads, WFS GetFeature and WMS GetMap, and the WMS
TIME dimension read by OWSLib. Seven sensor readings by hand: 2026-11-30 00:00 … 05:00 UTC (08:00 … 13:00 in
Taipei) one hour apart along a line, and one without a time."""

import csv
import io
import json
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import mapbox_vector_tile
import pytest
from conftest import tile_of
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from owslib.util import ServiceException
from owslib.wfs import WebFeatureService
from owslib.wms import WebMapService
from rest_framework.test import APIClient
from test_ows import painted, png_pixels

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db
SLUG = "pm25-readings"
HOURS = range(6)
WEST, SOUTH, EAST, NORTH = 121.295, 24.985, 121.325, 24.995


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def readings() -> dict:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.30 + 0.004 * h, 24.99]},
                 "properties": {"station": f"S{h}", "pm25": 10.0 + h, "measured_at": f"2026-11-30T{h:02d}:00:00Z"}}
                for h in HOURS]
    features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.32, 24.99]},
                     "properties": {"station": "S-none", "pm25": 5.0, "measured_at": None}})
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture(scope="module")
def ows(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    with django_db_blocker.unblock():
        path = tmp_path_factory.mktemp("time") / "readings.geojson"
        path.write_text(json.dumps(readings()))
        job = run_job(jobs.create(path, path.name, {"slug": SLUG, "visibility": "public"}).pk)
        assert job.status == "succeeded", job.errors
        editor = User.objects.create_superuser("time-editor")
        server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield {"url": f"http://127.0.0.1:{server.server_port}/ows", "editor": editor}
        finally:
            server.shutdown()
            import mapscript

            mapscript.msConnPoolCloseUnreferenced()
            Layer.objects.all().delete()
            editor.delete()
            with connection.cursor() as cur:
                cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


@pytest.fixture(scope="module")
def enabled(ows, django_db_blocker):
    """The layer made time-enabled through the API by its editor, and published."""
    with django_db_blocker.unblock():
        editor = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        editor.force_authenticate(ows["editor"])
        types = {a["name"]: a["type"] for a in Layer.objects.get(slug=SLUG).attributes}
        assert types["measured_at"].startswith("timestamp"), types
        wrong = editor.patch(f"/api/v1/layers/{SLUG}/", {"time_attribute": "pm25"}, format="json")
        assert wrong.status_code == 400
        assert "'pm25' is not a date or time attribute" in wrong.json()["time_attribute"][0], wrong.content
        missing = editor.patch(f"/api/v1/layers/{SLUG}/", {"time_attribute": "taken_at"}, format="json")
        assert missing.status_code == 400 and "measured_at" in missing.json()["time_attribute"][0]
        done = editor.patch(f"/api/v1/layers/{SLUG}/", {"time_attribute": "measured_at"}, format="json")
        assert done.status_code == 200, done.content
        assert done.json()["time_extent"] == ["2026-11-30T00:00:00Z", "2026-11-30T05:00:00Z"]
        publishing.publish_all()
    return ows


def matched(time_text: str | None, language="zh-hant") -> tuple[int, dict]:
    params = {"limit": 100, **({"time": time_text} if time_text is not None else {})}
    resp = APIClient(HTTP_ACCEPT_LANGUAGE=language).get(f"/api/v1/layers/{SLUG}/features/", params)
    body = resp.json()
    return (body["numberMatched"] if resp.status_code == 200 else resp.status_code), body


@pytest.mark.parametrize(("window", "stations"), [
    (None, ["S0", "S1", "S2", "S3", "S4", "S5", "S-none"]),
    ("2026-11-30T02:00:00Z", ["S2"]),  # an instant matches that instant
    ("2026-11-30T10:00", ["S2"]),  # no zone: Taipei time
    ("2026-11-30T01:00:00Z/2026-11-30T03:00:00Z", ["S1", "S2", "S3"]),  # closed at both ends
    ("2026-11-30T03:00Z/..", ["S3", "S4", "S5"]),  # open end
    ("/2026-11-30T00:00:00Z", ["S0"]),
    ("2026-11-30", ["S0", "S1", "S2", "S3", "S4", "S5"]),  # a day: all of it (in Taipei)
    ("2026-11-29/2026-11-29", []),
])
def test_the_features_api_filters_by_time(enabled, window, stations):
    found, body = matched(window)
    assert found == len(stations), body
    assert sorted(f["properties"]["station"] for f in body["features"]) == sorted(stations)


@pytest.mark.parametrize(("window", "language", "says"), [
    ("yesterday", "en", "time: 'yesterday' is not an ISO 8601 time"),
    ("2026-11-30T05:00Z/2026-11-30T01:00Z", "en", "time: the start 2026-11-30T05:00:00Z is after the end"),
    ("2026-11-30/2026-12-01/2026-12-02", "zh-hant", "不是 ISO 8601 時間"),
])
def test_a_bad_time_is_a_400_naming_the_parameter(enabled, window, language, says):
    status, body = matched(window, language)
    assert status == 400 and says in body["detail"], body


def test_a_layer_without_time_refuses_a_time_filter(enabled):
    Layer.objects.filter(slug=SLUG).update(time_attribute="")
    status, body = matched("2026-11-30", "en")
    assert status == 400 and "is not time-enabled" in body["detail"], body


def test_tiles_and_downloads_take_the_same_window(enabled):
    z = 12  # one tile holds all seven
    x, y = tile_of(121.31, 24.99, z)
    path = f"/tiles/{SLUG}/{z}/{x}/{y}.mvt"
    plain, windowed = APIClient().get(path), APIClient().get(path, {"time": "2026-11-30T03:00Z/.."})
    assert plain.status_code == windowed.status_code == 200 and plain["ETag"] != windowed["ETag"]
    tile = lambda resp: mapbox_vector_tile.decode(resp.content)[SLUG]["features"]  # noqa: E731
    assert len(tile(plain)) == 7
    assert sorted(f["id"] for f in tile(windowed)) == [4, 5, 6]  # S3, S4, S5 (fids in file order)
    download = APIClient().get(f"/api/v1/layers/{SLUG}/download/", {"format": "csv", "time": "../2026-11-30T01:00Z"})
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert sorted(r["station"] for r in rows) == ["S0", "S1"]
    # a filter kept as JSON (share links, prints, CIVGIS_FILTER) carries the window too
    spec = json.dumps({"op": "and", "conditions": [{"attribute": "pm25", "operator": ">", "value": 13}],
                       "time": "2026-11-30"})
    assert matched(None)[0] == 7
    body = APIClient().get(f"/api/v1/layers/{SLUG}/features/", {"filter": spec}).json()
    assert sorted(f["properties"]["station"] for f in body["features"]) == ["S4", "S5"]


def test_a_views_time_window_is_kept_by_share_links_and_reaches_the_printed_map(enabled):
    """The viewer sends the slider's window as the time-enabled layer's filter `time` (viewstate.js): a share link
    keeps it, and the print's map engine gets it as a condition on the layer's time attribute."""
    from web import printing, viewstate

    window = "2026-11-30T01:00:00Z/2026-11-30T03:00:00Z"
    state = viewstate.clean({"center": [121.31, 24.99], "zoom": 14, "layers": [
        {"slug": SLUG, "opacity": 0.8, "visible": True, "filter": {"op": "and", "conditions": [], "time": window}}]})
    assert state["layers"][0]["filter"]["time"] == window
    condition = printing._filter_of(state, Layer.objects.get(slug=SLUG))[SLUG]
    assert '"measured_at" >=' in condition and '"measured_at" <=' in condition, condition
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT station FROM layerdata.{Layer.objects.get(slug=SLUG).table_name} WHERE {condition}"
                    " ORDER BY station")
        assert [r[0] for r in cur.fetchall()] == ["S1", "S2", "S3"]


def test_wms_time_through_owslib(enabled):
    wms = WebMapService(enabled["url"], version="1.3.0")
    layer = wms[SLUG]
    assert layer.timepositions == ["2026-11-30T00:00:00Z/2026-11-30T05:00:00Z"]
    assert layer.defaulttimeposition == "2026-11-30T00:00:00Z/2026-11-30T05:00:00Z"

    def drawn(**time):
        image = wms.getmap(layers=[SLUG], styles=[""], srs="EPSG:4326", bbox=(WEST, SOUTH, EAST, NORTH),
                           size=(300, 100), format="image/png", transparent=True, **time)
        return painted(png_pixels(image.read()))

    everything, one, three, none = (drawn(), drawn(time="2026-11-30T02:00:00Z"),
                                    drawn(time="2026-11-30T01:00:00Z/2026-11-30T03:00:00Z"),
                                    drawn(time="2026-12-01"))
    assert everything > three > one > 0 == none, (everything, three, one, none)
    assert abs(three - 3 * one) <= one // 4  # three points drawn as one is
    with pytest.raises(ServiceException, match="InvalidDimensionValue.*TIME：'soon' 不是 ISO 8601 時間"):
        wms.getmap(layers=[SLUG], styles=[""], srs="EPSG:4326", bbox=(WEST, SOUTH, EAST, NORTH), size=(30, 10),
                   format="image/png", time="soon")


def test_wfs_getfeature_takes_time(enabled):
    wfs = WebFeatureService(enabled["url"], version="2.0.0")
    assert f"civgis:{SLUG}" in wfs.contents or SLUG in wfs.contents
    import requests

    def stations(**extra):
        answer = requests.get(enabled["url"], params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                                      "TYPENAMES": SLUG, "OUTPUTFORMAT": "geojson", **extra},
                              timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        return sorted(f["properties"]["station"] for f in answer.json()["features"])

    assert len(stations()) == 7
    assert stations(TIME="2026-11-30T04:00:00Z/..") == ["S4", "S5"]
    bad = requests.get(enabled["url"], params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                               "TYPENAMES": SLUG, "TIME": "2026-13-45"}, timeout=30)
    assert bad.status_code == 400 and "InvalidParameterValue" in bad.text and 'locator="time"' in bad.text
