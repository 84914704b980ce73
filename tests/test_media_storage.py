"""Shared media on S3-compatible object storage (MEDIA_STORAGE=s3, geo/media.py): an upload saved by one machine is
imported by a worker that has no copy of it, a raster stored by the import is served by a web server that has none,
and nothing is left in the bucket when the job or the layer goes.

The object store is moto's server (`moto_server`, from PyPI): an S3 *emulator* that answers the S3 REST API over
HTTP on loopback — no S3-compatible server that is a real object store installs here without Docker. What this
exercises: django-storages' S3Storage speaking HTTP to an S3 endpoint (PUT, GET, HEAD, LIST, DELETE, path-style
addressing, credentials) and everything of ours above it. What it does not: a real store's consistency, multipart
uploads of large files, its permissions and TLS.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import importfiles as files
import pytest
from conftest import PROJECT_DIR, leftover_guard, stop_process, tile_of
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
BUCKET = "civgis-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    import os

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    leftover_guard(f"pytest-moto-{os.getpid()}", proc.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        yield url
    finally:
        stop_process(proc, 10)


@pytest.fixture
def s3(s3_endpoint, settings, tmp_path):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="civgis", aws_secret_access_key="secret",
                          region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "media": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": BUCKET, "endpoint_url": s3_endpoint, "access_key": "civgis", "secret_key": "secret",
        "region_name": "us-east-1", "file_overwrite": True, "default_acl": None, "addressing_style": "path"}}}
    settings.DATA_DIR = tmp_path / "data"  # this test's own folder: "another machine" is that folder emptied
    settings.MEDIA_ROOT = settings.DATA_DIR / "media"
    settings.TILE_CACHE = False
    yield client
    found = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    if found:
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": o["Key"]} for o in found]})
    client.delete_bucket(Bucket=BUCKET)


def keys(client, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_an_upload_is_imported_by_a_worker_without_a_copy_and_leaves_nothing(
        s3, settings, themes, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    geojson = files.write_vector(tmp_path / "sites.geojson", *files.places_lonlat(), "EPSG:4326", "GeoJSON")
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("media-admin", password="x"))
    from layers import tasks

    queued = []  # the web server's part: the job queued for a worker, which is this process below
    monkeypatch.setattr(tasks.import_job, "delay", lambda job_id: queued.append(job_id) or SimpleNamespace(id=""))
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post("/api/v1/layers/", {"files": [SimpleUploadedFile("sites.geojson",
                                                                            geojson.read_bytes())],
                                                "visibility": "public"}, format="multipart")
    assert resp.status_code == 202, resp.content
    [job_id] = queued
    [stored] = keys(s3, "uploads/")
    assert stored.endswith("/sites.geojson")
    shutil.rmtree(settings.DATA_DIR / "uploads")  # the worker runs on another machine: no local copy

    job = run_job(job_id)
    assert job.status == "succeeded", job.errors
    assert Layer.objects.get(slug="sites").feature_count == 3
    assert keys(s3, "uploads/") == []  # the upload goes with its job, from the bucket too
    assert not (settings.DATA_DIR / "uploads" / stored.split("/")[1]).exists()


def test_a_raster_stored_by_the_import_is_served_where_it_was_never_written(s3, settings, themes, tmp_path,
                                                                           django_capture_on_commit_callbacks):
    tif = files.geotiff(tmp_path / "dem.tif")
    job = run_job(jobs.create(tif, "dem.tif", {"mode": "upsert", "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors
    layer = Layer.objects.get(slug="dem")
    assert keys(s3) == [f"media/{layer.raster_path}"]
    shutil.rmtree(settings.MEDIA_ROOT)  # another web server: the bucket has it, this machine does not

    x, y = tile_of(121.22, 24.985, 12)
    resp = APIClient().get(f"/tiles/dem/12/{x}/{y}.png")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    assert (settings.MEDIA_ROOT / layer.raster_path).exists()  # the local copy GDAL read

    admin = APIClient()
    admin.force_authenticate(User.objects.create_superuser("media-admin", password="x"))
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete("/api/v1/layers/dem/").status_code == 204
    assert keys(s3) == [] and not (settings.MEDIA_ROOT / "rasters" / layer.table_name).exists()
    assert Job.objects.filter(pk=job.pk).exists()
