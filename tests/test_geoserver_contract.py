"""Contract tests of the GeoServer engine: every REST request it makes is checked against GeoServer's own REST API
specification (../shared/data/geoserver-rest-api), with HTTP intercepted by an in-memory fake GeoServer catalog.
No real GeoServer runs here (see test_geoserver_integration.py for that)."""

import socket

import pytest
import responses
from django.contrib.gis.geos import Polygon
from geoserver_fake import FakeGeoServer
from geoserver_spec import load_routes, problems, spec_dir
from lxml import etree

from layers.models import Layer, Style, Theme
from layers.ogc.base import PublishError
from layers.ogc.geoserver import GeoServerEngine, theme_group_name
from layers.ogc.sld import SLD_NS

pytestmark = pytest.mark.django_db
URL = "http://geoserver.test/geoserver"
WS = "civgis"
DB_PASSWORD = "p&ss<w>rd"
SLD = {"sld": SLD_NS}


@pytest.fixture(scope="module")
def routes():
    folder = spec_dir()
    if not any(folder.glob("*.yaml")):
        pytest.skip(f"GeoServer REST specification not found in {folder} (or set GEOSERVER_REST_SPECS)")
    return load_routes(folder)


@pytest.fixture
def fake(settings, routes):
    settings.GEOSERVER_DATABASE_URL = f"postgis://civgis:{DB_PASSWORD}@postgis:5432/civgis"
    settings.GEOSERVER_DATA_PREFIX = "/data/media"
    server = FakeGeoServer(URL)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server
    assert_conform(routes, server.calls)  # every request of every test here


@pytest.fixture
def engine():
    return GeoServerEngine(URL, "admin", "secret", workspace=WS)


@pytest.fixture
def roads(db):
    layer = Layer.objects.create(
        slug="roads", title_zh="道路 & 橋梁", title_en="Roads", abstract="<市區> 道路中心線", keywords=["交通", "道路"],
        theme=Theme.objects.get(slug="roads"), kind=Layer.Kind.VECTOR, geometry_type="MultiLineString",
        table_name="roads_v1", srid=3826, native_extent=[250000.0, 2740000.0, 290000.0, 2780000.0],
        extent=Polygon.from_bbox((121.0, 24.7, 121.4, 25.1)))
    Style.objects.create(layer=layer, kind=Style.Kind.CATEGORIZED, attribute="road_class", classes=[
        {"value": "快速道路", "label": "快速道路", "color": "#e31a1c"},
        {"value": "主要道路", "label": "主要道路", "color": "#ff7f00"},
        {"value": None, "label": "其他 (other)", "color": "#bdbdbd", "other": True}])
    return layer


@pytest.fixture
def dem(db):
    layer = Layer.objects.create(slug="dem", title_zh="數值地形模型", kind=Layer.Kind.RASTER, srid=3826,
                                 theme=Theme.objects.get(slug="roads"), raster_path="rasters/dem/v2.tif")
    Style.objects.create(layer=layer, classes=[{"min": 0.0, "max": 50.0, "label": "0 – 50", "color": "#ffffb2"},
                                               {"min": 50.0, "max": 300.0, "label": "50 – 300", "color": "#bd0026"}])
    return layer


def assert_conform(routes, calls):
    assert calls, "the engine made no request"
    bad = {str(c): p for c in calls if (p := problems(routes, c))}
    assert not bad, bad


def xml(body: bytes):
    return etree.fromstring(body)


def ws(*parts):
    return "/".join(["/workspaces", WS, *parts])


def group_path(theme_slug):
    return ws("layergroups", theme_group_name(Theme.objects.get(slug=theme_slug)))


