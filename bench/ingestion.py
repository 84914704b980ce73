"""Sustained ingestion of sensor readings over HTTP and MQTT on loopback, with zero loss checked by counts.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/ingestion.py
    … bench/ingestion.py --per-device 1000 --scale-minutes 1440      # a quick try

HTTP: gunicorn (2 workers, production settings) serving the app; 4 client threads post batches of 500 readings,
each thread for its own devices. MQTT: the private Mosquitto; one publisher sends messages of 500 readings (QoS 1)
while one consumer (iot.mqtt.Consumer, as the Celery task runs it) stores them. The request bodies and messages
are encoded before the clock starts: the clients share the two cores with the server and the database, and in a
city they run on the sensors and gateways, not beside the server. Rate = readings stored / wall time from
the first send to the last reading in the table. The limit: the same rows written by one plain COPY into
iot_observation (its indexes and triggers included), in the same run; each rate is also given as a share of it.
Then the table at scale: 2,000,000 more readings (200 sensors ×
10,000 minutes, written by SQL), and the time of a chart query (one sensor, one day, hourly means) and of the
latest-values map. Not part of the test suite.
"""

import argparse
import json
import os
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-device", type=int, default=20_000, help="readings per device (a multiple of 500)")
    parser.add_argument("--scale-minutes", type=int, default=10_000,
                        help="minutes of readings per sensor in the table-at-scale part (200 sensors; ≥ 1440)")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import paho.mqtt.client as paho  # noqa: E402
import requests  # noqa: E402

from iot.models import Device, Observation, RejectCount  # noqa: E402
from iot.mqtt import Consumer  # noqa: E402
from iot.tokens import new_token  # noqa: E402

BATCH = 500
PER_DEVICE = ARGS.per_device  # readings per device and channel
DEVICES = 8
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def devices(prefix: str) -> list[tuple[Device, str]]:
    out = []
    for i in range(DEVICES):
        token, hashed = new_token()
        device, _ = Device.objects.update_or_create(device_id=f"{prefix}-{i}", defaults={"token_hash": hashed})
        Observation.objects.filter(device=device).delete()
        out.append((device, token))
    return out


def value(device_index: int, minute: int) -> float:
    return float((device_index * 7 + minute) % 300)


def batches(device_index: int):
    """PER_DEVICE readings at one-minute steps, in batches of BATCH."""
    for start in range(0, PER_DEVICE, BATCH):
        yield [{"quantity": "pm25", "value": value(device_index, start + i),
                "observed_at": (T0 + timedelta(minutes=start + i)).isoformat()} for i in range(BATCH)]


def stored(devs) -> int:
    return Observation.objects.filter(device__in=[d for d, _t in devs]).count()


def http(devs) -> tuple[float, int]:
    with common.gunicorn(workers=2) as base:
        url = f"{base}/api/v1/iot/observations/"

        bodies = [[json.dumps({"observations": batch}).encode() for batch in batches(i)] for i in range(len(devs))]

        def send(index_and_token):
            index, token = index_and_token
            session = requests.Session()
            headers = {"Authorization": f"Device {token}", "Content-Type": "application/json"}
            accepted = 0
            for body in bodies[index]:
                resp = session.post(url, data=body, headers=headers)
                resp.raise_for_status()
                accepted += resp.json()["accepted"]
            return accepted

        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            accepted = sum(pool.map(send, [(i, t) for i, (_d, t) in enumerate(devs)]))
        return time.perf_counter() - t0, accepted


