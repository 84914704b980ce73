"""Request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (geo.bodylimit): refused with a 413 before anything reads them,
whatever parser the route uses; multipart uploads and /ows keep their own limits; a chunked body is read only up to
the limit."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.http import JsonResponse
from django.test import RequestFactory

from tests.test_feature_editing import URL, _make_layer, client

pytestmark = pytest.mark.django_db
LIMIT = 20_000


@pytest.fixture
def small(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.fixture
def editor(db):
    layer = _make_layer()
    user = User.objects.create_user("bl-editor", password="pw")
    user.groups.add(layer.owner_agency)
    return user


def test_json_bodies_over_the_limit_are_refused_before_they_are_read(small, editor):
    c = client(editor)
    big = c.patch(f"{URL}1/", {"properties": {"name": "x" * (LIMIT + 10)}, "version": 0}, format="json")
    assert big.status_code == 413, big.content[:300]
    assert big["Content-Type"] == "application/json" and f"{LIMIT:,}" in big.json()["detail"]
    assert c.get(f"{URL}1/").json()["properties"]["name"] == "A"  # nothing written
    services = c.post("/api/v1/layers/services/", {"url": "https://example.org/wms?" + "a" * LIMIT}, format="json")
    assert services.status_code == 413
    english = c.post("/api/v1/layers/services/", {"url": "x" * LIMIT}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 413 and "bytes" in english.json()["detail"]
    # under the limit: answered as before
    assert c.patch(f"{URL}1/", {"properties": {"name": "A2"}, "version": 0}, format="json").status_code == 200


def test_multipart_and_ows_keep_their_own_limits(small, editor):
    upload = client(editor).post("/api/v1/layers/", {"file": io.BytesIO(b"name,lon,lat\n" + b"a,121,25\n" * 5000)},
                                 format="multipart")
    assert upload.status_code != 413, upload.content[:300]  # an upload's limit is IMPORT_MAX_BYTES
    wfs = client(editor).post("/ows?SERVICE=WFS", data=b"<Transaction>" + b" " * LIMIT + b"</Transaction>",
                              content_type="application/xml")
    assert wfs.status_code == 413 and b"ExceptionReport" in wfs.content  # the OWS answer in its own words


def test_a_chunked_body_is_read_only_up_to_the_limit(small):
    from geo.bodylimit import BodyLimitMiddleware

    seen = {}

    def view(request):
        seen["body"] = request.body
        return JsonResponse({})

    def chunked(body: bytes):
        request = RequestFactory().generic("POST", "/api/v1/layers/services/", body,
                                           content_type="application/json")
        del request.META["CONTENT_LENGTH"]
        request.META.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
        request._stream = io.BytesIO(body)  # as the server hands it over, de-chunked, with no length
        return BodyLimitMiddleware(view)(request)

    assert chunked(b"x" * (LIMIT * 50)).status_code == 413 and "body" not in seen
    small_body = json.dumps({"url": "https://example.org/wms"}).encode()
    assert chunked(small_body).status_code == 200 and seen["body"] == small_body
