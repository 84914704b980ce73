import contextlib
import math
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"


def worker_database_url(db_name: str) -> str:
    """DATABASE_URL of this run with the database name replaced (the test database pytest-django made)."""
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + db_name))


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test database and the test Redis; yields its node name."""
    from django.db import connection

    from geo.celery import app

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    env = dict(os.environ, DATABASE_URL=worker_database_url(db_name))
    node = f"pytest-{os.getpid()}@localhost"
    log = open(Path(settings.DATA_DIR).parent / "pytest-worker.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "geo", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--hostname", node, "--without-gossip", "--without-mingle"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"celery worker exited with {proc.returncode}; see {log.name}")
            if any(node in reply for reply in app.control.ping(timeout=0.5)):
                break
        else:
            pytest.fail(f"celery worker did not answer a ping within 60 s; see {log.name}")
        yield node
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def themes(db):
    """The default theme tree (a migration makes it; transactional tests truncate it away, so make it again)."""
    import importlib

    from django.apps import apps

    importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)


@contextlib.contextmanager
def committed_demo_city(django_db_blocker, seed: int, size: float):
    """A demo city stored, registered and committed (visible to other processes, e.g. a live server) for a module
    of tests; removed again afterwards."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group
    from django.db import connection

    from layers.democity.city import generate
    from layers.democity.store import register, store
    from layers.models import Layer

    with django_db_blocker.unblock():
        importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)
        demo = generate(seed=seed, size=size)
        store(demo, progress=lambda _m: None)
        register(demo)
        try:
            yield demo
        finally:
            Layer.objects.all().delete()
            Group.objects.all().delete()
            with connection.cursor() as cur:
                cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a lon/lat point at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pytest_configure(config):
    # WhiteNoise warns about a missing STATIC_ROOT; the demo fills it with collectstatic, tests need it only to exist.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def run_analysis_job(client, path: str, body: dict):
    """POST an analysis that answers 202 with a job, run the job here and return it, succeeded."""
    from analysis import jobs as analysis_jobs

    resp = client.post(f"/api/v1/analysis/{path}/", body, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    return job
