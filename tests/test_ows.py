"""/ows through real OGC clients: OWSLib (WMS 1.1.1 / 1.3.0, WFS 2.0) and GDAL's WFS driver, against the
embedded MapServer engine serving a small demo city over HTTP; figures checked against the database."""

import json
import re
import subprocess
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
import pytest
import requests
from conftest import committed_demo_city
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from lxml import etree
from owslib.fes2 import Filter, PropertyIsEqualTo
from owslib.wfs import WebFeatureService
from owslib.wms import WebMapService
from rasterio.io import MemoryFile
from rest_framework.authtoken.models import Token

from layers.models import Layer, Theme
from layers.ogc import mapfile, publishing
from layers.ogc.base import PublishError

# the data is committed by the module fixture (the engine reads it on its own connections); each test runs in
# a transaction that is rolled back, and asks for the test database through this mark
pytestmark = pytest.mark.django_db


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def ows_url(django_db_setup, django_db_blocker):
    """The demo city committed and published, served over HTTP by a thread of this process."""
    with committed_demo_city(django_db_blocker, seed=11, size=0.2):
        restricted = Layer.objects.get(slug="flood-zones")
        restricted.visibility = Layer.Visibility.RESTRICTED
        restricted.save()
        publishing.publish_all()
        server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server,
                             handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}/ows"
        server.shutdown()
        import mapscript

        mapscript.msConnPoolCloseUnreferenced()  # MapServer keeps its PostGIS connections open between requests
        User.objects.filter(username__startswith="ows-").delete()


@pytest.fixture(scope="module")
def token(ows_url):
    user = User.objects.create_user("ows-clerk", password="pw")
    return Token.objects.create(user=user).key


def sql_one(statement, params=None):
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()


