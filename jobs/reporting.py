"""How long work reports: one JobReporter for every kind of job (imports, analyses, siting …).

    reporter = JobReporter(job)
    if reporter.start(died=note("…")):          # False: finished already, cancelled, or its earlier worker died
        with reporter.running():                 # heartbeat; a cancel request ends the job as cancelled
            reporter.progress(40, note("…"))     # a note for the user; stops here when a cancel was asked for
            with transaction.atomic():
                … write the results …
                reporter.finish(counts)          # succeeded, together with the results (or cancelled: none)

Progress and notes are written on a connection of their own, so pollers see them at once even while the work runs
inside a long transaction, and so the job's row is never held locked by the work (a cancel request would wait).
"""

import json
import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from psycopg2 import sql

from geo.dbrouter import pin_user
from geo.messages import in_english
from geo.messages import text as note

from . import leftovers
from .models import Job

log = logging.getLogger(__name__)


def stopped_note() -> dict:
    return note("工作已停止；沒有留下任何結果")


class JobCancelled(BaseException):  # noqa: N818 - a signal, not an error
    """Raised at the runner's next step after a cancel request. A BaseException, so the runners' and analyses'
    `except Exception` (which turn failures into a failed job) let it through to JobReporter.running()."""


class JobReporter:
    def __init__(self, job: Job):
        self.job = job
        self._writer = connection

    def start(self, died: dict) -> bool:
        """Mark the job running; False when there is nothing to run: it finished (or was cancelled) already, or it
        was running when its message came back — its worker died, and `died` says so as the job's error."""
        job = self.job
        if job.finished:
            return False
        if job.status == Job.Status.RUNNING:
            self.fail(died)
            return False
        now = timezone.now()
        started = Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(
            status=Job.Status.RUNNING, started_at=now, heartbeat_at=now)
        job.refresh_from_db()
        return bool(started)

    @contextmanager
    def running(self, heartbeat_s: float = 10.0):
        """While the work runs: a fresh heartbeat (so only a job whose worker really died looks stale), a connection
        for the reports, and the end of a cancelled job (its leftovers removed, its state `cancelled`)."""
        # a job created inside a transaction still open (a test's) is visible on that connection only
        self._writer = connection if connection.in_atomic_block else connections.create_connection(DEFAULT_DB_ALIAS)
        stop = threading.Event()
        beat = threading.Thread(target=_beat, args=(self.job.pk, stop, heartbeat_s), daemon=True)
        beat.start()
        try:
            yield self
        except JobCancelled:
            self.cancelled()
        finally:
            stop.set()
            beat.join(5)
            if self._writer is not connection:
                self._writer.close()
            self._writer = connection

    def progress(self, percent: float, message: dict | str | None = None) -> None:
        """Move the bar (never back, never to 100 before finish) and add a note: a geo.messages text, worded when
        read in the reader's language. Raises JobCancelled when a cancel was asked for."""
        if message:
            self.job.messages.append(note(message) if isinstance(message, str) else message)
        self.job.progress = max(self.job.progress, min(int(percent), 99))
        table = sql.Identifier(Job._meta.db_table)
        with self._writer.cursor() as cur:
            # not once a cancel was asked for: the request's own note stays, and the work stops here
            cur.execute(sql.SQL("UPDATE {} SET progress = %s, messages = %s::jsonb, heartbeat_at = %s "
                                "WHERE id = %s AND cancel_requested_at IS NULL").format(table),
                        [self.job.progress, json.dumps(self.job.messages, ensure_ascii=False), timezone.now(),
                         self.job.pk])
            if cur.rowcount == 0:
                raise JobCancelled

    def message(self, message: dict | str) -> None:
        """A note that does not move the bar."""
        self.progress(self.job.progress, message)

    def finish(self, counts: dict) -> None:
        """Inside the transaction that writes the results: the job succeeds with them, or — when a cancel was asked
        for meanwhile — raises JobCancelled, which rolls them back. The job's row stays locked until the results are
        committed, so a cancel request either comes first or finds the job finished."""
        asked = Job.objects.select_for_update().filter(pk=self.job.pk).values_list("cancel_requested_at", flat=True)
        if asked.get() is not None:
            raise JobCancelled
        # its owner reads the primary for a while (a replica may not have the results yet when they see it ended)
        pin_user(self.job.created_by_id)
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, progress=100, finished_at=now, heartbeat_at=now, counts=counts,
            messages=self.job.messages)

    def fail(self, error: dict, **where) -> None:
        """End the job as failed with `error` (a geo.messages text; `where`: file, rows, field) and remove everything
        it made, however it ended: bad input, an internal error, a dead worker."""
        end(self.job, Job.Status.FAILED, error=job_error(error, **where))

    def cancelled(self) -> None:
        end(self.job, Job.Status.CANCELLED, message=stopped_note())


def end(job: Job, status: str, error: dict | None = None, message: dict | None = None) -> None:
    """A job ended without results (failed or cancelled): its leftovers removed, its state and reason written."""
    leftovers.remove(job)
    job.refresh_from_db()
    fields = {"status": status, "finished_at": timezone.now()}
    if error:
        fields["errors"] = [*job.errors, error]
    if message:
        fields["messages"] = [*job.messages, message]
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()


def job_error(error: dict, **where) -> dict:
    """An error as the job keeps it: a geo.messages text (worded when read), its English wording under `message`
    for the server's log and the batch command, and where it is (file, rows, field)."""
    if "msgid" not in error:  # an ImportProblem's as_dict() already has all of it
        error = {**error, **note(error.pop("message"))} if "message" in error else dict(error)
    return {**error, "message": in_english(error), **where}


def reap_stale_jobs() -> int:
    """Fail jobs whose worker stopped sending heartbeats (killed, out of memory, machine restarted)."""
    cutoff = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_AFTER_S)
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff)
    for job in stale:
        JobReporter(job).fail(note("工作程序沒有回應（{s} 秒沒有進度）；沒有任何變更，仍提供先前的版本 — 請重新匯入",
                                   s=settings.IMPORT_STALE_AFTER_S))
    return len(stale)


def _beat(job_id: int, stop: threading.Event, every_s: float) -> None:
    from django.db import connection as own  # this thread's own connection

    try:
        while not stop.wait(every_s):
            Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
    finally:
        own.close()
