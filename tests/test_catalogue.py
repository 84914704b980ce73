"""ISO 19139 (TWSMP) metadata of a layer — written, read back by OWSLib's independent ISO parser, imported from the
real TGOS records — and the catalogue service at /csw (pycsw over the view catalogue_csw_records) driven by OWSLib's
CSW 2.0.2 and 3.0 clients against a live server: the records are the layers anonymous may see, no more."""

import datetime as dt
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.contrib.gis.geos import Polygon
from lxml import etree
from owslib.iso import MD_Metadata
from rest_framework.test import APIClient

from layers import iso19139
from layers.models import Layer, Theme

TGOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "tgos-metadata"
TGOS_VILLAGES = TGOS / "TW-07-301000100G-613995.xml"
TGOS_TOWNS = TGOS / "TW-07-301000100G-614001.xml"
TGOS_19115_3 = TGOS / "Metadata_TWSMP3_iso19115-3_20211007.xml"
needs_tgos = pytest.mark.skipif(not TGOS_VILLAGES.exists(), reason=f"the real TGOS records are not at {TGOS}")


def make_world():
    land, other = Group.objects.create(name="地政局"), Group.objects.create(name="交通局")
    clerk, driver = User.objects.create(username="clerk"), User.objects.create(username="driver")
    clerk.groups.add(land)
    driver.groups.add(other)
    theme = Theme.objects.create(slug="boundaries", name_zh="行政界線", name_en="Boundaries")
    box = Polygon.from_bbox((121.20, 24.90, 121.40, 25.10))
    box.srid = 4326

    def layer(slug, visibility, **fields):
        return Layer.objects.create(slug=slug, title_zh=f"{slug} 圖層", visibility=visibility, owner_agency=land,
                                    kind=Layer.Kind.VECTOR, extent=box, theme=theme, **fields)

    layers = {
        "public": layer("cat-villages", "public", title_en="Villages", abstract="各村里界線", keywords=["村里", "界線"],
                        topic_category="boundaries", update_frequency="annually", lineage="由內政部資料轉入",
                        source="內政部國土測繪中心", license="政府資料開放授權條款第1版", contact_name="王小明",
                        contact_organisation="地政局測量科", contact_email="wang@city.gov.tw",
                        scale_denominator=5000, temporal_start=dt.date(2023, 1, 1),
                        creation_date=dt.date(2023, 3, 1), revision_date=dt.date(2024, 9, 28)),
        "public_table": Layer.objects.create(slug="cat-population", title_zh="村里人口", visibility="public",
                                             kind=Layer.Kind.TABLE, owner_agency=land),
        "internal": layer("cat-staff", "internal"),
        "restricted": layer("cat-classified", "restricted", abstract="CLASSIFIED-ABSTRACT"),
    }
    return {"clerk": clerk, "driver": driver, "layers": layers}


def api(user=None) -> APIClient:
    client = APIClient()
    if user:
        client.force_authenticate(user)
    return client


# ---- ISO 19139 export ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_record_says_what_the_catalog_knows_and_owslib_reads_it():
    world = make_world()
    answer = api().get("/api/v1/layers/cat-villages/metadata.xml")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/xml")
    md = MD_Metadata(etree.fromstring(answer.content))
    assert (md.identifier, md.language, md.charset, md.stdname) == ("cat-villages", "chi", "utf8", "TWSMP")
    ident = md.identification[0]
    assert ident.title == "cat-villages 圖層" and ident.alternatetitle == "Villages"
    assert ident.abstract == "各村里界線" and ident.topiccategory == ["boundaries"]
    assert {"村里", "界線", "行政界線"} <= {k for block in ident.keywords for k in block.keywords for k in [k.name]}
    assert (ident.denominators, ident.uselimitation) == (["5000"], ["政府資料開放授權條款第1版"])
    assert ident.contact[0].organization == "地政局測量科" and ident.contact[0].email == "wang@city.gov.tw"
    assert [(d.type, d.date) for d in ident.date] == [("creation", "2023-03-01"), ("revision", "2024-09-28")]
    assert (ident.temporalextent_start, ident.temporalextent_end) == ("2023-01-01", None)
    box = ident.bbox
    assert (float(box.minx), float(box.miny), float(box.maxx), float(box.maxy)) == (121.2, 24.9, 121.4, 25.1)
    assert md.referencesystem.code == "EPSG:3826"
    links = {o.protocol: o.url for o in md.distribution.online}
    assert links["OGC:WMS"].endswith("/ows?service=WMS&request=GetCapabilities")
    assert links["OGC:API-Features"].endswith("/ogcapi/collections/cat-villages")
    assert links["WWW:DOWNLOAD-1.0-http--download"].endswith("/api/v1/layers/cat-villages/download/")
    assert md.dataquality.lineage == "由內政部資料轉入"
    # the TWD97 extent beside the WGS84 one
    positions = etree.fromstring(answer.content).findtext(".//{http://www.opengis.net/gml}posList").split()
    assert 260_000 < float(positions[0]) < 290_000 and 2_750_000 < float(positions[1]) < 2_790_000
    assert iso19139.read(answer.content)["update_frequency"] == "annually"
    # a statistical table is a non-geographic dataset, without a CRS
    table = MD_Metadata(etree.fromstring(api().get("/api/v1/layers/cat-population/metadata.xml").content))
    assert table.hierarchy == "nonGeographicDataset" and table.referencesystem is None
    # a restricted layer is missing for those who may not see it
    assert api().get("/api/v1/layers/cat-classified/metadata.xml").status_code == 404
    assert api(world["driver"]).get("/api/v1/layers/cat-classified/metadata.xml").status_code == 404
    assert api(world["clerk"]).get("/api/v1/layers/cat-classified/metadata.xml").status_code == 200


