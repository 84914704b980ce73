"""What a failing request shows: under the demo's settings (DEBUG off) a plain answer — JSON `{"detail": …}` under
/api/, a short page elsewhere — never a traceback or a server path; and the viewer's bundle is still served."""

import os
import subprocess
import sys

import pytest
from django.test import Client

from geo.localstack import demo_env

pytestmark = pytest.mark.django_db
SECRET_PATH = "/srv/civgis/.var/data/uploads/0123abcd/secret.csv"


def test_the_demo_runs_with_debug_off():
    env = demo_env({k: v for k, v in os.environ.items() if k not in ("DEBUG", "CIVGIS_ENV")})
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                          "print(settings.DEBUG)"], env={**env, "DJANGO_SETTINGS_MODULE": "geo.settings"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def failing_views(monkeypatch, settings):
    settings.DEBUG = False

    def explode(*_args, **_kwargs):
        raise RuntimeError(f"could not open {SECRET_PATH}")

    monkeypatch.setattr("web.views.viewer_config", explode)
    monkeypatch.setattr("layers.views.LayerViewSet.get_queryset", explode)
    return Client(raise_request_exception=False)


def assert_plain(resp, status: int):
    text = resp.content.decode()
    assert resp.status_code == status
    for internal in ("Traceback", SECRET_PATH, "RuntimeError", "/work/", "site-packages", "File \""):
        assert internal not in text, text
    return text


def test_a_page_that_fails_answers_a_short_page(failing_views):
    text = assert_plain(failing_views.get("/"), 500)
    assert text.startswith("<!DOCTYPE html>") and len(text) < 1000


def test_an_api_call_that_fails_answers_json(failing_views):
    resp = failing_views.get("/api/v1/layers/")
    assert_plain(resp, 500)
    assert resp["Content-Type"] == "application/json" and "server log" in resp.json()["detail"]


def test_not_found_is_plain_too(settings):
    settings.DEBUG = False
    client = Client()
    assert client.get("/api/v1/no-such-thing/").json() == {"detail": "Not found."}
    assert "<h1>" in assert_plain(client.get("/no-such-page/"), 404)


def test_the_viewer_bundle_is_served_without_debug(settings, tmp_path):
    from django.core.management import call_command
    from whitenoise.middleware import WhiteNoiseMiddleware

    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--no-input", "-v", "0")  # as `make demo` does before starting the servers
    served = WhiteNoiseMiddleware(lambda request: None)
    page = Client().get("/").content.decode()
    assert "/static/web/dist/" in page
    bundle = next(part.split('"')[0] for part in page.split('src="')[1:] if "/static/web/dist/" in part)
    from django.test import RequestFactory

    resp = served(RequestFactory().get(bundle))
    assert resp is not None and resp.status_code == 200
