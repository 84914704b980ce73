"""Cached vector tiles answered in front of Django (issue 21: ≥ 3,000 cached tiles/s on two cores).

A WSGI wrapper around the Django application (geo/wsgi.py). It answers only a GET of `/tiles/<slug>/<z>/<x>/<y>.mvt`
with no query string (no filter, no time) and no `Authorization` header, from

- an anonymous visitor (no session cookie), or
- a signed-in user whose session Django has recently authenticated for a tile (`tile_sessions`: a signed entry in
  Redis, ended at once by sign-out or any change to the user),

and only when the caller may see the layer and the tile is in the tile cache (`tilecache`). Anything else — a miss,
a filter, a token, an unknown or ended session, a layer the caller may not see, an error of its own — goes to
Django unchanged, which decides, answers (a 404 for a layer one may not see, the same as for a missing one), draws
the tile and keeps it.

What makes it cheap, per process — no database, no Redis and no ORM on the way of a cached tile:

- *who may see which layer* is asked of the database once per (visibility set, layer) — the set being anonymous
  visitors, or one user's session entry — with the layer's tile folder and ETag, and kept until the next change.
  Every change the capabilities cache counts (`capabilities_cache.bump`: layers, versions, styles, themes, grants,
  a layer's or a user's groups, publishing) and every sign-out or change to a user (`tile_sessions`) replaces the
  *changes file* `TILE_CACHE_DIR/.changes` once it commits; each request compares the file's inode and time with
  those its answers were asked under (one `stat`, no round trip) and drops them all when it differs, so a revoked
  grant or a layer made private stops the tiles at the next request. In any case answers are dropped after
  TILE_FAST_PATH_RECHECK_SECONDS (a bulk update that sends no signal; another machine's change when the tile cache
  folder is not shared between machines);
- the reads are counted as Django counts them (the cache's hits, the usage figures, the audit log's read counts
  with the caller and address), added up in the process and sent to Redis in one round trip at most every
  TILE_FAST_PATH_COUNT_SECONDS and when the worker exits;
- the file is opened and handed to the server (`wsgi.file_wrapper`: gunicorn sends it with sendfile) — or, behind
  nginx (TILE_ACCEL_REDIRECT names nginx's internal location of the tile cache, deploy/nginx), only looked at and
  named in an `X-Accel-Redirect`: nginx sends it; a matching If-None-Match gets a 304 without the file.

Its answer is the view's: the same bytes, 200 or 204, the same ETag and Cache-Control. TILE_CACHE_FAST_PATH=false
turns it off.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings

log = logging.getLogger(__name__)
PATH = re.compile(r"^/tiles/([a-z][a-z0-9_-]*)/(\d{1,2})/(\d{1,8})/(\d{1,8})\.mvt$")
MARK = "\0slug\0"
FIELDS = ("id", "slug", "kind", "current_version_id", "min_zoom", "srid", "tile_attributes", "attributes",
          "created_at", "updated_at", "visibility")
ANONYMOUS = "anonymous"
MAX_KEPT = 20_000  # answers and sessions kept per process before starting afresh
CHANGES = ".changes"


def changes_file() -> str:
    return f"{settings.TILE_CACHE_DIR}/{CHANGES}"


def note_change() -> None:
    """Something that decides who may see which tile changed: every process's fast path drops what it knows (a new
    file each time, renamed into place: its inode changes even within the file system's time resolution)."""
    path = Path(changes_file())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{CHANGES}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(str(time.time_ns()))
        temporary.replace(path)
    except OSError as exc:  # then the fast path cannot read it either and answers nothing (see _stamp)
        log.warning("tile fast path not told of a change (%s)", exc)


def note_change_on_commit(*args, **kwargs) -> None:
    from django.db import transaction

    transaction.on_commit(note_change)


class Answer:
    """What the fast path knows of one layer for one visibility set: where its tiles are, their ETag, who may keep
    them (public or private)."""

    __slots__ = ("slug", "folder", "etag", "public", "accel")

    def __init__(self, slug: str, folder: str, etag: str, public: bool, accel: str = ""):
        self.slug, self.folder, self.etag, self.public = slug, folder, etag, public
        self.accel = accel  # the folder as nginx's internal location names it (TILE_ACCEL_REDIRECT), or ""


class Caller:
    __slots__ = ("set", "user_id", "username", "ends")

    def __init__(self, set_: str, user_id=None, username="", ends=float("inf")):
        self.set, self.user_id, self.username, self.ends = set_, user_id, username, ends


ANONYMOUS_CALLER = Caller(ANONYMOUS)


