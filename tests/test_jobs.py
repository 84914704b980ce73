"""Jobs as one concept (jobs/): the model moved out of `layers` with its rows, /api/v1/jobs/ (own jobs only, result
links only to layers the viewer may see, cancel), /api/v1/imports/ answering the same, and a cancel that really stops
a running analysis."""

import threading
import time

import importfiles as files
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from jobs import control
from jobs.models import Job
from layers.importing import jobs as import_jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db


def client(user=None, language="zh-hant") -> APIClient:
    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        c.force_authenticate(user)
    return c


@pytest.fixture
def people(db):
    agency = Group.objects.create(name="地政局")
    return {"owner": User.objects.create_user("owner"), "other": User.objects.create_user("other"),
            "admin": User.objects.create_user("admin", is_staff=True), "agency": agency}


def waiting_upload(settings, people, name="sites.csv") -> Job:
    """An upload waiting for a worker (its task id known, as after submit)."""
    from pathlib import Path

    folder = Path(settings.DATA_DIR) / "uploads" / f"test-jobs-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))
    job = import_jobs.create(folder / name, name, {"mode": "create"}, people["owner"])
    Job.objects.filter(pk=job.pk).update(task_id="task-of-the-upload")
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------------------------
# The API: own jobs only, result links only to what the viewer may see, /imports/ the same
# ---------------------------------------------------------------------------------------------------------------
def test_a_job_is_its_owners_and_the_admins_only(people, settings):
    job = waiting_upload(settings, people)
    mine = client(people["owner"]).get(f"/api/v1/jobs/{job.pk}/")
    assert mine.status_code == 200
    body = mine.json()
    assert (body["kind"], body["status"], body["source_name"]) == ("import", "pending", "sites.csv")
    assert body["url"].endswith(f"/api/v1/jobs/{job.pk}/") and body["cancel_requested"] is False
    assert [j["id"] for j in client(people["owner"]).get("/api/v1/jobs/").json()["results"]] == [job.pk]
    assert client(people["admin"]).get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    # someone else's job answers as a job that does not exist
    theirs, missing = (client(people["other"]).get(f"/api/v1/jobs/{pk}/") for pk in (job.pk, job.pk + 1000))
    assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    assert client(people["other"]).get("/api/v1/jobs/").json()["results"] == []
    assert client().get("/api/v1/jobs/").status_code in (401, 403)


def test_result_links_name_only_layers_the_viewer_may_see(people):
    shown = Layer.objects.create(slug="open-result", table_name="", title_zh="公開結果", visibility="public")
    hidden = Layer.objects.create(slug="closed-result", table_name="", title_zh="限定結果", visibility="restricted")
    hidden.allowed_groups.add(people["agency"])
    job = Job.objects.create(kind=Job.Kind.ANALYSIS, status=Job.Status.SUCCEEDED, source_name="x",
                             created_by=people["owner"])
    job.layers.add(shown, hidden)
    body = client(people["owner"]).get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["layers"] == ["open-result"]
    assert [(r["type"], r["slug"]) for r in body["results"]] == [("layer", "open-result")]
    assert "closed-result" not in str(client(people["owner"]).get("/api/v1/jobs/").json())
    people["owner"].groups.add(people["agency"])
    assert client(people["owner"]).get(f"/api/v1/jobs/{job.pk}/").json()["layers"] == ["closed-result", "open-result"]


def test_imports_is_another_name_for_jobs(people, settings):
    job = waiting_upload(settings, people)
    Job.objects.create(kind=Job.Kind.ANALYSIS, source_name="環域", created_by=people["owner"])
    owner = client(people["owner"])
    for language in ("zh-hant", "en"):
        owner = client(people["owner"], language)
        assert owner.get("/api/v1/imports/").json() == owner.get("/api/v1/jobs/").json()
        assert owner.get(f"/api/v1/imports/{job.pk}/").json() == owner.get(f"/api/v1/jobs/{job.pk}/").json()
    assert len(owner.get("/api/v1/imports/").json()["results"]) == 2
    other = client(people["other"])
    assert other.get(f"/api/v1/imports/{job.pk}/").json() == other.get(f"/api/v1/jobs/{job.pk}/").json()


# ---------------------------------------------------------------------------------------------------------------
# Cancel
# ---------------------------------------------------------------------------------------------------------------
def test_cancelling_a_waiting_job_ends_it_revokes_its_task_and_removes_its_upload(people, settings, monkeypatch):
    from geo.celery import app

    revoked = []
    monkeypatch.setattr(app.control, "revoke", lambda task_id, **kw: revoked.append(task_id))
    job = waiting_upload(settings, people)
    resp = client(people["owner"]).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "cancelled" and resp.json()["cancel_requested"] is True
    assert revoked == ["task-of-the-upload"]
    from pathlib import Path

    assert not Path(job.source_path).parent.exists()
    # the worker that takes the message anyway finds nothing to do
    assert run_job(job.pk).status == "cancelled"
    assert not Layer.objects.exists()
    english = client(people["owner"], "en").get(f"/api/v1/jobs/{job.pk}/").json()["messages"]
    assert english == ["owner asked to cancel this job", "The job was stopped; it left no results"]
    chinese = client(people["owner"]).get(f"/api/v1/jobs/{job.pk}/").json()["messages"]
    assert chinese == ["owner 要求取消這個工作", "工作已停止；沒有留下任何結果"]


