"""Audit log benchmark: what recording costs and how fast the chain verifies.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/audit.py

1. A counted read: `usage.count` alone (the baseline, one HINCRBY) against `usage.count` with the audit read count
   beside it (a second HINCRBY), µs per request.
2. Appending: 1,000 per transaction (an hour's reads flushed; dated 400 days ago) and one entry per transaction
   (an export, a change).
3. Verifying the chain, entries per second; pruning half of it.

Not part of the test suite. Works on its own stack's database (migrated here) and clears the audit tables.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit import chain, reads  # noqa: E402
from audit.models import AuditChain, AuditEntry  # noqa: E402
from geo.counters import RedisCounts  # noqa: E402

N_READS, N_SINGLE, N_BATCHES = 20_000, 2_000, 100


def per_call_us(fn, n: int) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main():
    call_command("migrate", verbosity=0)
    AuditEntry.objects.all().delete()
    AuditChain.objects.all().delete()
    baseline = RedisCounts("bench-usage")
    month = timezone.localdate().strftime("%Y-%m")
    alone = per_call_us(lambda: baseline.add(month, "roads|tile"), N_READS)
    both = per_call_us(lambda: (baseline.add(month, "roads|tile"), reads.count("roads", "tile")), N_READS)
    print(f"1. counted read: usage count alone {alone:.0f} µs, with the audit count {both:.0f} µs "
          f"({both / alone:.2f}×)")
    old = timezone.now() - timedelta(days=400)
    started = time.perf_counter()
    for _batch in range(N_BATCHES):
        chain.append([chain.Draft(action="read", time=old, actor_name=f"user-{i}", object_type="layer",
                                  object_label="parcels", detail={"kind": "tile"}, count=i) for i in range(1000)])
    batched = N_BATCHES * 1000 / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(N_SINGLE):
        chain.append([chain.Draft(action="export", actor_name="clerk", object_type="layer", object_label="roads",
                                  detail={"i": i, "format": "csv"})])
    single = N_SINGLE / (time.perf_counter() - started)
    print(f"2. appends: {single:,.0f} entries/s one per transaction, {batched:,.0f} entries/s 1,000 per transaction")
    total = AuditEntry.objects.count()
    started = time.perf_counter()
    report = chain.verify()
    took = time.perf_counter() - started
    assert report["valid"], report
    print(f"3. verify {total:,} entries: {took:.2f} s ({total / took:,.0f} entries/s)")
    started = time.perf_counter()
    removed = chain.prune(days=365)
    print(f"   prune (verifies what it removes): {removed:,} entries in {time.perf_counter() - started:.2f} s; "
          f"chain still valid: {chain.verify()['valid']}")
    reads.COUNTS.flush(lambda _bucket, counts: len(counts))
    baseline.flush(lambda _bucket, counts: len(counts))


if __name__ == "__main__":
    main()
