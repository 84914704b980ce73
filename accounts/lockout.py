"""Lock-out after repeated failures: AUTH_LOCKOUT_FAILURES failed sign-ins of one account name within
AUTH_LOCKOUT_MINUTES, and that name may not sign in — local, directory or API token alike — until the window has
passed since the last failure. Counted in Redis (one count for every web process). Local accounts' backend, first
in AUTHENTICATION_BACKENDS: a locked name is refused before any password is checked, and the directory is not asked
either (Django then records the failure; the audit entry says `"reason": "locked"`). Redis down: nobody is locked
out (sign-in must not depend on the counter)."""

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from redis.exceptions import RedisError

from geo.counters import client

log = logging.getLogger("civgis.accounts")
LOCKED = "sign_in_locked"  # request attribute: this attempt was refused as locked


def _key(username: str) -> str:
    return f"civgis:sign-in-failures:{username.strip().lower()[:150]}"


def failures(username: str) -> int:
    try:
        return int(client().get(_key(username)) or 0)
    except RedisError:
        return 0


def is_locked(username: str) -> bool:
    return settings.AUTH_LOCKOUT_FAILURES > 0 and bool(username) and failures(username) >= \
        settings.AUTH_LOCKOUT_FAILURES


class LockingModelBackend(ModelBackend):
    """Django's local accounts, refusing a locked account name first (PermissionDenied stops Django from asking
    the backends after this one)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and is_locked(username):
            if request is not None:
                setattr(request, LOCKED, True)
            raise PermissionDenied("too many failed sign-ins")
        return super().authenticate(request, username=username, password=password, **kwargs)


def _failed(sender, credentials, request=None, **kwargs):
    if not getattr(request, LOCKED, False):
        count_failure(str(credentials.get("username") or ""))


def count_failure(username: str) -> None:
    """One more failure of this name (a password, a second factor, a passkey)."""
    if not username or settings.AUTH_LOCKOUT_FAILURES <= 0:
        return
    try:
        pipe = client().pipeline()
        pipe.incr(_key(username))
        pipe.expire(_key(username), int(settings.AUTH_LOCKOUT_MINUTES * 60))
        pipe.execute()
    except RedisError as exc:
        log.warning("sign-in failures not counted (Redis): %s", exc)


def _succeeded(sender, request, user, **kwargs):
    try:
        client().delete(_key(user.get_username()))
    except RedisError:
        pass


def connect() -> None:
    user_login_failed.connect(_failed, dispatch_uid="civgis-lockout-count")
    user_logged_in.connect(_succeeded, dispatch_uid="civgis-lockout-reset")