def mqtt(devs) -> tuple[float, int]:
    parts = urllib.parse.urlsplit(os.environ["MQTT_URL"])
    stop = threading.Event()
    consumer = Consumer(client_id="bench-consumer")
    worker = threading.Thread(target=consumer.run, kwargs={"stop": stop})
    worker.start()
    time.sleep(0.5)  # subscribed
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-sensors")
    publisher.max_inflight_messages_set(100)
    publisher.connect(parts.hostname, parts.port)
    publisher.loop_start()
    expected = DEVICES * PER_DEVICE
    messages = [(f"civgis/sensors/{device.device_id}/observations",
                 json.dumps({"token": token, "observations": batch}).encode())
                for i, (device, token) in enumerate(devs) for batch in batches(i)]
    t0 = time.perf_counter()
    infos = [publisher.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    deadline = time.monotonic() + 300
    while stored(devs) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    stop.set()
    worker.join()
    consumer.close()
    publisher.loop_stop()
    publisher.disconnect()
    return elapsed, consumer.messages


def main(args):
    RejectCount.objects.all().delete()
    expected = DEVICES * PER_DEVICE
    devs = devices("bench-http")
    seconds, accepted = http(devs)
    n = stored(devs)
    http_rate = n / seconds
    copy_rate = expected / common.copy_readings([d.pk for d, _t in devs], PER_DEVICE, T0, value)
    print(f"HTTP: {n:,} of {expected:,} readings stored ({accepted:,} acknowledged) in {seconds:.2f} s = "
          f"{http_rate:,.0f} readings/s; loss {expected - n}; {common.load()}", flush=True)
    assert n == expected == accepted, "HTTP: readings lost"
    print(f"COPY of the same rows: {copy_rate:,.0f} rows/s; HTTP reaches {http_rate / copy_rate:.2f} of COPY; "
          f"{common.load()}", flush=True)
    devs = devices("bench-mqtt")
    seconds, messages = mqtt(devs)
    n = stored(devs)
    print(f"MQTT: {n:,} of {expected:,} readings stored from {messages:,} messages in {seconds:.2f} s = "
          f"{n / seconds:,.0f} readings/s; loss {expected - n}; {n / seconds / copy_rate:.2f} of COPY; "
          f"{common.load()}", flush=True)
    assert n == expected, "MQTT: readings lost"
    print("rejects:", {f"{r.source}/{r.reason}": r.count for r in RejectCount.objects.all()} or "none")
    at_scale(minutes=args.scale_minutes)


def at_scale(sensors: int = 200, minutes: int = 10_000):
    from django.db import connection
    from django.test import Client

    devs = [d for d, _t in devices("bench-scale")[:1]]
    for i in range(1, sensors):
        Device.objects.update_or_create(device_id=f"bench-scale-{i}", defaults={"token_hash": f"scale-{i}"})
    ids = list(Device.objects.filter(device_id__startswith="bench-scale-").values_list("pk", flat=True))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM iot_observation WHERE device_id = ANY(%s)", [ids])
        t0 = time.perf_counter()
        # in time order, as feeds arrive: what BRIN is built for
        cur.execute("INSERT INTO iot_observation (device_id, quantity_id, observed_at, value, received_at)"
                    " SELECT d, (SELECT id FROM iot_quantity WHERE code = 'pm25'), %s + m * interval '1 minute',"
                    " (d * 7 + m) %% 300, now() FROM generate_series(0, %s - 1) m, unnest(%s::bigint[]) d"
                    " ORDER BY m, d", [T0, minutes, ids])
        cur.execute("ANALYZE iot_observation")
        load = time.perf_counter() - t0
        cur.execute("SELECT count(*), pg_size_pretty(pg_relation_size('iot_obs_time_brin')),"
                    " pg_size_pretty(pg_relation_size('iot_observation_pkey')) FROM iot_observation")
        rows, brin, pkey = cur.fetchone()
    client = Client()
    days = min(3, minutes // 1440 - 1)  # the fourth day, or the last whole one of a shorter table
    day = (T0 + timedelta(days=days)).isoformat()
    end = (T0 + timedelta(days=days + 1)).isoformat()
    timings = []
    for _ in range(5):
        t1 = time.perf_counter()
        resp = client.get(f"/api/v1/iot/sensors/{devs[0].device_id}/series/",
                          {"quantity": "pm25", "start": day, "end": end, "bucket": "hour"})
        timings.append(time.perf_counter() - t1)
    assert resp.status_code == 200 and len(resp.json()["points"]) == 24
    t2 = time.perf_counter()
    client.get("/api/v1/iot/sensors/latest/")
    latest = time.perf_counter() - t2
    print(f"scale: {rows:,} readings in the table ({sensors * minutes:,} written in {load:.1f} s; BRIN {brin}, "
          f"primary key {pkey}); one sensor's day as 24 hourly means {1000 * sorted(timings)[2]:.1f} ms (median "
          f"of 5); latest-values map {1000 * latest:.1f} ms")


if __name__ == "__main__":
    main(ARGS)
