"""Who may see which layer changed: told to the open live-edit streams and to the read router, once it commits.

A *rights change* is anything `Layer.objects.visible_to` or a reader's sign-in depends on: a layer's visibility or
owner agency, its allowed groups, a grant, a user's groups, a user disabled, made staff or superuser, given a new
password or deleted, a group or a layer deleted (a save that changes none of these — a sign-in, an identity
provider's name and e-mail — is none). After the commit (`changed`):

- a message on the Redis channel CHANNEL: every open live-edit stream (editing.live) reads its reader's visible
  layers again before it sends its next event — one look per change and stream, none per message;
- `geo.dbrouter.pin_everyone`: for DATABASE_READ_YOUR_WRITES_SECONDS (longer than the replica's largest usable
  lag plus the time between two measurements of it) every request reads the primary, so a reduction reaches every
  reader at once, not a replica's lag later.

A session ending (sign-out) only tells the streams (`changed(reads=False)`): nothing read from the replica
depends on it.
"""

import logging

import redis
from django.db import transaction

from geo import dbrouter
from geo.counters import client

log = logging.getLogger(__name__)
CHANNEL = "civgis:rights"


def changed(reads: bool = True) -> None:
    """Tell the read router (with `reads`) and the streams now; call after the change committed."""
    if reads:
        dbrouter.pin_everyone()
    try:
        client().publish(CHANNEL, "1")
    except redis.RedisError as exc:  # the streams then end with Redis too
        log.warning("rights change not told to the live-edit streams (Redis: %s)", exc)


def _on_commit(*args, action: str = "post_", **kwargs) -> None:
    if action.startswith("post_"):  # m2m_changed is sent before and after
        transaction.on_commit(changed)


def _session_ended(*args, **kwargs) -> None:
    transaction.on_commit(lambda: changed(reads=False))


def _watch(fields: tuple[str, ...]):
    """pre_save and post_save receivers: a save is a rights change when one of `fields` differs from the stored
    row (one look at the primary's row per save of an existing object; a new one takes nothing from anyone). Told
    after the save commits — not from pre_save, whose on_commit would run at once outside a transaction, before
    the row is written."""
    names = set(fields) | {name.removesuffix("_id") for name in fields}

    def saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
        instance._rights_changed = False
        if raw or instance.pk is None or instance._state.adding:
            return
        if update_fields is not None and not names & set(update_fields):
            return  # e.g. a sign-in's last_login, an edit's counts
        stored = sender.objects.using("default").filter(pk=instance.pk).values_list(*fields).first()
        instance._rights_changed = stored != tuple(getattr(instance, name) for name in fields)

    def saved(sender, instance, **kwargs) -> None:
        if getattr(instance, "_rights_changed", False):
            instance._rights_changed = False
            transaction.on_commit(changed)

    return saving, saved


# a layer's own say in who sees it; a user's: signed in at all, every right, their sessions (a new password)
LAYER_FIELDS = ("visibility", "owner_agency_id")
USER_FIELDS = ("is_active", "is_superuser", "is_staff", "password")


def connect() -> None:
    """Called once, from the accounts app's ready()."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.auth.signals import user_logged_out
    from django.contrib.sessions.models import Session
    from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

    from layers.models import Layer

    from .models import LayerGrant

    user = get_user_model()
    for model, fields in ((Layer, LAYER_FIELDS), (user, USER_FIELDS)):
        saving, saved = _watch(fields)
        pre_save.connect(saving, sender=model, dispatch_uid=f"rights-saving-{model.__name__}", weak=False)
        post_save.connect(saved, sender=model, dispatch_uid=f"rights-saved-{model.__name__}", weak=False)
    post_save.connect(_on_commit, sender=LayerGrant, dispatch_uid="rights-grant-saved")
    for model in (Layer, LayerGrant, user, Group):
        post_delete.connect(_on_commit, sender=model, dispatch_uid=f"rights-deleted-{model.__name__}")
    for through, name in ((Layer.allowed_groups.through, "layer-groups"), (user.groups.through, "user-groups")):
        m2m_changed.connect(_on_commit, sender=through, dispatch_uid=f"rights-{name}")
    user_logged_out.connect(_session_ended, dispatch_uid="rights-signed-out")
    post_delete.connect(_session_ended, sender=Session, dispatch_uid="rights-session-deleted")
