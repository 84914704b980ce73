"""Counting every request to a layer, per month and kind (features, tile, download …), for the city's reports.

A request costs one Redis HINCRBY (no database write); `flush()` moves the counts into LayerUsage rows.
"""

import logging

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

log = logging.getLogger(__name__)
_client = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _client


def key(month: str) -> str:
    return f"civgis:usage:{month}"


def count(slug: str, kind: str) -> None:
    try:
        _redis().hincrby(key(timezone.localdate().strftime("%Y-%m")), f"{slug}|{kind}", 1)
    except redis.RedisError as exc:  # counting must never break serving
        log.warning("usage not counted for %s (%s): %s", slug, kind, exc)


def pending() -> dict[tuple[str, str, str], int]:
    """Counts not yet flushed: {(month, slug, kind): n}."""
    out = {}
    for raw_key in _redis().scan_iter("civgis:usage:*"):
        month = raw_key.decode().rsplit(":", 1)[1]
        if month.endswith("-flushing"):
            continue
        for field, n in _redis().hgetall(raw_key).items():
            slug, kind = field.decode().split("|", 1)
            out[(month, slug, kind)] = int(n)
    return out


def flush() -> int:
    """Add the Redis counts to LayerUsage rows; returns how many counters were moved."""
    from layers.models import Layer, LayerUsage

    moved = 0
    for raw_key in list(_redis().scan_iter("civgis:usage:*")):
        name = raw_key.decode()
        if name.endswith("-flushing"):
            continue
        staging = f"{name}-flushing"
        if not _redis().renamenx(name, staging):  # another flush holds it
            continue
        month = name.rsplit(":", 1)[1]
        counts = {f.decode(): int(n) for f, n in _redis().hgetall(staging).items()}
        with transaction.atomic():
            for field, n in counts.items():
                slug, kind = field.split("|", 1)
                layer = Layer.objects.filter(slug=slug).first()
                if layer is None:
                    continue
                row, created = LayerUsage.objects.get_or_create(layer=layer, month=f"{month}-01", kind=kind,
                                                                defaults={"count": n})
                if not created:
                    LayerUsage.objects.filter(pk=row.pk).update(count=F("count") + n)
                moved += 1
        _redis().delete(staging)
    return moved
