"""The server-side tile cache (layers.serving.tilecache, issue 21): tiles kept per layer version and filter, read
only after the caller may see the layer, removed precisely when the layer changes (an edit: only the tiles under the
feature; a restyle or a deletion: all), seeded for low zooms, counted for administrators."""

import pytest
from conftest import tile_of
from django.contrib.auth.models import User
from django.contrib.gis.geos import Polygon
from rest_framework.test import APIClient
from test_feature_editing import SLUG, URL, _make_layer, point

from layers.models import Layer
from layers.serving import tilecache

pytestmark = pytest.mark.django_db

A, B = (121.30, 24.99), (121.31, 25.00)  # the two hydrants _make_layer puts in
Z = 17  # tiles of ~300 m: A and B several tiles apart


@pytest.fixture
def cache(settings, tmp_path):
    settings.TILE_CACHE, settings.TILE_CACHE_DIR = True, tmp_path / "tile-cache"
    from geo.counters import client as redis_client

    redis_client().delete(tilecache.STATS_KEY)
    return settings.TILE_CACHE_DIR


@pytest.fixture
def layer(db, cache):
    made = _make_layer()
    box = Polygon.from_bbox((*A, *B))
    box.srid = 4326
    made.extent = box
    made.save()
    return made


@pytest.fixture
def editor(layer):
    """A member of the layer's owner agency (who may see and edit it), signed in with a session below."""
    user = User.objects.create_user("tc-fire", password="pw")
    user.groups.add(layer.owner_agency)
    return user


def client(user=None) -> APIClient:
    c = APIClient()
    if user:
        c.force_login(user)  # the tile views read the session (no DRF authentication)
    return c


def tile_url(lonlat, z=Z, query="") -> str:
    x, y = tile_of(*lonlat, z)
    return f"/tiles/{SLUG}/{z}/{x}/{y}.mvt{query}"


def cached_files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.mvt")} if root.exists() else set()


def test_tiles_are_kept_per_version_and_filter_and_read_only_for_who_may_see_the_layer(layer, editor, cache):
    c = client(editor)
    assert client().get(tile_url(A)).status_code == 404  # internal: refused before any cache is looked at
    first = c.get(tile_url(A))
    assert first.status_code == 200 and first.content
    assert len(cached_files(cache)) == 1
    again = c.get(tile_url(A))
    assert again.content == first.content
    filtered = c.get(tile_url(A, query="?filter=name:eq:B"))  # another tile: hydrant A is filtered out
    assert filtered.status_code == 204 and len(cached_files(cache)) == 2
    assert c.get(tile_url(A, query="?filter=name:eq:B")).status_code == 204  # the cached empty tile
    # cached now, and still nothing for someone who may not see the layer (the same answer as a missing layer)
    refused = client().get(tile_url(A))
    assert refused.status_code == 404 and refused.content == client().get(
        "/tiles/no-such-layer/17/1/1.mvt").content.replace(b"no-such-layer", SLUG.encode())
    stats = tilecache.statistics()
    assert (stats["hits"], stats["misses"], stats["tiles"]) == (2, 2, 2) and stats["bytes"] > 0
    # a new version is a new key: the old tiles are not read
    before = tilecache.path_of(layer, "vector", "", Z, *tile_of(*A, Z))
    layer.current_version_id = None
    layer.min_zoom = 1
    layer.save()
    assert tilecache.path_of(layer, "vector", "", Z, *tile_of(*A, Z)) != before


