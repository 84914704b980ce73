"""The full publish → serve → withdraw cycle against a real GeoServer (skipped without GEOSERVER_URL).

GeoServer must reach this run's database and media folder: set GEOSERVER_DATABASE_URL (the test database as
GeoServer connects to it) and GEOSERVER_DATA_PREFIX (MEDIA_ROOT as GeoServer mounts it) when they differ from
ours. The test works in a workspace of its own and deletes it afterwards. It has not been run in this repository's
CI (no Docker engine there).
"""

import os

import pytest
from conftest import committed_demo_city
from lxml import etree
from rasterio.io import MemoryFile

from layers.models import Layer
from layers.ogc.geoserver import GeoServerEngine

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not os.environ.get("GEOSERVER_URL"), reason="needs a real GeoServer (GEOSERVER_URL)")]


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=5, size=0.2) as demo:
        yield demo


@pytest.fixture
def engine(settings):
    workspace = f"civgis-test-{os.getpid()}"
    settings.GEOSERVER_DATABASE_URL = os.environ.get("GEOSERVER_DATABASE_URL", settings.GEOSERVER_DATABASE_URL)
    gs = GeoServerEngine(os.environ["GEOSERVER_URL"], os.environ.get("GEOSERVER_USER", "admin"),
                         os.environ.get("GEOSERVER_PASSWORD", "geoserver"), timeout=30, workspace=workspace)
    yield gs
    if gs.rest.exists(f"/workspaces/{workspace}"):
        gs.rest.package.delete_workspace(workspace)


def test_publish_serve_withdraw(city, engine):
    vector = Layer.objects.filter(kind=Layer.Kind.VECTOR, feature_count__gt=0).order_by("slug").first()
    raster = Layer.objects.filter(kind=Layer.Kind.RASTER).first()
    for layer in (vector, raster):
        engine.publish(layer)
        engine.publish(layer)  # publishing twice equals publishing once

    minx, miny, maxx, maxy = vector.native_extent
    shot = engine.ows({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": vector.slug,
                       "STYLES": "", "CRS": f"EPSG:{vector.srid}", "BBOX": f"{minx},{miny},{maxx},{maxy}",
                       "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png", "TRANSPARENT": "TRUE"},
                      None, frozenset({vector.slug}))
    assert (shot.status, shot.content_type) == (200, "image/png"), shot.body[:500]
    with MemoryFile(shot.body) as mem, mem.open() as png:
        alpha = png.read(png.count)
    assert (alpha > 0).sum() > 0, "the map is empty where the layer's features are"

    hits = engine.ows({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": vector.slug,
                       "RESULTTYPE": "hits"}, None, frozenset({vector.slug}))
    assert hits.status == 200, hits.body[:500]
    assert int(etree.fromstring(hits.body).get("numberMatched")) == vector.feature_count

    caps = engine.ows({"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}, None,
                      frozenset({vector.slug}))
    names = {el.text for el in etree.fromstring(caps.body).iter("{http://www.opengis.net/wms}Name")}
    assert vector.slug in names and raster.slug not in names

    for layer in (vector, raster):
        engine.withdraw(layer.slug)
        engine.withdraw(layer.slug)  # idempotent
        assert not engine.rest.exists(f"/workspaces/{engine.workspace}/layers/{layer.slug}")
        assert not engine.rest.exists(f"/workspaces/{engine.workspace}/styles/{layer.slug}")
