"""Reads, counted per (actor, address, layer, kind) and hour in Redis, flushed into chained entries with counts.

A city's 35 M requests a year would be 35 M rows one by one; an hour of one person's tiles of one layer is one
entry. The count is one Redis HINCRBY beside the usage count (geo.counters). The actor is the request's (see
audit.middleware); `flush()` is called by the scheduler and before an administrator queries the log.
"""

import json
import logging
from datetime import UTC, datetime

from django.utils import timezone

from geo.counters import RedisCounts, add_all

from . import actors, chain

log = logging.getLogger("civgis.audit")
COUNTS = RedisCounts("audit-reads")
HOUR = "%Y-%m-%dT%H"


def increment(slug: str, kind: str, user=None) -> list[tuple[RedisCounts, str, str]]:
    """The counter of one read of `slug` by the current request's actor (outside a request, e.g. a job on a
    worker: `user`), for `geo.counters.add_all`; none for an export (audit.middleware records those one by one)."""
    if kind == "download":
        return []
    return [(COUNTS, bucket_now(), field_of(actors.now_or(user), slug, kind))]


def bucket_now() -> str:
    return timezone.now().astimezone(UTC).strftime(HOUR)


def field_of(actor: actors.Actor, slug: str, kind: str) -> str:
    """The counter's name: one per (actor, address, layer, kind); the tile fast path counts under the same."""
    return json.dumps([actor.user_id, actor.username, actor.address, slug, kind], ensure_ascii=False)


def count(slug: str, kind: str, user=None) -> None:
    add_all(increment(slug, kind, user))


def _store(hour: str, counts: dict[str, int]) -> int:
    from layers.models import Layer

    start = datetime.strptime(hour, HOUR).replace(tzinfo=UTC)
    rows = [(json.loads(field), n) for field, n in sorted(counts.items())]
    ids = dict(Layer.objects.filter(slug__in={row[3] for row, _n in rows}).values_list("slug", "pk"))
    drafts = [chain.Draft(action="read", time=start, actor_id=user_id, actor_name=username, address=address,
                          object_type="layer", object_id=str(ids.get(slug, "")), object_label=slug,
                          detail={"kind": kind, "period": "PT1H"}, count=n)
              for (user_id, username, address, slug, kind), n in rows]
    chain.append(drafts)
    return len(drafts)


def flush() -> int:
    """Move the counted reads (and the refusals counted beyond their allowance: audit.refusals) into the chain;
    returns how many entries were written."""
    from . import refusals

    return COUNTS.flush(_store) + refusals.flush()


def flush_quietly() -> None:
    """Flush before a query; with Redis down the query still answers (the reads stay counted for later)."""
    try:
        flush()
    except Exception as exc:  # noqa: BLE001 - the log must stay readable without Redis
        log.warning("audit reads not flushed: %s", exc)