def test_cancel_answers_404_for_someone_elses_job_and_409_for_a_finished_one(people, settings, monkeypatch):
    from geo.celery import app

    monkeypatch.setattr(app.control, "revoke", lambda *a, **kw: None)
    job = waiting_upload(settings, people)
    theirs = client(people["other"]).post(f"/api/v1/jobs/{job.pk}/cancel/")
    missing = client(people["other"]).post(f"/api/v1/jobs/{job.pk + 1000}/cancel/")
    assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    assert Job.objects.get(pk=job.pk).status == "pending"
    assert run_job(job.pk).status == "succeeded"
    done = client(people["owner"], "en").post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert done.status_code == 409 and "finished already" in done.json()["detail"]
    assert Job.objects.get(pk=job.pk).status == "succeeded" and Layer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_analysis_stops_it_at_its_next_step(people, tmp_path, monkeypatch):
    """The runner works on a thread of its own (as a worker would), inside its build transaction; the cancel request
    must not wait for that transaction, and the job must end cancelled with no result layer and no staging table."""
    from analysis import buffer
    from analysis import jobs as analysis_jobs
    from geo.celery import app

    monkeypatch.setattr(app.control, "revoke", lambda *a, **kw: None)
    # this test is the worker: a Celery worker another test started must not take the job first
    monkeypatch.setattr(control, "submit", lambda job, task: job)
    (tmp_path / "shops.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))
    source = run_job(import_jobs.create(tmp_path / "shops.csv", "shops.csv", {"mode": "create",
                                                                              "visibility": "public"}).pk)
    assert source.status == "succeeded", source.errors
    built, release = threading.Event(), threading.Event()
    real_build = buffer.build_layer

    def build_then_wait(*args):
        result = real_build(*args)  # reports "buffers drawn" at 70 %
        built.set()
        release.wait(30)  # still inside the build transaction
        return result

    monkeypatch.setattr(buffer, "build_layer", build_then_wait)
    owner = client(people["owner"], "en")
    resp = owner.post("/api/v1/analysis/buffer-layer/", {"layer": source.layers.get().slug, "distances": [50],
                                                         "slug": "cancelled-buffer"}, format="json")
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["id"]

    def work():
        try:
            analysis_jobs.run(job_id)
        finally:
            connection.close()

    runner = threading.Thread(target=work)
    runner.start()
    try:
        assert built.wait(30)
        polled = owner.get(f"/api/v1/jobs/{job_id}/").json()
        assert (polled["status"], polled["progress"]) == ("running", 70)  # seen while the transaction is open
        started = time.monotonic()
        asked = owner.post(f"/api/v1/jobs/{job_id}/cancel/")
        assert time.monotonic() - started < 5, "the cancel request waited for the running job's transaction"
        assert asked.status_code == 202 and asked.json()["status"] == "running" and asked.json()["cancel_requested"]
    finally:
        release.set()
        runner.join(60)
    job = owner.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "cancelled" and job["layers"] == [] and job["errors"] == []
    assert job["messages"][-2:] == ["owner asked to cancel this job", "The job was stopped; it left no results"]
    assert not Layer.objects.filter(slug="cancelled-buffer").exists()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'layerstaging' AND tablename LIKE %s",
                    [f"job{job_id}\\_%"])
        assert cur.fetchone()[0] == 0


# ---------------------------------------------------------------------------------------------------------------
# The migration: layers.ImportJob → jobs.Job keeps its rows, links and the versions pointing at it
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_moving_the_model_keeps_every_row_and_link(people):
    from django.db.migrations.executor import MigrationExecutor

    before = [("layers", "0012_attribute_descriptions_help"), ("jobs", None)]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before[0]).apps
        layer = old.get_model("layers", "Layer").objects.create(slug="parcels", table_name="", title_zh="地籍")
        ImportJob = old.get_model("layers", "ImportJob")  # noqa: N806 - a model class
        imported = ImportJob.objects.create(source_name="parcels.gpkg", source_path="/x", status="succeeded",
                                            progress=100, messages=[{"msgid": "完成"}],
                                            created_by_id=people["owner"].pk)
        imported.layers.add(layer)
        siting = ImportJob.objects.create(kind="analysis", source_name="選址", source_path="",
                                          options={"analysis": "siting"})
        old.get_model("layers", "LayerVersion").objects.create(layer=layer, number=1, job=imported)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    moved = Job.objects.get(pk=imported.pk)
    assert (moved.kind, moved.status, moved.source_name, moved.created_by, moved.messages) == (
        "import", "succeeded", "parcels.gpkg", people["owner"], [{"msgid": "完成"}])
    assert list(moved.layers.values_list("slug", flat=True)) == ["parcels"]
    assert Layer.objects.get(slug="parcels").versions.get().job == moved
    assert Job.objects.get(pk=siting.pk).kind == "siting"  # siting runs get their own kind
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('jobs_job'), to_regclass('jobs_job_layers'), to_regclass('layers_importjob')")
        assert cur.fetchone() == ("jobs_job", "jobs_job_layers", None)
    assert Job.objects.create(source_name="next").pk > siting.pk  # the id sequence came along
