"""Sensor feeds: devices registered from a layer, readings over HTTP and over a real Mosquitto broker, every
bad reading rejected with its reason and counted, latest values, series and threshold alerts."""

import json
import os
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import importfiles as files
import numpy as np
import paho.mqtt.client as paho
import pytest
import shapely
from conftest import generated_city
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from iot.models import Device, Observation, Quantity, RejectCount, Threshold
from iot.mqtt import Consumer
from iot.tasks import mqtt_consumer
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def tokens(tmp_path, db):
    """Two sensors in a registry layer owned by the environmental agency; their tokens."""
    path = files.write_vector(tmp_path / "aq.gpkg", np.array([shapely.Point(280_000, 2_765_000),
                                                              shapely.Point(281_000, 2_766_000)], dtype=object),
                              {"sensor_id": np.array(["AQ-1", "AQ-2"], dtype=object)}, "EPSG:3826", "GPKG")
    agency = Group.objects.create(name="環境保護局")
    job = run_job(jobs.create(path, path.name, {"slug": "aq", "visibility": "public", "owner_agency": agency.pk}).pk)
    assert job.status == "succeeded", job.errors
    Layer.objects.filter(slug="aq").update(owner_agency=agency)
    staff = User.objects.create_user("epa")
    staff.groups.add(agency)
    client = APIClient()
    client.force_authenticate(User.objects.create_user("someone-else"))
    assert client.post("/api/v1/iot/devices/from-layer/", {"layer": "aq", "id_attribute": "sensor_id"},
                       format="json").status_code == 403
    client.force_authenticate(staff)
    resp = client.post("/api/v1/iot/devices/from-layer/", {"layer": "aq", "id_attribute": "sensor_id"}, format="json")
    assert resp.status_code == 200, resp.content
    return {d["device_id"]: d["token"] for d in resp.json()["devices"]}


