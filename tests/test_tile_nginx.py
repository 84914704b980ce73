"""Cached vector tiles sent by nginx after the app decided who may see them (issue 21): the shipped nginx template
(deploy/nginx, as docker-compose's `nginx` service runs it) in front of gunicorn on the test database with
TILE_ACCEL_REDIRECT set. The fast path answers with X-Accel-Redirect into nginx's internal location of the tile
cache; nginx sends the file. A hidden layer's tile stays the same 404 as a missing one, the internal location is not
reachable from outside, and a tile invalidated by an edit is not sent stale."""

import http.client
import shutil
import urllib.parse
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import LiveServer, server_environment, tile_of
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from test_feature_editing import _make_layer, point

from layers.models import Layer
from layers.serving import tilecache

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [pytest.mark.skipif(NGINX is None, reason="nginx is not installed (`make install` installs it)"),
              pytest.mark.django_db(transaction=True)]
ACCEL = "/_tile-cache/"
A = (121.30, 24.99)  # hydrant A of _make_layer
Z = 17
TILE_TYPE = "application/vnd.mapbox-vector-tile"


@pytest.fixture(scope="module")
def front(django_db_setup, django_db_blocker, nlsc_standin, browser_oidc_issuer, tmp_path_factory):
    """gunicorn (2 gthread workers, TILE_ACCEL_REDIRECT on) and nginx in front of it, sharing a tile cache folder."""
    from geo.localstack import NginxFront

    root = tmp_path_factory.mktemp("nginx-front")
    cache = root / "tile-cache"
    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    env = {**server_environment(db_name, nlsc_standin, browser_oidc_issuer), "DEBUG": "false",
           "TILE_ACCEL_REDIRECT": ACCEL,
           "TILE_CACHE_DIR": str(cache)}
    app = LiveServer(env)
    nginx = NginxFront(root, app.base.removeprefix("http://"), cache, root / "static", ACCEL)
    try:
        nginx.start()
        yield SimpleNamespace(url=nginx.url, app=app.base, cache=cache)
    finally:
        nginx.stop()
        app.stop(django_db_blocker, db_name)


@pytest.fixture
def cache(front, settings):
    """This process invalidates the tiles the servers keep (an edit made here removes them there)."""
    settings.TILE_CACHE_DIR = front.cache
    return front.cache


@pytest.fixture
def tables(transactional_db):
    """Layers made (and committed) here, their tables dropped afterwards; their updated_at an hour back, so that an
    edit's new ETag (which counts whole seconds) differs."""
    made = []

    def layer(slug: str, visibility: str):
        made.append(slug.replace("-", "_"))
        new = _make_layer(made[-1], slug, visibility)
        Layer.objects.filter(pk=new.pk).update(updated_at=timezone.now() - timedelta(hours=1))
        new.refresh_from_db()
        return new

    yield layer
    with connection.cursor() as cur:
        for table in made:
            cur.execute(f"DROP TABLE IF EXISTS layerdata.{table}")


def get(base: str, path: str, **headers) -> SimpleNamespace:
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return SimpleNamespace(status=answer.status, headers=answer.headers, body=answer.read())
    finally:
        conn.close()


def tile_path(slug: str) -> str:
    return f"/tiles/{slug}/{Z}/{tile_of(*A, Z)[0]}/{tile_of(*A, Z)[1]}.mvt"


def cached_bytes(layer) -> bytes:
    return tilecache.path_of(layer, "vector", "", Z, *tile_of(*A, Z)).read_bytes()


def session_cookie(user) -> str:
    browser = Client()
    browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


def sent_by_nginx(front, path: str, **headers) -> SimpleNamespace:
    """The tile through nginx once the fast path knows it (the first request may be Django's: it draws the tile, or
    authenticates the session), checked to be nginx's file answer: no Django middleware header, and a byte range
    honoured (nginx's static files; Django ignores Range)."""
    for _ in range(4):  # each gunicorn worker learns the session once from Django
        answer = get(front.url, path, **headers)
        if answer.status == 200 and "X-Frame-Options" not in answer.headers:
            break
    assert answer.status == 200 and "X-Frame-Options" not in answer.headers, (answer.status, answer.body[:300])
    assert answer.headers["Content-Type"] == TILE_TYPE and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Accel-Redirect" not in answer.headers and "Last-Modified" not in answer.headers
    part = get(front.url, path, Range="bytes=0-9", **headers)
    assert (part.status, part.body) == (206, answer.body[:10])
    return answer


