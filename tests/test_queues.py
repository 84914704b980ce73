"""Celery queues per kind of work (settings.TASK_QUEUES_BY_KIND): every task is routed by name, and a long analysis
occupying the analysis worker does not delay an import (two real workers on different queues)."""

import fnmatch
import os
import signal
import subprocess
import sys
import time

import importfiles as files
import pytest
from conftest import PROJECT_DIR, leftover_guard, stop_process, worker_database_url
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections
from rest_framework.test import APIClient

from geo.celery import app
from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()  # every app's tasks.py, as a worker loads them
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_is_routed_to_a_queue_by_name():
    routes = settings.CELERY_TASK_ROUTES
    queues = {q.name for q in settings.CELERY_TASK_QUEUES}
    names = registered_tasks()
    assert {"layers.import_job", "analysis.run_job", "layers.seed_tiles", "harvest.run", "iot.mqtt_consumer"} <= names
    # a new task without a route here would land in the default queue unseen: name it in TASK_QUEUES_BY_KIND
    unrouted = sorted(n for n in names if not any(fnmatch.fnmatchcase(n, pattern) for pattern in routes))
    assert not unrouted, f"tasks without a queue (add them to TASK_QUEUES_BY_KIND in geo/settings.py): {unrouted}"
    for name in names:
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue in queues, (name, queue)
    # and no route names a task that no longer exists
    stale = [p for p in routes if "*" not in p and p not in names]
    assert not stale, stale
    assert app.amqp.router.route({}, "layers.import_job")["queue"].name == "imports"
    assert app.amqp.router.route({}, "analysis.run_job")["queue"].name == "analysis"
    assert app.amqp.router.route({}, "iot.harvest_sta.civil-iot")["queue"].name == "sensors"


def start_worker(queue: str, env: dict) -> tuple[subprocess.Popen, str]:
    node = f"q-{queue}-{os.getpid()}@localhost"
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "geo", "worker", "--pool", "solo", "-Q", queue,
                             "--hostname", node, "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                            cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    leftover_guard(f"pytest-queue-{queue}-{os.getpid()}", proc.pid)
    return proc, node


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {seconds:.0f} s")


def finished(job_id: int, status: tuple[str, ...] = Job.FINISHED) -> bool:
    return Job.objects.filter(pk=job_id, status__in=status).exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_completes_while_an_analysis_occupies_its_worker(tmp_path, themes):
    env = dict(os.environ, DATABASE_URL=worker_database_url(connection.settings_dict["NAME"]))
    workers = [start_worker("analysis", env), start_worker("imports", env)]  # they start while the layer imports
    # the analysis reads the layer's table: held locked on this connection, the job runs (its worker busy) until
    # released, as a siting job over a large city would
    blocker = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        path = tmp_path / "stations.csv"
        path.write_bytes(files.csv_bytes(["name", "lon", "lat"], [["桃園", 121.313, 24.989],
                                                                  ["中壢", 121.2256, 24.9537]]))
        assert run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": "internal"}).pk).status == \
            "succeeded"
        stations = Layer.objects.get(slug="stations")
        client = APIClient()
        client.force_authenticate(User.objects.create_superuser("queue-admin", password="x"))
        wait_for(lambda: {n for _p, n in workers} <= {n for r in app.control.ping(timeout=0.5) for n in r},
                 60, "the two workers did not answer a ping")

        blocker.set_autocommit(False)
        with blocker.cursor() as cur:
            cur.execute(f'LOCK TABLE layerdata."{stations.table_name}" IN ACCESS EXCLUSIVE MODE')
        resp = client.post("/api/v1/analysis/buffer-layer/", {"layer": "stations", "distances": [50]},
                           format="json")
        assert resp.status_code == 202, resp.content
        analysis = resp.json()["id"]
        wait_for(lambda: finished(analysis, ("running",)), 30, "the analysis job did not start on its worker")

        more = tmp_path / "halls.csv"
        more.write_bytes(files.csv_bytes(["name", "lon", "lat"], [["市府", 121.301, 24.993]]))
        job = jobs.submit(jobs.create(more, more.name, {"mode": "upsert", "visibility": "internal"}))
        wait_for(lambda: finished(job.pk), 30, "the import did not finish while the analysis ran")
        job.refresh_from_db()
        assert job.status == "succeeded", job.errors
        assert Job.objects.get(pk=analysis).status == "running", "the analysis should still hold its worker"

        blocker.rollback()  # the analysis goes on and finishes
        wait_for(lambda: finished(analysis), 30, "the analysis did not finish once its table was free")
        assert Job.objects.get(pk=analysis).status == "succeeded", Job.objects.get(pk=analysis).errors
    finally:
        blocker.rollback()
        blocker.close()
        for proc, _node in workers:  # their work is done: a cold shutdown, both at once
            proc.send_signal(signal.SIGQUIT)
        for proc, _node in workers:
            stop_process(proc, 10, signal.SIGQUIT)
