import os
import socket

import pytest

from geo import health

pytestmark = pytest.mark.django_db


def test_health_ok_with_live_worker(client, celery_worker_process):
    resp = client.get("/api/health")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert checks["database"]["postgis"].startswith("3.")
    assert int(checks["database"]["postgresql"].split(".")[0]) >= 13
    assert checks["redis"]["version"]
    assert checks["celery_worker"]["worker"] == celery_worker_process
    assert checks["ogc_engine"] == {**checks["ogc_engine"], "ok": True, "engine": "mapserver"}
    assert checks["ogc_engine"]["version"].split(".")[0] == "8"
    assert resp["Cache-Control"].startswith("max-age=0")


def test_worker_round_trip_reaches_postgis(celery_worker_process):
    from geo.tasks import worker_probe

    reply = worker_probe.delay().get(timeout=20)
    assert reply["hostname"] == celery_worker_process
    assert reply["postgis"].startswith("3.")


def test_no_worker_listening_is_503(client, monkeypatch):
    monkeypatch.setattr(health, "PROBE_QUEUE", "no-worker-consumes-this-queue")
    monkeypatch.setattr(health, "WORKER_TIMEOUT_S", 0.5)
    resp = client.get("/api/health")
    assert resp.status_code == 503
    worker = resp.json()["checks"]["celery_worker"]
    assert worker["ok"] is False
    assert "no Celery worker answered" in worker["error"]


def test_redis_down_is_503_and_names_redis(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    resp = client.get("/api/health")
    body = resp.json()
    assert resp.status_code == 503
    assert body["status"] == "error"
    assert body["checks"]["redis"]["ok"] is False
    assert "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["celery_worker"]["error"].startswith("not checked: Redis")
    assert body["checks"]["database"]["ok"] is True


def test_mapserver_missing_is_503(client, settings):
    settings.MAPSERV_BIN = "/nonexistent/mapserv"
    resp = client.get("/api/health")
    engine = resp.json()["checks"]["ogc_engine"]
    assert resp.status_code == 503
    assert engine["ok"] is False
    assert "/nonexistent/mapserv" in engine["error"]


def test_geoserver_unreachable_is_reported(client, settings):
    settings.OGC_ENGINE = "geoserver"
    settings.GEOSERVER_URL = f"http://127.0.0.1:{closed_port()}/geoserver"
    resp = client.get("/api/health")
    engine = resp.json()["checks"]["ogc_engine"]
    assert resp.status_code == 503
    assert engine["engine"] == "geoserver"
    assert "unreachable" in engine["error"]


@pytest.mark.skipif(not os.environ.get("GEOSERVER_URL"), reason="needs a real GeoServer (GEOSERVER_URL)")
def test_real_geoserver_reports_its_version(settings):
    from layers.ogc.geoserver import GeoServerEngine

    status = GeoServerEngine(os.environ["GEOSERVER_URL"], os.environ.get("GEOSERVER_USER", "admin"),
                             os.environ.get("GEOSERVER_PASSWORD", "geoserver")).status()
    assert status.ok, status.detail
    assert status.version[:1].isdigit()


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
