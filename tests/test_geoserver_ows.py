"""GeoServerEngine.ows(): requests forwarded to the workspace's virtual service, capabilities cut down to the
visible layers, GeoServer's errors passed on. HTTP is intercepted (no GeoServer runs here)."""

import socket

import pytest
import responses
from lxml import etree

from layers.ogc.exceptions import OWSException, exception_response
from layers.ogc.geoserver import GeoServerEngine

URL = "http://geoserver.test/geoserver"
OWS = f"{URL}/civgis/ows"

WMS_CAPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms"><Capability><Layer><Title>civgis</Title>
  <Layer><Name>theme-transport</Name><Title>\xe4\xba\xa4\xe9\x80\x9a</Title>
    <Layer><Name>theme-roads</Name><Title>roads</Title>
      <Layer queryable="1"><Name>roads</Name><Title>public roads</Title></Layer>
      <Layer queryable="1"><Name>secret-roads</Name><Title>restricted</Title></Layer>
    </Layer>
  </Layer>
  <Layer><Name>theme-wifi</Name><Title>wifi</Title>
    <Layer><Name>hotspots</Name><Title>internal</Title></Layer>
  </Layer>
  <Layer><Name>dem</Name><Title>terrain</Title></Layer>
</Layer></Capability></WMS_Capabilities>"""

WFS_CAPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<wfs:WFS_Capabilities version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0"><wfs:FeatureTypeList>
  <wfs:FeatureType xmlns:civgis="http://civgis"><wfs:Name>civgis:roads</wfs:Name></wfs:FeatureType>
  <wfs:FeatureType xmlns:civgis="http://civgis"><wfs:Name>civgis:secret-roads</wfs:Name></wfs:FeatureType>
</wfs:FeatureTypeList></wfs:WFS_Capabilities>"""

WCS_CAPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<wcs:Capabilities version="2.0.1" xmlns:wcs="http://www.opengis.net/wcs/2.0"><wcs:Contents>
  <wcs:CoverageSummary><wcs:CoverageId>civgis__dem</wcs:CoverageId></wcs:CoverageSummary>
  <wcs:CoverageSummary><wcs:CoverageId>civgis__secret-dem</wcs:CoverageId></wcs:CoverageSummary>
