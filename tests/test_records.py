"""OGC API - Records at /ogcapi-records/ (pycsw 3.0 over the same view as /csw): landing, conformance, the catalog
collection, items with bbox / q / datetime / paging, an item — only the layers the caller may see, a hidden one
answering as a missing one. Plain HTTP (Django's client) and OWSLib's Records client against a live server."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Polygon
from django.test import Client
from test_catalogue import make_world

from layers.models import Layer

pytestmark = pytest.mark.django_db
BASE = "/ogcapi-records"
ITEMS = f"{BASE}/collections/metadata:main/items"


def get(client, url, status=200):
    answer = client.get(url)
    assert answer.status_code == status, (url, answer.content[:300])
    return answer.json()


def ids(body) -> set:
    return {f["id"] for f in body["features"]}


def test_landing_conformance_and_the_catalog_collection():
    make_world()
    client = Client()
    landing = get(client, f"{BASE}/")
    assert {"conformance", "data"} <= {link["rel"] for link in landing["links"]}
    assert any("ogcapi-records-1/1.0/conf/core" in c for c in get(client, f"{BASE}/conformance")["conformsTo"])
    listed = get(client, f"{BASE}/collections")["collections"]
    assert [c["id"] for c in listed] == ["metadata:main"]
    assert get(client, f"{BASE}/collections/metadata:main")["id"] == "metadata:main"
    get(client, f"{BASE}/collections/other", status=404)


def test_items_are_the_layers_the_caller_may_see_with_filters_and_paging():
    world = make_world()
    layers = world["layers"]
    anonymous, clerk = Client(), Client()
    clerk.force_login(world["clerk"])
    public = {layers["public"].slug, layers["public_table"].slug}
    assert ids(get(anonymous, f"{ITEMS}?limit=50")) == public
    everything = public | {layers["internal"].slug, layers["restricted"].slug}
    assert ids(get(clerk, f"{ITEMS}?limit=50")) == everything
    # the restricted record is missing for whoever may not see it, by id, by text, by bbox
    get(anonymous, f"{ITEMS}/{layers['restricted'].slug}", status=404)
    missing = Client().get(f"{ITEMS}/no-such-layer")
    assert Client().get(f"{ITEMS}/{layers['restricted'].slug}").content == missing.content
    assert get(clerk, f"{ITEMS}/{layers['restricted'].slug}")["id"] == layers["restricted"].slug
    assert ids(get(anonymous, f"{ITEMS}?q=CLASSIFIED")) == set()
    assert ids(get(clerk, f"{ITEMS}?q=CLASSIFIED")) == {layers["restricted"].slug}
    assert ids(get(anonymous, f"{ITEMS}?bbox=121.2,24.9,121.4,25.1")) == {layers["public"].slug}
    assert ids(get(anonymous, f"{ITEMS}?bbox=100,0,101,1")) == set()
    assert ids(get(anonymous, f"{ITEMS}?datetime=2023-01-01/..")) == {layers["public"].slug}
    assert ids(get(anonymous, f"{ITEMS}?datetime=2023-06-01/..")) == set()
    assert "datetime: 'yesterday'" in get(anonymous, f"{ITEMS}?datetime=yesterday", status=400)["description"]
    # paging: limit and offset, the count of what matched
    for n in range(5):
        box = Polygon.from_bbox((121.0, 24.0, 121.1, 24.1))
        box.srid = 4326
        Layer.objects.create(slug=f"rec-page-{n}", title_zh=f"分頁 {n}", visibility="public", kind="vector",
                             extent=box, creation_date=dt.date(2024, 1, 1))
    first = get(anonymous, f"{ITEMS}?limit=3&sortby=identifier")
    second = get(anonymous, f"{ITEMS}?limit=3&offset=3&sortby=identifier")
    assert first["numberMatched"] == second["numberMatched"] == 7
    assert len(first["features"]) == 3 and not ids(first) & ids(second)
    assert any(link["rel"] == "next" for link in first["links"])
    # a record's links are the layer's services
    record = get(anonymous, f"{ITEMS}/{layers['public'].slug}")
    assert record["properties"]["title"] == layers["public"].title_zh
    assert any("/ows" in link["href"] for link in record.get("links", []))


def test_owslib_records_client(live_server, transactional_db):
    from owslib.ogcapi.records import Records

    world = make_world()
    records = Records(live_server.url + BASE + "/")
    assert "metadata:main" in [c["id"] for c in records.collections()["collections"]]
    found = records.collection_items("metadata:main", limit=50)
    assert {f["id"] for f in found["features"]} == {world["layers"]["public"].slug,
                                                     world["layers"]["public_table"].slug}
