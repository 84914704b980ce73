"""Reads on a PostgreSQL streaming replica, writes on the primary, and read-your-writes (issue 21).

With DATABASE_REPLICA_URL set, settings.DATABASES has a `replica` alias (a hot standby of `default`) and

- **writes** always go to the primary (`default`), and so do migrations (`allow_migrate`);
- **reads** go to the replica only inside a web request (`ReadRoutingMiddleware` marks it), only while that request
  has not written (the router's db_for_write, any open transaction on the primary: no read from the replica inside
  an atomic block), only for apps whose staleness is harmless (never sessions, users, groups, accounts and their
  API tokens — a sign-in, a password change or a revoked token take effect at once — nor the jobs whose progress a
  user watches), only when the replica answers and lags by at most DATABASE_REPLICA_MAX_LAG_SECONDS
  (`replica_status`, measured every DATABASE_REPLICA_CHECK_SECONDS per process; its connection is checked once per
  request), and only for a caller not **pinned** to the primary;
- everything else — Celery tasks (imports, analysis, publishing), management commands, the shell — reads the
  primary: a process reads from the replica only where a request opted in, never by default.

Rights changes: after any change to who may see which layer (a layer's visibility or owner agency, its allowed
groups, a grant, a user's groups or account; accounts.rights_changes) every request reads the primary for
DATABASE_READ_YOUR_WRITES_SECONDS (`pin_everyone`, a Redis key looked at with the caller's own in one round trip):
a rights reduction reaches every reader at once, not the replica's lag later. Such changes are rare; a burst costs
the replica half a minute of reads, nothing else.

Read-your-writes: after a request that may have written (any POST/PUT/PATCH/DELETE answered below 400), the caller
is pinned to the primary for DATABASE_READ_YOUR_WRITES_SECONDS, two ways:

1. a cookie (`civgis_primary`, as django-multidb-router's PinningRouterMiddleware does): it is known before any
   database is read, so it also covers a sign-in (the user is unknown until the session is read) and anonymous
   writers, and costs nothing to check;
2. a short Redis key per user (`civgis:primary:<user id>`): it also pins the user's other browsers and API
   clients, and a background job sets it for its owner when it ends (`pin_user`), so the catalog right after an
   import that ran for minutes in a worker — long after the upload's cookie expired — is read from the primary.

The window must be longer than the largest lag the replica is used at (settings check it); a cookie a client forges
only sends its own reads to the primary. Raw SQL of the read-only serving paths (tiles, features, OGC API, search,
CSW) takes its connection from `reading()`, the same decision as the router's; MapServer's per-request map reads
the replica's connection when `read_alias()` says so. What is built from a read and then kept for everyone reads
the primary right after a change: a tile drawn into the tile cache while its layer is marked (`pin_layer`, set
where tiles are invalidated), a capabilities document within the window after the catalog generation changed
(`stay_on_primary`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"
PIN_COOKIE = "civgis_primary"
PIN_KEY = "civgis:primary:{}"
LAYER_KEY = "civgis:primary-layer:{}"
RIGHTS_KEY = "civgis:primary-everyone"  # a rights change committed moments ago: everyone reads the primary
# Apps always read from the primary: identity (sessions, users, groups, accounts, personal and DRF API tokens) and
# the jobs a user watches (their progress is written by workers every few seconds; a lagging replica would show it
# stale). DRF authenticates a token before the view reads anything else, so the user is known when the first read
# that could go to the replica asks whether they are pinned.
PRIMARY_APPS = frozenset({"sessions", "auth", "accounts", "authtoken", "jobs", "admin"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configured() -> bool:
    return REPLICA in connections.settings


class _Reads:
    """What the current request may read from the replica."""

    __slots__ = ("request", "pinned", "wrote", "replica_checked")

    def __init__(self, request):
        self.request = request
        self.pinned: bool | None = None  # decided at the first read that could go to the replica
        self.wrote = False
        self.replica_checked = False  # its connection was found working in this request

    def replica_allowed(self) -> bool:
        if self.wrote:
            return False
        if self.pinned is None:
            self.pinned = _pinned(self.request)
        return not self.pinned


_reads: contextvars.ContextVar[_Reads | None] = contextvars.ContextVar("civgis_reads", default=None)


def _pinned(request) -> bool:
    if request.method not in SAFE_METHODS or PIN_COOKIE in request.COOKIES:
        return True
    from .counters import client

    user = getattr(request, "user", None)
    keys = [RIGHTS_KEY] if user is None or not user.is_authenticated else [RIGHTS_KEY, PIN_KEY.format(user.pk)]
    try:
        return bool(client().exists(*keys))  # one round trip, once per request
    except Exception:  # noqa: BLE001 - without Redis, whether the user wrote is unknown: the primary is right
        log.warning("read-your-writes: Redis unreachable; reading from the primary")
        return True


def pin_user(user_id: int | None) -> None:
    """The user's reads go to the primary for DATABASE_READ_YOUR_WRITES_SECONDS (after a job of theirs wrote).
    Not only where a replica is configured: a Celery worker reads the primary and needs no DATABASE_REPLICA_URL,
    yet the web servers that read its results may have one."""
    if user_id is None:
        return
    from .counters import client

    try:
        client().set(PIN_KEY.format(user_id), 1, ex=max(1, round(settings.DATABASE_READ_YOUR_WRITES_SECONDS)))
    except Exception:  # noqa: BLE001 - the write itself succeeded; the user may then see the replica's lag
        log.warning("read-your-writes: could not pin user %s to the primary (Redis unreachable)", user_id)


def pin_everyone() -> None:
    """Who may see which layer changed (accounts.rights_changes, after the commit): for
    DATABASE_READ_YOUR_WRITES_SECONDS every request reads the primary — visibility, allowed groups and grants are
    read inside the catalog's own queries, and a reader a reduction concerns wrote nothing that would pin them."""
    from .counters import client

    try:
        client().set(RIGHTS_KEY, 1, ex=max(1, round(settings.DATABASE_READ_YOUR_WRITES_SECONDS)))
    except Exception:  # noqa: BLE001 - then no request finds Redis either (the primary, see _pinned)
        log.warning("read-your-writes: could not mark a rights change (Redis unreachable)")


