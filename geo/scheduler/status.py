"""What the schedule looks like now: each entry's interval, its task's last run, and whether it is overdue.

A periodic task is overdue when it has not succeeded for OVERDUE_INTERVALS of its intervals, counted from its
last success, or from when beat first scheduled it if it never succeeded.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import PeriodicTaskRun

OVERDUE_INTERVALS = 3


def interval(entry: dict) -> timedelta:
    schedule = entry["schedule"]
    return schedule if isinstance(schedule, timedelta) else schedule.run_every


def overdue_since(run: PeriodicTaskRun | None, every: timedelta) -> datetime | None:
    """When the task became overdue, or None if it is not (or has never been scheduled)."""
    reference = (run.last_ok or run.scheduled_since) if run else None
    if reference is None:
        return None
    due = reference + OVERDUE_INTERVALS * every
    return due if timezone.now() > due else None


RUN_FIELDS = ("scheduled_since", "started", "finished", "outcome", "message", "duration_s", "last_ok")


def _value(run: PeriodicTaskRun | None, field: str):
    value = getattr(run, field, None)
    return None if value == "" else value  # a task registered by beat but never run: no outcome, no message


def entries() -> list[dict]:
    """One dict per schedule entry, in the order of settings: its interval, its task's last run (None in every run
    field when it has never run) and whether it is overdue."""
    runs = {run.task: run for run in PeriodicTaskRun.objects.all()}
    out = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every = interval(entry)
        run = runs.get(entry["task"])
        late = overdue_since(run, every)
        out.append({"entry": name, "task": entry["task"], "every_s": every.total_seconds(),
                    **{field: _value(run, field) for field in RUN_FIELDS},
                    "overdue": late is not None, "overdue_since": late})
    return out


def health() -> dict:
    """For /api/health: which tasks are overdue (no messages: health is public)."""
    found = entries()
    overdue = [{"task": e["task"], "last_ok": e["last_ok"], "every_s": e["every_s"]} for e in found if e["overdue"]]
    result = {"ok": not overdue, "tasks": len(found), "overdue": overdue}
    if found and not any(e["scheduled_since"] for e in found):
        result["detail"] = "no periodic task has been scheduled yet: is celery beat running?"
    return result