# ---- ISO 19139 import ----------------------------------------------------------------------------------------

def post_xml(client, slug, data: bytes, apply=False):
    return client.generic("POST", f"/api/v1/layers/{slug}/metadata/import/{'?apply=true' if apply else ''}", data,
                          content_type="application/xml")


@needs_tgos
@pytest.mark.django_db
def test_a_tgos_record_fills_a_layer_after_a_preview_and_round_trips():
    world = make_world()
    clerk, data = api(world["clerk"]), TGOS_VILLAGES.read_bytes()
    preview = post_xml(clerk, "cat-staff", data)
    assert preview.status_code == 200, preview.content
    changes = {c["field"]: c["new"] for c in preview.json()["changes"]}
    assert changes["title_zh"] == "村里界圖(TWD97經緯度)" and changes["topic_category"] == "boundaries"
    assert changes["update_frequency"] == "asNeeded" and changes["scale_denominator"] == 5000
    assert changes["creation_date"] == "2017-12-25" and changes["revision_date"] == "2023-09-28"
    assert changes["contact_organisation"] == "內政部地政司" and changes["contact_email"] == "moi1755@moi.gov.tw"
    assert "村里界" in changes["keywords"] and changes["lineage"].startswith("1.有關行政區界清查不一致處")
    assert Layer.objects.get(slug="cat-staff").title_zh == "cat-staff 圖層"  # a preview writes nothing
    applied = post_xml(clerk, "cat-staff", data, apply=True)
    assert applied.status_code == 200 and applied.json()["applied"]
    layer = Layer.objects.get(slug="cat-staff")
    assert (layer.title_zh, layer.topic_category, layer.scale_denominator) == \
        ("村里界圖(TWD97經緯度)", "boundaries", 5000)
    # round trip: our record of the layer reads back to the same fields, and a second import changes nothing
    ours = api(world["clerk"]).get("/api/v1/layers/cat-staff/metadata.xml").content
    read_back = iso19139.read(ours)
    for field, value in iso19139.read(data).items():
        assert read_back[field] == value, field
    assert post_xml(clerk, "cat-staff", ours).json()["changes"] == []
    # the other TGOS record reads too (same template)
    assert iso19139.read(TGOS_TOWNS.read_bytes())["title_zh"] == "鄉鎮市區界線(TWD97經緯度)"


@pytest.mark.django_db
def test_a_bad_record_is_a_400_naming_the_element_and_nothing_is_written():
    world = make_world()
    clerk = api(world["clerk"])
    broken = post_xml(clerk, "cat-staff", b"<gmd:MD_Metadata xmlns:gmd='http://www.isotc211.org/2005/gmd'>")
    assert broken.status_code == 400 and "line 1" in broken.json()["xml"]
    bad_topic = iso19139.record(Layer.objects.get(slug="cat-villages"), "http://x").replace(
        b">boundaries<", b">borders<")
    answer = post_xml(clerk, "cat-staff", bad_topic)
    assert answer.status_code == 400 and "gmd:topicCategory" in answer.json()["xml"]
    assert "'borders'" in answer.json()["xml"]
    bad_mail = iso19139.record(Layer.objects.get(slug="cat-villages"), "http://x").replace(
        b"wang@city.gov.tw", b"not-an-address")
    answer = post_xml(clerk, "cat-staff", bad_mail)
    assert answer.status_code == 400 and "electronicMailAddress" in str(answer.json()["contact_email"])
    if TGOS_19115_3.exists():  # ISO 19115-3 is not ISO 19139: the root element is named
        answer = post_xml(clerk, "cat-staff", TGOS_19115_3.read_bytes())
        assert answer.status_code == 400 and "MD_Metadata" in answer.json()["xml"] and "mdb" in answer.json()["xml"]
    assert Layer.objects.get(slug="cat-staff").title_zh == "cat-staff 圖層"
    # who may: the owner agency (others who see it: 403; who do not: 404)
    record = iso19139.record(Layer.objects.get(slug="cat-villages"), "http://x")
    assert post_xml(api(world["driver"]), "cat-staff", record).status_code == 403
    assert post_xml(api(world["driver"]), "cat-classified", record).status_code == 404
    assert post_xml(api(), "cat-villages", record).status_code == 403