def pin_layer(layer_id: int) -> None:
    """The layer's tiles were just invalidated (an edit, a re-import, a restyle): for
    DATABASE_READ_YOUR_WRITES_SECONDS a tile drawn for the cache reads the primary, so that a request reading a
    replica that has not replayed the change yet cannot put the old tile back into the cache for everyone. Set
    wherever the tiles are invalidated, a worker without DATABASE_REPLICA_URL included."""
    from .counters import client

    try:
        client().set(LAYER_KEY.format(layer_id), 1, ex=max(1, round(settings.DATABASE_READ_YOUR_WRITES_SECONDS)))
    except Exception:  # noqa: BLE001 - a stale tile is then possible for the replica's lag
        log.warning("read-your-writes: could not mark layer %s as changed (Redis unreachable)", layer_id)


def layer_changed_recently(layer_id: int) -> bool:
    """Whether the layer's tiles were invalidated within the window (`pin_layer`); True without Redis."""
    if not configured():
        return False
    from .counters import client

    try:
        return bool(client().exists(LAYER_KEY.format(layer_id)))
    except Exception:  # noqa: BLE001 - unknown: the primary is right
        return True


def stay_on_primary() -> None:
    """The rest of the current request reads the primary (it builds something kept for everyone)."""
    state = _reads.get()
    if state is not None:
        state.pinned = True


@contextlib.contextmanager
def primary():
    """Reads inside go to the primary, whatever the request may otherwise do."""
    token = _reads.set(None)
    try:
        yield
    finally:
        _reads.reset(token)


# The replica's state, per process: measured at most every DATABASE_REPLICA_CHECK_SECONDS.
_status: dict = {"checked": None, "ok": False}
_status_lock = threading.Lock()


