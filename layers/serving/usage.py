"""Counting every request to a layer, per month and kind (features, tile, download …), for the city's reports.

A request costs one Redis HINCRBY (no database write); `flush()` moves the counts into LayerUsage rows
(geo.counters does the Redis side).
"""

from django.db.models import F
from django.utils import timezone

from audit import reads as audit_reads
from geo.counters import RedisCounts, add_all
from geo.counters import client as _redis  # noqa: F401 - the tests clear the counters through it

COUNTS = RedisCounts("usage")


def count(slug: str, kind: str, user=None) -> None:
    # the same request by whom and from where, for the audit log: both counters in one round trip
    add_all([(COUNTS, bucket_now(), f"{slug}|{kind}"), *audit_reads.increment(slug, kind, user)])


def bucket_now() -> str:
    return timezone.localdate().strftime("%Y-%m")


def pending() -> dict[tuple[str, str, str], int]:
    """Counts not yet flushed: {(month, slug, kind): n}."""
    return {(month, *field.split("|", 1)): n for (month, field), n in COUNTS.pending().items()}


def _store(month: str, counts: dict[str, int]) -> int:
    from layers.models import Layer, LayerUsage

    moved = 0
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
    return moved


def flush() -> int:
    """Add the Redis counts to LayerUsage rows; returns how many counters were moved."""
    return COUNTS.flush(_store)
