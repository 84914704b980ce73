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


def ingest(device: Device, items, source: str, quantities: dict[str, Quantity] | None = None) -> Outcome:
    """Check and store one device's readings. `quantities` (code → Quantity): the ones the caller has already
    read (a SensorThings Datastream's own), to spare a query; by default all of them, read here."""
    return ingest_many([(device, items)], source, quantities)[0]


def ingest_many(batches: list[tuple[Device, object]], source: str,
                quantities: dict[str, Quantity] | None = None) -> list[Outcome]:
    """Several batches (device, readings) — e.g. the MQTT messages that arrived together — checked one by one as
    `ingest` would, stored by one statement in one transaction; an Outcome per batch, in order. A reading given
    twice for a device (in one batch or two) is stored once, the second a duplicate, as if sent one after the
    other."""
    quantities, now = quantities or _quantities(), timezone.now()
    outcomes, rows, where, seen = [], [], [], {}  # where: (batch, index in it) of each row
    for k, (device, items) in enumerate(batches):
        outcome = Outcome()
        outcomes.append(outcome)
        if not isinstance(items, list):
            outcome.rejected.append({"index": None, "reason": "malformed: observations must be a list"})
            continue
        device_seen = seen.setdefault(device.pk, set())
        for index, item in enumerate(items):
            checked = _check(item, index, quantities, now, device_seen)
            if isinstance(checked, str):
                outcome.rejected.append({"index": index, "reason": checked})
            else:
                rows.append((device.pk, *checked))
                where.append((k, index))
    # no savepoint inside a caller's transaction (a SensorThings request): a failure here fails the request
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        duplicates, alerted = _store(cur, rows) if rows else ([], [])
        for k, _index in where:
            outcomes[k].accepted += 1
        for position in duplicates:
            k, index = where[position]
            outcomes[k].accepted -= 1
            outcomes[k].rejected.append({"index": index, "reason": "duplicate"})
        for position in alerted:
            outcomes[where[position][0]].alerts += 1
        reasons: dict[str, int] = {}
        for outcome in outcomes:
            outcome.rejected.sort(key=lambda r: -1 if r["index"] is None else r["index"])
            for reason, n in outcome.counts().items():
                reasons[reason] = reasons.get(reason, 0) + n
        count_rejects(source, reasons)
    return outcomes


# One statement for all the rows: they travel as four array parameters (not a VALUES list built row by row), the
# observations are inserted, and from the rows actually inserted (an already stored reading is skipped by the
# key) the latest values are updated and alerts raised. It answers the positions (1-based) of the rows that were
# already stored and of the rows that raised an alert (once per alert).
STORE = """
WITH v AS (SELECT d, q, t, x, i FROM unnest(%(d)s::bigint[], %(q)s::integer[], %(t)s::timestamptz[],
                                            %(x)s::float8[]) WITH ORDINALITY AS u(d, q, t, x, i)),
new AS (INSERT INTO iot_observation (device_id, quantity_id, observed_at, value, received_at)
        SELECT d, q, t, x, now() FROM v ON CONFLICT DO NOTHING
        RETURNING device_id AS d, quantity_id AS q, observed_at AS t, value AS x),
latest AS (INSERT INTO iot_latest (device_id, quantity_id, observed_at, value)
           SELECT DISTINCT ON (d, q) d, q, t, x FROM new ORDER BY d, q, t DESC
           ON CONFLICT (device_id, quantity_id) DO UPDATE SET observed_at = EXCLUDED.observed_at,
           value = EXCLUDED.value WHERE iot_latest.observed_at < EXCLUDED.observed_at RETURNING 1),
alerts AS (INSERT INTO iot_alert (device_id, quantity_id, threshold_id, value, observed_at, raised_at)
           SELECT new.d, new.q, th.id, new.x, new.t, now() FROM new
           JOIN iot_threshold th ON th.quantity_id = new.q AND (th.device_id IS NULL OR th.device_id = new.d)
           AND new.x > th.above RETURNING device_id AS d, quantity_id AS q, observed_at AS t)
SELECT CASE WHEN (SELECT count(*) FROM new) < %(n)s THEN (SELECT array_agg(v.i) FROM v WHERE NOT EXISTS (
           SELECT 1 FROM new WHERE new.d = v.d AND new.q = v.q AND new.t = v.t)) END,
       (SELECT array_agg(v.i) FROM alerts a JOIN v ON v.d = a.d AND v.q = a.q AND v.t = a.t),
       (SELECT count(*) FROM latest)
"""


def _array(values) -> str:
    """A PostgreSQL array literal of numbers or ISO 8601 times (none of them has a space, comma or quote)."""
    return "{" + ",".join(values) + "}"


def _store(cur, rows: list[tuple]) -> tuple[list[int], list[int]]:
    """Positions in `rows` (device, quantity, time, value) that were already stored, and of those that raised an
    alert (once per alert)."""
    cur.execute(STORE, {"n": len(rows), "d": _array([str(r[0]) for r in rows]),
                        "q": _array([str(r[1]) for r in rows]),
                        "t": _array([r[2].isoformat() for r in rows]),
                        "x": _array([repr(r[3]) for r in rows])})
    missing, alerted, _latest = cur.fetchone()
    return [i - 1 for i in missing or ()], [i - 1 for i in alerted or ()]
