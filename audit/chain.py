"""The hash chain: appending entries in one line across processes, verifying it, pruning its old end.

Each entry's hash is sha256 over the previous entry's hash and a canonical JSON serialisation of the entry
(sorted keys, no spaces, UTF-8, time in UTC with microseconds). Changing a stored entry (UPDATE) breaks its own
hash; removing one (DELETE) breaks the link of the next; cutting the newest ones off no longer matches the head
kept in AuditChain. Someone who can rewrite the whole table and the head can forge a consistent chain: auditors
who note the head (`verify()` reports it) detect that too.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import GENESIS, AuditChain, AuditEntry

HASHED_FIELDS = ("seq", "time", "actor_id", "actor_name", "address", "action", "object_type", "object_id",
                 "object_label", "detail", "count")


class ChainBroken(RuntimeError):
    """The chain's head record is gone while entries remain: appending would hide the damage."""


@dataclass
class Draft:
    """An entry before it has a place in the chain."""

    action: str
    time: datetime = field(default_factory=timezone.now)
    actor_id: int | None = None
    actor_name: str = ""
    address: str = ""
    object_type: str = ""
    object_id: str = ""
    object_label: str = ""
    detail: dict = field(default_factory=dict)
    count: int = 1


def plain(value):
    """`value` as JSON that reads back from jsonb unchanged (whole floats as ints: jsonb prints 1e20 as an
    integer; NaN and infinities as text; NUL characters, which jsonb refuses, dropped)."""
    if isinstance(value, dict):
        return {str(k).replace("\0", ""): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        return value.replace("\0", "")
    if value is None or isinstance(value, bool | int):
        return value
    return str(value)


def canonical(entry) -> str:
    values = {name: getattr(entry, name) for name in HASHED_FIELDS}
    values["time"] = values["time"].astimezone(UTC).isoformat(timespec="microseconds")
    values["detail"] = plain(values["detail"])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(prev_hash: str, entry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def _locked_head() -> AuditChain:
    """The head row, locked until the transaction ends: whoever holds it is the only one appending or pruning."""
    head = AuditChain.objects.select_for_update().filter(pk=1).first()
    if head is None:
        with connection.cursor() as cur:  # two first appends at once: one inserts, the other waits for its row
            cur.execute(f"INSERT INTO {AuditChain._meta.db_table} (id, first_seq, first_prev_hash, last_seq, "  # noqa: S608 - table name from the model
                        "last_hash) VALUES (1, 1, %s, 0, %s) ON CONFLICT (id) DO NOTHING", [GENESIS, GENESIS])
        head = AuditChain.objects.select_for_update().get(pk=1)
    if head.last_seq == 0 and AuditEntry.objects.exists():
        raise ChainBroken("the audit chain's head record is missing while entries remain")
    return head


def append(drafts: list[Draft]) -> list[AuditEntry]:
    """Chain `drafts` onto the end, in order, and store them; commits with the caller's transaction."""
    if not drafts:
        return []
    with transaction.atomic():
        head = _locked_head()
        entries, prev, seq = [], head.last_hash, head.last_seq
        for draft in drafts:
            seq += 1
            entry = AuditEntry(seq=seq, time=draft.time, actor_id=draft.actor_id, actor_name=draft.actor_name[:150],
                               address=draft.address[:45], action=draft.action[:32], object_type=draft.object_type[:32],
                               object_id=str(draft.object_id)[:64], object_label=draft.object_label[:200],
                               detail=plain(draft.detail), count=draft.count, prev_hash=prev)
            entry.hash = prev = digest(entry.prev_hash, entry)
            entries.append(entry)
        AuditEntry.objects.bulk_create(entries)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return entries


def verify(upto: int | None = None) -> dict:
    """Walk the chain from its first kept entry (to `upto`, default the end) and report the first entry whose
    content, link or place does not match: {"valid", "checked", "first_seq", "last_seq", "head_hash", "problem"}."""
    head = AuditChain.objects.filter(pk=1).first()
    report = {"valid": True, "checked": 0, "first_seq": None, "last_seq": None, "head_hash": None, "problem": None}
    if head is None:
        if AuditEntry.objects.exists():
            report.update(valid=False, problem={"seq": None, "reason": "the chain's head record is missing"})
        return report
    report.update(first_seq=head.first_seq, last_seq=head.last_seq, head_hash=head.last_hash)
    expected_seq, expected_prev = head.first_seq, head.first_prev_hash
    end = head.last_seq if upto is None else min(upto, head.last_seq)

    def broken(seq, reason, entry=None):
        report.update(valid=False, problem={"seq": seq, "time": entry.time.isoformat() if entry else None,
                                            "reason": reason})
        return report

    if AuditEntry.objects.filter(seq__lt=head.first_seq).exists():
        first = AuditEntry.objects.filter(seq__lt=head.first_seq).order_by("seq").first()
        return broken(first.seq, f"entry {first.seq} lies before the chain's start ({head.first_seq}, after pruning)",
                      first)
    for entry in AuditEntry.objects.filter(seq__gte=head.first_seq).order_by("seq").iterator(chunk_size=2000):
        if entry.seq > end:
            if upto is None:
                return broken(entry.seq, f"entry {entry.seq} lies beyond the chain's recorded end ({head.last_seq})",
                              entry)
            break
        if entry.seq != expected_seq:
            missing = (f"entry {expected_seq} is" if entry.seq == expected_seq + 1
                       else f"entries {expected_seq}–{entry.seq - 1} are")
            return broken(expected_seq, f"{missing} missing (deleted) before entry {entry.seq}", entry)
        if entry.prev_hash != expected_prev:
            return broken(entry.seq, f"entry {entry.seq} does not link to the entry before it", entry)
        if digest(entry.prev_hash, entry) != entry.hash:
            return broken(entry.seq, f"entry {entry.seq} was changed after it was written (its hash does not match)",
                          entry)
        expected_seq, expected_prev = entry.seq + 1, entry.hash
        report["checked"] += 1
    if upto is None and (expected_seq - 1 != head.last_seq or expected_prev != head.last_hash):
        return broken(expected_seq, f"entries {expected_seq}–{head.last_seq} are missing from the end of the chain")
    return report


def prune(days: int | None = None, now: datetime | None = None) -> int:
    """Remove entries older than `days` (default AUDIT_RETENTION_DAYS) from the start of the chain; returns how
    many. The part removed is verified first (a broken chain is never pruned away) and the hash of the last
    removed entry is kept as the chain's start, so what remains still verifies. Removes a prefix only: an older
    entry appended after a newer one (an hour of reads flushed late) waits for the next prune."""
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        head = _locked_head()
        kept = AuditEntry.objects.filter(seq__gte=head.first_seq, time__gte=cutoff).order_by("seq").first()
        last_removed = (kept.seq if kept else head.last_seq + 1) - 1
        if last_removed < head.first_seq:
            return 0
        check = verify(upto=last_removed)
        if not check["valid"]:
            raise ChainBroken(f"not pruning a broken chain: {check['problem']['reason']}")
        boundary = AuditEntry.objects.get(seq=last_removed).hash
        removed, _ = AuditEntry.objects.filter(seq__lte=last_removed).delete()
        head.first_seq, head.first_prev_hash = last_removed + 1, boundary
        head.save(update_fields=["first_seq", "first_prev_hash"])
    append([Draft(action="prune", actor_name="system", count=removed,
                  detail={"before": cutoff.isoformat(), "retention_days": days, "first_seq": last_removed + 1})])
    return removed