def test_publish_vector_layer(fake, engine, roads):
    engine.publish(roads)

    posted = {fake.path(c.url) for c in fake.calls if c.method == "POST"}
    assert posted == {"/workspaces", ws("datastores"), ws("datastores/layerdata/featuretypes"), ws("styles"),
                      ws("layergroups")}
    store = xml(fake.resources[ws("datastores/layerdata")])
    params = {e.get("key"): e.text for e in store.iterfind("connectionParameters/entry")}
    assert (params["host"], params["passwd"], params["schema"]) == ("postgis", DB_PASSWORD, "layerdata")
    ft = xml(fake.resources[ws("datastores/layerdata/featuretypes/roads")])
    assert (ft.findtext("nativeName"), ft.findtext("title"), ft.findtext("srs")) == ("roads_v1", roads.title_zh,
                                                                                     "EPSG:3826")
    assert ft.findtext("abstract") == roads.abstract
    assert [k.text for k in ft.iterfind("keywords/string")] == roads.keywords
    assert float(ft.findtext("nativeBoundingBox/maxx")) == roads.native_extent[2]

    sld = xml(fake.slds[ws("styles/roads")])
    assert [t.text for t in sld.iterfind(".//sld:Rule/sld:Title", SLD)] == [c["label"] for c in roads.style.classes]
    layer = xml(fake.resources[ws("layers/roads")])
    assert layer.findtext("defaultStyle/name") == f"{WS}:roads"

    assert fake.group_members(group_path("roads")) == [f"{WS}:roads"]
    assert fake.group_members(group_path("transport")) == [f"{WS}:{theme_group_name(roads.theme)}"]
    group = xml(fake.resources[group_path("roads")])
    assert (group.findtext("mode"), group.findtext("title"), group.findtext("workspace/name")) == ("NAMED", "道路",
                                                                                                    WS)


def test_publish_raster_layer(fake, engine, dem):
    engine.publish(dem)

    upload = next(c for c in fake.calls if c.url.split("?")[0].endswith("/coveragestores/dem/external.geotiff"))
    assert (upload.method, upload.body) == ("PUT", b"file:/data/media/rasters/dem/v2.tif")
    assert "coverageName=dem" in upload.url
    coverage = xml(fake.resources[ws("coveragestores/dem/coverages/dem")])
    assert coverage.findtext("title") == dem.title_zh
    assert ws("layers/dem") in fake.resources
    sld = xml(fake.slds[ws("styles/dem")])
    entries = sld.findall(".//sld:RasterSymbolizer/sld:ColorMap/sld:ColorMapEntry", SLD)
    assert [(e.get("label"), e.get("color")) for e in entries] == [(c["label"], c["color"])
                                                                   for c in dem.style.classes]
    assert fake.group_members(group_path("roads")) == [f"{WS}:dem"]


def test_publishing_twice_equals_publishing_once(fake, engine, roads, dem):
    engine.publish(roads)
    engine.publish(dem)
    first = (dict(fake.resources), dict(fake.slds))
    done = len(fake.calls)

    engine.publish(roads)
    engine.publish(dem)

    again = fake.calls[done:]
    assert again and not [str(c) for c in again if c.method == "POST"]
    assert (fake.resources, fake.slds) == first
    assert fake.group_members(group_path("roads")) == [f"{WS}:roads", f"{WS}:dem"]


def test_push_style_updates_the_style_in_place(fake, engine, roads):
    engine.publish(roads)
    done = len(fake.calls)
    roads.style.classes = [{**c, "color": "#123456"} for c in roads.style.classes]
    roads.style.stroke_width = 3.5
    roads.style.save()

    engine.push_style(roads)

    calls = fake.calls[done:]
    assert not [str(c) for c in calls if c.method in ("POST", "DELETE")]
    put = next(c for c in calls if fake.path(c.url) == ws("styles/roads") and c.method == "PUT")
    assert put.content_type == "application/vnd.ogc.sld+xml"
    sld = xml(fake.slds[ws("styles/roads")])
    strokes = sld.findall(".//sld:LineSymbolizer/sld:Stroke/sld:CssParameter[@name='stroke']", SLD)
    widths = sld.findall(".//sld:LineSymbolizer/sld:Stroke/sld:CssParameter[@name='stroke-width']", SLD)
    assert [s.text for s in strokes] == ["#123456"] * len(roads.style.classes)
    assert {w.text for w in widths} == {"3.5"}


def test_withdraw_leaves_nothing_of_the_layer_and_is_idempotent(fake, engine, roads, dem):
    engine.publish(roads)
    engine.publish(dem)

    engine.withdraw("roads")
    assert fake.group_members(group_path("roads")) == [f"{WS}:dem"]
    engine.withdraw("dem")

    assert leftovers(fake, "roads") == [] and leftovers(fake, "dem") == []
    assert fake.groups() == {}  # the theme groups went with their last layer, the parent with its last group
    assert ws("datastores/layerdata") in fake.resources  # shared by all vector layers
    done = len(fake.calls)
    engine.withdraw("roads")
    engine.withdraw("dem")
    assert {c.method for c in fake.calls[done:]} == {"GET"}


