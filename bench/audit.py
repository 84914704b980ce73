"""Audit log benchmark: what recording costs and how fast the chain verifies.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/audit.py
    … bench/audit.py --reads 2000 --single 200 --batches 10      # a quick try

1. A counted read: `usage.count` alone (the baseline, one HINCRBY) against `usage.count` with the audit read count
   beside it (a second HINCRBY), µs per request.
2. Appending: 1,000 per transaction (an hour's reads flushed; dated 400 days ago) and one entry per transaction
   (an export, a change).
3. Verifying the chain, entries per second; pruning half of it.

Not part of the test suite. Works on its own stack's database (bench/common.py migrates it) and clears the audit tables.
"""

import argparse
import statistics
import time
from datetime import timedelta

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=20_000, help="counted reads per timing")
    parser.add_argument("--single", type=int, default=2_000, help="entries appended one per transaction")
    parser.add_argument("--batches", type=int, default=100, help="transactions of 1,000 entries")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.utils import timezone  # noqa: E402

from audit import chain, reads  # noqa: E402
from audit.models import AuditChain, AuditEntry  # noqa: E402
from geo.counters import RedisCounts  # noqa: E402
from layers.serving import usage  # noqa: E402


def per_call_us(fn, n: int) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main(args):
    AuditEntry.objects.all().delete()
    AuditChain.objects.all().delete()
    baseline = RedisCounts("bench-usage")
    month = timezone.localdate().strftime("%Y-%m")
    alone = per_call_us(lambda: baseline.add(month, "roads|tile"), args.reads)
    both = per_call_us(lambda: usage.count("roads", "tile"), args.reads)  # the serving path: both in one trip
    print(f"1. counted read: usage count alone {alone:.0f} µs, with the audit count {both:.0f} µs "
          f"({both / alone:.2f}×)")
    old = timezone.now() - timedelta(days=400)
    started = time.perf_counter()
    for _batch in range(args.batches):
        chain.append([chain.Draft(action="read", time=old, actor_name=f"user-{i}", object_type="layer",
                                  object_label="parcels", detail={"kind": "tile"}, count=i) for i in range(1000)])
    batched = args.batches * 1000 / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(args.single):
        chain.append([chain.Draft(action="export", actor_name="clerk", object_type="layer", object_label="roads",
                                  detail={"i": i, "format": "csv"})])
    single = args.single / (time.perf_counter() - started)
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
    usage.COUNTS.flush(lambda _bucket, counts: len(counts))
    baseline.flush(lambda _bucket, counts: len(counts))


if __name__ == "__main__":
    main(ARGS)
