"""WFS feature locks (LockFeature, GetFeatureWithLock): a lock holds features against every other writer, whatever
protocol it comes through, until it is released or expires.

Locks live in Redis, where expiry is native: `civgis:wfslock:<lockId>` holds the lock (its user and features) and
`civgis:wfslock:f:<layer id>:<fid>` names the lock holding each feature, both with the lock's time to live. Every
write of editing.store asks `check` about the feature under its row lock: a feature locked by another lock is
refused (`Locked`) unless the writer presents that lockId (a WFS Transaction's LockId, set with `presenting`) or is
the user who took the lock. Without Redis nothing can be locked, and writes are not held up.
"""

import contextlib
import contextvars
import json
import secrets
import time
from dataclasses import dataclass

import redis

from geo.counters import client

PREFIX = "civgis:wfslock:"
DEFAULT_SECONDS = 300  # WFS 2.0's default expiry (5 minutes; WFS 1.1.0 counts minutes, default 5 too)
MAX_SECONDS = 3600
_presented: contextvars.ContextVar[str | None] = contextvars.ContextVar("wfs_lock_id", default=None)

# release the features of a lock that are still its own (another lock may have taken one after an expiry)
_RELEASE = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
return n
"""


@dataclass
class Locked(Exception):
    """The feature is held by another writer's lock."""

    fid: int
    holder: str
    expires: float

    def __str__(self):
        left = max(0, int(self.expires - time.time()))
        return f"feature {self.fid} is locked by {self.holder or 'another user'} for {left} s more"


class LockUnavailable(Exception):
    """Redis could not be reached: no lock can be taken."""


def _feature_key(layer_id: int, fid: int) -> str:
    return f"{PREFIX}f:{layer_id}:{fid}"


def seconds_of(expiry: str | None, version: str) -> int:
    """A WFS expiry as seconds (1.x: minutes, 2.0: seconds), within 1 s … MAX_SECONDS; None → the default."""
    if expiry in (None, ""):
        return DEFAULT_SECONDS
    value = float(expiry)  # ValueError for the caller to word
    seconds = value * 60 if version.startswith("1.") else value
    return int(min(max(seconds, 1), MAX_SECONDS))


def acquire(user, features: list[tuple[int, int]], seconds: int, all_or_none: bool) -> tuple[str, list, list]:
    """(lockId, [(layer id, fid) locked], [(layer id, fid) held by others]). `all_or_none` (lockAction ALL): when
    any is held by another lock nothing is locked and the lockId is ''."""
    lock_id = secrets.token_hex(12)
    got, refused = [], []
    try:
        r = client()
        for layer_id, fid in features:
            if r.set(_feature_key(layer_id, fid), lock_id, nx=True, ex=seconds):
                got.append((layer_id, fid))
            else:
                refused.append((layer_id, fid))
                if all_or_none:
                    break
        if all_or_none and refused:
            _release_keys(r, lock_id, got)
            return "", [], refused
        if got:
            r.set(PREFIX + lock_id, json.dumps({"user": user.pk, "username": user.get_username(), "seconds": seconds,
                                                "expires": time.time() + seconds, "features": got}), ex=seconds)
    except redis.RedisError as exc:
        raise LockUnavailable(str(exc)) from None
    return (lock_id if got else ""), got, refused


def lock_of(lock_id: str) -> dict | None:
    try:
        raw = client().get(PREFIX + lock_id) if lock_id else None
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


def release(lock_id: str, only: set[tuple[int, int]] | None = None) -> None:
    """Release the lock's features (`only`: those, and the rest keep the lock with its expiry started again)."""
    lock = lock_of(lock_id)
    if lock is None:
        return
    features = [tuple(f) for f in lock["features"]]
    gone = features if only is None else [f for f in features if f in only]
    kept = [f for f in features if f not in gone]
    try:
        r = client()
        _release_keys(r, lock_id, gone)
        if kept:
            for layer_id, fid in kept:
                r.expire(_feature_key(layer_id, fid), lock["seconds"])
            r.set(PREFIX + lock_id, json.dumps({**lock, "features": kept, "expires": time.time() + lock["seconds"]}),
                  ex=lock["seconds"])
        else:
            r.delete(PREFIX + lock_id)
    except redis.RedisError:
        pass  # the locks expire by themselves


def _release_keys(r, lock_id: str, features) -> None:
    if features:
        r.eval(_RELEASE, len(features), *[_feature_key(layer_id, fid) for layer_id, fid in features], lock_id)


@contextlib.contextmanager
def presenting(lock_id: str | None):
    """Writes inside are made by the holder of `lock_id` (a WFS Transaction's LockId)."""
    token = _presented.set(lock_id)
    try:
        yield
    finally:
        _presented.reset(token)


def check(layer_id: int, fid: int, user) -> None:
    """Raise Locked when another writer's lock holds the feature."""
    try:
        r = client()
        holder = r.get(_feature_key(layer_id, fid))
        if holder is None:
            return
        holder = holder.decode()
        if holder == _presented.get():
            return
        lock = lock_of(holder)
    except redis.RedisError:
        return
    if lock is None:
        return
    if user is not None and user.is_authenticated and lock["user"] == user.pk:
        return
    raise Locked(fid, lock.get("username", ""), lock.get("expires", time.time()))
