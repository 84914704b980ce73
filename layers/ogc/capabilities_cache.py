"""GetCapabilities documents, built once per catalog state and served from Redis until the catalog changes.

A capabilities document costs what the catalog holds (WMS, written by the front from the catalog: 0.2 s and 1.3 MB
at 600 layers, 2.4 s at 5,000), so /ows keeps each one it built, keyed by everything the document depends on:

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

Off the request path (issue 21: at 5,000 layers a cold document takes minutes). Each document built is also kept as
the latest of its *variant* — the same theme, language, address and parameters for the same kind of requester
(anonymous, a set of groups, superuser) — with the layer names it lists. When the current document is missing and
the latest one lists at least OGC_CAPABILITIES_STALE_FROM_LAYERS layers (a small catalog's documents are quicker
built than served stale), all of them still visible to the requester, the request gets that latest document at
once (a layer published since is listed once rebuilt; one withdrawn, deleted or made restricted since makes the
document be built on the request instead: never served), marked `Cache-Control: no-cache` without an ETag, and
the variant is rebuilt by a Celery task (`layers.ogc.rebuild_capabilities`, one at a time per variant). After a
catalog change (`bump`) the most recently asked variants are rebuilt in the background too
(`layers.ogc.prebuild_capabilities`, once for a burst of changes), so the next request finds them current. Only a
variant never asked before (or expired) is built on the request path.
"""

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.http import http_date

from geo.counters import client

from .base import OWSResponse

log = logging.getLogger(__name__)
GENERATION_KEY = "civgis:catalog-generation"
DOCUMENT_PREFIX = "civgis:capabilities:"
LATEST_PREFIX = "civgis:capabilities-latest:"  # a variant's latest document, whatever its generation
REBUILDING_PREFIX = "civgis:capabilities-rebuilding:"  # a variant's rebuild is queued or running
VARIANTS_KEY = "civgis:capabilities-variants"  # the variants asked for, scored by when (what a prebuild rebuilds)
PREBUILD_FLAG = "civgis:capabilities-prebuild-queued"
PREBUILD_DELAY = 3  # seconds: a burst of catalog changes (an import of many layers) makes one prebuild
REBUILD_LOCK_SECONDS = 900  # a rebuild that died lets the next request queue another after this
KEPT_VARIANTS = 200


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
    """The catalog changed: every cached capabilities document is now out of date (the latest ones of the most
    asked variants are rebuilt in the background, `schedule_prebuild`). The tile fast path forgets who may see
    which layer (`tile_fastpath.note_change`)."""
    from layers.serving.tile_fastpath import note_change

    note_change()
    try:
        client().set(GENERATION_KEY, str(time.time_ns()))
    except redis.RedisError as exc:  # then nothing is served from the cache either (generation() is None)
        log.warning("catalog generation not bumped (Redis: %s)", exc)
        return
    schedule_prebuild()


def bump_on_commit(*args, **kwargs) -> None:
    """A signal receiver: bump once the change is committed (before, a request would rebuild from the old rows)."""
    transaction.on_commit(bump)


def requester_class(user) -> str:
    """Who sees the same layers, as far as capabilities go: visibility is decided by being signed in, by groups
    and by being a superuser (Layer.objects.visible_to)."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    if user.is_superuser:
        return "superuser"
    return "groups:" + ",".join(str(pk) for pk in sorted(user.groups.values_list("pk", flat=True)))


@dataclass
class Variant:
    """What a capabilities document is for, apart from the catalog's state: rebuilt from this by a task."""
    params: dict
    theme: str | None
    url: str
    lang: str
    requester: str
    user_id: int | None  # one user of that requester class (None: anonymous)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(repr((self.requester, self.theme, self.url, self.lang,
                                      sorted(self.params.items()))).encode()).hexdigest()[:40]
        return digest

    def to_json(self) -> str:
        return json.dumps({"params": self.params, "theme": self.theme, "url": self.url, "lang": self.lang,
                           "requester": self.requester, "user_id": self.user_id}, sort_keys=True)


@dataclass
class Entry:
    key: str
    etag: str
    last_modified: str
    variant: Variant | None = field(default=None)

    def get(self) -> OWSResponse | None:
        try:
            stored = client().get(self.key)
        except redis.RedisError:
            return None
        if not stored:
            return None
        content_type, _, body = stored.partition(b"\n")
        return OWSResponse(200, content_type.decode(), body)

    def put(self, result: OWSResponse, listed: frozenset[str] = frozenset(), build_ms: float = 0) -> None:
        """Keep the document (and, with its variant, as that variant's latest, with the layers it lists and how
        long it took to build)."""
        if result.status != 200:
            return
        try:
            pipe = client().pipeline()
            pipe.set(self.key, result.content_type.encode() + b"\n" + result.body,
                     ex=settings.OGC_CAPABILITIES_CACHE_SECONDS)
            if self.variant is not None:
                head = json.dumps({"content_type": result.content_type, "layers": sorted(listed),
                                   "build_ms": round(build_ms)})
                pipe.set(LATEST_PREFIX + self.variant.key, head.encode() + b"\n" + result.body,
                         ex=settings.OGC_CAPABILITIES_CACHE_SECONDS)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("capabilities not cached (Redis: %s)", exc)

    def stale(self, visible: frozenset[str]) -> OWSResponse | None:
        """The variant's latest document while it is rebuilt; None without one, when it lists fewer than
        OGC_CAPABILITIES_STALE_FROM_LAYERS layers (quick to build: built now), or when it lists a layer the
        requester may no longer see (withdrawn, deleted, made restricted: built now, never served)."""
        if self.variant is None:
            return None
        try:
            stored = client().get(LATEST_PREFIX + self.variant.key)
        except redis.RedisError:
            return None
        if not stored:
            return None
        head, _, body = stored.partition(b"\n")
        meta = json.loads(head)
        if len(meta["layers"]) < settings.OGC_CAPABILITIES_STALE_FROM_LAYERS or not set(meta["layers"]) <= visible:
            return None
        return OWSResponse(200, meta["content_type"], body, headers={"Cache-Control": "no-cache"})

    def rebuild_later(self) -> None:
        """Queue this variant's rebuild, unless one is queued or running."""
        if self.variant is None:
            return
        try:
            if not client().set(REBUILDING_PREFIX + self.variant.key, "1", nx=True, ex=REBUILD_LOCK_SECONDS):
                return
        except redis.RedisError:
            return
        rebuild_capabilities.delay(self.variant.to_json())

    def remember(self) -> None:
        """This variant was asked for now (a prebuild rebuilds the most recently asked ones)."""
        if self.variant is None:
            return
        try:
            pipe = client().pipeline()
            pipe.zadd(VARIANTS_KEY, {self.variant.to_json(): time.time()})
            pipe.zremrangebyrank(VARIANTS_KEY, 0, -KEPT_VARIANTS - 1)
            pipe.execute()
        except redis.RedisError:
            pass


