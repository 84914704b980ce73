"""Recording one thing that happened (an export, a change, a sign-in …) as its own entry, at once.

An entry is appended when the surrounding transaction commits (a change rolled back did not happen), in its
own short transaction, so no request holds the chain's lock for longer than one append. Recording never breaks
what it records: a failure is logged, loudly.
"""

import functools
import logging

from django.conf import settings
from django.db import transaction

from . import actors, chain
from .actors import Actor

log = logging.getLogger("civgis.audit")


def record(action: str, actor: Actor, *, object_type: str = "", object_id="", object_label: str = "",
           detail: dict | None = None, count: int = 1) -> None:
    draft = chain.Draft(action=action, actor_id=actor.user_id, actor_name=actor.username, address=actor.address,
                        object_type=object_type, object_id="" if object_id is None else str(object_id),
                        object_label=object_label or "", detail=detail or {}, count=count)
    transaction.on_commit(lambda: _append(draft))


def record_layer(action: str, actor: Actor, layer, detail: dict | None = None) -> None:
    record(action, actor, object_type="layer", object_id=layer.pk, object_label=layer.slug, detail=detail)


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
