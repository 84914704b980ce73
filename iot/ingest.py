"""Taking in a device's readings: each one is stored or rejected with a reason, and every reject is counted.

A reading is {"quantity": "pm25", "value": 12.5, "observed_at": "2026-11-22T08:00:00+08:00"} ("t" may stand for
observed_at). Rejected: malformed (not an object, missing or non-numeric value, a time without a zone),
unknown quantity, out of range for the quantity, in the future, duplicate (twice in the batch, or already
stored — the observation's key is device, quantity and time). Stored readings update the latest value per
device and quantity and raise alerts where they exceed a threshold.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg2.extras import execute_values

from .models import Device, Quantity, RejectCount
from .tokens import digest

MAX_BATCH = 10_000
FUTURE_SLACK = timedelta(minutes=5)
UNKNOWN_DEVICE = "unknown device"


@dataclass
class Outcome:
    accepted: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"index", "reason"}
    alerts: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejected:
            out[r["reason"]] = out.get(r["reason"], 0) + 1
        return out

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": len(self.rejected), "reasons": self.counts(),
                "rejects": self.rejected[:100], "alerts": self.alerts}


def device_for(token: str | None) -> Device | None:
    if not token:
        return None
    return Device.objects.filter(token_hash=digest(token), active=True).first()


def count_rejects(source: str, reasons: dict[str, int]) -> None:
    for reason, n in reasons.items():
        RejectCount.objects.get_or_create(source=source, reason=reason)
        RejectCount.objects.filter(source=source, reason=reason).update(count=F("count") + n)


def _quantities() -> dict[str, Quantity]:
    return {q.code: q for q in Quantity.objects.all()}


def _check(item, index: int, quantities: dict, now: datetime, seen: set) -> tuple | str:
    """(quantity id, time, value) or the reason to reject."""
    if not isinstance(item, dict):
        return "malformed: not an object"
    quantity = quantities.get(str(item.get("quantity")))
    if quantity is None:
        return "unknown quantity"
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "malformed: value is not a number"
    stamp = item.get("observed_at", item.get("t"))
    try:
        observed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return "malformed: observed_at is not an ISO 8601 time"
    if observed.tzinfo is None:
        return "malformed: observed_at has no time zone"
    if observed > now + FUTURE_SLACK:
        return "in the future"
    if not quantity.min_value <= value <= quantity.max_value:
        return "out of range"
    key = (quantity.pk, observed)
    if key in seen:
        return "duplicate"
    seen.add(key)
    return quantity.pk, observed, float(value)


def ingest(device: Device, items, source: str) -> Outcome:
    outcome = Outcome()
    if not isinstance(items, list):
        outcome.rejected.append({"index": None, "reason": "malformed: observations must be a list"})
        count_rejects(source, outcome.counts())
        return outcome
    quantities, now, seen = _quantities(), timezone.now(), set()
    rows, indexes = [], []
    for index, item in enumerate(items):
        checked = _check(item, index, quantities, now, seen)
        if isinstance(checked, str):
            outcome.rejected.append({"index": index, "reason": checked})
        else:
            rows.append((device.pk, *checked))
            indexes.append(index)
    with transaction.atomic(), connection.cursor() as cur:
        stored = set()
        if rows:
            returned = execute_values(
                cur.cursor, "INSERT INTO iot_observation (device_id, quantity_id, observed_at, value, received_at)"
                " SELECT v.d, v.q, v.t, v.v, now() FROM (VALUES %s) AS v(d, q, t, v)"
                " ON CONFLICT DO NOTHING RETURNING quantity_id, observed_at", rows,
                template="(%s, %s::integer, %s::timestamptz, %s::float8)", page_size=len(rows), fetch=True)
            stored = {(q, t) for q, t in returned}
            _after_insert(cur, device.pk, [r for r in rows if (r[1], r[2]) in stored], outcome)
        for row, index in zip(rows, indexes, strict=True):
            if (row[1], row[2]) not in stored:
                outcome.rejected.append({"index": index, "reason": "duplicate"})
        outcome.accepted = len(stored)
        outcome.rejected.sort(key=lambda r: r["index"])
        count_rejects(source, outcome.counts())
    return outcome


def _after_insert(cur, device_pk: int, rows: list[tuple], outcome: Outcome) -> None:
    """Latest value per quantity (only if newer) and alerts for readings above a threshold."""
    if not rows:
        return
    execute_values(
        cur.cursor, "INSERT INTO iot_latest (device_id, quantity_id, observed_at, value)"
        " SELECT DISTINCT ON (v.q) v.d, v.q, v.t, v.v FROM (VALUES %s) AS v(d, q, t, v) ORDER BY v.q, v.t DESC"
        " ON CONFLICT (device_id, quantity_id) DO UPDATE SET observed_at = EXCLUDED.observed_at,"
        " value = EXCLUDED.value WHERE iot_latest.observed_at < EXCLUDED.observed_at", rows,
        template="(%s, %s::integer, %s::timestamptz, %s::float8)", page_size=len(rows))
    raised = execute_values(
        cur.cursor, "INSERT INTO iot_alert (device_id, quantity_id, threshold_id, value, observed_at, raised_at)"
        " SELECT v.d, v.q, th.id, v.v, v.t, now() FROM (VALUES %s) AS v(d, q, t, v)"
        " JOIN iot_threshold th ON th.quantity_id = v.q AND (th.device_id IS NULL OR th.device_id = v.d)"
        " AND v.v > th.above RETURNING id", rows,
        template="(%s, %s::integer, %s::timestamptz, %s::float8)", page_size=len(rows), fetch=True)
    outcome.alerts = len(raised)
