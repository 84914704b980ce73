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


def test_html_pages_for_a_city_officer_in_both_languages():
    world = make_world()
    layers = world["layers"]
    anonymous = Client()
    page = anonymous.get(f"{ITEMS}?f=html")
    text = page.content.decode()
    assert page["Content-Type"].startswith("text/html") and 'id="records-items"' in text
    assert "cat-villages 圖層" in text and "村里人口" in text and "cat-classified" not in text
    assert "第 1–2 筆詮釋資料，共 2 筆" in text and "地政局" in text and "權責機關" in text
    assert "f=json" in text  # the same answer as JSON, linked
    found = anonymous.get(f"{ITEMS}?q=%E7%95%8C%E7%B7%9A", HTTP_ACCEPT="text/html").content.decode()  # q=界線
    assert "cat-villages 圖層" in found and "村里人口" not in found
    record = anonymous.get(f"{ITEMS}/{layers['public'].slug}", HTTP_ACCEPT="text/html").content.decode()
    for label, value in (("英文名稱", "Villages"), ("主題類別", "行政界線"), ("更新頻率", "每年"),
                         ("比例尺或解析度", "1:5,000"), ("授權", "政府資料開放授權條款第1版")):
        assert f'<th scope="row">{label}</th><td>{value}</td>' in record, label
    assert "GetRecordById" in record and "OGC API - Features" in record
    english = anonymous.get(f"{ITEMS}/{layers['public'].slug}?f=html", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h2>Villages</h2>" in english and "Update frequency" in english and "Annually" in english
    for url in (f"{BASE}/?f=html", f"{BASE}/collections/metadata:main?f=html", f"{BASE}/conformance?f=html",
                f"{BASE}/collections/metadata:main/queryables?f=html"):
        assert anonymous.get(url).status_code == 200, url
    assert "2 筆詮釋資料" in anonymous.get(f"{BASE}/collections/metadata:main?f=html").content.decode()
    # a hidden record's page is the missing one's
    hidden = anonymous.get(f"{ITEMS}/{layers['restricted'].slug}?f=html")
    missing = anonymous.get(f"{ITEMS}/cat-nowhere?f=html")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.replace(b"cat-classified", b"cat-nowhere") == missing.content
    assert anonymous.get(f"{ITEMS}?f=xls").status_code == 400


def test_a_hidden_layer_changes_no_answer_of_any_catalogue_endpoint():
    """Counts, matches, domains and capabilities an anonymous caller gets are the same with or without layers they
    may not see (restricted and internal ones, matching every query below), and asking for one by id answers as for
    an id that does not exist."""
    import re

    world = make_world()
    csw2 = "/csw?service=CSW&version=2.0.2&request="
    urls = [csw2 + "GetRecords&typenames=csw:Record&resulttype=hits&elementsetname=brief",
            csw2 + "GetRecords&typenames=csw:Record&resulttype=results&elementsetname=brief&constraintlanguage="
                   "CQL_TEXT&constraint=csw:AnyText%20like%20%27%25%E5%9C%96%E5%B1%A4%25%27",  # AnyText like '%圖層%'
            "/csw?service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record&bbox=121.2,24.9,121.4,25.1",
            csw2 + "GetDomain&propertyname=dc:title", f"{ITEMS}?q=%E5%9C%96%E5%B1%A4&bbox=121.2,24.9,121.4,25.1",
            f"{BASE}/collections/metadata:main?f=html", "/ogcapi/collections"]

    def answers():
        out = []
        for url in urls:
            body = Client().get(url).content.decode()
            out.append(re.sub(r'(\w+="\d{4}-\d\d-\d\dT[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"'
                              r'|elapsedTime="\d+"|"timeStamp": "[^"]*")', "", body))
        return out

    before = answers()
    box = Polygon.from_bbox((121.20, 24.90, 121.40, 25.10))
    box.srid = 4326
    for n, visibility in enumerate(("restricted", "internal")):
        Layer.objects.create(slug=f"cat-hidden-{n}", title_zh="隱藏圖層", visibility=visibility, extent=box,
                             kind=Layer.Kind.VECTOR, table_name=f"hidden_{n}", owner_agency=world["layers"]["public"]
                             .owner_agency)
    after = answers()
    for url, old, new in zip(urls, before, after, strict=True):
        assert old == new, url
    assert 'numberOfRecordsMatched="2"' in after[0] and '"numberMatched":1' in after[4].replace(" ", "")
    # the collections listing is kept in Redis per visible set: a layer made public is listed, made restricted not
    hidden = Layer.objects.get(slug="cat-hidden-0")
    for visibility, listed in (("public", True), ("restricted", False)):
        hidden.visibility = visibility
        hidden.save()
        names = [c["id"] for c in Client().get("/ogcapi/collections").json()["collections"]]
        assert ("cat-hidden-0" in names) is listed, visibility
    for ask in (csw2 + "GetRecordById&id={}&elementsetname=full", ITEMS + "/{}?f=html"):  # the rest: the matrix
        hidden, missing = Client().get(ask.format("cat-hidden-0")), Client().get(ask.format("cat-nowhere-0"))
        assert hidden.status_code == missing.status_code, ask
        assert hidden.content.replace(b"cat-hidden-0", b"X") == missing.content.replace(b"cat-nowhere-0", b"X"), ask


def test_the_collections_listing_after_a_change_builds_the_changed_entries_only(monkeypatch):
    """Issue 21: /ogcapi/collections keeps each collection's entry per layer and its last change, so after a change
    to the catalog only the changed layer's entry is built again; the listing is the one built from nothing, and a
    layer made restricted leaves it."""
    from geo import counters
    from layers.ogcapi import views

    world = make_world()
    made = [Layer.objects.create(slug=f"cat-listed-{n}", title_zh=f"列出圖層 {n}", visibility="public",
                                 kind=Layer.Kind.VECTOR, table_name=f"listed_{n}", srid=3826,
                                 owner_agency=world["layers"]["public"].owner_agency) for n in range(3)]
    Client().get("/ogcapi/collections")
    built = []
    real = views.collection_doc
    monkeypatch.setattr(views, "collection_doc", lambda request, layer, *a, **k: built.append(layer.slug) or
                        real(request, layer, *a, **k))
    made[1].title_zh = "改過的標題"
    made[1].save()
    listing = Client().get("/ogcapi/collections").json()
    assert built == ["cat-listed-1"]
    titles = {c["id"]: c["title"] for c in listing["collections"]}
    assert titles["cat-listed-1"] == "改過的標題" and titles["cat-listed-0"] == "列出圖層 0"
    for key in counters.client().scan_iter("civgis:ogcapi-collection*"):  # nothing kept: built from nothing
        counters.client().delete(key)
    built.clear()
    assert Client().get("/ogcapi/collections").json() == listing
    assert sorted(built) == sorted(titles)
    made[2].visibility = "restricted"
    made[2].save()
    assert "cat-listed-2" not in {c["id"] for c in Client().get("/ogcapi/collections").json()["collections"]}


def test_the_searchable_text_follows_layers_agencies_and_themes():
    """csw:AnyText and q read the text the database stores per layer (catalogue_record_text, kept by triggers)."""
    world = make_world()
    layers = world["layers"]
    anonymous = Client()
    # q=行政界線, its theme's name
    assert ids(get(anonymous, f"{ITEMS}?q=%E8%A1%8C%E6%94%BF%E7%95%8C%E7%B7%9A")) == {layers["public"].slug}
    theme = layers["public"].theme
    theme.name_zh, theme.name_en = "行政區界", "Borders"
    theme.save()
    layers["public_table"].owner_agency.name = "地政處"
    layers["public_table"].owner_agency.save()
    Layer.objects.filter(pk=layers["public_table"].pk).update(title_en="Population by village")  # no signal
    assert ids(get(anonymous, f"{ITEMS}?q=%E8%A1%8C%E6%94%BF%E7%95%8C%E7%B7%9A")) == set()
    assert ids(get(anonymous, f"{ITEMS}?q=%E8%A1%8C%E6%94%BF%E5%8D%80%E7%95%8C")) == {layers["public"].slug}
    assert ids(get(anonymous, f"{ITEMS}?q=Borders")) == {layers["public"].slug}
    assert ids(get(anonymous, f"{ITEMS}?q=%E5%9C%B0%E6%94%BF%E8%99%95")) == {layers["public"].slug,  # q=地政處
                                                                             layers["public_table"].slug}
    assert ids(get(anonymous, f"{ITEMS}?q=Population")) == {layers["public_table"].slug}
    csw = anonymous.get("/csw?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&resulttype=hits"
                        "&elementsetname=brief&constraintlanguage=CQL_TEXT&constraint=csw:AnyText%20like%20%27%25"
                        "Borders%25%27").content.decode()
    assert 'numberOfRecordsMatched="1"' in csw