def leftovers(fake, slug) -> list[str]:
    """Resources, styles and group memberships that still name the layer."""
    paths = [p for p in [*fake.resources, *fake.slds] if slug in p.split("/")]
    members = [g for g, m in fake.groups().items() if f"{WS}:{slug}" in m]
    return paths + members


def test_withdraw_from_an_empty_geoserver_does_nothing(fake, engine):
    engine.withdraw("never-published")
    assert [(c.method, fake.path(c.url)) for c in fake.calls] == [("GET", ws())]


def test_a_layer_moved_to_another_theme_leaves_its_old_group(fake, engine, roads):
    engine.publish(roads)
    roads.theme = Theme.objects.get(slug="flooding")
    roads.save()

    engine.publish(roads)

    assert fake.groups() == {group_path("flooding"): [f"{WS}:roads"],
                             group_path("disaster"): [f"{WS}:{theme_group_name(roads.theme)}"]}


def test_a_renamed_theme_retitles_its_group(fake, engine, roads):
    engine.publish(roads)
    Theme.objects.filter(slug="roads").update(name_zh="道路路網")
    roads.refresh_from_db()

    engine.publish(roads)

    group = xml(fake.resources[group_path("roads")])
    assert group.findtext("title") == "道路路網"
    assert fake.group_members(group_path("roads")) == [f"{WS}:roads"]


@pytest.mark.parametrize("method, path, what", [
    ("POST", "/workspaces", "creating workspace"),
    ("POST", "/workspaces/civgis/datastores/layerdata/featuretypes", "POST /workspaces/civgis/datastores"),
    ("PUT", "/workspaces/civgis/styles/roads", "PUT /workspaces/civgis/styles/roads"),
])
def test_refusals_raise_publish_error_naming_the_call(fake, engine, roads, method, path, what):
    if method == "PUT":
        engine.publish(roads)  # the style exists, so the update is a PUT
    fake.fail[(method, path)] = 500
    with pytest.raises(PublishError) as err:
        engine.publish(roads)
    assert what in str(err.value)
    assert "HTTP 500" in str(err.value) and "simulated failure" in str(err.value)


def test_unreachable_geoserver_is_a_publish_error(roads):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PublishError, match="unreachable"):
        GeoServerEngine(f"http://127.0.0.1:{port}/geoserver", "admin", "x", workspace=WS).publish(roads)


def test_a_table_without_geometry_is_refused(db):
    table = Layer(slug="budget", title_zh="預算", kind=Layer.Kind.TABLE)
    with pytest.raises(PublishError, match="without geometry"):
        GeoServerEngine(URL, "admin", "x", workspace=WS).publish(table)


def test_the_checker_flags_what_geoserver_rest_gets_wrong(fake, engine, routes, roads):
    """Why the engine sends some requests itself: the package's own calls, checked like the engine's."""
    engine.publish(roads)
    package = engine.rest.package
    done = len(fake.calls)
    package.get_workspace(WS)
    with pytest.raises(Exception):  # noqa: B017 - the fake refuses the bodies; their requests are what matter
        package.publish_featurestore("layerdata", "roads_v1", workspace=WS, title="道路 & 橋梁")
    with pytest.raises(Exception):  # noqa: B017
        package.create_layergroup(name="g", title="t", layers=["roads"], workspace=WS)
    found = {fake.path(c.url): problems(routes, c) for c in fake.calls[done:]
             if c.method != "GET" or "recurse" in c.url}
    del fake.calls[done:]  # known-bad requests: keep them out of the fixture's final check

    assert any("recurse" in p for p in found[ws()])
    featuretype = found[ws("datastores/layerdata/featuretypes")]
    assert any("ends in '/'" in p for p in featuretype) and any("does not parse" in p for p in featuretype)
    group = found["/layergroups"]
    assert any("ends in '/'" in p for p in group) and any("mode='single'" in p for p in group)
