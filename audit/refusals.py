"""Refusals — failed sign-ins (passwords, second factors, passkeys) and refused API tokens — recorded one by one up to
AUDIT_REFUSALS_PER_MINUTE per client address and minute; beyond that counted in Redis and written as one entry per
(action, address, minute) with its `count` (detail "aggregated": true), flushed with the counted reads
(audit.reads.flush: by the scheduler and before an administrator queries the log). A client trying passwords or
tokens by the thousand cannot flood the log, and every attempt is still counted. Redis down: one by one, as before.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from geo.counters import RedisCounts, client

from . import chain, events
from .actors import Actor

log = logging.getLogger("civgis.audit")
COUNTS = RedisCounts("audit-refusals")
MINUTE = "%Y-%m-%dT%H:%M"


def _over_limit(address: str, minute: str) -> bool:
    limit = settings.AUDIT_REFUSALS_PER_MINUTE
    if limit <= 0:
        return False
    key = f"civgis:refusal-rate:{address or '-'}:{minute}"
    try:
        pipe = client().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        seen = pipe.execute()[0]
    except RedisError as exc:
        log.warning("refusals not rate-counted (Redis): %s", exc)
        return False
    return seen > limit


def record(action: str, actor: Actor, *, object_type: str = "", object_id="", object_label: str = "",
           detail: dict | None = None) -> None:
    """events.record for a refusal, within this address's allowance for the minute; counted beyond it."""
    minute = timezone.now().astimezone(UTC).strftime(MINUTE)
    if _over_limit(actor.address, minute):
        try:
            COUNTS.add(minute, json.dumps([action, actor.address], ensure_ascii=False))
            return
        except RedisError:
            pass
    events.record(action, actor, object_type=object_type, object_id=object_id, object_label=object_label,
                  detail=detail)


def _store(minute: str, counts: dict[str, int]) -> int:
    start = datetime.strptime(minute, MINUTE).replace(tzinfo=UTC)
    drafts = [chain.Draft(action=action, time=start, actor_id=None, actor_name="", address=address,
                          object_type="client", object_id="", object_label=address,
                          detail={"aggregated": True, "period": "PT1M",
                                  "recorded_one_by_one": settings.AUDIT_REFUSALS_PER_MINUTE}, count=n)
              for (action, address), n in ((json.loads(field), n) for field, n in sorted(counts.items()))]
    chain.append(drafts)
    return len(drafts)


def flush() -> int:
    return COUNTS.flush(_store)