def test_a_layer_of_ones_own_cannot_take_over_another_agencys_devices(tokens, tmp_path):
    """Device ids are global: registering a layer with the same ids must not re-key (steal) the other agency's
    devices and their readings."""
    path = files.write_vector(tmp_path / "mine.gpkg", np.array([shapely.Point(280_500, 2_765_500)], dtype=object),
                              {"sensor_id": np.array(["AQ-1"], dtype=object)}, "EPSG:3826", "GPKG")
    intruder_agency = Group.objects.create(name="另一局處")
    intruder = User.objects.create_user("intruder")
    intruder.groups.add(intruder_agency)
    job = run_job(jobs.create(path, path.name, {"slug": "mine", "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors
    Layer.objects.filter(slug="mine").update(owner_agency=intruder_agency)
    client = APIClient()
    client.force_authenticate(intruder)
    resp = client.post("/api/v1/iot/devices/from-layer/", {"layer": "mine", "id_attribute": "sensor_id"},
                       format="json")
    assert resp.status_code == 200 and resp.json()["devices"] == [] and resp.json()["skipped"] == ["AQ-1"]
    assert Device.objects.get(device_id="AQ-1").layer.slug == "aq"
    assert send(tokens["AQ-1"], [reading(0, 12.0)]).json()["accepted"] == 1  # the owner's token still works


def reading(minutes, value, quantity="pm25"):
    return {"quantity": quantity, "value": value, "observed_at": (T0 + timedelta(minutes=minutes)).isoformat()}


def send(token, observations):
    return APIClient().post("/api/v1/iot/observations/", {"observations": observations}, format="json",
                            HTTP_AUTHORIZATION=f"Device {token}")


def rejects(source):
    return {r.reason: r.count for r in RejectCount.objects.filter(source=source)}


def test_http_batch_keeps_the_good_and_rejects_the_bad_with_reasons(tokens):
    Threshold.objects.create(quantity=Quantity.objects.get(code="pm25"), above=35, label="PM2.5 橘色警戒")
    batch = [reading(0, 12.0), reading(60, 40.5), reading(0, 99.0, "humidity_pct"),
             reading(120, 13.0), reading(120, 14.0),  # the same time twice: the second is a duplicate
             reading(180, -3.0), {"quantity": "pm25", "value": "high", "observed_at": T0.isoformat()},
             {"quantity": "radon", "value": 1, "observed_at": T0.isoformat()},
             {"quantity": "pm25", "value": 1, "observed_at": "2026-11-01T08:00:00"}, "not a reading",
             reading(60 * 24 * 365 * 2, 10.0)]
    body = send(tokens["AQ-1"], batch).json()
    assert body["accepted"] == 4 and body["alerts"] == 1
    assert [(r["index"], r["reason"]) for r in body["rejects"]] == [
        (4, "duplicate"), (5, "out of range"), (6, "malformed: value is not a number"), (7, "unknown quantity"),
        (8, "malformed: observed_at has no time zone"), (9, "malformed: not an object"), (10, "in the future")]
    again = send(tokens["AQ-1"], [reading(0, 12.0), reading(240, 20.0)]).json()  # already stored → duplicate
    assert again["accepted"] == 1 and again["reasons"] == {"duplicate": 1}
    assert send("forged", [reading(0, 1.0)] * 3).status_code == 401
    assert rejects("http") == {"duplicate": 2, "out of range": 1, "malformed: value is not a number": 1,
                               "unknown quantity": 1, "malformed: observed_at has no time zone": 1,
                               "malformed: not an object": 1, "in the future": 1, "unknown device": 3}
    assert Observation.objects.count() == 5
    client = APIClient()
    latest = client.get("/api/v1/iot/sensors/latest/").json()["features"]
    assert [f["properties"]["device_id"] for f in latest] == ["AQ-1"]
    assert latest[0]["properties"]["latest"]["pm25"]["value"] == 20.0  # the newest reading, not the last sent
    assert latest[0]["geometry"]["coordinates"][0] == pytest.approx(121.2, abs=0.1)
    series = client.get("/api/v1/iot/sensors/AQ-1/series/?quantity=pm25&bucket=hour"
                        f"&start={urllib.parse.quote((T0 + timedelta(minutes=30)).isoformat())}").json()
    assert [(p["mean"], p["n"]) for p in series["points"]] == [(40.5, 1), (13.0, 1), (20.0, 1)]
    assert client.get("/api/v1/iot/sensors/AQ-1/series/?quantity=pm25&start=yesterday").status_code == 400
    alerts = client.get("/api/v1/iot/alerts/").json()["alerts"]
    assert [(a["device_id"], a["value"], a["above"]) for a in alerts] == [("AQ-1", 40.5, 35.0)]
    assert client.get("/api/v1/iot/rejects/").json()["rejected"]["http"]["unknown device"] == 3


def test_the_time_slider_reads_each_sensors_mean_in_a_window_and_the_time_its_readings_cover(tokens):
    """Issue 24: what the viewer's time slider plays for a registry layer of sensors: the time its readings cover
    (for the slider's extent, in the layer's viewer entry) and, per window, each sensor's mean per quantity."""
    from iot.timeline import animations

    send(tokens["AQ-1"], [reading(0, 10.0), reading(30, 20.0), reading(90, 40.0), reading(0, 55.0, "humidity_pct")])
    send(tokens["AQ-2"], [reading(120, 7.0)])
    layer = Layer.objects.get(slug="aq")
    entry = animations([layer], None)["aq"]
    assert entry == {"kind": "sensors", "extent": ["2026-11-01T08:00:00Z", "2026-11-01T10:00:00Z"],
                     "quantities": {"pm25": Quantity.objects.get(code="pm25").unit,
                                    "humidity_pct": Quantity.objects.get(code="humidity_pct").unit}}
    client = APIClient()
    window = urllib.parse.quote("2026-11-01T16:00:00+08:00/2026-11-01T16:59:59+08:00")  # 08:00–08:59 UTC
    body = client.get(f"/api/v1/iot/sensors/latest/?layer=aq&time={window}").json()
    values = {f["properties"]["device_id"]: f["properties"]["values"] for f in body["features"]}
    assert values["AQ-2"] == {}  # no reading in the window: listed, with none
    assert {q: (v["mean"], v["n"]) for q, v in values["AQ-1"].items()} == {"pm25": (15.0, 2), "humidity_pct": (55.0, 1)}
    assert values["AQ-1"]["pm25"]["last_observed_at"] == "2026-11-01T08:30:00Z"
    for bad, says in (("yesterday", "time"), ("2026-11-01T10:00:00+08:00/2026-11-01T09:00:00+08:00", "ends before"),
                      ("2026-11-01T10:00:00/2026-11-01T11:00:00+08:00", "zone")):
        resp = client.get(f"/api/v1/iot/sensors/latest/?time={urllib.parse.quote(bad)}")
        assert resp.status_code == 400 and says in resp.json()["detail"]
    Layer.objects.filter(slug="aq").update(visibility=Layer.Visibility.RESTRICTED)
    assert client.get(f"/api/v1/iot/sensors/latest/?layer=aq&time={window}").status_code == 404  # as a missing one
    assert client.get("/api/v1/iot/sensors/latest/?layer=nothing").status_code == 404
    assert client.get(f"/api/v1/iot/sensors/latest/?time={window}").json()["features"] == []


def mqtt_address():
    parts = urllib.parse.urlsplit(os.environ["MQTT_URL"])
    return parts.hostname, parts.port


def publish_later(messages, delay=0.5):
    """Publish (topic, payload) pairs from another thread once the consumer has subscribed."""
    def run():
        time.sleep(delay)
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sensor")
        client.connect(*mqtt_address())
        client.loop_start()
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_mqtt_readings_through_a_real_broker(tokens):
    good = {"token": tokens["AQ-2"], "observations": [reading(i, 10.0 + i) for i in range(50)]}
    messages = [("civgis/sensors/AQ-2/observations", json.dumps(good)),
                ("civgis/sensors/AQ-2/observations", json.dumps({**good, "observations": [reading(0, 10.0)]})),
                ("civgis/sensors/AQ-1/observations", json.dumps(good)),  # AQ-2's token on AQ-1's topic
                ("civgis/sensors/AQ-2/observations", b"\xff not json")]
    sender = publish_later(messages)
    consumer = Consumer(client_id="test-consumer")
    consumer.run(seconds=3)
    consumer.close()
    sender.join()
    assert consumer.messages == 4
    assert Observation.objects.filter(device__device_id="AQ-2").count() == 50
    assert rejects("mqtt") == {"duplicate": 1, "unknown device": 50, "malformed: payload is not JSON": 1}


def test_the_consumer_runs_as_a_celery_task(tokens):
    sender = publish_later([("civgis/sensors/AQ-1/observations",
                             json.dumps({"token": tokens["AQ-1"], "observations": [reading(5, 7.0)]}))], delay=1.0)
    handled = mqtt_consumer.apply(kwargs={"seconds": 2.5}).get()
    sender.join()
    assert handled == 1 and Observation.objects.get().value == 7.0


def test_demo_feeds_take_in_the_demo_readings_once(db, themes):
    from django.core.management import call_command
    from django.db import connection

    from iot.models import Alert
    from layers.democity.store import register, store

    city = generated_city(5, 0.2)
    store(city, progress=lambda _m: None)
    register(city)
    call_command("demo_feeds")
    with connection.cursor() as cur:
        cur.execute("SELECT count(pm25) + count(pm10) + count(temperature_c) + count(humidity_pct),"
                    " count(*) FILTER (WHERE pm25 > 35.5) FROM layerdata.air_readings")
        readings, high = cur.fetchone()
    assert Observation.objects.count() == readings and not RejectCount.objects.filter(count__gt=0).exists()
    assert Alert.objects.count() == high > 0
    call_command("demo_feeds")  # a second run changes nothing
    assert Observation.objects.count() == readings


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_runs_the_consumer(celery_worker_process):
    """The consumer as it runs in production: a task on a worker process, storing what arrives meanwhile."""
    import importlib

    from django.apps import apps

    from iot.models import Device
    from iot.tokens import new_token

    importlib.import_module("iot.migrations.0002_quantities").create(apps, None)  # flushed by transactional tests
    token, hashed = new_token()
    Device.objects.create(device_id="W-1", token_hash=hashed)
    result = mqtt_consumer.delay(seconds=5)
    sender = publish_later([("civgis/sensors/W-1/observations",
                             json.dumps({"token": token, "observations": [reading(1, 8.0), reading(2, 9.0)]}))],
                           delay=2.0)
    assert result.get(timeout=60) == 1
    sender.join()
    assert sorted(Observation.objects.values_list("value", flat=True)) == [8.0, 9.0]
