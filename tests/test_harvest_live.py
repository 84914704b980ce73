"""Harvesting our own services as the "remote": the demo city committed and published, served over HTTP by a thread
of this process, harvested through /ows (WMS 1.3.0 and WFS 2.0), /csw and /ogcapi — each run finds exactly the
public layers anonymous may see there, and a second run finds nothing changed."""

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from conftest import committed_demo_city
from django.core.wsgi import get_wsgi_application

from harvest.models import HarvestRun, HarvestSource
from harvest.runner import execute
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def own(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=11, size=0.02):
        publishing.publish_all()
        public = set(Layer.objects.filter(visibility="public").exclude(kind="service")
                     .values_list("slug", flat=True))
        server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield {"url": f"http://127.0.0.1:{server.server_port}", "public": public}
        server.shutdown()
        import mapscript

        mapscript.msConnPoolCloseUnreferenced()


@pytest.mark.parametrize("kind, path", [("wms", "/ows"), ("wfs", "/ows"), ("csw", "/csw"), ("ogcapi", "/ogcapi/")])
def test_our_own_services_harvested_as_a_remote(own, kind, path):
    source = HarvestSource.objects.create(name=f"civgis {kind}", slug="own", kind=kind, url=own["url"] + path)
    run = execute(HarvestRun.objects.create(source=source))
    assert run.state == "ok", run.error
    remote_ids = set(source.layers.values_list("remote_id", flat=True))
    tables = set(Layer.objects.filter(slug__in=own["public"], kind="table").values_list("slug", flat=True))
    if kind == "csw":
        assert remote_ids == own["public"]  # the catalogue lists tables too
        assert Layer.objects.filter(harvested__source=source).exclude(title_zh="").count() == len(remote_ids)
    else:
        names = {r.split(":")[-1] for r in remote_ids}
        rasters = set(Layer.objects.filter(slug__in=own["public"], kind="raster").values_list("slug", flat=True))
        assert names and names <= own["public"] and own["public"] - tables - names <= rasters
    assert run.new == len(remote_ids) and run.vanished == 0
    again = execute(HarvestRun.objects.create(source=source))
    assert (again.state, again.new, again.changed, again.vanished) == ("ok", 0, 0, 0)
    assert again.unchanged == run.new
