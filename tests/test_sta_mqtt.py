"""The SensorThings MQTT extension end to end through the private Mosquitto: a paho-mqtt subscriber of
v1.1/Datastreams(id)/Observations receives the observations that arrive by the platform's HTTP feed, by a
SensorThings POST and by MQTT; an observation published to that topic is created; a hidden device's readings are
not published."""

import importlib
import json
import threading
import time

import paho.mqtt.client as paho
import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from test_iot import mqtt_address

from iot.ingest import ingest
from iot.models import Datastream, Device, Observation, RejectCount
from iot.sta.mqtt import Bridge
from iot.tokens import new_token

pytestmark = pytest.mark.django_db(transaction=True)


class Subscriber:
    def __init__(self, topics: list[str]):
        self.messages: list[tuple[str, dict]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sta-subscriber")
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect(*mqtt_address())
        self.client.loop_start()
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        time.sleep(0.3)

    def wait_for(self, count: int, seconds: float = 8):
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def publish(topic: str, payload: dict):
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sta-device")
    client.connect(*mqtt_address())
    client.loop_start()
    client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def make_device(device_id: str, layer=None) -> tuple[Device, str]:
    token, hashed = new_token()
    return Device.objects.create(device_id=device_id, name=device_id, token_hash=hashed, layer=layer), token


def test_observations_reach_mqtt_subscribers_whatever_path_they_came_by():
    from layers.models import Layer

    importlib.import_module("iot.migrations.0002_quantities").create(apps, None)  # flushed by transactional tests
    device, token = make_device("MQ-1")
    ingest(device, [{"quantity": "pm25", "value": 1.0, "observed_at": "2026-11-01T00:00:00Z"}], "http")
    ds = Datastream.objects.get(device=device).pk
    hidden_layer = Layer.objects.create(slug="mq-secret", title_zh="機密", visibility="restricted",
                                        owner_agency=Group.objects.create(name="mq-agency"))
    hidden, hidden_token = make_device("MQ-SECRET", hidden_layer)
    ingest(hidden, [{"quantity": "pm25", "value": 1.0, "observed_at": "2026-11-01T00:00:00Z"}], "http")
    hidden_ds = Datastream.objects.get(device=hidden).pk

    stop = threading.Event()
    bridge = Bridge(client_id="test-sta-bridge")

    def run_bridge():
        from django.db import connection

        try:
            bridge.run(stop=stop)
        finally:
            connection.close()  # this thread's own connection: the test database is dropped afterwards

    runner = threading.Thread(target=run_bridge)
    runner.start()
    subscriber = Subscriber([f"v1.1/Datastreams({ds})/Observations", f"v1.1/Datastreams({hidden_ds})/Observations"])
    try:
        time.sleep(0.5)  # the bridge has subscribed
        # 1. the platform's own HTTP feed
        resp = APIClient().post("/api/v1/iot/observations/", {"observations": [
            {"quantity": "pm25", "value": 11.5, "observed_at": "2026-11-01T01:00:00Z"}]}, format="json",
            HTTP_AUTHORIZATION=f"Device {token}")
        assert resp.json()["accepted"] == 1
        # 2. a SensorThings POST
        resp = APIClient().post(f"/sta/v1.1/Datastreams({ds})/Observations", {
            "phenomenonTime": "2026-11-01T02:00:00Z", "result": 12.5}, format="json",
            HTTP_AUTHORIZATION=f"Device {token}")
        assert resp.status_code == 201, resp.content
        # 3. published to the SensorThings topic itself (with the device's token), and one with a forged token
        publish(f"v1.1/Datastreams({ds})/Observations", {"phenomenonTime": "2026-11-01T03:00:00Z", "result": 13.5,
                                                         "token": token})
        publish(f"v1.1/Datastreams({ds})/Observations", {"phenomenonTime": "2026-11-01T04:00:00Z", "result": 14.5,
                                                         "token": "forged"})
        # a hidden device's reading is stored but never published
        ingest(hidden, [{"quantity": "pm25", "value": 99.0, "observed_at": "2026-11-01T01:00:00Z"}], "http")
        published = []
        deadline = time.monotonic() + 10
        while len(published) < 3 and time.monotonic() < deadline:
            published = [body for _t, body in subscriber.messages if "@iot.id" in body]
            time.sleep(0.05)
        time.sleep(0.5)  # anything more (the hidden reading) would have arrived by now
    finally:
        stop.set()
        runner.join()
        bridge.close()
        subscriber.close()
    published = [(t, body) for t, body in subscriber.messages if "@iot.id" in body]
    assert [(t, b["result"], b["phenomenonTime"]) for t, b in published] == [
        (f"v1.1/Datastreams({ds})/Observations", 11.5, "2026-11-01T01:00:00Z"),
        (f"v1.1/Datastreams({ds})/Observations", 12.5, "2026-11-01T02:00:00Z"),
        (f"v1.1/Datastreams({ds})/Observations", 13.5, "2026-11-01T03:00:00Z")]
    assert published[0][1]["@iot.selfLink"] == f"/sta/v1.1/Observations('{published[0][1]['@iot.id']}')"
    assert sorted(Observation.objects.filter(device=device).values_list("value", flat=True)) == [
        1.0, 11.5, 12.5, 13.5]
    assert Observation.objects.filter(device=hidden, value=99.0).exists()
    assert RejectCount.objects.get(source="sta-mqtt", reason="unknown device").count == 1
    assert bridge.received == 2 and bridge.published == 3
