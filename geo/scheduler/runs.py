"""Recording every run of a periodic task, in one place: Celery's task signals, for the tasks the schedule names.

A task does nothing to be recorded. Whoever runs it (beat through a worker, `.delay()`, eager mode) the row of its
name gets: started, then finished, ok/failed, message (its result or its error) and duration. Beat registers its
entries when it starts (`scheduled_since`), so a task that never succeeds still becomes overdue.
"""

import logging
import time

from celery.signals import beat_init, task_postrun, task_prerun
from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)
MESSAGE_CHARS = 500
_started: dict[str, float] = {}  # task id → monotonic start, in the process that runs the task


def periodic_tasks() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def on_prerun(task_id=None, task=None, **_kwargs):
    if task.name not in periodic_tasks():
        return
    from .models import PeriodicTaskRun

    _started[task_id] = time.monotonic()
    PeriodicTaskRun.objects.update_or_create(task=task.name, defaults={
        "started": timezone.now(), "finished": None, "outcome": PeriodicTaskRun.Outcome.RUNNING, "message": "",
        "duration_s": None})


def on_postrun(task_id=None, task=None, retval=None, state=None, **_kwargs):
    if task.name not in periodic_tasks():
        return
    from .models import PeriodicTaskRun

    now = timezone.now()
    start = _started.pop(task_id, None)
    ok = state == "SUCCESS"
    fields = {"finished": now, "outcome": PeriodicTaskRun.Outcome.OK if ok else PeriodicTaskRun.Outcome.FAILED,
              "message": _short(str(retval) if ok else f"{type(retval).__name__}: {retval}"),
              "duration_s": None if start is None else round(time.monotonic() - start, 3)}
    if ok:
        fields["last_ok"] = now
    PeriodicTaskRun.objects.update_or_create(task=task.name, defaults=fields)
    if not ok:
        log.warning("periodic task %s failed: %s", task.name, fields["message"])


def on_beat_init(**_kwargs):
    from .models import PeriodicTaskRun

    now = timezone.now()
    for name in periodic_tasks():
        row, _created = PeriodicTaskRun.objects.get_or_create(task=name, defaults={"scheduled_since": now})
        if row.scheduled_since is None:  # run by hand before beat ever scheduled it
            PeriodicTaskRun.objects.filter(pk=row.pk).update(scheduled_since=now)


def connect() -> None:
    task_prerun.connect(on_prerun, dispatch_uid="scheduler-prerun")
    task_postrun.connect(on_postrun, dispatch_uid="scheduler-postrun")
    beat_init.connect(on_beat_init, dispatch_uid="scheduler-beat-init")
