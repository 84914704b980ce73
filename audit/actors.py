"""Who did it and from where: the user (id and username as they are now) and the client's address.

The address is REMOTE_ADDR. Behind reverse proxies the client's address is the one the nearest trusted proxy
appended to X-Forwarded-For: with AUDIT_TRUSTED_PROXIES = n, the n-th entry from the right (entries further left
are whatever the client sent, and prove nothing).
"""

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    username: str = ""
    address: str = ""


SYSTEM = Actor(username="system")
# the request this thread is answering (set by audit.middleware), for hooks that see no request
current_request: ContextVar = ContextVar("audit_request", default=None)


def _valid(address: str) -> str:
    try:
        return ipaddress.ip_address(address.strip()).compressed
    except ValueError:
        return ""


def client_address(request) -> str:
    meta = getattr(request, "META", {})
    proxies = settings.AUDIT_TRUSTED_PROXIES
    if proxies:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return _valid(hops[-proxies])
    return _valid(meta.get("REMOTE_ADDR", ""))


def of_user(user, address: str = "") -> Actor:
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor(user.pk, user.get_username(), address)
    return Actor(None, "", address)


def of_request(request) -> Actor:
    """The request's user — the session's, or DRF's once it has authenticated, or the one an `Authorization:
    Token …` header names (plain views such as tiles never set it) — and address."""
    actor = getattr(request, "_audit_actor", None)
    if actor is not None:
        return actor
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False) and "HTTP_AUTHORIZATION" in getattr(request, "META", {}):
        from layers.serving.access import request_user

        user = request_user(request)
    actor = of_user(user, client_address(request))
    if actor.user_id is not None:  # an anonymous answer may still change once DRF authenticates
        request._audit_actor = actor
    return actor


def now_or(fallback_user=None) -> Actor:
    """The current request's actor; outside a request (a worker, a command), `fallback_user` or the system."""
    request = current_request.get()
    if request is not None:
        return of_request(request)
    return of_user(fallback_user) if fallback_user is not None else SYSTEM