def measure() -> dict:
    """The replica's state now: reachable, a standby, how far its replay is behind the primary (bytes of WAL and
    seconds), whether replay is paused. Lag in seconds is the age of the last transaction replayed while WAL is
    still to replay (0 when caught up): right after a write that follows a quiet spell it overstates the lag
    (falling back to the primary for a moment, the safe side)."""
    replica = connections[REPLICA]
    with replica.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,"
                    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())")
        standby, replayed, paused, age = cur.fetchone()
    if not standby:
        return {"ok": False, "error": "the replica is not a standby (promoted?): not reading from it"}
    with connections[PRIMARY].cursor() as cur:
        # the insert position: with synchronous_commit off, a commit may be inserted and not yet written
        cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [replayed])
        behind = int(cur.fetchone()[0])
    lag = 0.0 if behind <= 0 else max(0.0, float(age or 0.0))
    return {"ok": True, "lag_seconds": round(lag, 3), "lag_bytes": max(behind, 0), "replay_paused": bool(paused)}


def _down(exc: Exception) -> dict:
    return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).strip()[:300]}"}


def replica_status(refresh: bool = False) -> dict:
    """The last measured state (measured again when older than DATABASE_REPLICA_CHECK_SECONDS or asked), with
    `usable`: reads may go there (answers, a standby, lag within DATABASE_REPLICA_MAX_LAG_SECONDS)."""
    now = time.monotonic()
    checked = _status["checked"]
    if refresh or checked is None or now - checked >= settings.DATABASE_REPLICA_CHECK_SECONDS:
        with _status_lock:
            try:
                state = measure()
            except DatabaseError as exc:
                state = _down(exc)
                connections[REPLICA].close()
            state["usable"] = state["ok"] and state["lag_seconds"] <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
            _status.clear()
            _status.update(state, checked=time.monotonic())
            if not state["usable"]:
                log.warning("reads from the primary: the replica is %s",
                            state.get("error") or f"{state['lag_seconds']} s behind")
    return {k: v for k, v in _status.items() if k != "checked"}


def _replica_answers(state: _Reads) -> bool:
    """The replica's connection works, checked at its first use in a request (as CONN_HEALTH_CHECKS would: a
    kept connection the replica's restart cut is replaced); a failure marks the replica down until the next
    check of its state."""
    if state.replica_checked:
        return True
    replica = connections[REPLICA]
    try:
        if replica.connection is not None and not replica.is_usable():
            replica.close()
        replica.ensure_connection()
        state.replica_checked = True
        return True
    except DatabaseError as exc:
        with _status_lock:
            _status.update(_down(exc), usable=False, checked=time.monotonic())
        log.warning("reads from the primary: the replica does not answer (%s)", exc)
        return False


def read_alias(app_label: str | None = None) -> str:
    """Where a read of the current context goes: REPLICA or PRIMARY."""
    if app_label in PRIMARY_APPS or not configured():
        return PRIMARY
    state = _reads.get()
    if state is None or not state.replica_allowed() or connections[PRIMARY].in_atomic_block:
        return PRIMARY
    if not replica_status()["usable"] or not _replica_answers(state):
        return PRIMARY
    return REPLICA


def reading():
    """The connection for a read-only raw SQL path (tiles, features, OGC, search): the replica when allowed."""
    return connections[read_alias()]


class PrimaryReplicaRouter:
    """DATABASE_ROUTERS: reads as `read_alias` says, writes and migrations on the primary."""

    def db_for_read(self, model, **hints):
        return read_alias(model._meta.app_label)

    def db_for_write(self, model, **hints):
        state = _reads.get()
        if state is not None:
            state.wrote = True  # from now on this request reads what it wrote: the primary
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica is a copy of the primary: the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


class ReadRoutingMiddleware:
    """Marks the request as one whose reads may go to the replica; pins a caller that wrote to the primary."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not configured():
            return self.get_response(request)
        state = _Reads(request)
        token = _reads.set(state)
        try:
            response = self.get_response(request)
        finally:
            _reads.reset(token)
        # a GET that wrote (a lazily filled cache) reads the primary for the rest of itself, but pins no one
        if request.method not in SAFE_METHODS and response.status_code < 400:
            seconds = max(1, round(settings.DATABASE_READ_YOUR_WRITES_SECONDS))
            response.set_cookie(PIN_COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax",
                                secure=request.is_secure())
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                pin_user(user.pk)
        return response
