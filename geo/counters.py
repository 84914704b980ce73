"""Counting hot events in Redis and moving the counts into the database in batches.

A count costs one Redis HINCRBY, no database write: serving a tile must not wait for PostgreSQL. `flush(store)`
renames each bucket away from the counting path (new counts start a fresh hash), hands its counts to `store`
inside a database transaction and deletes the renamed bucket inside that same transaction, so a store that fails
leaves the counts staged for the next flush. One flush runs at a time (a Redis lock), which makes a staged
bucket left behind by a crashed flush safe to pick up.
"""

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import transaction
from redis.exceptions import LockError

log = logging.getLogger(__name__)
STAGING = "-flushing"
_client = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _client


def add_all(increments: list[tuple["RedisCounts", str, str]], n: int = 1) -> None:
    """Several counters of one event in one round trip to Redis: [(counts, bucket, field), …]."""
    try:
        pipe = client().pipeline(transaction=False)
        for counts, bucket, field in increments:
            pipe.hincrby(counts.prefix + bucket, field, n)
        pipe.execute()
    except redis.RedisError as exc:  # counting must never break serving
        log.warning("not counted (%s): %s", increments[0][0].prefix if increments else "", exc)


class RedisCounts:
    """Counters named `field` in time buckets (a month, an hour …) under one name."""

    def __init__(self, name: str):
        self.prefix = f"civgis:{name}:"
        self.lock_key = f"civgis:{name}-flush-lock"

    def add(self, bucket: str, field: str, n: int = 1) -> None:
        add_all([(self, bucket, field)], n)

    def _bucket(self, key: bytes) -> str:
        return key.decode()[len(self.prefix):].removesuffix(STAGING)

    def pending(self) -> dict[tuple[str, str], int]:
        """Counts not yet flushed, staged ones included: {(bucket, field): n}."""
        out: dict[tuple[str, str], int] = {}
        for key in client().scan_iter(self.prefix + "*"):
            bucket = self._bucket(key)
            for field, n in client().hgetall(key).items():
                out[(bucket, field.decode())] = out.get((bucket, field.decode()), 0) + int(n)
        return out

    def flush(self, store: Callable[[str, dict[str, int]], int]) -> int:
        """Hand each bucket's counts to `store(bucket, {field: n})`, which runs in a transaction and returns how
        many records it wrote; returns their total (0 while another flush runs)."""
        lock = client().lock(self.lock_key, timeout=600, blocking=False)
        if not lock.acquire(blocking=False):
            return 0
        try:
            for key in list(client().scan_iter(self.prefix + "*")):
                if not key.endswith(STAGING.encode()):
                    # refused while a staged copy is left from a failed flush: that one goes first, these wait
                    client().renamenx(key, key + STAGING.encode())
            written = 0
            for staged in list(client().scan_iter(self.prefix + "*" + STAGING)):
                counts = {field.decode(): int(n) for field, n in client().hgetall(staged).items()}
                with transaction.atomic():
                    written += store(self._bucket(staged), counts)
                    client().delete(staged)  # a Redis failure here rolls the records back: counted once
            return written
        finally:
            try:
                lock.release()
            except LockError:  # held longer than its timeout: another flush may have started meanwhile
                log.warning("flush of %s outlived its lock", self.prefix)
