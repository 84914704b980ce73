"""Bad input: a clear message naming the problem, and nothing left behind (no layer, no table, no file)."""

import zipfile
from pathlib import Path

import importfiles as files
import pytest
from django.db import connection

from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db


def run_import(path: Path, name: str | None = None, **options) -> Job:
    job = jobs.create(path, name or path.name, {"mode": "upsert", **options})
    return run_job(job.pk)


def tables(schema: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {t for (t,) in cur.fetchall()}


@pytest.fixture
def nothing_left_behind(settings):
    layers_before, data_before = Layer.objects.count(), tables("layerdata")

    def check():
        assert Layer.objects.count() == layers_before
        assert tables("layerdata") == data_before
        assert tables("layerstaging") == set()
        assert not list((Path(settings.MEDIA_ROOT) / "rasters" / "_staging").glob("*"))
        assert not [p for p in (Path(settings.DATA_DIR) / "tmp").glob("import-*")]
    return check


def failed_with(job: Job, *fragments: str) -> dict:
    assert job.status == "failed", job.messages
    [error] = job.errors
    for fragment in fragments:
        assert fragment in error["message"], error
    return error


def test_corrupt_zip(tmp_path, nothing_left_behind):
    path = tmp_path / "broken.zip"
    path.write_bytes(files.zip_bytes({"a.geojson": b"{}" * 100})[:60])
    failed_with(run_import(path), "broken.zip", "not a valid zip archive")
    nothing_left_behind()


def test_zip_entry_escaping_the_folder(tmp_path, nothing_left_behind):
    path = tmp_path / "evil.zip"
    path.write_bytes(files.zip_bytes({"../../outside.geojson": b'{"type": "FeatureCollection", "features": []}'}))
    failed_with(run_import(path), "'../../outside.geojson'", "outside the archive")
    assert not (tmp_path.parent / "outside.geojson").exists()
    nothing_left_behind()


def test_decompression_bomb(tmp_path, nothing_left_behind):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.csv", b"0" * (60 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    failed_with(run_import(path), "bomb.zip", "decompression bomb")
    nothing_left_behind()


def test_archive_over_the_unpacked_limit(tmp_path, settings, nothing_left_behind):
    settings.IMPORT_MAX_UNPACKED_BYTES = 1000
    path = tmp_path / "big.zip"
    path.write_bytes(files.zip_bytes({"a.csv": b"x,y\n" + b"1,2\n" * 600}))
    failed_with(run_import(path), "over the limit of")
    nothing_left_behind()


def test_shapefile_missing_shx(tmp_path, nothing_left_behind):
    shp = files.shapefile(tmp_path / "parts", "roads")
    (tmp_path / "parts" / "roads.shx").unlink()
    failed_with(run_import(shp), "roads.shp", ".shx missing")
    zipped = files.zip_folder(tmp_path / "parts", tmp_path / "roads.zip")
    failed_with(run_import(zipped), "roads.zip/roads.shp", ".shx missing")
    nothing_left_behind()


def test_zip_with_dbf_but_no_shp(tmp_path, nothing_left_behind):
    files.shapefile(tmp_path / "parts", "roads")
    (tmp_path / "parts" / "roads.shp").unlink()
    failed_with(run_import(files.zip_folder(tmp_path / "parts", tmp_path / "roads.zip")), "no .shp")
    nothing_left_behind()


def test_no_crs_asks_for_one_and_then_imports(tmp_path, nothing_left_behind):
    shp = files.shapefile(tmp_path, "nocrs", keep_prj=False)
    error = failed_with(run_import(shp), "nocrs.shp", "no coordinate reference system", "crs=")
    assert error["file"] == "nocrs.shp"
    nothing_left_behind()
    job = run_import(files.shapefile(tmp_path / "again", "nocrs", keep_prj=False), crs="4326")
    assert job.status == "succeeded", job.errors
    assert Layer.objects.get(slug="nocrs").source_crs == "EPSG:4326"


def test_undecodable_text_names_field_and_record(tmp_path, nothing_left_behind):
    shp = files.shapefile(tmp_path, "garbled", keep_cpg=False)
    dbf = tmp_path / "garbled.dbf"
    raw = bytearray(dbf.read_bytes())
    # second record's name field: bytes that are neither UTF-8 nor Big5
    header_len, record_len = int.from_bytes(raw[8:10], "little"), int.from_bytes(raw[10:12], "little")
    start = header_len + record_len + 1
    raw[start:start + 4] = b"\xff\xfe\xff\xfe"
    dbf.write_bytes(bytes(raw))
    error = failed_with(run_import(shp), "garbled.shp", "'name'", "record 2", "neither UTF-8 nor Big5")
    assert error["rows"] == [2] and error["field"] == "name"
    nothing_left_behind()


def test_empty_file(tmp_path, nothing_left_behind):
    (tmp_path / "empty.geojson").write_bytes(b"")
    failed_with(run_import(tmp_path / "empty.geojson"), "empty.geojson", "the file is empty")
    nothing_left_behind()


def test_file_over_the_size_limit(tmp_path, settings, nothing_left_behind):
    settings.IMPORT_MAX_BYTES = 100
    (tmp_path / "big.csv").write_bytes(b"lon,lat\n" + b"121.3,25.0\n" * 20)
    failed_with(run_import(tmp_path / "big.csv"), "big.csv", "over the import limit")
    nothing_left_behind()


def test_csv_coordinates_that_are_not_numbers_name_their_rows(tmp_path, nothing_left_behind):
    (tmp_path / "bad.csv").write_bytes(files.csv_bytes(
        ["name", "lon", "lat"], [["a", 121.3, 25.0], ["b", "121.2E", 25.0], ["c", 121.1, 24.9], ["d", "", 24.9]]))
    error = failed_with(run_import(tmp_path / "bad.csv"), "bad.csv", "'lon'", "rows 3, 5")
    assert error["rows"] == [3, 5] and error["field"] == "lon"
    nothing_left_behind()


def test_csv_coordinates_outside_taiwan_name_their_rows(tmp_path, nothing_left_behind):
    (tmp_path / "far.csv").write_bytes(files.csv_bytes(
        ["name", "lon", "lat"], [["ok", 121.3, 25.0], ["swapped", 25.0, 121.3], ["tokyo", 139.7, 35.7]]))
    error = failed_with(run_import(tmp_path / "far.csv"), "outside Taiwan", "rows 3, 4")
    assert error["rows"] == [3, 4]
    nothing_left_behind()


def test_geotiff_without_crs(tmp_path, nothing_left_behind):
    path = files.geotiff(tmp_path / "nocrs.tif", crs=None)
    failed_with(run_import(path), "nocrs.tif", "no coordinate reference system")
    nothing_left_behind()


def test_unsupported_file_type(tmp_path, nothing_left_behind):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not really")
    failed_with(run_import(tmp_path / "notes.docx"), "unsupported file type .docx")
    nothing_left_behind()


def test_failed_reimport_keeps_the_previous_version_served(tmp_path, nothing_left_behind):
    (tmp_path / "sites.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))
    assert run_import(tmp_path / "sites.csv").status == "succeeded"
    nothing_left_behind = nothing_left_behind  # the layer now exists; compare against the state after v1
    layer = Layer.objects.get(slug="sites")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "sites.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", "x", 25.0]]))
    failed_with(run_import(tmp_path / "v2" / "sites.csv", layer="sites"), "not a number")
    layer.refresh_from_db()
    assert layer.current_version.number == 1 and layer.versions.count() == 1
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM layerdata.sites")
        assert cur.fetchall() == [("a",)]
    assert tables("layerstaging") == set()


