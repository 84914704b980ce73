"""Recording one thing that happened (an export, a change, a sign-in …) as its own entry, at once.

An entry is appended when the surrounding transaction commits (a change rolled back did not happen), in its
own short transaction, so no request holds the chain's lock for longer than one append. Recording never breaks
what it records: a failure is logged, loudly.

Work that changes many things at once (a harvest run of hundreds of layers) wraps itself in `batched()`: each
thing still gets its own entry (who, what, when), but they are appended together — one transaction and one lock
of the chain's head per `BATCH` entries instead of one per entry — once the surrounding transaction commits.
"""

import contextlib
import functools
import logging
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction

from . import actors, chain
from .actors import Actor

log = logging.getLogger("civgis.audit")
BATCH = 1000  # entries per append (per transaction) when batched
_batch: ContextVar[dict | None] = ContextVar("audit_batch", default=None)


def record(action: str, actor: Actor, *, object_type: str = "", object_id="", object_label: str = "",
           detail: dict | None = None, count: int = 1) -> None:
    draft = chain.Draft(action=action, actor_id=actor.user_id, actor_name=actor.username, address=actor.address,
                        object_type=object_type, object_id="" if object_id is None else str(object_id),
                        object_label=object_label or "", detail=detail or {}, count=count)
    batch = _batch.get()
    if batch is None:
        transaction.on_commit(lambda: _append(draft))
        return
    draft.detail = {**batch["detail"], **draft.detail}
    # kept once the change commits (and dropped with a rolled-back savepoint, as Django drops its callbacks):
    # `batched` registers the append of the kept drafts after all of these, so it runs after them
    transaction.on_commit(lambda: batch["drafts"].append(draft))


def record_layer(action: str, actor: Actor, layer, detail: dict | None = None) -> None:
    record(action, actor, object_type="layer", object_id=layer.pk, object_label=layer.slug, detail=detail)


@contextlib.contextmanager
def batched(**detail):
    """Entries recorded inside are appended together once the surrounding transaction commits (at the end of the
    block outside a transaction); `detail` is added to each (e.g. the harvest run that made them). Nested: the
    outermost block appends."""
    if _batch.get() is not None:
        yield
        return
    batch = {"drafts": [], "detail": detail}
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
        # a rolled-back transaction drops this with the drafts' own callbacks; without one it runs at once
        transaction.on_commit(lambda: _append_all(batch["drafts"]))


def _append_all(drafts: list[chain.Draft]) -> None:
    for start in range(0, len(drafts), BATCH):
        part = drafts[start:start + BATCH]
        try:
            chain.append(part)
        except Exception:
            log.exception("AUDIT ENTRIES LOST: %d entries, the first %s by %s on %s %s", len(part), part[0].action,
                          part[0].actor_name or "anonymous", part[0].object_type,
                          part[0].object_label or part[0].object_id)


def _append(draft: chain.Draft) -> None:
    try:
        chain.append([draft])
    except Exception:
        log.exception("AUDIT ENTRY LOST: %s by %s on %s %s", draft.action, draft.actor_name or "anonymous",
                      draft.object_type, draft.object_label or draft.object_id)


def recorded_publishing(apply):
    """Wraps layers.ogc.publishing.apply: each time the OGC engine is made to serve or drop a layer, an entry."""

    @functools.wraps(apply)
    def wrapper(slug: str, change: str) -> str:
        outcome = apply(slug, change)
        action = {"published": "publish", "withdrawn": "withdraw"}.get(outcome, outcome)
        record(action, actors.now_or(), object_type="layer", object_label=slug,
               detail={"change": change, "engine": settings.OGC_ENGINE})
        return outcome
    return wrapper
