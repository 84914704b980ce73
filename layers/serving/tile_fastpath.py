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

What makes it cheap, per process:

- *who may see which layer* is asked of the database once per (visibility set, layer) — the set being anonymous
  visitors, or one user's session entry — with the layer's tile folder and ETag, and kept while the catalog
  generation (`capabilities_cache`: bumped on every change to layers, versions, styles, themes, grants, a layer's
  or a user's groups) stays the same, and at most TILE_FAST_PATH_RECHECK_SECONDS (a bulk update that sends no
  signal);
- each tile costs one Redis round trip — a script that checks the generation and the session entry are still
  those the answers were kept under and only then counts the read (the cache's hits, the usage figures, the audit
  log's read counts with the caller and address); a changed generation drops the answers and asks again, so a
  revoked grant or a layer made private stops the tiles at the next request;
- no ORM on the way: the file is opened and handed to the server (`wsgi.file_wrapper`: gunicorn sends it with
  sendfile); a matching If-None-Match gets a 304 without the file.

Its answer is the view's: the same bytes, 200 or 204, the same ETag and Cache-Control. TILE_CACHE_FAST_PATH=false
turns it off.
"""

from __future__ import annotations

import logging
import os
import re
import time
from http.cookies import SimpleCookie
from types import SimpleNamespace

from django.conf import settings

log = logging.getLogger(__name__)
PATH = re.compile(r"^/tiles/([a-z][a-z0-9_-]*)/(\d{1,2})/(\d{1,8})/(\d{1,8})\.mvt$")
MARK = "\0slug\0"
FIELDS = ("id", "slug", "kind", "current_version_id", "min_zoom", "srid", "tile_attributes", "attributes",
          "created_at", "updated_at", "visibility")
ANONYMOUS = "anonymous"
MAX_KEPT = 20_000  # answers and sessions kept per process before starting afresh
# KEYS: generation, session entry (or the generation again), tile-cache statistics, usage, audit reads.
# ARGV: the generation the answers were kept under, the session entry as read ('' without), the three fields and
# whether to count a cache hit. Returns 1 (counted), or the generation now ('' without one) when it changed, or 0
# when the session entry changed or ended.
CHECK_AND_COUNT = """
local g = redis.call('GET', KEYS[1])
if g ~= ARGV[1] then return g or '' end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if ARGV[6] == '1' then redis.call('HINCRBY', KEYS[3], ARGV[3], 1) end
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
return 1
"""


class Answer:
    """What the fast path knows of one layer for one visibility set: where its tiles are, their ETag, who may keep
    them (public or private)."""

    __slots__ = ("slug", "folder", "etag", "public")

    def __init__(self, slug: str, folder: str, etag: str, public: bool):
        self.slug, self.folder, self.etag, self.public = slug, folder, etag, public


class Caller:
    __slots__ = ("set", "user_id", "username", "entry_key", "entry")

    def __init__(self, set_: str, user_id=None, username="", entry_key="", entry=b""):
        self.set, self.user_id, self.username, self.entry_key, self.entry = (set_, user_id, username, entry_key,
                                                                             entry)


ANONYMOUS_CALLER = Caller(ANONYMOUS)


class TileFastPath:
    def __init__(self, app):
        self.app = app
        self._query = None
        self._script = None
        self._generation = None  # bytes: the catalog generation the answers below were asked under
        self._since = 0.0
        self._answers: dict[tuple[str, str], Answer | None] = {}
        self._sessions: dict[str, Caller] = {}

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

    # who is asking

    def _caller(self, environ) -> Caller | None:
        """Anonymous, the user of a session entry, or None (a session the fast path does not know: Django)."""
        cookies = environ.get("HTTP_COOKIE", "")
        name = settings.SESSION_COOKIE_NAME
        if f"{name}=" not in cookies:
            return ANONYMOUS_CALLER
        morsel = SimpleCookie()
        try:
            morsel.load(cookies)
        except Exception:  # noqa: BLE001 - a cookie header Python cannot read: Django's own parser decides
            return None
        if name not in morsel or not morsel[name].value:
            return None
        session_key = morsel[name].value
        caller = self._sessions.get(session_key)
        if caller is not None:
            return caller
        from geo.counters import client

        from . import tile_sessions

        entry_key = tile_sessions.key_of(session_key)
        raw = client().get(entry_key)
        found = tile_sessions.read(raw) if raw else None
        if found is None:
            return None
        user_id, username, stamp = found
        if len(self._sessions) >= MAX_KEPT:
            self._sessions.clear()
        caller = self._sessions[session_key] = Caller(f"user:{user_id}:{stamp}", user_id, username, entry_key, raw)
        return caller

    # what the caller may see

    def _generation_now(self) -> bytes | None:
        from layers.ogc import capabilities_cache

        value = capabilities_cache.generation()  # starts one in an emptied Redis
        return value.encode() if value is not None else None

    def _forget(self, generation: bytes | None) -> None:
        self._answers.clear()
        self._sessions.clear()
        self._generation = generation
        self._since = time.monotonic()

    def _answer(self, caller: Caller, slug: str) -> Answer | None:
        key = (caller.set, slug)
        try:
            return self._answers[key]
        except KeyError:
            pass
        layer = self._visible_layer(caller, slug)
        answer = None
        if layer is not None and layer.kind == "vector":
            from . import tilecache
            from .views import tile_etag

            answer = Answer(layer.slug, str(tilecache.folder_of(layer, "vector", "")), tile_etag(layer),
                            layer.visibility == "public")
        if len(self._answers) >= MAX_KEPT:
            self._answers.clear()
        self._answers[key] = answer
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

    def _cached(self, match, environ):
        from geo.counters import client

        if self._script is None:
            self._script = client().register_script(CHECK_AND_COUNT)
        if self._generation is None or time.monotonic() - self._since > settings.TILE_FAST_PATH_RECHECK_SECONDS:
            self._forget(self._generation_now())
            if self._generation is None:
                return None  # no Redis: Django answers
        slug, z, x, y = match.groups()
        for _attempt in range(2):
            caller = self._caller(environ)
            if caller is None:
                return None
            answer = self._answer(caller, slug)
            served = self._served(answer, caller, environ, z, x, y) if answer is not None else None
            if served is None:
                # Django answers (a 404 the same as for a missing layer, another kind's 400, a tile to draw and
                # keep) — unless the answer kept is out of date: then ask again
                now = self._generation_now()
                if now == self._generation or now is None:
                    return None
                self._forget(now)
                continue
            outcome = self._count(answer, caller, environ, served[0] != "304 Not Modified")
            if outcome == 1:
                return served
            _close(served[2])
            if outcome == 0:  # the session entry ended or changed: Django decides
                self._sessions.clear()
                return None
            self._forget(outcome or self._generation_now())  # the catalog changed: ask again
            if self._generation is None:
                return None
        return None

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
        try:
            handle = open(f"{answer.folder}/{z}/{x}/{y}.mvt", "rb")  # noqa: SIM115 - the server closes it
        except OSError:
            return None
        size = os.fstat(handle.fileno()).st_size
        if not size:
            handle.close()
            return "204 No Content", [("Content-Type", "application/vnd.mapbox-vector-tile"), *headers], []
        headers = [("Content-Type", "application/vnd.mapbox-vector-tile"), ("Content-Length", str(size)), *headers]
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return "200 OK", headers, wrapper(handle, 65536)
        with handle:
            return "200 OK", headers, [handle.read()]

    def _count(self, answer: Answer, caller: Caller, environ, hit: bool):
        """One round trip: the generation and the session entry checked, the read counted when they hold."""
        from audit import reads as audit_reads
        from audit.actors import Actor, client_address

        from . import tilecache, usage

        address = client_address(SimpleNamespace(META=environ))
        audit_field = audit_reads.field_of(Actor(caller.user_id, caller.username, address), answer.slug, "tile")
        generation_key = _generation_key()
        keys = [generation_key, caller.entry_key or generation_key, tilecache.STATS_KEY,
                usage.COUNTS.prefix + usage.bucket_now(), audit_reads.COUNTS.prefix + audit_reads.bucket_now()]
        args = [self._generation, caller.entry, "hits", f"{answer.slug}|tile", audit_field, "1" if hit else "0"]
        outcome = self._script(keys=keys, args=args)
        return outcome if isinstance(outcome, int) else (outcome or None)


def _generation_key() -> str:
    from layers.ogc.capabilities_cache import GENERATION_KEY

    return GENERATION_KEY


def _close(body) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
