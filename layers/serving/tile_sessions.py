"""Signed-in callers on the tile fast path (issue 21): which user a session cookie belongs to, known without Django.

When Django has authenticated a session for a tile (`views._tile`: session middleware, the user's password hash and
active flag, the directory re-check), it *publishes* an entry in Redis under a hash of the session key: the user's
id and username, when the entry ends, a stamp, and an HMAC of them under the SECRET_KEY. The fast path
(`tile_fastpath`) reads the entry for the cookie it is sent, checks the signature and the end, and on every tile
asks Redis whether the entry is still the same (in the same round trip that counts the read): one that is gone is
at once no longer honoured, and the request goes to Django.

An entry ends

- at the latest TILE_SESSION_SECONDS after it was published, when the session expires, or when a directory user is
  due to be looked up again in the directory (`accounts.recheck`), whichever is first;
- at once when the session is deleted (sign-out, a cycled key) and when the user is saved or deleted (deactivated,
  a new password, superuser status, a new username): every entry of that user goes, and the fast path's changes
  file is replaced, so every process forgets the sessions it knew.

What the user may see is not in the entry: the fast path asks the database once per (user's entry, layer) and keeps
the answer only until the next catalog change (`capabilities_cache.bump`: a layer, a grant, a group membership …),
so a revoked grant or a layer made private stops that user's tiles at the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import redis
from django.conf import settings
from django.db import transaction

from geo.counters import client

log = logging.getLogger(__name__)
PREFIX = "civgis:tile-session:"
OF_USER = "civgis:tile-sessions-of:"  # a set: the entry keys of one user (removed together when the user changes)


def key_of(session_key: str) -> str:
    """The entry's Redis key: a hash of the session key (the session key itself is a credential)."""
    return PREFIX + hashlib.sha256(session_key.encode()).hexdigest()[:40]


_secret: tuple[str, bytes] | None = None


def _signature(payload: str) -> str:
    global _secret
    if _secret is None or _secret[0] != settings.SECRET_KEY:
        derived = hashlib.sha256(b"civgis.tile-session\0" + settings.SECRET_KEY.encode()).digest()
        _secret = (settings.SECRET_KEY, derived)
    return hmac.new(_secret[1], payload.encode(), hashlib.sha256).hexdigest()[:40]


def publish(request) -> None:
    """Django has just authenticated this request's session: let the fast path know whose it is (for a while)."""
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or not session.session_key or user is None or not user.is_authenticated \
            or getattr(request, "api_token", None) is not None or not settings.TILE_CACHE_FAST_PATH:
        return
    now = time.time()
    lasts = min(settings.TILE_SESSION_SECONDS, session.get_expiry_age())
    if settings.LDAP_SERVER_URI:  # not past the directory's next look-up of this user (accounts.recheck)
        from accounts.recheck import CHECKED

        lasts = min(lasts, session.get(CHECKED, 0) + settings.AUTH_DIRECTORY_RECHECK_SECONDS - now)
    if lasts < 1:
        return
    payload = json.dumps([user.pk, user.get_username(), round(now + lasts), time.time_ns()], ensure_ascii=False)
    key = key_of(session.session_key)
    try:
        pipe = client().pipeline(transaction=False)
        # only when there is none: a new entry ends what every process knew of the old one (tile_fastpath)
        pipe.set(key, f"{payload}|{_signature(payload)}", ex=int(lasts), nx=True)
        pipe.sadd(OF_USER + str(user.pk), key)
        pipe.expire(OF_USER + str(user.pk), settings.TILE_SESSION_SECONDS + 60)
        pipe.execute()
    except redis.RedisError as exc:  # then the fast path does not know the session: Django answers
        log.warning("tile session not published (Redis: %s)", exc)


def read(raw: bytes) -> tuple[int, str, float, str] | None:
    """(user id, username, when it ends, a stamp naming this entry) from a stored entry, None when it is not signed
    by us or has ended."""
    try:
        payload, _, signature = raw.decode().rpartition("|")
        if not hmac.compare_digest(signature, _signature(payload)):
            return None
        user_id, username, ends, stamp = json.loads(payload)
    except (UnicodeDecodeError, ValueError, TypeError):
        return None
    if ends <= time.time():
        return None
    return int(user_id), str(username), float(ends), str(stamp)


def forget_session(session_key: str | None) -> None:
    try:
        if session_key:
            client().delete(key_of(session_key))
    except redis.RedisError as exc:
        log.warning("tile session not forgotten (Redis: %s)", exc)
    note_change()


def forget_user(user_id) -> None:
    """Every entry of this user goes (the user was changed or deleted)."""
    try:
        keys = client().smembers(OF_USER + str(user_id))
        client().delete(OF_USER + str(user_id), *keys)
    except redis.RedisError as exc:
        log.warning("tile sessions of user %s not forgotten (Redis: %s)", user_id, exc)
    note_change()


def note_change() -> None:
    """Every process's fast path forgets the sessions it knew (tile_fastpath.note_change)."""
    from .tile_fastpath import note_change as tell

    tell()


# once the change commits: before, Django would still read the old rows and publish the entry again
def _user_changed(sender, instance, **kwargs):
    transaction.on_commit(lambda pk=instance.pk: forget_user(pk))


def _session_deleted(sender, instance, **kwargs):
    transaction.on_commit(lambda key=instance.session_key: forget_session(key))


def _signed_out(sender, request, user, **kwargs):
    key = getattr(getattr(request, "session", None), "session_key", None)
    transaction.on_commit(lambda: forget_session(key))


def connect() -> None:
    """Entries end with their session and with any change to their user (called once, from the layers app's
    ready())."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_out
    from django.contrib.sessions.models import Session
    from django.db.models.signals import post_delete, post_save

    user = get_user_model()
    post_save.connect(_user_changed, sender=user, dispatch_uid="tile-sessions-user-saved")
    post_delete.connect(_user_changed, sender=user, dispatch_uid="tile-sessions-user-deleted")
    post_delete.connect(_session_deleted, sender=Session, dispatch_uid="tile-sessions-session-deleted")
    user_logged_out.connect(_signed_out, dispatch_uid="tile-sessions-signed-out")
