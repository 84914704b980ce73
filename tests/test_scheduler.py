"""The scheduler: beat's schedule comes from settings (intervals from the environment); every run of a periodic task
is recorded with its outcome, whoever runs it; superusers see the runs at /api/v1/schedule/ (a missing route for
everyone else); /api/health says when a periodic task is overdue.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from conftest import PROJECT_DIR, worker_database_url
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from geo.counters import client as redis_client
from geo.scheduler.models import PeriodicTaskRun

PERIODIC = {"layers.flush_usage", "audit.flush_reads", "audit.prune", "harvest.due"}


def run_of(task: str, timeout: float = 30, until=lambda run: run.outcome in {"ok", "failed"}) -> PeriodicTaskRun:
    """The task's row once `until` holds (written by another process: read it afresh)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = PeriodicTaskRun.objects.filter(task=task).first()
        if run and until(run):
            return run
        time.sleep(0.2)
    pytest.fail(f"{task}: no recorded run within {timeout} s: {PeriodicTaskRun.objects.filter(task=task).first()}")


# --- the schedule ------------------------------------------------------------------------------------------------

def test_beat_schedule_has_the_periodic_tasks_and_they_exist():
    from geo.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == PERIODIC
    assert schedule["layers.flush_usage"]["schedule"] == timedelta(minutes=5)
    assert schedule["audit.flush_reads"]["schedule"] == timedelta(minutes=10)
    assert schedule["audit.prune"]["schedule"] == timedelta(days=1)
    assert PERIODIC <= set(app.tasks)


def beat_schedule_with(**env) -> subprocess.CompletedProcess:
    code = ("import django; django.setup(); from django.conf import settings; "
            "print({k: v['schedule'].total_seconds() for k, v in settings.CELERY_BEAT_SCHEDULE.items()})")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULE_")}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**base, "DJANGO_SETTINGS_MODULE": "geo.settings", **env})


def test_each_interval_comes_from_the_environment_and_a_bad_one_is_named():
    res = beat_schedule_with(SCHEDULE_AUDIT_PRUNE_SECONDS="3600", SCHEDULE_LAYERS_FLUSH_USAGE_SECONDS="30")
    assert res.returncode == 0, res.stderr
    assert eval(res.stdout) == {"layers.flush_usage": 30.0, "audit.flush_reads": 600.0, "audit.prune": 3600.0,
                                "harvest.due": 60.0}
    for bad in ("0", "-5", "daily"):
        res = beat_schedule_with(SCHEDULE_AUDIT_FLUSH_READS_SECONDS=bad)
        assert res.returncode != 0
        assert f"SCHEDULE_AUDIT_FLUSH_READS_SECONDS={bad!r}" in res.stderr


# --- runs, through a real beat and a real worker -------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_beat_registers_its_entries_and_a_worker_records_each_run(celery_worker_process, tmp_path):
    env = dict(os.environ, DATABASE_URL=worker_database_url(connection.settings_dict["NAME"]),
               SCHEDULE_LAYERS_FLUSH_USAGE_SECONDS="1")
    log = open(tmp_path / "beat.log", "wb")  # noqa: SIM115 - closed below
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "geo", "beat", "--loglevel", "INFO",
                             "--schedule", str(tmp_path / "celerybeat-schedule")],
                            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        before = timezone.now()
        run = run_of("layers.flush_usage", until=lambda r: r.outcome == "ok" and r.started and r.started > before)
    finally:
        beat.terminate()
        beat.wait(20)
        log.close()
    assert {r.task for r in PeriodicTaskRun.objects.exclude(scheduled_since=None)} == PERIODIC, (
        (tmp_path / "beat.log").read_text())
    assert run.scheduled_since <= run.started <= run.finished == run.last_ok
    assert 0 <= run.duration_s < 10
    assert run.message.isdigit()  # the task's result: how many counters it moved
    # the daily prune was registered, not run (its first interval has not passed)
    assert PeriodicTaskRun.objects.get(task="audit.prune").outcome == ""


