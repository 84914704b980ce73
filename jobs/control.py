"""Starting and stopping jobs from outside their worker: hand a job to its Celery task, or ask it to stop."""

import logging

from django.db import transaction
from django.utils import timezone

from geo.messages import text as note

from . import leftovers
from .models import Job
from .reporting import stopped_note

log = logging.getLogger(__name__)


def create(kind: str, name: str, options: dict, user=None, source_path: str = "") -> Job:
    return Job.objects.create(kind=kind, source_name=name, source_path=source_path, options=options,
                              created_by=user if user and user.is_authenticated else None)


def submit(job: Job, task) -> Job:
    """Queue `task(job.pk)`; its id is kept so a cancel can revoke it."""
    result = task.delay(job.pk)
    Job.objects.filter(pk=job.pk).update(task_id=result.id or "")
    job.task_id = result.id or ""
    return job


def cancel(job: Job, user) -> bool:
    """Ask a job to stop; False when it had finished already. A job still waiting ends now (its task revoked, its
    upload removed); a running one stops at its runner's next step (jobs.reporting), or finishes if its results
    were being committed at that moment."""
    asked = note("{user} 要求取消這個工作", user=user.get_username())
    with transaction.atomic():
        # waits while the runner commits results with the row locked (JobReporter.finish): then it has finished
        current = Job.objects.select_for_update().filter(pk=job.pk).exclude(status__in=Job.FINISHED).first()
        if current is None:
            job.refresh_from_db()
            return False
        waiting = current.status == Job.Status.PENDING
        fields = {"cancel_requested_at": timezone.now(), "messages": [*current.messages, asked]}
        if waiting:  # a worker that takes it now finds it finished (JobReporter.start)
            fields |= {"status": Job.Status.CANCELLED, "finished_at": timezone.now(),
                       "messages": [*fields["messages"], stopped_note()]}
        Job.objects.filter(pk=job.pk).update(**fields)
    if current.task_id:
        _revoke(current.task_id)
    job.refresh_from_db()
    if waiting:
        leftovers.remove(job)
    return True


def _revoke(task_id: str) -> None:
    from geo.celery import app

    try:
        app.control.revoke(task_id)
    except Exception:  # noqa: BLE001 - revoking is a courtesy: the runner checks the job's row before and while it runs
        log.warning("could not revoke task %s", task_id, exc_info=True)