def png_pixels(data: bytes) -> np.ndarray:
    """(bands, rows, cols) of a PNG answer; fails loudly on an exception report instead of an image."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:300]
    with MemoryFile(data) as mem, mem.open() as img:
        return img.read()


def painted(pixels: np.ndarray) -> int:
    """Pixels a layer drew: opaque ones on a transparent PNG, non-white ones on an opaque one."""
    if pixels.shape[0] == 4:
        return int((pixels[3] > 0).sum())
    return int((pixels[:3] < 250).any(axis=0).sum())


def layer_bbox(slug: str, srid: int) -> tuple[float, float, float, float]:
    table = Layer.objects.get(slug=slug).table_name
    return sql_one(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
                   f"ST_SetSRID(ST_Extent(geom), 3826), %s) AS e FROM layerdata.{table}) x", [srid])


def test_wms_130_capabilities_tree_titles_bboxes_and_only_public_layers(ows_url):
    wms = WebMapService(ows_url, version="1.3.0")
    assert wms.identification.title == "civgis 城市空間資料服務"
    public = set(Layer.objects.filter(visibility="public", kind__in=["vector", "raster"])
                 .values_list("slug", flat=True))
    named = {name for name in wms.contents if Layer.objects.filter(slug=name).exists()}
    assert named == public
    assert "parcels" not in wms.contents and "flood-zones" not in wms.contents  # internal, restricted
    roads = wms["roads"]
    assert roads.title == Layer.objects.get(slug="roads").title_zh
    assert {"EPSG:3826", "EPSG:4326", "EPSG:3857"} <= {bbox[4] for bbox in roads.crs_list}
    # the layer tree follows the themes: roads sit under 交通 › 道路
    chain, node = [], roads.parent
    while node is not None:
        chain.append(node.title)
        node = node.parent
    assert chain == ["道路", "交通", wms.identification.title]
    # groups are categories, not requestable layers (a group request would be refused as an unknown layer)
    raw = requests.get(ows_url, params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}).text
    assert "<Title>交通</Title>" in raw and "<Name>交通</Name>" not in raw
    west, south, east, north = layer_bbox("roads", 4326)
    assert roads.boundingBoxWGS84 == pytest.approx((west, south, east, north), abs=1e-4)


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_gdal_wms_driver_reads_the_capabilities_the_front_writes(ows_url, version):
    out = subprocess.run(["gdalinfo", f"WMS:{ows_url}?SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = set(re.findall(r"SUBDATASET_\d+_NAME=.*?LAYERS=([\w-]+)", out.stdout))
    public = set(Layer.objects.filter(visibility="public", kind__in=["vector", "raster"])
                 .values_list("slug", flat=True))
    assert names == public
    assert "SUBDATASET_1_DESC=" in out.stdout


def test_wms_getmap_draws_features_where_they_are_in_3857_and_4326(ows_url):
    for version in ("1.1.1", "1.3.0"):
        wms = WebMapService(ows_url, version=version)
        minx, miny, maxx, maxy = layer_bbox("buildings", 3857)
        pixels = png_pixels(wms.getmap(layers=["buildings"], srs="EPSG:3857", bbox=(minx, miny, maxx, maxy),
                                       size=(256, 256), format="image/png", transparent=True).read())
        assert painted(pixels) > 500
        # a box well away from the city: nothing drawn
        empty = png_pixels(wms.getmap(layers=["buildings"], srs="EPSG:3857",
                                      bbox=(minx - 50_000, miny - 50_000, minx - 40_000, miny - 40_000),
                                      size=(64, 64), format="image/png", transparent=True).read())
        assert painted(empty) == 0
    # WMS 1.3.0 in EPSG:4326 takes lat,lon order: the same picture as 1.1.1's lon,lat
    west, south, east, north = layer_bbox("roads", 4326)
    common = {"SERVICE": "WMS", "REQUEST": "GetMap", "LAYERS": "roads", "STYLES": "", "WIDTH": "200",
              "HEIGHT": "200", "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
    new = png_pixels(requests.get(ows_url, params={**common, "VERSION": "1.3.0", "CRS": "EPSG:4326",
                                                   "BBOX": f"{south},{west},{north},{east}"}).content)
    old = png_pixels(requests.get(ows_url, params={**common, "VERSION": "1.1.1", "SRS": "EPSG:4326",
                                                   "BBOX": f"{west},{south},{east},{north}"}).content)
    assert painted(new) > 300
    assert np.mean(new[3] != old[3]) < 0.01
    jpeg = requests.get(ows_url, params={**common, "VERSION": "1.1.1", "SRS": "EPSG:4326", "FORMAT": "image/jpeg",
                                         "BBOX": f"{west},{south},{east},{north}"})
    assert jpeg.headers["Content-Type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"


def test_wms_raster_layer_and_legend_follow_the_style(ows_url):
    wms = WebMapService(ows_url, version="1.3.0")
    minx, miny, maxx, maxy = Layer.objects.get(slug="demo-dem").native_extent
    dem = png_pixels(wms.getmap(layers=["demo-dem"], srs="EPSG:3826", bbox=(minx, miny, maxx, maxy), size=(128, 128),
                                format="image/png", transparent=True).read())
    assert painted(dem) > 0.9 * 128 * 128 and len(np.unique(dem[0])) > 3  # coloured by elevation
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "FORMAT": "image/png",
              "SLD_VERSION": "1.1.0"}
    facilities = Layer.objects.get(slug="facilities")
    style = facilities.style
    style.kind, style.attribute = "categorized", "kind"
    from layers.styles import compute_classes

    style.classes = compute_classes(style)
    style.save()
    publishing.apply("facilities", publishing.STYLE)
    single = png_pixels(requests.get(ows_url, params={**params, "LAYER": "roads"}).content)
    categories = png_pixels(requests.get(ows_url, params={**params, "LAYER": "facilities"}).content)
    # one legend row per class: the categorized legend is as many rows tall as the style has classes
    assert categories.shape[1] >= len(style.classes) * 12 > single.shape[1]
    # rendered here: the session's Celery worker may rewrite the file from the committed catalog meanwhile
    assert f'"[kind]" eq "{style.classes[0]["value"]}"' in mapfile.render(mapfile.published_layers())


def test_wms_getfeatureinfo_answers_the_feature_under_the_point(ows_url):
    fid, x, y, name = sql_one("SELECT fid, ST_X(p), ST_Y(p), name FROM (SELECT fid, name, ST_PointOnSurface(geom) AS p"
                              " FROM layerdata.villages ORDER BY fid LIMIT 1) v")
    params = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetFeatureInfo", "LAYERS": "villages",
              "QUERY_LAYERS": "villages", "SRS": "EPSG:3826", "BBOX": f"{x - 50},{y - 50},{x + 50},{y + 50}",
              "WIDTH": "101", "HEIGHT": "101", "X": "50", "Y": "50", "INFO_FORMAT": "geojson", "STYLES": ""}
    answer = requests.get(ows_url, params=params)
    features = json.loads(answer.content)["features"]
    assert [f["properties"]["name"] for f in features] == [name]
    assert int(features[0]["properties"]["fid"]) == fid
    gml = requests.get(ows_url, params={**params, "INFO_FORMAT": "application/vnd.ogc.gml"}).content.decode()
    assert name in gml


def test_getmap_getfeatureinfo_and_getfeature_are_served_on_a_map_of_the_named_layers_only(ows_url, monkeypatch):
    """Issue 21: a request naming its layers costs those layers, not the catalog — the map MapServer dispatches it
    on holds the named layers and nothing else (GET and a POSTed GetFeature alike)."""
    import mapscript

    dispatched = []
    original = mapscript.mapObj.OWSDispatch

    def spy(self, request):
        dispatched.append(sorted(self.getLayer(i).name for i in range(self.numlayers)))
        return original(self, request)

    monkeypatch.setattr(mapscript.mapObj, "OWSDispatch", spy)
    assert Layer.objects.filter(visibility="public").count() >= 8  # the demo city: many layers to leave out
    x, y = sql_one("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM layerdata.villages "
                   "ORDER BY fid LIMIT 1) v")
    box = f"{x - 50},{y - 50},{x + 50},{y + 50}"
    wms = {"SERVICE": "WMS", "VERSION": "1.1.1", "SRS": "EPSG:3826", "BBOX": box, "WIDTH": "64", "HEIGHT": "64",
           "STYLES": ",", "FORMAT": "image/png"}
    asked = [
        ({**wms, "REQUEST": "GetMap", "LAYERS": "roads,villages"}, ["roads", "villages"]),
        ({**wms, "REQUEST": "GetFeatureInfo", "LAYERS": "villages", "QUERY_LAYERS": "villages", "STYLES": "",
          "X": "32", "Y": "32", "INFO_FORMAT": "geojson"}, ["villages"]),
        ({**wms, "REQUEST": "GetFeatureInfo", "LAYERS": "villages", "QUERY_LAYERS": "villages", "STYLES": "",
          "X": "32", "Y": "32", "INFO_FORMAT": "text/html"}, ["villages"]),  # the HTML page: one map per layer
        ({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "buildings", "COUNT": "1"},
         ["buildings"]),
    ]
    for params, layers in asked:
        dispatched.clear()
        answer = requests.get(ows_url, params=params)
        assert answer.status_code == 200, answer.content[:300]
        assert dispatched == [layers], params["REQUEST"]
    dispatched.clear()
    posted = ('<wfs:GetFeature service="WFS" version="2.0.0" count="1" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
              'xmlns:fes="http://www.opengis.net/fes/2.0"><wfs:Query typeNames="facilities"/></wfs:GetFeature>')
    answer = requests.post(ows_url, data=posted.encode(), headers={"Content-Type": "application/xml"})
    assert answer.status_code == 200, answer.content[:300]
    assert dispatched == [["facilities"]]


def test_wfs_20_features_bbox_filter_paging_and_geojson_match_the_database(ows_url):
    wfs = WebFeatureService(ows_url, version="2.0.0")
    names = {name.removeprefix("civgis:") for name in wfs.contents}
    assert {"roads", "villages", "buildings"} <= names
    assert "parcels" not in names and "flood-zones" not in names
    schema = wfs.get_schema("civgis:villages")
    assert {"name", "population", "households"} <= set(schema["properties"])

    (total,) = sql_one("SELECT count(*) FROM layerdata.buildings")
    page = json.loads(wfs.getfeature(typename=["civgis:buildings"], outputFormat="geojson", maxfeatures=10,
                                     startindex=5).read())
    assert len(page["features"]) == 10
    (sixth,) = sql_one("SELECT fid FROM layerdata.buildings ORDER BY fid OFFSET 5 LIMIT 1")
    assert int(page["features"][0]["properties"]["fid"]) == sixth
    minx, miny, maxx, maxy = layer_bbox("buildings", 3826)
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    (inside,) = sql_one("SELECT count(*) FROM layerdata.buildings WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 3826)",
                        list(box))
    found = json.loads(wfs.getfeature(typename=["civgis:buildings"], bbox=(*box, "urn:ogc:def:crs:EPSG::3826"),
                                      outputFormat="geojson", srsname="urn:ogc:def:crs:EPSG::3826").read())
    assert 0 < len(found["features"]) == inside < total

    (kind, n_kind) = sql_one("SELECT kind, count(*) FROM layerdata.facilities GROUP BY kind ORDER BY 2 DESC LIMIT 1")
    # OWSLib sends a filter in a POSTed GetFeature (its GET puts it in a non-standard `query` parameter)
    equal = Filter(PropertyIsEqualTo(propertyname="kind", literal=kind)).toXML()
    filtered = wfs.getfeature(typename=["civgis:facilities"], filter=etree.tostring(equal).decode(),
                              outputFormat="geojson", method="POST")
    features = json.loads(filtered.read())["features"]
    assert len(features) == n_kind
    as_kvp = requests.get(ows_url, params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                                           "TYPENAMES": "civgis:facilities", "OUTPUTFORMAT": "geojson",
                                           "FILTER": etree.tostring(equal).decode()})
    assert len(as_kvp.json()["features"]) == n_kind and {f["properties"]["kind"] for f in features} == {kind}
    gml = wfs.getfeature(typename=["civgis:roads"], maxfeatures=3).read()
    assert b"wfs:FeatureCollection" in gml and gml.count(b"<civgis:roads") == 3


def test_wfs_110_counts_and_geojson(ows_url):
    (n,) = sql_one("SELECT count(*) FROM layerdata.villages")
    hits = requests.get(ows_url, params={"SERVICE": "WFS", "VERSION": "1.1.0", "REQUEST": "GetFeature",
                                         "TYPENAME": "civgis:villages", "RESULTTYPE": "hits"})
    assert f'numberOfFeatures="{n}"' in hits.text
    features = requests.get(ows_url, params={"SERVICE": "WFS", "VERSION": "1.1.0", "REQUEST": "GetFeature",
                                             "TYPENAME": "civgis:villages", "OUTPUTFORMAT": "geojson"}).json()
    assert len(features["features"]) == n


def test_gdal_wfs_driver_reads_the_layers_with_the_database_counts(ows_url):
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", f"WFS:{ows_url}?SERVICE=WFS&VERSION=2.0.0", "villages"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (n,) = sql_one("SELECT count(*) FROM layerdata.villages")
    assert f"Feature Count: {n}" in out.stdout
    assert "population:" in out.stdout


def test_signed_in_requests_see_what_the_user_may_see(ows_url, token):
    anonymous = requests.get(ows_url, params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"})
    assert b"<Name>parcels</Name>" not in anonymous.content and b"flood-zones" not in anonymous.content
    signed = requests.get(ows_url, params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"},
                          headers={"Authorization": f"Token {token}"})
    assert b"<Name>parcels</Name>" in signed.content  # internal: any signed-in user
    assert b"flood-zones" not in signed.content  # restricted to 水務局 and its groups
    assert signed.headers["Cache-Control"].startswith("private")
    minx, miny, maxx, maxy = layer_bbox("parcels", 3826)
    getmap = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "parcels", "STYLES": "",
              "SRS": "EPSG:3826", "BBOX": f"{minx},{miny},{maxx},{maxy}", "WIDTH": "128", "HEIGHT": "128",
              "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
    refused = requests.get(ows_url, params=getmap)
    assert refused.status_code == 400 and b"LayerNotDefined" in refused.content
    assert painted(png_pixels(requests.get(ows_url, params=getmap,
                                           headers={"Authorization": f"Token {token}"}).content)) > 1000
    # WFS POST with the layer named only inside the XML body is refused the same way
    body = ('<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0">'
            '<wfs:Query typeNames="flood-zones"/></wfs:GetFeature>')
    posted = requests.post(ows_url, data=body.encode(), headers={"Content-Type": "application/xml"})
    assert posted.status_code == 400 and b"LayerNotDefined" in posted.content


@pytest.mark.parametrize(("params", "code", "text"), [
    ({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "no-such-layer", "CRS": "EPSG:3857",
      "BBOX": "0,0,1,1", "WIDTH": "10", "HEIGHT": "10", "FORMAT": "image/png"}, "LayerNotDefined", "no-such-layer"),
    ({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "roads", "CRS": "EPSG:3857",
      "BBOX": "5,0,1,1", "WIDTH": "10", "HEIGHT": "10", "FORMAT": "image/png"}, "InvalidParameterValue", "BBOX"),
    ({"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "roads", "SRS": "EPSG:3857",
      "BBOX": "0,0,1", "WIDTH": "10", "HEIGHT": "10", "FORMAT": "image/png"}, "InvalidParameterValue", "BBOX"),
    ({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "roads", "CRS": "EPSG:3857",
      "BBOX": "0,0,1,1", "WIDTH": "100000", "HEIGHT": "10", "FORMAT": "image/png"}, "InvalidParameterValue", "WIDTH"),
    ({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "roads",
      "FILTER": "<fes:Filter><fes:PropertyIsEqualTo>"}, "InvalidParameterValue", "FILTER"),
    ({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "civgis:nothing"},
     "LayerNotDefined", "nothing"),
    ({"REQUEST": "GetCapabilities"}, "MissingParameterValue", "SERVICE"),
    ({"SERVICE": "WMTS", "REQUEST": "GetCapabilities"}, "InvalidParameterValue", "SERVICE"),
])
def test_bad_requests_get_ogc_exception_reports(ows_url, params, code, text):
    answer = requests.get(ows_url, params=params)
    assert answer.status_code == 400
    report = etree.fromstring(answer.content)
    assert report.tag.endswith("ExceptionReport")
    assert code in answer.text and text in answer.text


def test_engine_errors_are_reports_too(ows_url):
    # things only the engine can judge (an unknown CRS) still come back as an OGC report, not a 500
    answer = requests.get(ows_url, params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "roads",
                                           "CRS": "EPSG:999999", "BBOX": "0,0,1,1", "WIDTH": "10", "HEIGHT": "10",
                                           "FORMAT": "image/png", "STYLES": ""})
    assert answer.status_code == 400 and b'ServiceException code="InvalidSRS"' in answer.content


def test_per_theme_endpoint_serves_that_subtree_only(ows_url):
    wms = WebMapService(ows_url + "/transport", version="1.3.0")
    transport = Theme.objects.get(slug="transport")
    expected = set(Layer.objects.filter(theme_id__in=transport.descendant_ids(), visibility="public")
                   .values_list("slug", flat=True))
    assert expected and {n for n in wms.contents if Layer.objects.filter(slug=n).exists()} == expected


def test_publishing_is_idempotent_and_withdraw_removes_the_layer(ows_url):
    publishing.apply("roads", publishing.PUBLISH)
    before = mapfile.path().read_bytes()
    publishing.apply("roads", publishing.PUBLISH)
    assert mapfile.path().read_bytes() == before  # publishing twice = once
    assert Layer.objects.get(slug="roads").ogc_status == "published"
    publishing.apply("rivers", publishing.WITHDRAW)
    caps = requests.get(ows_url, params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetCapabilities"})
    assert b"rivers" not in caps.content and b"roads" in caps.content
    assert Layer.objects.get(slug="rivers").ogc_status == "withdrawn"
    publishing.apply("rivers", publishing.PUBLISH)  # back: a withdrawn layer can be published again
    assert b"<Name>rivers</Name>" in requests.get(
        ows_url, params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}).content


def test_a_failed_publish_is_visible_on_the_layer_and_retried(ows_url, monkeypatch):
    from layers.ogc import mapserver

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mapserver.mapfile, "write", broken)
    with pytest.raises(PublishError):
        publishing.apply("roads", publishing.PUBLISH)
    retried = []
    monkeypatch.setattr(publishing.sync_layer, "retry", lambda **kw: retried.append(kw) or RuntimeError("retry"))
    with pytest.raises(RuntimeError):
        publishing.sync_layer.run("roads", publishing.PUBLISH)
    roads = Layer.objects.get(slug="roads")
    assert roads.ogc_status == "failed" and "disk full" in roads.ogc_error
    assert retried and retried[0]["countdown"] > 0
    monkeypatch.undo()
    publishing.apply("roads", publishing.PUBLISH)
    roads.refresh_from_db()
    assert roads.ogc_status == "published" and roads.ogc_error == ""


def test_wcs_serves_the_dem_values(ows_url):
    minx, miny, maxx, maxy = Layer.objects.get(slug="demo-dem").native_extent
    answer = requests.get(ows_url, params={"SERVICE": "WCS", "VERSION": "1.0.0", "REQUEST": "GetCoverage",
                                           "COVERAGE": "demo-dem", "CRS": "EPSG:3826", "FORMAT": "GTiff",
                                           "BBOX": f"{minx},{miny},{maxx},{maxy}", "WIDTH": "50", "HEIGHT": "50"})
    assert answer.headers["Content-Type"].startswith("image/tiff"), answer.content[:300]
    with MemoryFile(answer.content) as mem, mem.open() as ds:
        values = ds.read(1)
    band = next(a for a in Layer.objects.get(slug="demo-dem").attributes if a["name"] == "band_1")
    assert band["min"] - 1 <= float(values.min()) < float(values.max()) <= band["max"] + 1


WMTS_CAPABILITIES = """<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"
  xmlns:xlink="http://www.w3.org/1999/xlink" version="1.0.0">
 <ows:ServiceIdentification><ows:Title>國土測繪圖資服務雲</ows:Title><ows:ServiceType>OGC WMTS</ows:ServiceType>
  <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>
 <ows:OperationsMetadata><ows:Operation name="GetTile"><ows:DCP><ows:HTTP><ows:Get xlink:href="{base}?">
  <ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues>
  </ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation></ows:OperationsMetadata>
 <Contents>
  <Layer><ows:Title>臺灣通用電子地圖</ows:Title><ows:Identifier>EMAP</ows:Identifier>
   <ows:WGS84BoundingBox><ows:LowerCorner>119.3 21.8</ows:LowerCorner><ows:UpperCorner>122.1 25.4</ows:UpperCorner>
   </ows:WGS84BoundingBox>
   <Style isDefault="true"><ows:Identifier>default</ows:Identifier></Style><Format>image/png</Format>
   <TileMatrixSetLink><TileMatrixSet>GoogleMapsCompatible</TileMatrixSet></TileMatrixSetLink>
   <ResourceURL format="image/png" resourceType="tile"
    template="{base}/EMAP/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}"/>
  </Layer>
  <TileMatrixSet><ows:Identifier>GoogleMapsCompatible</ows:Identifier>
   <ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>
   <TileMatrix><ows:Identifier>0</ows:Identifier><ScaleDenominator>559082264.0287178</ScaleDenominator>
    <TopLeftCorner>-20037508.3427892 20037508.3427892</TopLeftCorner><TileWidth>256</TileWidth>
    <TileHeight>256</TileHeight><MatrixWidth>1</MatrixWidth><MatrixHeight>1</MatrixHeight></TileMatrix>
  </TileMatrixSet>
 </Contents>
