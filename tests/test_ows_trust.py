"""/ows answers complete data, shows nothing a caller may not see, and answers bad requests with an OGC exception
report (HTTP 400), never a 500: features on a layer's edge, capabilities' bounding boxes next to a restricted
layer far away, hostile or odd XML, WCS on a vector layer, bad paging, and a bounded hypothesis fuzz of the KVP
parameters and POSTed XML."""

import re

import pytest
from conftest import committed_demo_city
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree

from geo.crs import transform
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db

# Points whose extent ends on values a rounding to the nearest mm moves inward (x) or that are exact mm (y):
# corners, the middle of each edge and the centre.
EDGE_X = ("279000.0006", "281000.0004")
EDGE_Y = ("2763000.25", "2764000.5")
SECRET_TITLE = "機密水井測試圖層"


def _csv(path, rows) -> str:
    path.write_text("name,x,y\n" + "".join(f"{name},{x},{y}\n" for name, x, y in rows), encoding="utf-8")
    return str(path)


def _import(path: str, **options) -> Layer:
    job = run_job(jobs.create(path, path.rsplit("/", 1)[-1], {"mode": "upsert", "crs": "EPSG:3826", **options}).pk)
    assert job.status == "succeeded", job.errors
    return job.layers.get()


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small demo city, plus a public layer of points on its own extent's edges and a restricted layer ~60 km
    away from everything public, in the same theme as a public layer; all published."""
    folder = tmp_path_factory.mktemp("ows-trust")
    with committed_demo_city(django_db_blocker, seed=11, size=0.2):
        (left, right), (bottom, top) = EDGE_X, EDGE_Y
        middle_x, middle_y = "280000", "2763500"
        edge = [(f"p{i}", x, y) for i, (x, y) in enumerate(
            [(x, y) for x in (left, middle_x, right) for y in (bottom, middle_y, top)])]
        _import(_csv(folder / "edge_points.csv", edge), slug="edge-points", title="邊界點", visibility="public")
        facilities = Layer.objects.get(slug="facilities")
        secret = _import(_csv(folder / "secret_wells.csv", [("w1", "330000", "2820000"), ("w2", "331000", "2821000")]),
                         slug="secret-wells", title=SECRET_TITLE, visibility="restricted",
                         theme=facilities.theme.slug, owner_agency=Group.objects.get_or_create(name="水務局")[0].pk)
        assert secret.visibility == "restricted"
        publishing.publish_all()
        yield
        import mapscript

        mapscript.msConnPoolCloseUnreferenced()  # MapServer keeps its PostGIS connections open between requests


def ows(params=None, body=None, path="/ows"):
    client = Client(raise_request_exception=False)
    if body is not None:
        return client.post(path, data=body, content_type="application/xml")
    return client.get(path, params)


def hits(slug: str, version: str) -> int:
    name = "TYPENAME" if version == "1.1.0" else "TYPENAMES"
    answer = ows({"SERVICE": "WFS", "VERSION": version, "REQUEST": "GetFeature", name: slug, "RESULTTYPE": "hits"})
    assert answer.status_code == 200, answer.content[:500]
    return int(re.search(rb'(?:numberOfFeatures|numberMatched)="(\d+)"', answer.content).group(1))


def sql_count(slug: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM layerdata."{Layer.objects.get(slug=slug).table_name}"')
        return cur.fetchone()[0]


# 1. completeness on the edges ----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_wfs_keeps_the_points_on_the_layer_extents_edges(city, version):
    layer = Layer.objects.get(slug="edge-points")
    assert layer.native_extent == [float(EDGE_X[0]), float(EDGE_Y[0]), float(EDGE_X[1]), float(EDGE_Y[1])]
    assert hits("edge-points", version) == sql_count("edge-points") == 9
    name = "TYPENAME" if version == "1.1.0" else "TYPENAMES"
    features = ows({"SERVICE": "WFS", "VERSION": version, "REQUEST": "GetFeature", name: "edge-points",
                    "OUTPUTFORMAT": "geojson"}).json()["features"]
    assert sorted(f["properties"]["name"] for f in features) == [f"p{i}" for i in range(9)]


def test_wfs_hits_equal_the_database_for_every_public_demo_layer(city):
    for slug in Layer.objects.filter(kind="vector", visibility="public").values_list("slug", flat=True):
        assert hits(slug, "1.1.0") == hits(slug, "2.0.0") == sql_count(slug), slug


# 2. capabilities show nothing of a restricted layer -----------------------------------------------------------

CAPABILITIES = [("WMS", "1.1.1"), ("WMS", "1.3.0"), ("WFS", "1.1.0"), ("WFS", "2.0.0"), ("WCS", "1.0.0"),
                ("WCS", "1.1.1"), ("WCS", "2.0.1")]
CORNERS = {"minx", "miny", "maxx", "maxy"}


def _boxes(document: bytes):
    """Every bounding box of a capabilities document as (crs, minx, miny, maxx, maxy), lon/lat ones as EPSG:4326
    with x = lon (WMS 1.3.0's EPSG:4326 BoundingBox is lat/lon: swapped back)."""
    root = etree.fromstring(document)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = etree.QName(el).localname
        if CORNERS <= set(el.attrib):
            crs = el.get("CRS") or el.get("SRS") or "EPSG:4326"  # LatLonBoundingBox has no CRS
            x1, y1, x2, y2 = (float(el.get(k)) for k in ("minx", "miny", "maxx", "maxy"))
            if crs == "EPSG:4326" and el.get("CRS"):
                x1, y1, x2, y2 = y1, x1, y2, x2
            yield crs, x1, y1, x2, y2
        elif tag == "EX_GeographicBoundingBox":
            v = {etree.QName(c).localname: float(c.text) for c in el if isinstance(c.tag, str)}
            yield "EPSG:4326", v["westBoundLongitude"], v["southBoundLatitude"], v["eastBoundLongitude"], \
                v["northBoundLatitude"]
        elif tag in ("WGS84BoundingBox", "lonLatEnvelope", "Envelope", "BoundingBox"):
            corners = [c.text.split() for c in el if isinstance(c.tag, str) and c.text and
                       etree.QName(c).localname in ("LowerCorner", "UpperCorner", "pos")]
            if len(corners) == 2:
                crs = "EPSG:4326" if tag in ("WGS84BoundingBox", "lonLatEnvelope") else el.get("crs", "")
                (x1, y1), (x2, y2) = ([float(v) for v in c[:2]] for c in corners)
                yield crs, x1, y1, x2, y2


def _public_union(srid: int, margin_m: float = 1000.0):
    """The union of the public layers' extents, grown by `margin_m`, in `srid` (x east, y north)."""
    import shapely

    boxes = [shapely.box(*lyr.native_extent).buffer(margin_m, join_style="mitre")
             for lyr in Layer.objects.filter(visibility="public", kind__in=["vector", "raster"])]
    union = shapely.segmentize(shapely.box(*shapely.union_all(boxes).bounds), 200)
    return shapely.box(*transform(union, settings.WORKING_SRID, srid).bounds)


@pytest.mark.parametrize(("service", "version"), CAPABILITIES)
@pytest.mark.parametrize("path", ["/ows", "/ows/{theme}"])
def test_anonymous_capabilities_bboxes_lie_within_the_public_layers(city, service, version, path):
    import shapely

    theme = Layer.objects.get(slug="secret-wells").theme
    answer = ows({"SERVICE": service, "VERSION": version, "REQUEST": "GetCapabilities"},
                 path=path.format(theme=theme.slug))
    assert answer.status_code == 200, answer.content[:500]
    assert b"secret-wells" not in answer.content and SECRET_TITLE.encode() not in answer.content
    boxes = list(_boxes(answer.content))
    if service == "WMS":
        assert len(boxes) > 5
    for crs, *box in boxes:
        srid = int(crs.rsplit(":", 1)[-1]) if crs else settings.WORKING_SRID
        if srid == 900913:
            srid = 3857
        assert _public_union(srid).contains(shapely.box(*box)), (crs, box)


def test_the_restricted_layer_is_far_from_the_public_ones(city):
    # the premise of the test above: a union of every layer would reach ~60 km further
    import shapely

    secret = shapely.box(*Layer.objects.get(slug="secret-wells").native_extent)
    assert not _public_union(settings.WORKING_SRID, 20_000).intersects(secret)


# 3. clear errors instead of crashes ---------------------------------------------------------------------------

GET_FEATURE = ('<wfs:GetFeature service="WFS" version="2.0.0" outputFormat="geojson" '
               'xmlns:wfs="http://www.opengis.net/wfs/2.0"><wfs:Query typeNames="edge-points"/></wfs:GetFeature>')


@pytest.mark.parametrize("body", [
    "<!-- a comment first -->" + GET_FEATURE,
    '<?xml version="1.0" encoding="UTF-8"?><?civgis note="a processing instruction"?>' + GET_FEATURE,
    GET_FEATURE.replace("<wfs:Query", "<!-- the layer --><wfs:Query").replace("/></wfs", "/><?pi x?></wfs"),
])
def test_posted_xml_with_comments_or_processing_instructions_just_works(city, body):
    answer = ows(body=body.encode())
    assert answer.status_code == 200, answer.content[:500]
    assert len(answer.json()["features"]) == 9


@pytest.mark.parametrize("body", [
    '<!DOCTYPE wfs:GetFeature [<!ENTITY x "edge-points">]>' + GET_FEATURE.replace('"edge-points"', '"&x;"'),
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
    '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
    '<!DOCTYPE r [<!ENTITY f SYSTEM "file:///etc/passwd">]>' + GET_FEATURE.replace('"edge-points"', '"&f;"'),
])
def test_posted_xml_with_a_doctype_is_refused(city, body):
    answer = ows(body=body.encode())
    assert answer.status_code == 400
    assert b"OperationParsingFailed" in answer.content and b"DOCTYPE" in answer.content
    assert b"root:" not in answer.content


@pytest.mark.parametrize("version", ["1.0.0", "2.0.1"])
def test_wcs_getcoverage_of_a_vector_layer_is_refused_clearly(city, version):
    name = "COVERAGE" if version == "1.0.0" else "COVERAGEID"
    answer = ows({"SERVICE": "WCS", "VERSION": version, "REQUEST": "GetCoverage", name: "roads", "CRS": "EPSG:3826",
                  "FORMAT": "GTiff", "BBOX": "274000,2760000,275000,2761000", "WIDTH": "10", "HEIGHT": "10"})
    assert answer.status_code == 400
    assert b"InvalidParameterValue" in answer.content and b"vector layer" in answer.content
    assert f'locator="{name.lower()}"'.encode() in answer.content


@pytest.mark.parametrize(("version", "parameter", "value"), [
    ("2.0.0", "COUNT", "-1"), ("2.0.0", "COUNT", "0"), ("2.0.0", "COUNT", "ten"), ("1.1.0", "MAXFEATURES", "x"),
    ("1.1.0", "MAXFEATURES", "-5"), ("2.0.0", "STARTINDEX", "abc"), ("2.0.0", "STARTINDEX", "-1"),
    ("1.1.0", "STARTINDEX", "1.5"),
])
def test_wfs_paging_parameters_out_of_range_are_invalid(city, version, parameter, value):
    answer = ows({"SERVICE": "WFS", "VERSION": version, "REQUEST": "GetFeature", "TYPENAMES": "edge-points",
                  parameter: value})
    assert answer.status_code == 400
    report = etree.fromstring(answer.content)
    exception = next(el for el in report.iter() if etree.QName(el).localname == "Exception")
    assert exception.get("exceptionCode") == "InvalidParameterValue"
    assert exception.get("locator") == parameter.lower()


# 4. fuzzing: zero 5xx, no traceback, no server path ------------------------------------------------------------

LAYER_NAMES = st.sampled_from(["roads", "villages", "facilities", "demo-dem", "edge-points", "civgis:roads",
                               "ms:villages", "roads,villages", "secret-wells", "flood-zones", "no-such", "",
                               "交通", "roads,,", "'; DROP TABLE x;--", "../../etc/passwd", "%00", "a" * 300])
GARBAGE = st.one_of(st.sampled_from(["", " ", "-1", "0", "1e309", "nan", "inf", "0x10", "１２", "\u202e", "null",
                                     "<x/>", "%", "\\", "{}", "😀", "a" * 2000]),
                    st.text(max_size=30))
FILTERS = st.sampled_from([
    '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo><fes:ValueReference>name'
    '</fes:ValueReference><fes:Literal>p1</fes:Literal></fes:PropertyIsEqualTo></fes:Filter>',
    '<Filter><PropertyIsEqualTo><PropertyName>nosuchcolumn</PropertyName><Literal>1</Literal>'
    '</PropertyIsEqualTo></Filter>',
    "<Filter><BBOX><PropertyName>geom</PropertyName><Envelope><lowerCorner>a b</lowerCorner></Envelope></BBOX>"
    "</Filter>",
    "<fes:Filter>", '<!DOCTYPE f [<!ENTITY e "x">]><Filter>&e;</Filter>', "not xml", "<Filter/>",
    "<Filter><!-- c --><?p?></Filter>"])
KVP = {
    "SERVICE": st.sampled_from(["WMS", "WFS", "WCS", "wfs", "WMTS", ""]),
    "VERSION": st.sampled_from(["1.1.1", "1.3.0", "1.0.0", "1.1.0", "2.0.0", "2.0.1", "9.9", "x", ""]),
    "REQUEST": st.sampled_from(["GetCapabilities", "GetMap", "GetFeatureInfo", "GetLegendGraphic", "GetFeature",
                                "DescribeFeatureType", "GetPropertyValue", "ListStoredQueries",
                                "DescribeStoredQueries", "DescribeCoverage", "GetCoverage", "GetStyles",
                                "Transaction", "LockFeature", "bogus", ""]),
    "LAYERS": LAYER_NAMES, "QUERY_LAYERS": LAYER_NAMES, "LAYER": LAYER_NAMES, "TYPENAME": LAYER_NAMES,
    "TYPENAMES": LAYER_NAMES, "COVERAGE": LAYER_NAMES, "COVERAGEID": LAYER_NAMES,
    "BBOX": st.one_of(st.sampled_from(["274000,2760000,282000,2766000", "121.2,24.9,121.4,25.1",
                                       "24.9,121.2,25.1,121.4,EPSG:4326", "1,1,0,0", "a,b,c,d", "1,2,3",
                                       "nan,nan,nan,nan", "-inf,-inf,inf,inf", "0,0,1e308,1e308",
                                       "274000,2760000,282000,2766000,urn:ogc:def:crs:EPSG::3826"]), GARBAGE),
    "CRS": st.sampled_from(["EPSG:3826", "EPSG:4326", "EPSG:3857", "CRS:84", "EPSG:999999", "EPSG:", "x"]),
    "SRS": st.sampled_from(["EPSG:3826", "EPSG:4326", "EPSG:900913", "EPSG:-1", "AUTO:42001,9001,121,24", ""]),
    "SRSNAME": st.sampled_from(["urn:ogc:def:crs:EPSG::4326", "EPSG:3826", "urn:x", ""]),
    "WIDTH": st.sampled_from(["1", "64", "0", "-1", "4097", "99999999999999999999", "abc", "1.5", ""]),
    "HEIGHT": st.sampled_from(["1", "64", "0", "-3", "4097", "abc", ""]),
    "FORMAT": st.sampled_from(["image/png", "image/jpeg", "GTiff", "image/tiff", "application/pdf", "x", ""]),
    "OUTPUTFORMAT": st.sampled_from(["geojson", "GML2", "application/gml+xml; version=3.2", "csv", "x"]),
    "INFO_FORMAT": st.sampled_from(["geojson", "text/plain", "application/vnd.ogc.gml", "text/html", "x"]),
    "COUNT": st.one_of(st.integers(-3, 20).map(str), GARBAGE),
    "MAXFEATURES": st.one_of(st.integers(-3, 20).map(str), GARBAGE),
    "STARTINDEX": st.one_of(st.integers(-3, 20).map(str), GARBAGE),
    "RESULTTYPE": st.sampled_from(["hits", "results", "HITS", "x", ""]),
    "FILTER": FILTERS,
    "PROPERTYNAME": st.sampled_from(["name", "geom", "nosuch", "name,kind", "*", ""]),
    "SORTBY": st.sampled_from(["name", "name DESC", "nosuch ASC", "fid+D", ""]),
    "RESOURCEID": st.sampled_from(["roads.1", "secret-wells.1", "x", ""]),
    "FEATUREID": st.sampled_from(["roads.1", "edge-points.3", "x.y.z"]),
    "STYLES": st.sampled_from(["", "default", "nosuch", ",,,"]),
    "TRANSPARENT": st.sampled_from(["TRUE", "false", "maybe"]),
    "I": st.sampled_from(["0", "5", "-1", "x"]), "J": st.sampled_from(["0", "5", "99999", "x"]),
    "X": st.sampled_from(["0", "5", "-1", "x"]), "Y": st.sampled_from(["0", "5", "x"]),
    "SUBSET": st.sampled_from(["x(274000,275000)", "y(2760000,2761000)", "Lat(24,25)", "x(a,b)", "q(1"]),
    "EXCEPTIONS": st.sampled_from(["XML", "application/vnd.ogc.se_inimage", "BLANK", "x"]),
    "SLD": st.sampled_from(["http://127.0.0.1:9/style.sld", "file:///etc/passwd", "x"]),
    "SLD_BODY": st.sampled_from(['<StyledLayerDescriptor version="1.0.0"/>', "<x", "<!DOCTYPE x [<!ENTITY e "
                                 'SYSTEM "file:///etc/passwd">]><x>&e;</x>']),
    "STOREDQUERY_ID": st.sampled_from(["urn:ogc:def:query:OGC-WFS::GetFeatureById", "x"]),
    "ID": st.sampled_from(["roads.1", "x"]),
    "TIME": GARBAGE, "SCALE": GARBAGE, "MAP": st.sampled_from(["/etc/passwd", "x.map"]),
}
CORE = ("SERVICE", "VERSION", "REQUEST")


@st.composite
def kvp_requests(draw):
    params = {key: draw(KVP[key]) for key in CORE if draw(st.integers(0, 9)) > 0}  # mostly present
    for key in draw(st.lists(st.sampled_from(sorted(set(KVP) - set(CORE))), max_size=7, unique=True)):
        params[key] = draw(KVP[key])
    if draw(st.booleans()):  # lower-case or mixed-case keys are the same parameters
        params = {key.lower() if i % 2 else key: v for i, (key, v) in enumerate(params.items())}
    return params


XML_REQUESTS = [
    GET_FEATURE,
    '<wfs:GetFeature service="WFS" version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" maxFeatures="{n}">'
    '<wfs:Query typeName="{layer}"/></wfs:GetFeature>',
    '<wfs:GetFeature service="WFS" version="2.0.0" count="{n}" startIndex="{n}" resultType="hits" '
    'xmlns:wfs="http://www.opengis.net/wfs/2.0"><wfs:Query typeNames="{layer}"/></wfs:GetFeature>',
    '<wfs:GetCapabilities service="WFS" xmlns:wfs="http://www.opengis.net/wfs/2.0"/>',
    '<wfs:DescribeFeatureType service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0">'
    "<wfs:TypeName>{layer}</wfs:TypeName></wfs:DescribeFeatureType>",
    '<wcs:GetCoverage service="WCS" version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0">'
    "<wcs:CoverageId>{layer}</wcs:CoverageId><wcs:format>image/tiff</wcs:format></wcs:GetCoverage>",
    '<wcs:DescribeCoverage service="WCS" version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0">'
    "<wcs:CoverageId>{layer}</wcs:CoverageId></wcs:DescribeCoverage>",
    '<GetMap service="WMS" version="1.3.0"><Layer>{layer}</Layer></GetMap>',
]


@st.composite
def xml_bodies(draw):
    body = draw(st.sampled_from(XML_REQUESTS)).format(layer=draw(LAYER_NAMES).replace("&", "&amp;")
                                                       .replace("<", "&lt;").replace('"', "&quot;"),
                                                       n=draw(st.sampled_from(["1", "-1", "x", "0", "3"])))
    mutation = draw(st.sampled_from(["none", "comment", "pi", "doctype", "truncate", "noise", "declaration",
                                     "utf16", "text"]))
    if mutation == "comment":
        body = "<!-- " + draw(st.text(max_size=20)).replace("--", "") + " -->" + body
    elif mutation == "pi":
        body = body.replace(">", "><?civgis x?>", 1)
    elif mutation == "doctype":
        body = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + body.replace("</", "&e;</", 1)
    elif mutation == "truncate":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif mutation == "noise":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.text(max_size=10)) + body[at:]
    elif mutation == "declaration":
        body = '<?xml version="1.0" encoding="' + draw(st.sampled_from(["UTF-8", "Big5", "nonsense"])) + '"?>' + body
    elif mutation == "text":
        body = draw(st.text(max_size=60))
    return body.encode("utf-16" if mutation == "utf16" else "utf-8", "surrogatepass")