def test_an_edit_removes_only_the_tiles_under_the_feature_a_restyle_or_a_deletion_all(
        layer, editor, cache, django_capture_on_commit_callbacks):
    c = client(editor)
    far = (121.60, 25.10)
    for where in (A, B, far):
        assert c.get(tile_url(where)).status_code in (200, 204)
    assert c.get(tile_url(B, z=10)).status_code == 200  # a low zoom's tile holding both
    assert len(cached_files(cache)) == 4
    b_tile = c.get(tile_url(B)).content
    fid_b = next(f["id"] for f in c.get(URL).json()["features"] if f["properties"]["name"] == "B")
    with django_capture_on_commit_callbacks(execute=True):
        moved = c.patch(f"{URL}{fid_b}/", {"geometry": point(121.33, 25.02)}, format="json",
                        HTTP_IF_MATCH=c.get(f"{URL}{fid_b}/")["ETag"])
    assert moved.status_code == 200, moved.content
    left = cached_files(cache)
    xa, ya = tile_of(*A, Z)
    xf, yf = tile_of(*far, Z)
    assert {f.split("/", 3)[3] for f in left} == {f"{Z}/{xa}/{ya}.mvt", f"{Z}/{xf}/{yf}.mvt"}  # under B: gone
    assert c.get(tile_url(B)).status_code == 204 and b_tile  # B's old place: drawn again, now empty
    assert c.get(tile_url((121.33, 25.02))).status_code == 200  # and its new one
    assert tilecache.statistics()["invalidated_tiles"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        restyled = c.patch(f"/api/v1/layers/{SLUG}/style/", {"fill_color": "#aa0000"}, format="json")
    assert restyled.status_code == 200, restyled.content
    assert cached_files(cache) == set()
    c.get(tile_url(A))
    admin = User.objects.create_superuser("tc-admin", password="pw")
    with django_capture_on_commit_callbacks(execute=True):
        assert client(admin).delete(f"/api/v1/layers/{SLUG}/").status_code == 204
    assert cached_files(cache) == set() and not Layer.objects.filter(slug=SLUG).exists()


def test_low_zooms_are_seeded_and_administrators_see_the_statistics(layer, cache, monkeypatch):
    import geo.health

    monkeypatch.setattr(geo.health, "check_worker", lambda: {"ok": True})  # no worker here: not waited for
    layer.visibility = "public"
    layer.save()
    seeded = tilecache.seed_tiles(layer, max_zoom=6)
    assert seeded == len(cached_files(cache)) >= 7  # zoom 0 to 6 over the layer, at least one tile each
    assert tilecache.seed_tiles(layer, max_zoom=6) == 0  # already there
    x, y = tile_of(*A, 6)
    assert client().get(f"/tiles/{SLUG}/6/{x}/{y}.mvt").status_code == 200
    assert tilecache.statistics()["hits"] == 1
    admin = APIClient()
    admin.force_login(User.objects.create_user("tc-staff", password="pw", is_staff=True))
    detail = admin.get("/api/health?detail=tile_cache").json()
    assert detail["tile_cache"]["tiles"] == seeded and detail["tile_cache"]["hit_rate"] == 1.0
    assert "tile_cache" not in APIClient().get("/api/health?detail=tile_cache").json()  # not for everyone


@pytest.fixture
def fast_path(layer, settings):
    """The WSGI fast path (tile_fastpath) around Django, called as a server would; yields call(path, **environ)
    -> (status, headers, body). Answers that come from Django carry its middleware's X-Frame-Options."""
    from io import BytesIO

    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    from layers.serving.tile_fastpath import TileFastPath

    app = TileFastPath(get_wsgi_application())

    def call(path, **extra):
        request_started.disconnect(close_old_connections)  # again: Django's test client connects them back
        request_finished.disconnect(close_old_connections)
        answer = {}
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
                   "SERVER_PORT": "80", "wsgi.input": BytesIO(), "wsgi.url_scheme": "http", "REMOTE_ADDR": "10.1.2.3",
                   **extra}
        body = b"".join(app(environ, lambda status, headers: answer.update(status=status, headers=dict(headers))))
        return int(answer["status"].split()[0]), answer["headers"], body

    # as Django's test client does: the handler must not close the test's connection (its transaction)
    try:
        yield call
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_anonymous_cached_tiles_are_answered_in_front_of_django_only_while_the_layer_is_public(
        layer, fast_path, settings, django_capture_on_commit_callbacks):
    """The view's answer for a cached tile of a public layer, without Django; a layer no longer public stops it at
    the next request (a bulk update that sends no signal after TILE_FAST_PATH_RECHECK_SECONDS); a miss or an
    unknown session: Django."""
    from audit import reads as audit_reads

    settings.TILE_FAST_PATH_COUNT_SECONDS = 0  # the reads sent to Redis at once
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "public"
        layer.save()
    url = tile_url(A)
    status, headers, body = fast_path(url)  # a miss: Django draws and keeps it (its middleware adds X-Frame-Options)
    assert status == 200 and "X-Frame-Options" in headers, body[:300]
    reads = audit_reads.COUNTS.pending()
    status, fast, again = fast_path(url)
    assert (status, again) == (200, body) and "X-Frame-Options" not in fast  # in front of Django, the same bytes
    assert fast["ETag"] == headers["ETag"] and fast["Cache-Control"] == "public, max-age=300"
    assert fast_path(url, HTTP_IF_NONE_MATCH=fast["ETag"])[0] == 304
    counted = {k: n - reads.get(k, 0) for k, n in audit_reads.COUNTS.pending().items() if n != reads.get(k, 0)}
    assert list(counted.values()) == [2] and '[null, "", "10.1.2.3", "ed-hydrants", "tile"]' in next(iter(counted))[1]
    assert tilecache.statistics()["hits"] == 1  # the 304 read no file
    unknown = fast_path(url, HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}=abc")
    assert unknown[0] == 200 and "X-Frame-Options" in unknown[1]  # a session it does not know: Django decides
    # an edit elsewhere in the layer (its tiles there removed, the layer's ETag new): no 304 for the old ETag
    from datetime import timedelta

    from django.utils import timezone

    Layer.objects.filter(pk=layer.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        layer.save(update_fields=["title_zh"])  # a change the fast path is told of (the old updated_at kept)
    Layer.objects.filter(pk=layer.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    old = fast_path(url)[1]["ETag"]
    editor = User.objects.create_user("tc-fire", password="pw")
    editor.groups.add(layer.owner_agency)
    fid_b = next(f["id"] for f in client(editor).get(URL).json()["features"] if f["properties"]["name"] == "B")
    with django_capture_on_commit_callbacks(execute=True):
        assert client(editor).patch(f"{URL}{fid_b}/", {"geometry": point(121.311, 25.001)}, format="json",
                                    HTTP_IF_MATCH=client(editor).get(f"{URL}{fid_b}/")["ETag"]).status_code == 200
    status, headers, _body = fast_path(url, HTTP_IF_NONE_MATCH=old)
    assert status == 200 and headers["ETag"] != old and "X-Frame-Options" not in headers  # A's tile, fast, anew
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "internal"
        layer.save()
    status, headers, body = fast_path(url)
    assert status == 404 and "X-Frame-Options" in headers and b"\x1a" not in body  # refused, not the cached tile
    Layer.objects.filter(pk=layer.pk).update(visibility="public")  # no signal: the generation stays
    assert fast_path(url)[0] == 200
    Layer.objects.filter(pk=layer.pk).update(visibility="internal")
    settings.TILE_FAST_PATH_RECHECK_SECONDS = 0  # past the recheck interval
    assert fast_path(url)[0] == 404


def test_signed_in_users_get_the_fast_path_and_lose_it_at_once_with_their_rights(
        layer, fast_path, settings, django_capture_on_commit_callbacks):
    """A session Django authenticated is known to the fast path; a revoked grant, a layer made private, a user
    deactivated or signed out stop its tiles at the next request — and a layer made private stops anonymous ones."""
    from django.test import Client

    from accounts.models import LayerGrant

    user = User.objects.create_user("tc-reader", password="pw")
    browser = Client()
    browser.force_login(user)
    cookie = {"HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"}
    url = tile_url(A)
    with django_capture_on_commit_callbacks(execute=True):
        grant = LayerGrant.objects.create(layer=layer, user=user, rights=["see"])
        layer.visibility = "restricted"
        layer.save()
    status, headers, body = fast_path(url, **cookie)  # Django: draws the tile, and publishes the session's entry
    assert status == 200 and "X-Frame-Options" in headers, body[:300]
    status, fast, again = fast_path(url, **cookie)
    assert (status, again) == (200, body) and "X-Frame-Options" not in fast
    assert fast["Cache-Control"] == "private, max-age=300" and fast["ETag"] == headers["ETag"]
    assert fast_path(url)[0] == 404  # anonymous: refused by Django
    with django_capture_on_commit_callbacks(execute=True):
        grant.delete()
    assert fast_path(url, **cookie)[0] == 404  # the revoked grant: at once
    with django_capture_on_commit_callbacks(execute=True):
        LayerGrant.objects.create(layer=layer, user=user, rights=["see"])
        layer.visibility = "public"
        layer.save()
    assert fast_path(url)[0] == 200 and fast_path(url)[1].get("X-Frame-Options") is None  # anonymous: fast
    assert fast_path(url, **cookie)[1].get("X-Frame-Options") is None  # and the user: fast
    with django_capture_on_commit_callbacks(execute=True):
        LayerGrant.objects.filter(layer=layer).delete()
        layer.visibility = "restricted"
        layer.save()
    assert fast_path(url, **cookie)[0] == 404 and fast_path(url)[0] == 404  # made private: both at once
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "internal"
        layer.save()
    assert fast_path(url, **cookie)[0] == 200 and fast_path(url, **cookie)[1].get("X-Frame-Options") is None
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()  # deactivated: the session's entry goes with the change, Django refuses the session
    assert fast_path(url, **cookie)[0] == 404
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = True
        user.save()
    assert fast_path(url, **cookie)[0] == 200 and fast_path(url, **cookie)[1].get("X-Frame-Options") is None
    with django_capture_on_commit_callbacks(execute=True):
        browser.logout()  # signed out: the entry goes with the session
    assert fast_path(url, **cookie)[0] == 404


def test_behind_nginx_the_fast_path_names_the_cached_file_instead_of_sending_it(
        layer, cache, fast_path, settings, django_capture_on_commit_callbacks):
    """TILE_ACCEL_REDIRECT: the same decision, the answer an X-Accel-Redirect into nginx's internal location of the
    tile cache (tests/test_tile_nginx.py runs nginx itself); a 304 and an empty tile are still answered here."""
    settings.TILE_ACCEL_REDIRECT = "/_tile-cache/"
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "public"
        layer.save()
    url = tile_url(A)
    status, drawn, body = fast_path(url)
    assert status == 200 and "X-Frame-Options" in drawn and body  # drawn by Django: the bytes
    status, fast, nothing = fast_path(url)
    cached = tilecache.path_of(layer, "vector", "", Z, *tile_of(*A, Z))
    assert (status, nothing) == (200, b"") and "X-Frame-Options" not in fast
    assert fast["X-Accel-Redirect"] == "/_tile-cache/" + cached.relative_to(cache).as_posix()
    assert cached.read_bytes() == body and fast["Content-Length"] == "0"
    assert (fast["ETag"], fast["Cache-Control"]) == (drawn["ETag"], drawn["Cache-Control"])
    assert fast_path(url, HTTP_IF_NONE_MATCH=fast["ETag"])[0] == 304
    empty = tile_url((121.60, 25.10))
    assert fast_path(empty)[0] == 204
    status, fast, nothing = fast_path(empty)
    assert (status, nothing) == (204, b"") and "X-Accel-Redirect" not in fast and "X-Frame-Options" not in fast
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "internal"
        layer.save()
    status, refused, body = fast_path(url)
    assert status == 404 and "X-Accel-Redirect" not in refused and b"\x1a" not in body  # Django's missing-layer 404