def waiting_upload(settings, name: str = "sites.csv") -> Path:
    """An upload as the API stores it for the worker: a folder of its own under DATA_DIR/uploads."""
    folder = Path(settings.DATA_DIR) / "uploads" / f"test-{name}-{id(settings)}"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))
    return folder / name


def died_mid_import(upload: Path) -> Job:
    """A job whose worker was killed mid-import: running, with a staging table and a work folder left over."""
    from django.utils import timezone

    from jobs.leftovers import work_dir

    job = jobs.create(upload, upload.name, {"mode": "upsert"})
    Job.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now(),
                                               heartbeat_at=timezone.now())
    with connection.cursor() as cur:
        cur.execute(f'CREATE TABLE layerstaging."{job.staging_prefix}0" (fid integer)')
    (work_dir() / f"import-{job.pk}-dead" / "unzipped-0").mkdir(parents=True)
    return job


def test_a_redelivered_job_whose_worker_died_removes_its_upload(settings, nothing_left_behind):
    upload = waiting_upload(settings)
    job = died_mid_import(upload)
    assert run_job(job.pk).status == "failed"  # the broker gave the message back to another worker
    assert "stopped before finishing" in Job.objects.get(pk=job.pk).errors[0]["message"]
    assert not upload.parent.exists()
    nothing_left_behind()