SERVER_PATHS = [str(p).encode() for p in (settings.BASE_DIR, settings.DATA_DIR, settings.MEDIA_ROOT)]


def assert_clean(answer, tried):
    """No 5xx, no traceback, no server path (other than one the request itself carried, echoed back)."""
    body = answer.content
    assert answer.status_code < 500, (tried, body[:500])
    assert b"Traceback" not in body and b'File "' not in body, (tried, body[:500])
    if isinstance(tried, bytes):
        sent = tried.decode("utf-16") if tried.startswith(b"\xff\xfe") else tried.decode(errors="replace")
    else:
        sent = "\n".join(map(str, tried.values()))
    for path in [*SERVER_PATHS, b"/usr/", b"/tmp/", b"/etc/", b"/var/"]:
        assert path not in body or path.decode() in sent, (tried, path, body[:800])
    assert not re.search(rb"\w\.map\b", body), (tried, body[:800])  # a mapfile's name


FUZZ = hypothesis_settings(max_examples=120, derandomize=True, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
malformed: set[str] = set()  # distinct inputs answered with a 4xx, reported by the last test below


@FUZZ
@given(params=kvp_requests())
def test_fuzzed_kvp_requests_never_fail_on_the_server(city, params):
    answer = ows(params)
    assert_clean(answer, params)
    if 400 <= answer.status_code < 500:
        malformed.add(repr(sorted(params.items())))


@hypothesis_settings(FUZZ, max_examples=60)
@given(body=xml_bodies())
def test_fuzzed_xml_bodies_never_fail_on_the_server(city, body):
    answer = ows(body=body)
    assert_clean(answer, body)
    if 400 <= answer.status_code < 500:
        malformed.add(repr(body))


def test_fuzzing_tried_enough_malformed_inputs(city):
    print(f"\nOGC fuzzing: {len(malformed)} distinct malformed inputs answered with a 4xx")
    assert len(malformed) >= 40


@pytest.mark.parametrize(("extra", "locator"), [
    ({"SLD": "http://127.0.0.1:9/style.sld"}, "sld"),
    ({"SLD_BODY": '<StyledLayerDescriptor xmlns:xlink="http://www.w3.org/1999/xlink"><NamedLayer><Name>roads</Name>'
                  '<UserStyle><FeatureTypeStyle><Rule><PointSymbolizer><Graphic><ExternalGraphic><OnlineResource '
                  'xlink:href="http://127.0.0.1:9/x.png"/></ExternalGraphic></Graphic></PointSymbolizer></Rule>'
                  "</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"}, "sld_body"),
    ({"SLD_BODY": '<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><StyledLayerDescriptor>&e;'
                  "</StyledLayerDescriptor>"}, "sld_body"),
])
def test_wms_styles_make_the_server_fetch_nothing(city, extra, locator):
    answer = ows({"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "roads", "STYLES": "",
                  "SRS": "EPSG:3826", "BBOX": "274000,2760000,282000,2766000", "WIDTH": "64", "HEIGHT": "64",
                  "FORMAT": "image/png", **extra})
    assert answer.status_code == 400
    assert b'code="InvalidParameterValue"' in answer.content and f'locator="{locator}"'.encode() in answer.content


def test_engine_answers_with_cgi_headers_in_front_are_clean_reports(city):
    # MapServer writes `Status: 400` before its headers for some WFS filters it cannot read
    answer = ows({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "roads", "COUNT": "1",
                  "FILTER": '<Filter xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="x"/></Filter>'})
    assert answer.status_code == 400
    assert answer.content.startswith(b"<?xml") and etree.fromstring(answer.content).tag.endswith("ExceptionReport")
    assert answer["Content-Type"].startswith("text/xml")