</wcs:Contents></wcs:Capabilities>"""


@pytest.fixture
def engine(settings):
    settings.GEOSERVER_WORKSPACE = "civgis"
    return GeoServerEngine(URL, "admin", "secret")


def names(body: bytes, tag: str) -> list[str]:
    root = etree.fromstring(body)
    return [el.text for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == tag]


@responses.activate
def test_wms_capabilities_keep_visible_layers_and_the_groups_holding_them_unnamed(engine):
    responses.get(OWS, body=WMS_CAPS, content_type="text/xml")
    resp = engine.ows({"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, None, frozenset({"roads", "dem"}))

    assert resp.status == 200 and resp.content_type == "text/xml"
    assert names(resp.body, "Name") == ["roads", "dem"]
    # the groups holding a visible layer stay as titled, unnamed categories (a group's name would draw it whole)
    assert names(resp.body, "Title") == ["civgis", "交通", "roads", "public roads", "terrain"]
    sent = responses.calls[0].request
    assert sent.url.startswith(OWS + "?") and "REQUEST=GetCapabilities" in sent.url
    assert sent.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_wfs_and_wcs_capabilities_drop_hidden_entries(engine):
    responses.get(OWS, body=WFS_CAPS, content_type="application/xml")
    wfs = engine.ows({"SERVICE": "WFS", "REQUEST": "GetCapabilities"}, None, frozenset({"roads"}))
    assert names(wfs.body, "Name") == ["civgis:roads"]

    responses.replace(responses.GET, OWS, body=WCS_CAPS, content_type="application/xml")
    wcs = engine.ows({"SERVICE": "WCS", "REQUEST": "GetCapabilities"}, None, frozenset({"dem"}))
    assert names(wcs.body, "CoverageId") == ["civgis__dem"]


@responses.activate
def test_posted_capabilities_request_is_filtered_too(engine):
    responses.post(OWS, body=WFS_CAPS, content_type="application/xml")
    body = b'<wfs:GetCapabilities xmlns:wfs="http://www.opengis.net/wfs/2.0" service="WFS"/>'
    resp = engine.ows({}, body, frozenset())
    assert names(resp.body, "Name") == []
    assert responses.calls[0].request.body == body


@responses.activate
def test_maps_pass_through_unchanged(engine):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    responses.get(OWS, body=png, content_type="image/png")
    params = {"SERVICE": "WMS", "REQUEST": "GetMap", "LAYERS": "roads", "WIDTH": "256", "HEIGHT": "256"}
    resp = engine.ows(params, None, frozenset({"roads"}))
    assert (resp.status, resp.content_type, resp.body) == (200, "image/png", png)
    assert "LAYERS=roads" in responses.calls[0].request.url


@responses.activate
def test_geoserver_errors_keep_their_status_and_body(engine):
    report = b'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Exception exceptionCode="x"/>' \
             b"</ows:ExceptionReport>"
    responses.get(OWS, body=report, status=400, content_type="application/xml")
    resp = engine.ows({"SERVICE": "WFS", "REQUEST": "GetCapabilities"}, None, frozenset())
    assert (resp.status, resp.body) == (400, report)


def test_unreachable_geoserver_is_a_502_exception_report(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OWSException) as raised:
        GeoServerEngine(f"http://127.0.0.1:{port}/geoserver", "admin", "x", workspace="civgis").ows(
            {"SERVICE": "WMS", "REQUEST": "GetMap"}, None, frozenset())
    assert raised.value.status == 502 and "unreachable" in raised.value.message
    report = etree.fromstring(exception_response(raised.value, {"SERVICE": "WMS", "VERSION": "1.3.0"}).content)
    assert etree.QName(report).localname == "ServiceExceptionReport"


@responses.activate
def test_wms_111_capabilities_keep_their_doctype(engine):
    doctype = b'<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://geoserver.test/geoserver/schemas/wms/1.1.1/capabilities.dtd">'
    caps = (b'<?xml version="1.0" encoding="UTF-8"?>' + doctype + b'<WMT_MS_Capabilities version="1.1.1"><Capability>'
            b"<Layer><Layer><Name>roads</Name></Layer><Layer><Name>secret</Name></Layer></Layer>"
            b"</Capability></WMT_MS_Capabilities>")
    responses.get(OWS, body=caps, content_type="application/vnd.ogc.wms_xml")
    resp = engine.ows({"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetCapabilities"}, None, frozenset({"roads"}))
    assert doctype in resp.body  # the DTD is kept, not fetched: only the capabilities request was made
    assert names(resp.body, "Name") == ["roads"] and len(responses.calls) == 1


@responses.activate
def test_capabilities_send_clients_back_through_the_platform(engine):
    caps = (b'<?xml version="1.0" encoding="UTF-8"?><WMS_Capabilities version="1.3.0" '
            b'xmlns="http://www.opengis.net/wms" xmlns:xlink="http://www.w3.org/1999/xlink"><Capability><Request>'
            b'<GetMap><DCPType><HTTP><Get><OnlineResource xlink:href="' + OWS.encode() + b'?SERVICE=WMS&amp;"/>'
            b'</Get></HTTP></DCPType></GetMap></Request><Layer><Layer><Name>roads</Name><Style><LegendURL>'
            b'<OnlineResource xlink:href="' + URL.encode() + b'/civgis/wms?request=GetLegendGraphic&amp;layer=roads"/>'
            b"</LegendURL></Style></Layer></Layer></Capability></WMS_Capabilities>")
    responses.get(OWS, body=caps, content_type="text/xml")
    resp = engine.ows({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}, None,
                      frozenset({"roads"}), url="https://gis.city.gov.tw/ows?")
    assert URL.encode() not in resp.body
    assert resp.body.count(b'xlink:href="https://gis.city.gov.tw/ows?') == 2