def test_a_stale_job_reaped_removes_its_upload(settings, nothing_left_behind):
    from jobs.reporting import reap_stale_jobs

    upload = waiting_upload(settings)
    job = died_mid_import(upload)
    settings.IMPORT_STALE_AFTER_S = -1
    assert reap_stale_jobs() == 1
    assert Job.objects.get(pk=job.pk).status == "failed"
    assert not upload.parent.exists()
    nothing_left_behind()


def test_a_redelivered_finished_job_removes_an_upload_left_behind(settings):
    upload = waiting_upload(settings)
    job = jobs.create(upload, upload.name, {"mode": "upsert"})
    Job.objects.filter(pk=job.pk).update(status="succeeded")  # its worker died before cleaning up
    assert run_job(job.pk).status == "succeeded"
    assert not upload.parent.exists()


def test_an_internal_error_shows_no_internals(tmp_path, monkeypatch, nothing_left_behind):
    from layers.importing import pipeline

    def broken(*_args, **_kwargs):
        raise OSError(f"[Errno 5] Input/output error: '{tmp_path}/work/x.csv'")

    monkeypatch.setattr(pipeline, "read_features", broken)
    (tmp_path / "sites.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], [["a", 121.3, 25.0]]))
    error = failed_with(run_import(tmp_path / "sites.csv"), "sites.csv", "internal error", "server log")
    assert str(tmp_path) not in error["message"] and "Errno" not in error["message"]
    nothing_left_behind()


def test_library_messages_lose_their_server_paths(tmp_path, nothing_left_behind):
    (tmp_path / "junk.gpkg").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    error = failed_with(run_import(tmp_path / "junk.gpkg"), "junk.gpkg", "not a readable GeoPackage")
    assert str(tmp_path) not in error["message"]
    (tmp_path / "dem.tif").write_bytes(b"GIF89a not a tiff")
    error = failed_with(run_import(tmp_path / "dem.tif"), "dem.tif", "not a readable GeoTIFF")
    assert str(tmp_path) not in error["message"] and "/" not in error["message"]
    nothing_left_behind()


CJK = r"[\u3400-\u9fff]"


def test_job_messages_and_errors_are_worded_in_the_readers_language(tmp_path):
    """A job keeps its notes and errors as msgid + parameters: the same job reads in zh-Hant on a zh-Hant page and
    in English on an English one, the file, rows and field kept (GET /api/v1/imports/{id}/ keeps its shape)."""
    import re

    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    bad = tmp_path / "bad.csv"
    bad.write_text("name,lon,lat\na,121.3,25.0\nb,121.2E,25.0\nc,121.1,24.9\nd,,24.9\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("名稱,lon,lat\n甲,121.30,25.00\n乙,121.31,25.01\n", encoding="utf-8")
    owner = User.objects.create(username="reader-language")
    failed, done = (jobs.create(p, p.name, {"mode": "upsert"}, owner) for p in (bad, good))
    run_job(failed.pk), run_job(done.pk)
    answers = {}
    for language in ("zh-hant", "en"):
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(owner)
        answers[language] = {job.pk: client.get(f"/api/v1/imports/{job.pk}/").json() for job in (failed, done)}
    zh, en = answers["zh-hant"], answers["en"]
    [zh_error], [en_error] = zh[failed.pk]["errors"], en[failed.pk]["errors"]
    assert zh_error["message"] == "bad.csv：欄位 'lon' 在第 3, 5 列（共 2 列）不是數字"
    assert en_error["message"] == "bad.csv: column 'lon' is not a number on rows 3, 5"
    assert zh_error["rows"] == en_error["rows"] == [3, 5] and zh_error["field"] == "lon" and \
        zh_error["file"] == "bad.csv"
    assert set(zh_error) == {"message", "file", "rows", "field"}  # the answer's shape is the old one
    zh_notes, en_notes = zh[done.pk]["messages"], en[done.pk]["messages"]
    assert len(zh_notes) == len(en_notes) > 2 and all(isinstance(m, str) for m in zh_notes)
    assert any("已讀取 2 筆圖徵" in m for m in zh_notes) and any("2 features read" in m for m in en_notes)
    assert not [m for m in en_notes if re.search(CJK, m.replace("名稱", ""))], en_notes  # the column's own name
    assert all(re.search(CJK, m) for m in zh_notes), zh_notes
