"""Publishing follows the catalog: the one place that tells the OGC engine about layers.

The catalog calls `follow(layer, change)` where a layer is created, re-imported, restored, edited, restyled
or deleted (no signal handlers); after the transaction commits, a Celery job makes the engine match the
catalog. Engine methods are idempotent, so a job may run twice or be retried. A failure marks the layer
`failed` with the reason and is retried with back-off; a later success clears it.
"""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from audit.events import recorded_publishing
from layers.models import Layer

from . import capabilities_cache, get_engine
from .base import PublishError

log = logging.getLogger(__name__)
PUBLISH, STYLE, WITHDRAW = "publish", "style", "withdraw"
SERVED_KINDS = (Layer.Kind.VECTOR, Layer.Kind.RASTER)
MAX_RETRIES = 6


def follow(layer: Layer, change: str, again: bool = False) -> None:
    """Queue the engine job for a catalog change to `layer` (runs after the current transaction commits). A layer
    withdrawn on purpose (POST …/withdraw/) stays withdrawn through later changes until it is published `again`."""
    if change not in (PUBLISH, STYLE, WITHDRAW):
        raise ValueError(f"unknown publishing change {change!r}")
    if layer.kind not in SERVED_KINDS:
        Layer.objects.filter(pk=layer.pk).update(ogc_status=Layer.OgcStatus.NOT_SERVED)
        return
    slug = layer.slug
    if change != WITHDRAW and not again and \
            Layer.objects.filter(pk=layer.pk, ogc_status=Layer.OgcStatus.WITHDRAWN).exists():
        return
    if change != WITHDRAW:
        Layer.objects.filter(pk=layer.pk).update(ogc_status=Layer.OgcStatus.PENDING)
    transaction.on_commit(lambda: sync_layer.delay(slug, change))


@shared_task(name="layers.ogc.sync_layer", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def sync_layer(self, slug: str, change: str) -> str:
    try:
        outcome = apply(slug, change)
    except PublishError as exc:
        Layer.objects.filter(slug=slug).update(ogc_status=Layer.OgcStatus.FAILED, ogc_error=str(exc))
        if self.request.retries >= MAX_RETRIES:
            log.error("publishing %s (%s) gave up: %s", slug, change, exc)
            return "failed"
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from exc
    if outcome == "published" and change == PUBLISH:
        from layers.serving.tilecache import seed_layer_tiles

        seed_layer_tiles.delay(slug)  # its low zooms into the tile cache, after this task
    return outcome


@recorded_publishing
def apply(slug: str, change: str) -> str:
    """Make the engine match the catalog for one layer, now; the layer's status records the outcome."""
    engine = get_engine()
    layer = Layer.objects.select_related("style", "theme").filter(slug=slug).first()
    if layer is None or change == WITHDRAW:
        if layer is not None:
            Layer.objects.filter(pk=layer.pk).update(ogc_status=Layer.OgcStatus.WITHDRAWN, ogc_error="")
        engine.withdraw(slug)
        _changed()
        return "withdrawn"
    if layer.ogc_status == Layer.OgcStatus.WITHDRAWN:  # back in the catalog's published set before the engine looks
        Layer.objects.filter(pk=layer.pk).update(ogc_status=Layer.OgcStatus.PENDING)
    if change == STYLE:
        engine.push_style(layer)
    else:
        engine.publish(layer)
    Layer.objects.filter(pk=layer.pk).update(ogc_status=Layer.OgcStatus.PUBLISHED, ogc_error="",
                                             ogc_published_at=timezone.now())
    _changed()
    return "published"


def _changed() -> None:
    """Cached capabilities documents are out of date: the engine changed now (not transactional), the layer's
    status rows (updates send no signals) when the transaction commits."""
    capabilities_cache.bump()
    capabilities_cache.bump_on_commit()


def publish_all() -> dict[str, str]:
    """Publish every served layer now (start-up of the demo, or after changing engines)."""
    return {slug: apply(slug, PUBLISH) for slug in
            Layer.objects.filter(kind__in=SERVED_KINDS).exclude(ogc_status=Layer.OgcStatus.WITHDRAWN)
            .values_list("slug", flat=True)}