</Capabilities>"""


@pytest.fixture
def editor(ows_url):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(User.objects.create_user("ows-editor", password="pw"))
    return client


def test_an_external_wms_layer_is_registered_from_its_capabilities(ows_url, editor):
    answer = editor.post("/api/v1/layers/services/", {"type": "wms", "url": ows_url, "layer": "roads",
                                                      "slug": "other-roads", "attribution": "鄰近縣市交通局"},
                         format="json")
    assert answer.status_code == 201, answer.json()
    layer = answer.json()
    assert layer["kind"] == "service" and layer["title_zh"] == Layer.objects.get(slug="roads").title_zh
    assert layer["service"] == {"type": "wms", "url": ows_url, "layer": "roads", "version": "1.3.0",
                                "format": "image/png"}
    assert layer["bbox"] == pytest.approx(list(layer_bbox("roads", 4326)), abs=1e-4)
    features = editor.get("/api/v1/layers/other-roads/features/")
    assert features.status_code == 400 and "是其他機關的 WMS 服務" in features.json()["detail"]


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"type": "wms", "layer": "no-such"}, "layer", "offers no layer 'no-such'; it offers"),
    ({"type": "wms", "url": "http://127.0.0.1:9/ows", "layer": "roads"}, "url", "could not read the WMS"),
    ({"type": "xyz", "url": "https://tiles.example/{z}/{x}.png"}, "url", "needs {y}"),
    ({"type": "wms"}, "layer", "name the WMS layer"),
])
def test_unusable_services_are_refused_with_the_reason(ows_url, editor, body, field, text):
    answer = editor.post("/api/v1/layers/services/", {"url": ows_url, "slug": "bad-service", **body}, format="json")
    assert answer.status_code == 400
    assert text in str(answer.json()[field])
    assert not Layer.objects.filter(slug="bad-service").exists()


def test_an_external_wmts_layer_gets_a_web_mercator_tile_template(editor):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Capabilities(BaseHTTPRequestHandler):
        def do_GET(self):
            body = WMTS_CAPABILITIES.format(base=f"http://127.0.0.1:{self.server.server_port}/wmts").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capabilities)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/wmts"
    try:
        answer = editor.post("/api/v1/layers/services/", {"type": "wmts", "url": f"{base}?SERVICE=WMTS",
                                                          "layer": "EMAP", "slug": "nlsc-emap",
                                                          "visibility": "public"}, format="json")
    finally:
        server.shutdown()
    assert answer.status_code == 201, answer.json()
    service = answer.json()["service"]
    assert service["tile_url"] == f"{base}/EMAP/default/GoogleMapsCompatible/{{z}}/{{y}}/{{x}}"
    assert answer.json()["title_zh"] == "臺灣通用電子地圖"
    assert answer.json()["bbox"] == pytest.approx([119.3, 21.8, 122.1, 25.4])


def test_print_a_view_as_one_page_pdf_with_title_legend_and_scale(ows_url, tmp_path):
    from rest_framework.test import APIClient

    west, south, east, north = layer_bbox("buildings", 4326)
    state = {"center": [(west + east) / 2, (south + north) / 2], "zoom": 15,
             "layers": [{"slug": "villages", "opacity": 0.5}, {"slug": "roads"}, {"slug": "buildings"},
                        {"slug": "parcels"}]}
    client = APIClient()
    answer = client.post("/api/v1/print/", {"state": state, "title": "中正路拓寬範圍圖", "paper": "A3"}, format="json")
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "application/pdf"
    pdf = tmp_path / "map.pdf"
    pdf.write_bytes(answer.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M) and "1190.55 x 841.89 pts" in info  # one A3 landscape page
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "中正路拓寬範圍圖" in text and "圖例" in text and "列印日期" in text
    assert re.search(r"\b(1|2|5)0* 公(里|尺)", text)  # the scale bar's length
    assert "civgis demo city" in text

    png = client.post("/api/v1/print/", {"state": state, "format": "png"}, format="json")
    assert painted(png_pixels(png.content)) > 10_000
    # signed out, an internal layer alone cannot be printed, and says so
    refused = client.post("/api/v1/print/", {"state": {**state, "layers": ["parcels"]}}, format="json")
    assert refused.status_code == 400 and "none of the view's layers" in refused.json()["detail"]


def _village_under_a_point():
    return sql_one("SELECT fid, ST_X(p), ST_Y(p), name, population FROM (SELECT fid, name, population, "
                   "ST_PointOnSurface(geom) AS p FROM layerdata.villages ORDER BY population DESC LIMIT 1) v")


def test_getfeatureinfo_html_shows_labels_units_and_formatted_values_in_the_request_language(ows_url):
    _fid, x, y, name, population = _village_under_a_point()
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo", "LAYERS": "villages,roads",
              "QUERY_LAYERS": "villages", "CRS": "EPSG:3826", "BBOX": f"{x - 50},{y - 50},{x + 50},{y + 50}",
              "WIDTH": "101", "HEIGHT": "101", "I": "50", "J": "50", "INFO_FORMAT": "text/html", "STYLES": ""}
    zh = requests.get(ows_url, params=params)
    assert zh.status_code == 200 and zh.headers["Content-Type"].startswith("text/html")
    page = etree.fromstring(zh.content, etree.HTMLParser())
    rows = {tr.findtext("th"): tr.findtext("td") for tr in page.iter("tr")}
    assert rows["人口數（人）"] == f"{population:,}" and rows["名稱"] == name
    assert page.findtext(".//caption") == Layer.objects.get(slug="villages").title_zh
    assert "population" not in rows  # column names are for machines
    en = requests.get(ows_url, params={**params, "LANGUAGE": "eng"})
    rows_en = {tr.findtext("th"): tr.findtext("td") for tr in etree.fromstring(en.content, etree.HTMLParser())
               .iter("tr")}
    assert rows_en["Population (people)"] == f"{population:,}"
    assert requests.get(ows_url, params=params, headers={"Accept-Language": "en"}).text == en.text
    # nothing under the point says so; the JSON answer keeps the machine names
    away = requests.get(ows_url, params={**params, "BBOX": "100000,2400000,100100,2400100"}, )
    assert "此處沒有圖徵" in away.text
    doc = requests.get(ows_url, params={**params, "INFO_FORMAT": "geojson"}).json()
    assert doc["features"][0]["properties"]["population"] == population


def test_describefeaturetype_annotates_each_attribute_with_its_label_in_both_languages(ows_url):
    answer = requests.get(ows_url, params={"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "DescribeFeatureType",
                                           "TYPENAMES": "civgis:villages,civgis:roads"})
    root = etree.fromstring(answer.content)
    xsd = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    docs = {}
    for element in root.iterfind(".//xsd:complexType//xsd:element", xsd):
        docs[element.get("name")] = {d.get(lang): d.text for d in element.iterfind("xsd:annotation/xsd:documentation",
                                                                                   xsd)}
    assert docs["population"] == {"zh-Hant": "人口數（人）", "en": "Population (people)"}
    assert docs["density_per_km2"] == {"zh-Hant": "人口密度（人/平方公里）", "en": "Population density (people/km²)"}
    assert "width_m" in docs and docs["width_m"]["en"] == "Width (m)"  # the second layer's type too
    # still a schema GDAL and OWSLib read
    assert {"population", "households"} <= set(WebFeatureService(ows_url, version="2.0.0")
                                                .get_schema("civgis:villages")["properties"])


def test_capabilities_titles_follow_the_request_language(ows_url):
    villages, roads = Layer.objects.get(slug="villages"), Layer.objects.get(slug="roads")
    for service, version in (("WMS", "1.3.0"), ("WFS", "2.0.0")):
        base = {"SERVICE": service, "VERSION": version, "REQUEST": "GetCapabilities"}
        zh = requests.get(ows_url, params=base).text
        en = requests.get(ows_url, params={**base, "LANGUAGE": "eng"}).text
        assert villages.title_zh in zh and villages.title_en not in zh
        assert villages.title_en in en and roads.title_en in en and villages.title_zh not in en, service
        assert "civgis city spatial data services" in en and "城市空間資料服務" not in en
        assert requests.get(ows_url, params=base, headers={"Accept-Language": "en"}).text == en
        assert requests.get(ows_url, params={**base, "LANGUAGE": "chi"},
                            headers={"Accept-Language": "en"}).text == zh
    wms = WebMapService(ows_url + "?LANGUAGE=eng", version="1.3.0")
    assert wms["villages"].title == villages.title_en
    transport = Theme.objects.get(slug="transport")
    assert transport.name_en in requests.get(ows_url, params={"SERVICE": "WMS", "REQUEST": "GetCapabilities",
                                                              "LANGUAGE": "eng"}).text


def test_a_style_saved_through_the_api_is_what_wms_draws_and_its_legend_lists(ows_url,
                                                                             django_capture_on_commit_callbacks):
    """The style editor's save: classes computed on the server, a class colour set by the editor, and the WMS
    picture of a feature in that class painted in exactly that colour."""
    from rest_framework.test import APIClient

    villages = Layer.objects.select_related("style").get(slug="villages")
    before = {f: getattr(villages.style, f) for f in ("kind", "attribute", "method", "class_count", "ramp",
                                                      "opacity", "classes")}
    editor = APIClient()
    editor.force_authenticate(User.objects.create_superuser("ows-styler"))
    body = {"kind": "graduated", "attribute": "population", "method": "equal_interval", "class_count": 3,
            "ramp": "Greens", "opacity": 1.0}
    classes = editor.put("/api/v1/layers/villages/style/", body, format="json").json()["classes"]
    top = max(range(len(classes)), key=lambda i: classes[i].get("max", float("-inf")))
    classes[top]["color"] = "#c0ffee"
    try:
        with django_capture_on_commit_callbacks() as queued:
            saved = editor.put("/api/v1/layers/villages/style/", {**body, "classes": classes}, format="json")
        assert saved.status_code == 200 and saved.json()["classes"][top]["color"] == "#c0ffee"
        assert any(c.__qualname__.startswith("follow.") for c in queued)  # the save queued the republishing …
        publishing.apply("villages", publishing.STYLE)  # … which runs here, not on the session's worker
        x, y = sql_one("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM layerdata.villages "
                       "ORDER BY population DESC LIMIT 1) v")
        pixels = png_pixels(requests.get(ows_url, params={
            "SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "villages", "STYLES": "",
            "SRS": "EPSG:3826", "BBOX": f"{x - 2},{y - 2},{x + 2},{y + 2}", "WIDTH": "9", "HEIGHT": "9",
            "FORMAT": "image/png", "TRANSPARENT": "TRUE"}).content)
        assert "#" + "".join(f"{int(v):02x}" for v in pixels[:3, 4, 4]) == "#c0ffee" and pixels[3, 4, 4] == 255
        legend = png_pixels(requests.get(ows_url, params={
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": "villages",
            "FORMAT": "image/png", "SLD_VERSION": "1.1.0"}).content)
        swatch = (legend[0] == 0xc0) & (legend[1] == 0xff) & (legend[2] == 0xee)
        assert swatch.sum() >= 50  # the legend's key for that class
        assert b"#c0ffee" in editor.get("/api/v1/layers/villages/style/sld/").content  # and the SLD export
    finally:
        style = Layer.objects.get(slug="villages").style
        for field, value in before.items():
            setattr(style, field, value)
        style.save()
        mapfile.write()


# the order of a WMS 1.3.0 Layer's children in the schema (capabilities_1_3_0.xsd)
LAYER_CHILDREN = ["Name", "Title", "Abstract", "KeywordList", "CRS", "SRS", "EX_GeographicBoundingBox",
                  "LatLonBoundingBox", "BoundingBox", "Dimension", "Extent", "Attribution", "AuthorityURL",
                  "Identifier", "MetadataURL", "DataURL", "FeatureListURL", "Style", "MinScaleDenominator",
                  "MaxScaleDenominator", "ScaleHint", "Layer"]


def _described(document: bytes) -> dict:
    """What a WMS capabilities document says of each layer, by name, and of the theme tree (titles of unnamed
    layers, nested)."""
    def tree(el):
        return [(child.findtext("{*}Title"), tree(child)) for child in el.findall("{*}Layer")
                if child.find("{*}Name") is None]

    root = etree.fromstring(document)
    layers = {}
    for el in root.iter("{*}Layer"):
        name = el.findtext("{*}Name")
        if name is None:
            continue
        tags = [etree.QName(c).localname for c in el if isinstance(c.tag, str)]
        assert tags == sorted(tags, key=LAYER_CHILDREN.index), (name, tags)  # the schema's order
        legend = el.find("{*}Style/{*}LegendURL")
        layers[name] = {
            "attributes": dict(el.attrib), "title": el.findtext("{*}Title"), "abstract": el.findtext("{*}Abstract"),
            "keywords": [k.text for k in el.iterfind("{*}KeywordList/{*}Keyword")],
            "crs": [c.text for c in el if etree.QName(c).localname in ("CRS", "SRS")],
            "time": [(d.get("default"), d.text) for d in el if etree.QName(d).localname in ("Dimension", "Extent")],
            "attribution": el.findtext("{*}Attribution/{*}Title"),
            "style": [el.findtext("{*}Style/{*}Name"), el.findtext("{*}Style/{*}Title")],
            "legend": legend is not None and (legend.get("width"), legend.get("height"), legend.findtext("{*}Format"),
                                              legend.find("{*}OnlineResource").get(XLINK_HREF)),
            "scales": [el.findtext("{*}MinScaleDenominator"), el.findtext("{*}MaxScaleDenominator"),
                       (el.find("{*}ScaleHint").attrib if el.find("{*}ScaleHint") is not None else None)],
            "metadata": el.find("{*}MetadataURL/{*}OnlineResource").get(XLINK_HREF),
            "boxes": {b.get("CRS") or b.get("SRS"): [float(b.get(k)) for k in ("minx", "miny", "maxx", "maxy")]
                      for b in el.findall("{*}BoundingBox")},
            "geographic": [float(v.text) for v in el.find("{*}EX_GeographicBoundingBox")]
            if el.find("{*}EX_GeographicBoundingBox") is not None
            else [float(el.find("{*}LatLonBoundingBox").get(k)) for k in ("minx", "miny", "maxx", "maxy")],
        }
    head = {etree.QName(el).localname: (el.text or "").strip() for el in root.find("{*}Service")}
    requests_ = {etree.QName(r).localname: [f.text for f in r.findall("{*}Format")]
                 for r in root.find("{*}Capability/{*}Request")}
    return {"layers": layers, "tree": tree(root.find("{*}Capability/{*}Layer")), "service": head,
            "requests": requests_, "version": root.get("version")}


XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_the_wms_capabilities_the_front_writes_say_what_mapserver_s_own_said(ows_url, version):
    """Issue 21: /ows writes the WMS capabilities from the catalog (layers.ogc.wms_capabilities) instead of MapServer;
    compared here with MapServer's own document for the same caller, element by element: the tree of themes, each
    layer's title, abstract, keywords, CRSs, time, attribution, style, LegendURL (its size too), scale limits and
    boxes. The one difference: MapServer writes a layer's box in its own CRS only (the mapfile asks it to), the front
    in each offered CRS."""
    from layers import timeaxis
    from layers.ogc import get_engine, mapfile

    def with_time(layer):  # the layer made time-enabled on its first date attribute that holds times
        for name in timeaxis.time_attributes(layer):
            layer.time_attribute = name
            if timeaxis.extent(layer):
                return layer
        return None

    timed = next(filter(None, map(with_time, Layer.objects.filter(visibility="public", kind="vector"))))
    scaled = Layer.objects.select_related("style").get(slug="buildings")
    old_scales = scaled.style.min_scale, scaled.style.max_scale
    scaled.style.min_scale, scaled.style.max_scale = 500, 50_000
    try:
        Layer.objects.filter(pk=timed.pk).update(time_attribute=timed.time_attribute)
        scaled.style.save()
        mapfile.write()
        params = {"SERVICE": "WMS", "VERSION": version, "REQUEST": "GetCapabilities"}
        visible = frozenset(Layer.objects.filter(visibility="public", kind__in=["vector", "raster"])
                            .values_list("slug", flat=True))
        # both in this thread, which sees the test's changes (/ows answers from the same engine method: the other
        # tests ask it over HTTP)
        answer = get_engine().wms_capabilities(params, visible, ows_url + "?", "zh-hant")
        assert answer.content_type.startswith("text/xml" if version == "1.3.0" else "application/vnd.ogc.wms_xml")
        theirs = _described(get_engine().ows(params, None, visible, url=ows_url + "?").body)
        ours = _described(answer.body)
    finally:
        Layer.objects.filter(pk=timed.pk).update(time_attribute="")
        scaled.style.min_scale, scaled.style.max_scale = old_scales
        scaled.style.save()
        mapfile.write()
    assert ours["version"] == theirs["version"] == version
    assert ours["tree"] == theirs["tree"] and ours["tree"]
    assert ours["service"] == theirs["service"]
    # the HTML the front writes for GetFeatureInfo (feature_info_html) is offered too
    assert ours["requests"] == {**theirs["requests"], "GetFeatureInfo": [*theirs["requests"]["GetFeatureInfo"],
                                                                         "text/html"]}
    assert set(ours["layers"]) == set(theirs["layers"]) == visible
    assert ours["layers"][timed.slug]["time"] and ours["layers"][timed.slug]["time"] == \
        theirs["layers"][timed.slug]["time"]
    assert any(ours["layers"]["buildings"]["scales"]) and \
        ours["layers"]["buildings"]["scales"] == theirs["layers"]["buildings"]["scales"]
    for name, mine in ours["layers"].items():
        other = theirs["layers"][name]
        for key in ("attributes", "title", "abstract", "keywords", "crs", "time", "attribution", "style", "legend",
                    "scales"):
            assert mine[key] == other[key], (name, key, mine[key], other[key])
        assert mine["geographic"] == pytest.approx(other["geographic"], abs=1e-5), name
        (own, box), = other["boxes"].items()
        assert mine["boxes"][own] == pytest.approx(box, rel=1e-5), name  # MapServer's %g: 6 digits
        assert set(mine["boxes"]) == set(mine["crs"]), name  # …and one in every CRS it lists
        # its metadata record, where MapServer pointed at a GetMetadata request /ows does not answer
        assert requests.get(mine["metadata"]).status_code == 200, name


@pytest.mark.parametrize(("version", "attribute"), [("1.3.0", "CRS"), ("1.1.1", "SRS")])
def test_layer_boxes_in_every_offered_crs_in_each_version_s_axis_order_and_groups_the_union(ows_url, version,
                                                                                            attribute):
    """Each layer's box in every offered CRS is the envelope of its box reprojected (edges sampled, all layers of a
    CRS pair at once: capabilities_boxes), EPSG:4326 latitude first in 1.3.0 only; a theme's and the root's boxes are
    the union of their members'."""
    from pyproj import Transformer

    root = etree.fromstring(requests.get(ows_url, params={"SERVICE": "WMS", "VERSION": version,
                                                          "REQUEST": "GetCapabilities"}).content)
    roads = next(el for el in root.iter("{*}Layer") if el.findtext("{*}Name") == "roads")
    boxes = {b.get(attribute): [float(b.get(k)) for k in ("minx", "miny", "maxx", "maxy")]
             for b in roads.findall("{*}BoundingBox")}
    assert list(boxes) == ["EPSG:3826", "EPSG:4326", "EPSG:3857", "EPSG:3828", "EPSG:900913"]  # its own CRS first
    native = boxes["EPSG:3826"]
    assert native == pytest.approx(Layer.objects.get(slug="roads").native_extent, abs=0.002)
    west, south, east, north = Transformer.from_crs(3826, 4326, always_xy=True).transform_bounds(
        *native, densify_pts=21)
    lonlat = boxes["EPSG:4326"] if version == "1.1.1" else [boxes["EPSG:4326"][i] for i in (1, 0, 3, 2)]
    assert lonlat == pytest.approx([west, south, east, north], abs=2e-6)
    assert boxes["EPSG:3857"] == pytest.approx(list(Transformer.from_crs(3826, 3857, always_xy=True).transform_bounds(
        *native, densify_pts=21)), abs=1.0)
    assert boxes["EPSG:3857"] == boxes["EPSG:900913"]
    top = root.find("{*}Capability/{*}Layer")
    assert top.findtext("{*}Name") is None  # the root and the themes are categories, not requestable
    root_box = next(b for b in top.findall("{*}BoundingBox") if b.get(attribute) == "EPSG:3826")
    named = [el for el in top.iter("{*}Layer") if el.findtext("{*}Name")]
    members = [next(b for b in el.findall("{*}BoundingBox") if b.get(attribute) == "EPSG:3826") for el in named]
    assert float(root_box.get("minx")) == min(float(b.get("minx")) for b in members)
    assert float(root_box.get("maxy")) == max(float(b.get("maxy")) for b in members)
