"""Harvesting remote SensorThings services (iot.harvest) from documents in the shape of Civil IoT Taiwan's public
STA (tests/civil_iot/), served by a local HTTP server: Things, Locations (legacy vnd.geo+json, a GeoJSON Feature,
an address), Datastreams with units, string booleans and packed descriptions, paging and the incremental second
run; the devices are read-only for everyone and on the map; a service that times out, answers HTML or pages
forever fails only its own run, with the reason in the schedule."""

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from geo.scheduler.models import PeriodicTaskRun
from geo.settings import every
from iot.harvest.sources import source, sources
from iot.models import Datastream, Device, Latest, Observation
from iot.tasks import harvest_task

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).parent / "civil_iot"
EPA = "STA_AirQuality_EPAIoT"
WATER = "STA_WaterResource_v2"


class RecordedService:
    """The recorded documents over HTTP, their links pointing back here; `second_run` switches EPAIoT's Things to
    the next run's document; every request is kept."""

    def __init__(self):
        self.requests: list[str] = []
        self.second_run = False
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                service.requests.append(unquote(self.path))
                path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
                if path.startswith("/Slow/"):
                    time.sleep(1.5)
                    return self.answer(200, "application/json", b'{"value": []}')
                if path.startswith("/Html/"):
                    return self.answer(200, "text/html; charset=utf-8",
                                       "<!DOCTYPE html>\n<html><head><title>系統維護中</title></head></html>".encode())
                if path.startswith("/Forever/"):
                    skip = int(query.get("$skip", ["0"])[0])
                    body = {"value": [], "@iot.nextLink": f"{service.url}/Forever/v1.0/Things?$skip={skip + 1}"}
                    return self.answer(200, "application/json", json.dumps(body).encode())
                name = {f"/{EPA}/v1.0/Things": "epaiot_things_next_run" if service.second_run else
                        "epaiot_things_page2" if query.get("$skip") == ["2"] else "epaiot_things_page1",
                        f"/{EPA}/v1.0/Datastreams(33001)/Observations": "epaiot_observations_33001_page2",
                        f"/{WATER}/v1.0/Things": "waterresource_things"}.get(path)
                if name is None:
                    return self.answer(404, "application/json", b'{"code": 404, "message": "Not Found"}')
                text = (DOCS / f"{name}.json").read_text()
                for host in ("https://sta.colife.org.tw", "https://sta.ci.taiwan.gov.tw"):
                    text = text.replace(host, service.url)
                return self.answer(200, "application/json;charset=UTF-8", text.encode())

            def answer(self, status, kind, body):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def asked(self, prefix: str) -> list[dict]:
        return [parse_qs(urlsplit(r).query) for r in self.requests if r.startswith(prefix)]


@pytest.fixture
def service(settings):
    recorded = RecordedService()
    entries = [f"{recorded.url}/{EPA}/v1.0", f"{recorded.url}/{WATER}/v1.0/Things?$filter=properties%2Fauthority"
               "%20eq%20%27%E6%A1%83%E5%9C%92%E5%B8%82%E6%94%BF%E5%BA%9C%E6%B0%B4%E5%8B%99%E5%B1%80%27",
               f"{recorded.url}/Slow/v1.0", f"{recorded.url}/Html/v1.0", f"{recorded.url}/Forever/v1.0"]
    settings.STA_HARVEST_SOURCES = entries
    settings.CELERY_BEAT_SCHEDULE = {s.task: every(s.task, 600) for s in sources(entries)}
    settings.STA_HARVEST_TIMEOUT_S = 0.5
    settings.STA_HARVEST_MAX_PAGES = 5
    # the documents' readings are of 2026-11-30: look back to the day before
    day_before = datetime(2026, 11, 29, tzinfo=UTC)
    settings.STA_HARVEST_LOOKBACK_HOURS = (datetime.now(UTC) - day_before).total_seconds() / 3600
    try:
        yield recorded
    finally:
        recorded.server.shutdown()
        recorded.server.server_close()


def harvest(name: str) -> PeriodicTaskRun:
    task = harvest_task(name)
    task.apply(throw=False)  # in this process, recorded by the scheduler's task signals like a beat run
    return PeriodicTaskRun.objects.get(task=task.name)