def entry(params: dict[str, str], generation_: str | None, versions: list[tuple], theme: str | None, url: str,
          lang: str, user=None) -> Entry | None:
    """Where the capabilities document for this request is kept, or None when it is not to be cached (no Redis);
    with the requesting `user`, its variant too (a stale document while rebuilding, background rebuilds)."""
    if generation_ is None:
        return None
    digest = hashlib.sha256()
    for part in (generation_, theme or "", url, lang, sorted(params.items()), sorted(versions)):
        digest.update(repr(part).encode())
        digest.update(b"\0")
    key = digest.hexdigest()[:40]
    variant = Variant(dict(params), theme, url, lang, requester_class(user),
                      user.pk if user is not None and user.is_authenticated else None)
    return Entry(DOCUMENT_PREFIX + key, f'"{key}"', http_date(int(generation_) / 1e9), variant)


def build(variant: Variant) -> bool:
    """Build and keep the variant's current document (as a request would); False when it was current already or
    its requester is gone."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    from .views import _answer, _visible

    user = AnonymousUser()
    if variant.user_id is not None:
        user = get_user_model().objects.filter(pk=variant.user_id, is_active=True).first()
        if user is None or requester_class(user) != variant.requester:
            return False  # that user's groups changed: the next request of the class names another
    current = generation()
    if current is None:
        return False
    visible, _rasters, versions = _visible(user, variant.theme)
    found = entry(variant.params, current, versions, variant.theme, variant.url, variant.lang, user)
    try:
        if client().exists(found.key):
            return False
    except redis.RedisError:
        return False
    started = time.perf_counter()
    with translation_of(variant.lang):
        result = _answer(dict(variant.params), None, visible, variant.url, variant.lang, {})
    found.put(result, visible, 1000 * (time.perf_counter() - started))
    return result.status == 200


def translation_of(lang: str):
    from django.utils import translation

    return translation.override(lang)


@shared_task(name="layers.ogc.rebuild_capabilities")
def rebuild_capabilities(variant_json: str) -> bool:
    """One variant's capabilities document built off the request path (queued by a request that got the stale
    one)."""
    variant = Variant(**json.loads(variant_json))
    try:
        return build(variant)
    finally:
        try:
            client().delete(REBUILDING_PREFIX + variant.key)
        except redis.RedisError:
            pass


def schedule_prebuild() -> None:
    """After a catalog change: one prebuild a few seconds later for a burst of changes (OGC_CAPABILITIES_PREBUILD
    variants, 0: none)."""
    if settings.OGC_CAPABILITIES_PREBUILD <= 0:
        return
    try:
        if not client().set(PREBUILD_FLAG, "1", nx=True, ex=PREBUILD_DELAY * 10):
            return
    except redis.RedisError:
        return
    try:
        prebuild_capabilities.apply_async(countdown=PREBUILD_DELAY)
    except Exception as exc:  # noqa: BLE001 - no broker: the next request builds it, as without prebuilding
        log.warning("capabilities prebuild not queued: %s", exc)
        client().delete(PREBUILD_FLAG)


@shared_task(name="layers.ogc.prebuild_capabilities")
def prebuild_capabilities() -> int:
    """The most recently asked variants' documents rebuilt for the catalog as it is now; returns how many."""
    try:
        client().delete(PREBUILD_FLAG)  # a change from now on queues another
        asked = client().zrevrange(VARIANTS_KEY, 0, settings.OGC_CAPABILITIES_PREBUILD - 1)
    except redis.RedisError:
        return 0
    built = 0
    for raw in asked:
        variant = Variant(**json.loads(raw))
        if not client().set(REBUILDING_PREFIX + variant.key, "1", nx=True, ex=REBUILD_LOCK_SECONDS):
            continue  # a request's rebuild is queued or running
        try:
            built += build(variant)
        except Exception:  # noqa: BLE001 - one variant failing leaves the others
            log.exception("capabilities prebuild of %s failed", variant.to_json())
        finally:
            client().delete(REBUILDING_PREFIX + variant.key)
    return built


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


def tag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an If-None-Match header names `etag` (or is *)."""
    tags = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    return etag in tags or "*" in tags