class Known:
    """What a process knows between two changes: answers per (visibility set, layer slug), callers per session."""

    __slots__ = ("answers", "sessions")

    def __init__(self):
        self.answers: dict[tuple[str, str], Answer | None] = {}
        self.sessions: dict[str, Caller] = {}


class Counts:
    """The fast path's read counts, added up in the process and sent to Redis together (one round trip at most
    every TILE_FAST_PATH_COUNT_SECONDS, and at exit). A read costs a dictionary update here: the counters' names
    (the month and hour buckets, the audit log's actor and address) are made when they are sent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: Counter = Counter()
        self.sent_at = time.monotonic()
        self.buckets: tuple[str, str] = ("", "")
        self.buckets_until = 0.0
        atexit.register(self.send)

    def add(self, answer: Answer, caller: Caller, environ, hit: bool) -> None:
        now = time.monotonic()
        if now >= self.buckets_until:  # the usage month and the audit hour, looked at once a second
            from audit import reads as audit_reads

            from . import usage

            self.buckets, self.buckets_until = (usage.bucket_now(), audit_reads.bucket_now()), now + 1
        where = (environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR", ""))
        with self.lock:
            self.pending[(self.buckets, answer.slug, caller.user_id, caller.username, where, hit)] += 1
        if now - self.sent_at >= settings.TILE_FAST_PATH_COUNT_SECONDS:
            self.send()

    def send(self) -> None:
        import redis

        from audit import reads as audit_reads
        from audit.actors import Actor, client_address
        from geo.counters import client

        from . import tilecache, usage

        with self.lock:
            pending, self.pending, self.sent_at = self.pending, Counter(), time.monotonic()
        if not pending:
            return
        sums: Counter = Counter()
        for ((month, hour), slug, user_id, username, (remote, forwarded), hit), n in pending.items():
            address = client_address(SimpleNamespace(META={"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}))
            if hit:
                sums[(tilecache.STATS_KEY, "hits")] += n
            sums[(usage.COUNTS.prefix + month, f"{slug}|tile")] += n
            sums[(audit_reads.COUNTS.prefix + hour,
                  audit_reads.field_of(Actor(user_id, username, address), slug, "tile"))] += n
        try:
            pipe = client().pipeline(transaction=False)
            for (key, field), n in sums.items():
                pipe.hincrby(key, field, n)
            pipe.execute()
        except redis.RedisError as exc:  # counting must never break serving (as geo.counters.add_all)
            log.warning("%d tile reads not counted: %s", sum(pending.values()), exc)


class TileFastPath:
    def __init__(self, app):
        self.app = app
        self._query = None
        self._stamp = None  # the changes file's (inode, time) the answers below were asked under
        self._since = 0.0
        self._known = Known()
        self.counts = Counts()

    def __call__(self, environ, start_response):
        if settings.TILE_CACHE and settings.TILE_CACHE_FAST_PATH and environ.get("REQUEST_METHOD") == "GET" \
                and not environ.get("QUERY_STRING") and "HTTP_AUTHORIZATION" not in environ:
            match = PATH.match(environ.get("PATH_INFO", ""))
            if match:
                try:
                    answer = self._cached(match, environ)
                except Exception:  # noqa: BLE001 - whatever went wrong here, Django answers (and logs) instead
                    log.exception("tile fast path failed; answered by Django")
                    answer = None
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return body
        return self.app(environ, start_response)

    def _stamp_now(self):
        try:
            found = os.stat(changes_file())
        except FileNotFoundError:
            note_change()  # a new or emptied tile cache: start one
            try:
                found = os.stat(changes_file())
            except OSError:
                return None
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns

    def _cached(self, match, environ):
        stamp = self._stamp_now()
        if stamp is None:
            return None  # no changes file to follow: Django answers
        if stamp != self._stamp or time.monotonic() - self._since > settings.TILE_FAST_PATH_RECHECK_SECONDS:
            # a new object, not cleared: a thread that began before the change keeps what it asks to itself
            self._known, self._stamp, self._since = Known(), stamp, time.monotonic()
        known = self._known
        caller = self._caller(environ, known)
        if caller is None:
            return None
        slug, z, x, y = match.groups()
        answer = self._answer(caller, slug, known)
        if answer is None:
            return None  # Django answers: the 404 (the same as for a missing layer) or another kind's 400
        served = self._served(answer, caller, environ, z, x, y)
        if served is None:
            return None  # not cached: Django draws and keeps it
        self.counts.add(answer, caller, environ, served[0] != "304 Not Modified")
        return served

    # who is asking

    def _caller(self, environ, known: Known) -> Caller | None:
        """Anonymous, the user of a session entry, or None (a session the fast path does not know: Django)."""
        cookies = environ.get("HTTP_COOKIE", "")
        name = settings.SESSION_COOKIE_NAME
        if f"{name}=" not in cookies:
            return ANONYMOUS_CALLER
        session_key = ""
        for chunk in cookies.split(";"):  # as django.http.parse_cookie reads it: the last one of the name counts
            key, equals, value = chunk.partition("=")
            if equals and key.strip() == name:
                session_key = value.strip()
        if not session_key.isalnum():  # none, or quoted: Django's own parser decides
            return None
        caller = known.sessions.get(session_key)
        if caller is None:
            from geo.counters import client

            from . import tile_sessions

            raw = client().get(tile_sessions.key_of(session_key))
            found = tile_sessions.read(raw) if raw else None
            if found is None:
                return None
            user_id, username, ends, stamp = found
            if len(known.sessions) >= MAX_KEPT:
                known.sessions.clear()
            caller = known.sessions[session_key] = Caller(f"user:{user_id}:{stamp}", user_id, username, ends)
        if caller.ends <= time.time():
            known.sessions.pop(session_key, None)
            return None
        return caller

    # what the caller may see

    def _answer(self, caller: Caller, slug: str, known: Known) -> Answer | None:
        key = (caller.set, slug)
        try:
            return known.answers[key]
        except KeyError:
            pass
        layer = self._visible_layer(caller, slug)
        answer = None
        if layer is not None and layer.kind == "vector":
            from . import tilecache
            from .views import tile_etag

            folder = tilecache.folder_of(layer, "vector", "")
            accel = settings.TILE_ACCEL_REDIRECT
            answer = Answer(layer.slug, str(folder), tile_etag(layer), layer.visibility == "public",
                            accel + folder.relative_to(tilecache.root()).as_posix() if accel else "")
        if len(known.answers) >= MAX_KEPT:
            known.answers.clear()
        known.answers[key] = answer
        return answer

    def _visible_layer(self, caller: Caller, slug: str):
        """The layer if the caller may see it (Layer.objects.visible_to, the rule of every path), else None."""
        from django.contrib.auth import get_user_model

        from layers.models import Layer

        if caller.user_id is None:
            if self._query is None:  # anonymous: the SQL compiled once
                query = Layer.objects.visible_to(None).filter(slug=MARK).only(*FIELDS)
                sql, params = query.query.sql_with_params()
                self._query = (sql, list(params), list(params).index(MARK))
            sql, params, index = self._query
            params = list(params)
            params[index] = slug
            return next(iter(Layer.objects.raw(sql, params)), None)
        user = get_user_model().objects.filter(pk=caller.user_id, is_active=True).first()
        if user is None:
            return None
        return Layer.objects.visible_to(user).filter(slug=slug).only(*FIELDS).first()

    # the answer

    @staticmethod
    def _served(answer: Answer, caller: Caller, environ, z: str, x: str, y: str):
        headers = [("ETag", answer.etag), ("X-Content-Type-Options", "nosniff")]
        if answer.public:
            headers.append(("Cache-Control", "public, max-age=300"))
        else:
            headers += [("Cache-Control", "private, max-age=300"), ("Vary", "Cookie, Authorization")]
        if caller.user_id is not None and answer.public:
            headers.append(("Vary", "Cookie"))  # as Django's session middleware says of a signed-in answer
        if environ.get("HTTP_IF_NONE_MATCH") == answer.etag:
            return "304 Not Modified", headers, []
        tile, kind = f"{answer.folder}/{z}/{x}/{y}.mvt", ("Content-Type", "application/vnd.mapbox-vector-tile")
        handle = None
        try:
            if answer.accel:  # behind nginx: only looked at here, sent by nginx
                size = os.stat(tile).st_size
            else:
                handle = open(tile, "rb")  # noqa: SIM115 - the server closes it
                size = os.fstat(handle.fileno()).st_size
        except OSError:
            return None
        if not size:
            if handle is not None:
                handle.close()
            return "204 No Content", [kind, *headers], []
        if answer.accel:  # nginx's internal location adds this answer's ETag, Vary and nosniff back to the file
            return "200 OK", [kind, ("Content-Length", "0"), ("X-Accel-Redirect", f"{answer.accel}/{z}/{x}/{y}.mvt"),
                              *headers], []
        headers = [kind, ("Content-Length", str(size)), *headers]
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return "200 OK", headers, wrapper(handle, 65536)
        with handle:
            return "200 OK", headers, [handle.read()]