def test_sources_are_named_after_their_service_and_bad_entries_are_named():
    epa = source("https://sta.colife.org.tw/STA_AirQuality_EPAIoT/v1.0/")
    assert (epa.name, epa.base_url, epa.things_filter, epa.task) == (
        EPA, "https://sta.colife.org.tw/STA_AirQuality_EPAIoT/v1.0", "", f"iot.harvest_sta.{EPA}")
    rain = source("rain=https://sta.colife.org.tw/STA_Rain/v1.0/Things?$filter=properties/city%20eq%20%27桃園市%27")
    assert (rain.name, rain.things_filter) == ("rain", "properties/city eq '桃園市'")
    for entry, says in (("ftp://x/v1.0", "http(s) URL"), ("https://x/STA_Rain", "/v1.0 or /v1.1"),
                        ("https://x/a/v1.0/Datastreams", "/v1.0 or /v1.1"), ("https://x/a/v1.0/Things?$top=5", "only")):
        with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
            source(entry)
    with pytest.raises(ValueError, match="two services are named"):
        sources(["https://a/S/v1.0", "https://b/S/v1.1"])


def test_a_civil_iot_service_is_harvested_and_the_next_run_takes_only_new_observations(service):
    run = harvest(EPA)
    assert run.outcome == "ok", run.message
    # 3 Things over 2 pages + 1 extra page of Datastream 33001's Observations; 14 readings, the humidity "-" not one
    assert run.message == (f"{EPA}: 3 Things (3 new), 5 Datastreams, 14 new Observations "
                           "(1 rejected: result is not a number); 3 pages read")
    first = service.asked(f"/{EPA}/v1.0/Things")[0]
    expand = first["$expand"][0]
    assert expand.startswith("Locations,Datastreams($expand=ObservedProperty,Observations($filter=phenomenonTime gt "
                             "2026-11-29T00:00:0")  # the lookback: the day before the documents
    assert expand.endswith(";$orderby=phenomenonTime asc;$top=1000;$select=phenomenonTime,result))")

    devices = {d.remote_id: d for d in Device.objects.filter(harvested_from=EPA)}
    assert set(devices) == {"11621", "11622", "11623"}
    zhongli = devices["11621"]
    assert zhongli.device_id == f"{EPA}:11621" and zhongli.name == "智慧城鄉空品微型感測器-10342706474"
    # string booleans are booleans; the rest of the properties as they came
    assert zhongli.properties["isMobile"] is False and zhongli.properties["isOutdoor"] is True
    assert devices["11623"].properties["isMobile"] is True and zhongli.properties["township"] == "中壢區"
    # the legacy vnd.geo+json Point and a GeoJSON Feature, stored in the working CRS
    for remote, lon, lat in (("11621", 121.2254, 24.9576), ("11622", 121.3010, 24.9937)):
        back = devices[remote].location.transform(4326, clone=True)
        assert (round(back.x, 6), round(back.y, 6)) == (lon, lat)
    streams = {ds.remote_id: ds for ds in Datastream.objects.filter(device__harvested_from=EPA).select_related(
        "quantity")}
    # PM2.5 in μg/m3, Temperature in °C and Relative humidity in % are the platform's own quantities
    assert {k: ds.quantity.code for k, ds in streams.items()} == {
        "33001": "pm25", "33002": "temperature_c", "33003": "humidity_pct", "33004": "pm25", "33007": "pm25"}
    assert (streams["33001"].unit_name, streams["33002"].unit_name) == ("microgram per cubic meter", "degree Celsius")

    def readings(remote):
        ds = streams[remote]
        return [(o.observed_at.hour, o.value) for o in Observation.objects.filter(
            device=ds.device, quantity=ds.quantity).order_by("observed_at")]

    assert readings("33001") == [(0, 12), (1, 14), (2, 17), (3, 19), (4, 16)]  # the second page followed
    assert readings("33003") == [(0, 78), (1, 80)]
    assert readings("33004") == [(0, 9), (1, 18)]  # "18" as text is a number
    assert Latest.objects.get(device=devices["11621"], quantity__code="pm25").value == 16

    service.second_run = True
    again = harvest(EPA)
    assert again.outcome == "ok", again.message
    assert again.message == f"{EPA}: 3 Things (0 new), 5 Datastreams, 4 new Observations; 1 pages read"
    # asked from the oldest latest reading of its Datastreams (33004 and 33003 at 01:00), not from the start
    assert "Observations($filter=phenomenonTime gt 2026-11-30T01:00:00.000Z;" in service.asked(
        f"/{EPA}/v1.0/Things")[-1]["$expand"][0]
    assert readings("33001")[-1] == (5, 15) and len(readings("33001")) == 6
    assert readings("33002") == [(0, 22.4), (1, 22.1), (2, 21.8), (3, 21.5)]
    moved = Device.objects.get(device_id=f"{EPA}:11623").location.transform(4326, clone=True)
    assert (round(moved.x, 4), round(moved.y, 4)) == (121.2861, 24.9302)  # a mobile sensor's new place
    assert Device.objects.filter(harvested_from=EPA).count() == 3


