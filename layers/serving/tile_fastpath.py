"""Cached vector tiles for callers without credentials, answered in front of Django (issue 21: cached tiles/s).

A WSGI wrapper around the Django application (geo/wsgi.py). It answers only a GET of `/tiles/<slug>/<z>/<x>/<y>.mvt`
with no query string (no filter, no time) from a caller with no session cookie and no `Authorization` header — an
anonymous visitor, whom Django would treat as such — and only when

1. the layer is visible to anonymous visitors *now*: the same rule as every other path
   (`Layer.objects.visible_to(None)`, one indexed query per request, compiled once), so a layer made internal or
   restricted is refused here at once, cached tiles or not; and
2. the tile is in the tile cache (`tilecache`).

Its answer is the view's: the same bytes, 200 or 204, the same ETag and Cache-Control (a 304 to a matching
If-None-Match), the read counted for the usage figures and the audit log's read counts with the caller's address.
Anything else — a miss, a filter, a signed-in caller, an error of its own — goes to Django unchanged, which draws
the tile and keeps it. TILE_CACHE_FAST_PATH=false turns it off.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from django.conf import settings

log = logging.getLogger(__name__)
PATH = re.compile(r"^/tiles/([a-z][a-z0-9_-]*)/(\d{1,2})/(\d{1,8})/(\d{1,8})\.mvt$")
MARK = "\0slug\0"
FIELDS = ("id", "slug", "kind", "current_version_id", "min_zoom", "srid", "tile_attributes", "attributes",
          "created_at", "updated_at", "visibility")


class TileFastPath:
    def __init__(self, app):
        self.app = app
        self._query = None

    def __call__(self, environ, start_response):
        if settings.TILE_CACHE and settings.TILE_CACHE_FAST_PATH and self._anonymous_tile(environ):
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
                    return [body]
        return self.app(environ, start_response)

    @staticmethod
    def _anonymous_tile(environ) -> bool:
        return (environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING")
                and "HTTP_AUTHORIZATION" not in environ
                and f"{settings.SESSION_COOKIE_NAME}=" not in environ.get("HTTP_COOKIE", ""))

    def _layer(self, slug: str):
        """The layer if anonymous visitors may see it (visible_to(None), its SQL compiled once), else None."""
        from layers.models import Layer

        if self._query is None:
            query = Layer.objects.visible_to(None).filter(slug=MARK).only(*FIELDS)
            sql, params = query.query.sql_with_params()
            self._query = (sql, list(params), list(params).index(MARK))
        sql, params, index = self._query
        params = list(params)
        params[index] = slug
        return next(iter(Layer.objects.raw(sql, params)), None)

    def _cached(self, match, environ):
        from audit.actors import Actor, client_address, current_request

        from . import tilecache, usage
        from .views import tile_etag

        slug, z, x, y = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
        layer = self._layer(slug)
        if layer is None or layer.kind != "vector":
            return None  # Django answers: the 404 (the same as for a missing layer) or another kind's 400
        data = tilecache.get(layer, "vector", "", z, x, y)
        if data is None:
            return None
        etag = tile_etag(layer)
        request = SimpleNamespace(META=environ)
        request._audit_actor = Actor(None, "", client_address(request))  # noqa: SLF001 - as of_request would
        token = current_request.set(request)
        try:
            usage.count(layer.slug, "tile")
        finally:
            current_request.reset(token)
        headers = [("ETag", etag), ("Cache-Control", "public, max-age=300"), ("X-Content-Type-Options", "nosniff")]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            return "304 Not Modified", headers, b""
        if not data:
            return "204 No Content", [("Content-Type", "application/vnd.mapbox-vector-tile"), *headers], b""
        return "200 OK", [("Content-Type", "application/vnd.mapbox-vector-tile"),
                          ("Content-Length", str(len(data))), *headers], data
