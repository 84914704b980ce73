"""Observations in through the SensorThings API, against a plain COPY of the same rows as the limit.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/sta.py
    … bench/sta.py --per-device 2000 --singles 400      # a quick try

gunicorn (2 workers, production settings) serves the app; 4 client threads post, each for its own devices (each
device one pm25 Datastream, writing with its device token):
- dataArray: POST /sta/v1.1/CreateObservations, 500 observations a request;
- $batch: POST /sta/v1.1/$batch, 500 single Observation POSTs a request (each answered 201 with its Location);
- single: POST /sta/v1.1/Datastreams(id)/Observations, one observation a request (as most SensorThings clients
  send them one at a time): bound by a request's fixed cost (a transaction and its commit, three queries), not by
  the ingestion.
Request bodies are encoded before the clock starts (in a city the clients are the sensors, not this machine).
Rate = observations stored / wall time, with zero loss checked by counting the table. The limit: the same rows
(device, quantity, time, value) written by one COPY into iot_observation (its indexes and triggers included).
Not part of the test suite.
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-device", type=int, default=10_000,
                        help="observations per device in the dataArray run (a multiple of 500)")
    parser.add_argument("--singles", type=int, default=300, help="observations per device posted one by one")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import requests  # noqa: E402

from iot.ingest import ingest  # noqa: E402
from iot.models import Datastream, Device, Observation  # noqa: E402
from iot.tokens import new_token  # noqa: E402

BATCH = 500
DEVICES = 8
THREADS = 4
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def devices(prefix: str) -> list[tuple[Device, str, int]]:
    """DEVICES devices, each with a pm25 Datastream and no readings after T0: (device, token, datastream id)."""
    out = []
    for i in range(DEVICES):
        token, hashed = new_token()
        device, _ = Device.objects.update_or_create(device_id=f"{prefix}-{i}", defaults={"token_hash": hashed})
        Observation.objects.filter(device=device).delete()
        ingest(device, [{"quantity": "pm25", "value": 1.0, "observed_at": (T0 - timedelta(days=1)).isoformat()}],
               "http")  # the first reading makes the Datastream
        out.append((device, token, Datastream.objects.get(device=device, quantity__code="pm25").pk))
    return out


def stored(devs) -> int:
    return Observation.objects.filter(device__in=[d for d, _t, _s in devs], observed_at__gte=T0).count()


def value(device_index: int, minute: int) -> float:
    return float((device_index * 7 + minute) % 300)


def post_all(base: str, devs, work) -> tuple[float, int]:
    """Run `work(session, url_base, index, token, datastream)` for every device on THREADS threads."""
    def run(item):
        index, (_device, token, datastream) = item
        with requests.Session() as session:
            session.headers["Authorization"] = f"Device {token}"
            return work(session, f"{base}/sta/v1.1", index, datastream)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        created = sum(pool.map(run, enumerate(devs)))
    return time.perf_counter() - t0, created


def data_array_bodies(index, datastream) -> list[bytes]:
    return [json.dumps([{"Datastream": {"@iot.id": datastream}, "components": ["phenomenonTime", "result"],
                         "dataArray": [[(T0 + timedelta(minutes=start + i)).isoformat(), value(index, start + i)]
                                       for i in range(BATCH)]}]).encode()
            for start in range(0, ARGS.per_device, BATCH)]


def batch_bodies(index, datastream) -> list[bytes]:
    url = f"Datastreams({datastream})/Observations"
    return [json.dumps({"requests": [
        {"id": str(i), "method": "post", "url": url,
         "body": {"phenomenonTime": (T0 + timedelta(minutes=start + i)).isoformat(), "result": value(index, start + i)}}
        for i in range(BATCH)]}).encode() for start in range(0, ARGS.per_device, BATCH)]


def single_bodies(index, _datastream) -> list[bytes]:
    return [json.dumps({"phenomenonTime": (T0 + timedelta(minutes=i)).isoformat(), "result": value(index, i)}).encode()
            for i in range(ARGS.singles)]


def sender(path, bodies, count):
    """work(): posts the prepared bodies to `path` (formatted with the datastream), counting with `count`."""
    prepared = {}

    def prepare(devs):
        prepared.update({i: bodies(i, ds) for i, (_d, _t, ds) in enumerate(devs)})

    def work(session, root, index, datastream):
        target = f"{root}/{path.format(datastream=datastream)}"
        return sum(count(session.post(target, data=body, headers={"Content-Type": "application/json"}))
                   for body in prepared[index])

    work.prepare = prepare
    return work


def created_links(resp) -> int:
    resp.raise_for_status()
    return sum(1 for link in resp.json() if link != "error")


def created_in_batch(resp) -> int:
    resp.raise_for_status()
    return sum(1 for r in resp.json()["responses"] if r["status"] == 201)


data_array = sender("CreateObservations", data_array_bodies, created_links)
in_batches = sender("$batch", batch_bodies, created_in_batch)
singles = sender("Datastreams({datastream})/Observations", single_bodies, lambda resp: resp.status_code == 201)


def copy(devs, per_device: int) -> float:
    """The same rows as the dataArray run, written by one COPY (then removed again)."""
    return common.copy_readings([d.pk for d, _t, _s in devs], per_device, T0, value)


def run(base, prefix: str, work, what: str, expected_per_device: int) -> float:
    devs = devices(prefix)
    work.prepare(devs)
    expected = DEVICES * expected_per_device
    seconds, created = post_all(base, devs, work)
    n = stored(devs)
    rate = n / seconds
    print(f"{what}: {n:,} of {expected:,} observations stored ({created:,} acknowledged) in {seconds:.2f} s "
          f"= {rate:,.0f} observations/s; loss {expected - n}; {common.load()}", flush=True)
    assert n == expected == created, f"{what}: observations lost"
    return rate


def main(args):
    with common.gunicorn(workers=2) as base:
        array_rate = run(base, "bench-sta", data_array, "dataArray", args.per_device)
        devs = devices("bench-sta")
        copy_seconds = copy(devs, args.per_device)
        copy_rate = DEVICES * args.per_device / copy_seconds
        print(f"COPY of the same rows: {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s; dataArray reaches "
              f"{array_rate / copy_rate:.2f} of COPY; {common.load()}", flush=True)
        batch_rate = run(base, "bench-sta-batch", in_batches, "$batch of single POSTs", args.per_device)
        print(f"$batch reaches {batch_rate / copy_rate:.2f} of COPY", flush=True)
        single_rate = run(base, "bench-sta-single", singles, "single POSTs", args.singles)
        print(f"single POSTs reach {single_rate / copy_rate:.3f} of COPY", flush=True)


if __name__ == "__main__":
    main(ARGS)