def test_packed_descriptions_an_address_location_and_the_things_filter(service):
    run = harvest(WATER)
    assert run.outcome == "ok", run.message
    assert run.message == (f"{WATER}: 1 Things (1 new), 1 Datastreams, 2 new Observations "
                           "(1 address not found); 1 pages read")
    assert service.asked(f"/{WATER}/v1.0/Things")[0]["$filter"] == ["properties/authority eq '桃園市政府水務局'"]
    ds = Datastream.objects.select_related("device", "quantity").get(device__harvested_from=WATER)
    assert ds.properties == {"Datastream_id": "d41d4009-d09a-474e-bc71-e07cf2a254ef",
                             "Datastream_FullName": "中正路_鄰近南崁溪_淹水深度",
                             "Datastream_Description": "定點量測路面淹水深度", "Datastream_Category_type": "淹水感測器",
                             "Datastream_Category": "淹水深度"}
    assert (ds.quantity.code, ds.quantity.unit, ds.unit_name) == ("淹水深度-cm", "cm", "cm")
    # the address is looked up in the platform's public address points: none here, so the device has no place
    assert ds.device.location is None
    # an interval phenomenonTime is read as its end
    assert [o.observed_at.minute for o in Observation.objects.filter(device=ds.device).order_by("observed_at")] == [
        2, 12]
    body = json.loads(APIClient().get(f"/sta/v1.1/Datastreams({ds.pk})").content)
    assert body["properties"]["Datastream_Category"] == "淹水深度"


def test_harvested_things_are_on_the_map_and_read_only_for_everyone(service):
    assert harvest(EPA).outcome == "ok"
    device = Device.objects.get(device_id=f"{EPA}:11621")
    ds = Datastream.objects.get(device=device, quantity__code="pm25")
    latest = json.loads(APIClient().get("/api/v1/iot/sensors/latest/").content)
    on_map = {f["properties"]["device_id"]: f for f in latest["features"]}
    assert on_map[device.device_id]["geometry"]["coordinates"] == [121.2254, 24.9576]
    assert on_map[device.device_id]["properties"]["latest"]["pm25"]["value"] == 16
    thing = json.loads(APIClient().get(f"/sta/v1.1/Things({device.pk})").content)
    assert thing["properties"]["harvestedFrom"] == EPA and thing["properties"]["isMobile"] is False
    admin = User.objects.create_superuser("harvest-admin")
    client = APIClient()
    client.force_authenticate(admin)
    for method, path, body in (
            ("patch", f"Things({device.pk})", {"name": "renamed"}),
            ("patch", f"Locations({device.pk})", {"location": {"type": "Point", "coordinates": [121, 25]}}),
            ("post", f"Datastreams({ds.pk})/Observations", {"phenomenonTime": "2026-12-01T00:00:00Z",
                                                            "result": 5}),
            ("patch", f"Datastreams({ds.pk})", {"name": "renamed"}),
            ("delete", f"Datastreams({ds.pk})", None),
            ("delete", f"Things({device.pk})", None)):
        resp = getattr(client, method)(f"/sta/v1.1/{path}", body, format="json")
        assert resp.status_code == 403, (method, path, resp.content)
        assert "read-only" in json.loads(resp.content)["message"], resp.content
    device.refresh_from_db()
    assert device.name == "智慧城鄉空品微型感測器-10342706474"
    assert device.location.equals_exact(Point(121.2254, 24.9576, srid=4326).transform(device.location.srid,
                                                                                      clone=True), 0.01)


@pytest.mark.parametrize(("name", "says"), [
    ("Slow", "/Slow/v1.0/Things?…: no answer within 0.5 s (STA_HARVEST_TIMEOUT_S)"),
    ("Html", "/Html/v1.0/Things?…: answered text/html instead of SensorThings JSON (it begins '<!DOCTYPE html>"),
    ("Forever", "still paging after 5 pages (@iot.nextLink never ends)"),
])
def test_a_bad_service_fails_only_its_own_run_with_the_reason_in_the_schedule(service, name, says):
    assert harvest(EPA).outcome == "ok"
    run = harvest(name)
    assert run.outcome == "failed"
    assert run.message.startswith("HarvestError: http://127.0.0.1:") and says in run.message, run.message
    assert PeriodicTaskRun.objects.get(task=f"iot.harvest_sta.{EPA}").outcome == "ok"
    assert Device.objects.filter(harvested_from=name).count() == 0
    admin = User.objects.create_superuser(f"harvest-{name}")
    client = APIClient()
    client.force_authenticate(admin)
    listed = {e["task"]: e for e in json.loads(client.get("/api/v1/schedule/").content)["tasks"]}
    assert listed[f"iot.harvest_sta.{name}"]["outcome"] == "failed"
    assert listed[f"iot.harvest_sta.{EPA}"]["outcome"] == "ok"
