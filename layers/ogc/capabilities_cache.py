"""GetCapabilities documents, built once per catalog state and served from Redis until the catalog changes.

A capabilities document costs what the catalog holds (2 s and 1.2 MB for WMS at 600 layers), so /ows keeps each
one it built, keyed by everything the document depends on:

- the catalog generation: a value in Redis replaced on every change to the catalog (layers saved or deleted, a new
  version, a style, a theme, a layer's groups, a user's groups — signals below — and after each publishing job has
  changed the engine: `layers.ogc.publishing.apply`);
- the visibility set: the slugs the requester may see here, with each one's `updated_at` and current version.
  Whoever may see the same layers shares the document (anonymous visitors, each agency/group combination); a
  layer whose visibility changed leaves the sets it no longer belongs to, so a document holding a restricted
  layer is never served to someone who may not see it, even if a change were missed by the generation;
- the theme (/ows/<theme>), the language, the public /ows address and the request's parameters.

The key's hash is the document's ETag; If-None-Match with it gets a 304 without the document being read. The
generation is read before the catalog is (a change that commits in between makes the document stale under an
old generation, never the new one). Without Redis nothing is cached and every request builds its document.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.http import http_date

from geo.counters import client

from .base import OWSResponse

log = logging.getLogger(__name__)
GENERATION_KEY = "civgis:catalog-generation"
DOCUMENT_PREFIX = "civgis:capabilities:"


def generation() -> str | None:
    """The catalog's current generation (nanoseconds since the epoch when it last changed), None without Redis."""
    try:
        value = client().get(GENERATION_KEY)
        if value is None:  # a new or emptied Redis: start one (documents of an earlier one went with it)
            client().set(GENERATION_KEY, str(time.time_ns()), nx=True)
            value = client().get(GENERATION_KEY)
        return value.decode() if value is not None else None
    except redis.RedisError as exc:
        log.warning("capabilities not cached (Redis: %s)", exc)
        return None


def bump() -> None:
    """The catalog changed: every cached capabilities document is now out of date."""
    try:
        client().set(GENERATION_KEY, str(time.time_ns()))
    except redis.RedisError as exc:  # then nothing is served from the cache either (generation() is None)
        log.warning("catalog generation not bumped (Redis: %s)", exc)


def bump_on_commit(*args, **kwargs) -> None:
    """A signal receiver: bump once the change is committed (before, a request would rebuild from the old rows)."""
    transaction.on_commit(bump)


@dataclass
class Entry:
    key: str
    etag: str
    last_modified: str

    def matches(self, if_none_match: str | None) -> bool:
        tags = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
        return self.etag in tags or "*" in tags

    def get(self) -> OWSResponse | None:
        try:
            stored = client().get(self.key)
        except redis.RedisError:
            return None
        if not stored:
            return None
        content_type, _, body = stored.partition(b"\n")
        return OWSResponse(200, content_type.decode(), body)

    def put(self, result: OWSResponse) -> None:
        if result.status != 200:
            return
        try:
            client().set(self.key, result.content_type.encode() + b"\n" + result.body,
                         ex=settings.OGC_CAPABILITIES_CACHE_SECONDS)
        except redis.RedisError as exc:
            log.warning("capabilities not cached (Redis: %s)", exc)


def entry(params: dict[str, str], generation_: str | None, versions: list[tuple], theme: str | None, url: str,
          lang: str) -> Entry | None:
    """Where the capabilities document for this request is kept, or None when it is not to be cached (no Redis)."""
    if generation_ is None:
        return None
    digest = hashlib.sha256()
    for part in (generation_, theme or "", url, lang, sorted(params.items()), sorted(versions)):
        digest.update(repr(part).encode())
        digest.update(b"\0")
    key = digest.hexdigest()[:40]
    return Entry(DOCUMENT_PREFIX + key, f'"{key}"', http_date(int(generation_) / 1e9))


def is_capabilities(params: dict[str, str], body: bytes | None) -> bool:
    return body is None and params.get("REQUEST", "").lower() == "getcapabilities"


def connect() -> None:
    """Bump the generation on every kind of catalog change (called once, from the layers app's ready())."""
    from django.contrib.auth import get_user_model

    from accounts.models import LayerGrant  # a grant opens a restricted layer to its holder
    from layers.models import Layer, LayerVersion, Style, Theme

    for model in (Layer, LayerVersion, Style, Theme, LayerGrant):
        post_save.connect(bump_on_commit, sender=model, dispatch_uid=f"capabilities-save-{model.__name__}")
        post_delete.connect(bump_on_commit, sender=model, dispatch_uid=f"capabilities-delete-{model.__name__}")
    for through, name in ((Layer.allowed_groups.through, "layer-groups"),
                          (get_user_model().groups.through, "user-groups")):
        m2m_changed.connect(bump_on_commit, sender=through, dispatch_uid=f"capabilities-{name}")