@pytest.mark.django_db(transaction=True)
def test_a_failing_periodic_task_records_its_failure(celery_worker_process):
    from layers.tasks import flush_usage

    ok = timezone.now() - timedelta(hours=1)
    PeriodicTaskRun.objects.create(task="layers.flush_usage", outcome="ok", last_ok=ok)
    bad = "civgis:usage:2026-01"  # a counter without its "slug|kind" field: the flush cannot store it
    redis_client().hincrby(bad, "no-separator", 1)
    try:
        result = flush_usage.delay()
        result.get(timeout=30, propagate=False)
        assert result.failed()
        run = run_of("layers.flush_usage")
    finally:
        redis_client().delete(bad, bad + "-flushing")
    assert run.outcome == "failed"
    assert run.message.startswith("ValueError: ")
    assert run.last_ok == ok  # the last success stays known
    assert run.finished >= run.started and run.duration_s is not None


# --- the API -------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_schedule_is_for_superusers_and_a_missing_route_for_everyone_else():
    clerk = User.objects.create_user("clerk")  # no passwords: hashing them is most of such a test's time
    staff = User.objects.create_user("staffer", is_staff=True)
    auditor = User.objects.create_user("auditor")
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    admin = User.objects.create_superuser("admin", password=None)
    PeriodicTaskRun.objects.create(task="audit.prune", started=timezone.now(), finished=timezone.now(),
                                   outcome="failed", message="OperationalError: the secret detail", duration_s=0.2)
    missing = APIClient().get("/api/v1/no-such-route/")
    token = Token.objects.create(user=clerk).key
    outsiders = [APIClient(), APIClient(HTTP_AUTHORIZATION=f"Token {token}"),
                 APIClient(HTTP_AUTHORIZATION="Token not-a-token")]
    for user in (staff, auditor):
        client = APIClient()
        client.force_login(user)
        outsiders.append(client)
    for client in outsiders:
        resp = client.get("/api/v1/schedule/")
        assert (resp.status_code, resp.content, resp["Content-Type"]) == (
            missing.status_code, missing.content, missing["Content-Type"])
    client = APIClient()
    client.force_login(admin)
    body = client.get("/api/v1/schedule/").json()
    assert body["overdue_after_intervals"] == 3
    tasks = {t["task"]: t for t in body["tasks"]}
    assert set(tasks) == PERIODIC
    assert tasks["audit.prune"] == {**tasks["audit.prune"], "outcome": "failed", "every_s": 86400.0,
                                    "message": "OperationalError: the secret detail", "duration_s": 0.2}
    assert tasks["layers.flush_usage"]["outcome"] is None  # never run
    PeriodicTaskRun.objects.create(task="layers.flush_usage", scheduled_since=timezone.now())  # registered by beat
    tasks = {t["task"]: t for t in client.get("/api/v1/schedule/").json()["tasks"]}
    assert (tasks["layers.flush_usage"]["outcome"], tasks["layers.flush_usage"]["message"]) == (None, None)


# --- health --------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_health_says_which_periodic_task_is_overdue_without_503(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no worker needed for this one
    now = timezone.now()
    # a day's task last succeeded 2 days ago: late, but not by 3 intervals yet
    PeriodicTaskRun.objects.create(task="audit.prune", scheduled_since=now - timedelta(days=9),
                                   last_ok=now - timedelta(days=2), outcome="ok")
    body = client.get("/api/health").json()
    assert (body["status"], body["checks"]["schedule"]["ok"], body["checks"]["schedule"]["overdue"]) == (
        "ok", True, [])
    # a 5-minute task scheduled 16 minutes ago that never succeeded: overdue
    PeriodicTaskRun.objects.create(task="layers.flush_usage", scheduled_since=now - timedelta(minutes=16),
                                   outcome="failed", message="RedisError: the secret detail")
    resp = client.get("/api/health")
    body = resp.json()
    assert resp.status_code == 200
    assert body["status"] == "degraded"
    schedule = body["checks"]["schedule"]
    assert schedule["ok"] is False
    assert schedule["overdue"] == [{"task": "layers.flush_usage", "last_ok": None, "every_s": 300.0}]
    assert b"secret detail" not in resp.content  # health is public: no messages
    # an essential check failing is still a 503, whatever the schedule says
    settings.MAPSERV_BIN = "/nonexistent/mapserv"
    resp = client.get("/api/health")
    assert (resp.status_code, resp.json()["status"]) == (503, "error")

