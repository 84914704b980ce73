import re

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served(client):
    resp = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    schema = resp.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "civgis API"
    assert set(schema["paths"]["/api/health"]["get"]["responses"]) == {"200", "503"}


def test_interactive_docs_work_offline(client):
    resp = client.get("/api/v1/docs/")
    text = resp.content.decode()
    assert resp.status_code == 200
    assert "/api/v1/schema/" in text
    # every script and stylesheet is our own: no CDN (the demo must work with no internet)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', text)
    assert "/static/drf_spectacular_sidecar/" in text


def test_home_page_in_traditional_chinese_by_default(client):
    resp = client.get("/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert '<html lang="zh-hant">' in text
    assert "城市空間決策支援平台" in text


def test_home_page_switches_to_english(client):
    resp = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    text = resp.content.decode()
    assert '<html lang="en">' in text
    assert "City spatial decision-support platform" in text


def test_openapi_schema_validates_without_warnings():
    """The schema is part of the API: every view documents its parameters and responses."""
    import subprocess
    import sys

    from conftest import PROJECT_DIR

    res = subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file",
                          "/dev/null"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