def missing_like(front, path: str, slug: str) -> bytes:
    """The 404 for a layer that does not exist, with `slug` in its place (the answer a hidden layer must give)."""
    missing = get(front.url, path.replace(slug, "ng-no-such-layer"))
    assert missing.status == 404
    return missing.body.replace(b"ng-no-such-layer", slug.encode())


def test_public_tiles_are_sent_by_nginx_with_the_apps_headers_and_hidden_ones_are_missing(front, cache, tables):
    layer = tables("ng-public", "public")
    hidden = tables("ng-hidden", "internal")  # any signed-in user may see it; anonymous visitors may not
    path = tile_path(layer.slug)
    drawn = get(front.url, path)  # a miss: Django draws and keeps it (through nginx as any other answer)
    assert drawn.status == 200 and "X-Frame-Options" in drawn.headers, drawn.body[:300]
    served = sent_by_nginx(front, path)
    assert served.body == cached_bytes(layer) == drawn.body  # the cache file's bytes
    assert served.headers["ETag"] == drawn.headers["ETag"]
    assert served.headers["Cache-Control"] == "public, max-age=300" and "Vary" not in served.headers
    # the app itself sent no bytes, only where the file is (so gunicorn must only be reachable through nginx)
    direct = get(front.app, path)
    assert direct.status == 200 and direct.body == b"" and direct.headers["X-Accel-Redirect"].startswith(ACCEL)
    assert get(front.url, path, **{"If-None-Match": served.headers["ETag"]}).status == 304  # the app's 304
    # the internal location is not reachable from outside: a 404, not the file
    outside = get(front.url, direct.headers["X-Accel-Redirect"])
    assert outside.status == 404 and served.body not in outside.body
    assert get(front.url, ACCEL + f"{layer.pk}/").status == 404
    # a hidden layer's tile, cached (a signed-in user drew it), is for anonymous visitors what a missing one is
    reader = session_cookie(User.objects.create_user("ng-reader", password="pw"))
    hidden_path = tile_path(hidden.slug)
    assert sent_by_nginx(front, hidden_path, Cookie=reader).body == cached_bytes(hidden)
    refused = get(front.url, hidden_path)
    assert refused.status == 404 and refused.body == missing_like(front, hidden_path, hidden.slug)
    assert cached_bytes(hidden) not in refused.body


def test_a_signed_in_users_restricted_tile_is_sent_by_nginx_only_to_them(front, cache, tables):
    from accounts.models import LayerGrant

    layer = tables("ng-restricted", "restricted")
    user = User.objects.create_user("ng-granted", password="pw")
    LayerGrant.objects.create(layer=layer, user=user, rights=["see"])
    other = User.objects.create_user("ng-other", password="pw")
    path = tile_path(layer.slug)
    served = sent_by_nginx(front, path, Cookie=session_cookie(user))
    assert served.body == cached_bytes(layer)
    assert served.headers["Cache-Control"] == "private, max-age=300"
    assert served.headers["Vary"] == "Cookie, Authorization"
    for refused in (get(front.url, path), get(front.url, path, Cookie=session_cookie(other))):
        assert refused.status == 404 and refused.body == missing_like(front, path, layer.slug)


def test_an_invalidated_tile_is_not_sent_stale(front, cache, tables):
    layer = tables("ng-edited", "public")
    editor = User.objects.create_user("ng-editor", password="pw")
    editor.groups.add(layer.owner_agency)
    path = tile_path(layer.slug)
    get(front.url, path)
    before = sent_by_nginx(front, path)
    url = f"/api/v1/layers/{layer.slug}/features/"
    c = APIClient()
    c.force_login(editor)
    fid = next(f["id"] for f in c.get(url).json()["features"] if f["properties"]["name"] == "A")
    moved = c.patch(f"{url}{fid}/", {"geometry": point(121.3003, 24.9903), "properties": {"name": "A2"}},
                    format="json", HTTP_IF_MATCH=c.get(f"{url}{fid}/")["ETag"])
    assert moved.status_code == 200, moved.content  # committed: the tiles under A removed, every process told
    layer.refresh_from_db()
    after = get(front.url, path, **{"If-None-Match": before.headers["ETag"]})
    assert after.status in (200, 204) and after.headers["ETag"] != before.headers["ETag"]
    assert after.body != before.body and after.body == cached_bytes(layer)  # drawn again, kept again
    if after.status == 200:
        assert sent_by_nginx(front, path).body == after.body
