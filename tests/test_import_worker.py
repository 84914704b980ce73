"""Imports through real Celery workers: batch command, and a worker killed in the middle of an import."""

import os
import signal
import subprocess
import sys
import time

import importfiles as files
import pytest
from conftest import PROJECT_DIR, worker_database_url
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jobs.models import Job
from jobs.reporting import reap_stale_jobs
from layers.democity.city import generate
from layers.democity.store import write_geopackage
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.tasks import import_job

pytestmark = pytest.mark.django_db(transaction=True)


def count(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM layerdata.{table}")
        return cur.fetchone()[0]


def staging_tables() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'layerstaging'")
        return [t for (t,) in cur.fetchall()]


def test_batch_command_imports_a_folder_in_parallel_and_summarises(celery_worker_process, themes, tmp_path, capsys):
    folder = tmp_path / "batch"
    files.shapefile(folder / "loose", "places")
    files.geopackage(folder / "city.gpkg")
    (folder / "bad.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], [["x", "east", 25]]))
    (folder / "orphan.shx").write_bytes(b"\0" * 100)
    (folder / "orphan.dbf").write_bytes(b"\0" * 100)
    (folder / "README.txt").write_text("not a layer")
    with pytest.raises(CommandError, match="2 file"):
        call_command("import_layers", str(folder), "--theme", "facilities", "--visibility", "public")
    out = capsys.readouterr().out
    assert "imported  city.gpkg" in out and "imported  loose/places.shp" in out
    assert "FAILED    bad.csv" in out and "not a number on row 2" in out
    assert "orphan.shx: shapefile without its .shp" in out
    assert "2 imported, 2 failed" in out
    assert set(Layer.objects.values_list("slug", flat=True)) >= {"places", "city-places", "city-zones"}
    assert Layer.objects.get(slug="places").theme.slug == "facilities"
    assert Job.objects.filter(status="succeeded").count() == 2


def test_batch_command_succeeds_with_zero_exit(tmp_path, capsys):
    files.shapefile(tmp_path / "ok", "places")
    call_command("import_layers", str(tmp_path / "ok"), "--sync")
    assert "1 imported, 0 failed" in capsys.readouterr().out


def test_visibility_given_to_a_reimport_is_applied_and_said(tmp_path, capsys):
    files.shapefile(tmp_path / "ok", "places")
    call_command("import_layers", str(tmp_path / "ok"), "--sync", "--visibility", "public")
    assert Layer.objects.get(slug="places").visibility == "public"
    call_command("import_layers", str(tmp_path / "ok"), "--sync")  # not given: the layer keeps its visibility
    assert Layer.objects.get(slug="places").visibility == "public"
    capsys.readouterr()
    call_command("import_layers", str(tmp_path / "ok"), "--sync", "--visibility", "restricted")
    layer = Layer.objects.get(slug="places")
    assert (layer.visibility, layer.versions.count()) == ("restricted", 3)
    assert "visibility of places: public → restricted" in capsys.readouterr().out


def test_killed_worker_leaves_the_previous_version_served(django_db_setup, tmp_path, settings):
    small = tmp_path / "small.csv"
    small.write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0], ["b", 121.31, 25.01]]))
    assert run_job(jobs.create(small, "small.csv", {"mode": "upsert", "slug": "parcels-kill"}).pk).status == \
        "succeeded"
    layer = Layer.objects.get(slug="parcels-kill")
    big = tmp_path / "parcels.gpkg"
    city = generate(seed=3, size=3)
    city.layers = {"parcels": city.layers["parcels"]}
    write_geopackage(city, big)

    env = dict(os.environ, DATABASE_URL=worker_database_url(connection.settings_dict["NAME"]))
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "geo", "worker", "--pool", "prefork",
                               "--concurrency", "1", "-Q", "killtest", "--hostname", "victim@localhost",
                               "--loglevel", "WARNING"], cwd=PROJECT_DIR, env=env, start_new_session=True)
    try:
        job = jobs.create(big, "parcels.gpkg", {"mode": "upsert", "layer": "parcels-kill"})
        import_job.apply_async((job.pk,), queue="killtest")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == "running" and job.progress >= 5:
                break
            assert not job.finished, f"the import ended before it could be killed: {job.status}"
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool process, mid-import
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)

    job.refresh_from_db()
    assert job.status == "running"  # nobody is left to say otherwise …
    layer.refresh_from_db()
    assert layer.current_version.number == 1 and count(layer.table_name) == 2  # … and v1 is still served

    settings.IMPORT_STALE_AFTER_S = 0
    time.sleep(0.05)
    assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "failed" and "stopped responding" in job.errors[0]["message"]
    assert staging_tables() == []
    assert count(layer.table_name) == 2

    # the broker gives the unacknowledged message back; running it again settles nothing twice
    assert run_job(job.pk).status == "failed"