# ---- CSW -----------------------------------------------------------------------------------------------------

@pytest.fixture
def csw_world(transactional_db, live_server):
    """Layers committed (pycsw reads the view on its own connection) and the live server's /csw."""
    return {**make_world(), "url": live_server.url + "/csw"}


def test_csw_2_and_3_with_owslib_show_exactly_the_public_layers(csw_world):
    from owslib.catalogue.csw3 import CatalogueServiceWeb as Csw3
    from owslib.csw import CatalogueServiceWeb as Csw2
    from owslib.fes import BBox, PropertyIsLike

    public = sorted(Layer.objects.visible_to(None).values_list("slug", flat=True))
    assert public == ["cat-population", "cat-villages"]
    csw = Csw2(csw_world["url"], timeout=30)
    assert csw.identification.type == "CSW" and "GetRecords" in [op.name for op in csw.operations]
    csw.getrecords2(maxrecords=50, esn="full")
    assert csw.results["matches"] == len(public) and sorted(csw.records) == public
    assert csw.records["cat-villages"].title == "cat-villages 圖層"
    assert "cat-classified" not in csw.response.decode() and "CLASSIFIED" not in csw.response.decode()
    # ISO 19139 output: our full TWSMP record
    csw.getrecords2(maxrecords=50, esn="full", outputschema="http://www.isotc211.org/2005/gmd")
    assert sorted(csw.records) == public
    assert csw.records["cat-villages"].identification[0].topiccategory == ["boundaries"]
    # constraints: a text filter, a bounding box, CQL
    csw.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%村里%")], maxrecords=50)
    assert sorted(csw.records) == public
    csw.getrecords2(constraints=[BBox([24.8, 121.1, 25.2, 121.5])], maxrecords=50)
    assert sorted(csw.records) == ["cat-villages"]
    csw.getrecords2(cql="dc:title like '%圖層%'", maxrecords=50)
    assert sorted(csw.records) == ["cat-villages"]
    csw.getrecordbyid(["cat-villages", "cat-classified"])
    assert sorted(csw.records) == ["cat-villages"]
    # CSW 3.0
    csw3 = Csw3(csw_world["url"], timeout=30)
    assert csw3.version == "3.0.0"
    csw3.getrecords(maxrecords=50, esn="full")
    assert csw3.results["matches"] == len(public) and sorted(csw3.records) == public
    csw3.getrecordbyid(["cat-villages"])  # CSW 3.0 answers with the record itself (OWSLib lists no records then)
    assert b"<dc:identifier>cat-villages</dc:identifier>" in csw3.response
    # a hidden record answers as an unknown one: CSW 3.0's 404 NotFound
    for hidden_or_missing in ("cat-classified", "cat-nowhere"):
        with pytest.raises(requests.HTTPError, match="404"):
            csw3.getrecordbyid([hidden_or_missing])


def test_csw_shows_a_restricted_layer_to_its_agency_only(csw_world, client):
    from owslib.csw import CatalogueServiceWeb as Csw2

    query = ("?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&elementsetname=brief"
             "&resulttype=results&maxrecords=50")
    client.force_login(csw_world["driver"])
    body = client.get("/csw" + query).content.decode()
    assert "cat-staff" in body and "cat-classified" not in body
    client.force_login(csw_world["clerk"])
    assert "cat-classified" in client.get("/csw" + query).content.decode()
    assert 'numberOfRecordsMatched="4"' in client.get("/csw" + query).content.decode()
    describe = Csw2(csw_world["url"], timeout=30)
    describe.describerecord(typename="csw:Record")
    assert b"SummaryRecord" in describe.response  # the schema, not a record: the same for everyone
