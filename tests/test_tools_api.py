"""What the viewer's tools read from the server besides the analysis APIs: the layer list that brings new results
into the tree (per user, like the page), and the tool URLs and strings in the page's config."""

import json
import re

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Polygon
from rest_framework.test import APIClient

from layers.models import Layer

pytestmark = pytest.mark.django_db


@pytest.fixture
def layers():
    box = Polygon.from_bbox((121.2, 24.9, 121.3, 25.0))
    box.srid = 4326
    for slug, visibility in (("roads", "public"), ("result-1", "internal")):
        Layer.objects.create(slug=slug, title_zh=slug, visibility=visibility, kind="vector", geometry_type="LineString",
                             extent=box)


def page_config(client) -> dict:
    text = client.get("/").content.decode()
    return json.loads(re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', text, re.S)[1])


def test_new_layers_are_listed_for_whoever_may_see_them(layers):
    signed_out = APIClient().get("/viewer/layers.json").json()["layers"]
    assert [entry["slug"] for entry in signed_out] == ["roads"]
    planner = APIClient()
    planner.force_login(User.objects.create_user("planner"))
    entries = planner.get("/viewer/layers.json").json()["layers"]
    assert sorted(entry["slug"] for entry in entries) == ["result-1", "roads"]
    assert entries[0].keys() == page_config(planner)["layers"][0].keys()  # the same entries as the page's


def test_the_page_names_the_tool_apis_and_the_user(layers):
    planner = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    planner.force_login(User.objects.create_user("planner"))
    config = page_config(planner)
    assert config["urls"]["buffer"] == "/api/v1/analysis/buffer/"
    assert config["urls"]["job"] == "/api/v1/jobs/{id}/"
    assert config["urls"]["shared_view"] == "/api/v1/views/{code}/"
    assert config["user"] == {"name": "planner", "groups": []}
    assert config["strings"]["tool_buffer"] == "Buffer" and config["strings"]["tool_upload"] == "Upload"
    assert page_config(APIClient())["user"] is None
