"""Editing through the standards: WFS-T 1.1.0 and 2.0.0 at /ows (Transaction, LockFeature, GetFeatureWithLock) and
OGC API - Features Part 4 at /ogcapi/ — with the form rules, rights, versions, history and audit of the browser's
editing (editing.store). GDAL's WFS driver writes in update mode and OWSLib reads back over HTTP; the rest is
plain HTTP through Django's test client (each test rolled back)."""

import base64
import json
import subprocess
import textwrap
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.contrib.auth.models import Group, User
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.test import Client
from lxml import etree

from accounts import tokens
from audit import actors
from editing.models import FeatureChange, LayerForm
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db

SLUG = "wt-hydrants"
TABLE = "wt_hydrants"
HIDDEN = "wt-secret"
WFS = "http://www.opengis.net/wfs"
WFS2 = "http://www.opengis.net/wfs/2.0"
OWS = {"ows": "http://www.opengis.net/ows", "ows11": "http://www.opengis.net/ows/1.1"}
NSDECL = ('xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc" '
          'xmlns:gml="http://www.opengis.net/gml" xmlns:civgis="https://civgis.example.gov.tw/ows"')
NSDECL2 = ('xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0" '
           'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:civgis="https://civgis.example.gov.tw/ows"')


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _table(cur, table: str) -> None:
    cur.execute(f"CREATE TABLE layerdata.{table} (fid serial PRIMARY KEY, name text, pressure_kpa double precision,"
                " outlets integer, status text, geom geometry(Point, 3826))")
    cur.execute(f"INSERT INTO layerdata.{table} (name, pressure_kpa, outlets, status, geom) VALUES "
                "('A', 300, 2, '正常', ST_Transform(ST_SetSRID(ST_MakePoint(121.30, 24.99), 4326), 3826)),"
                "('B', 280, 1, '正常', ST_Transform(ST_SetSRID(ST_MakePoint(121.31, 25.00), 4326), 3826)),"
                "('C', 250, 1, '損壞', ST_Transform(ST_SetSRID(ST_MakePoint(121.32, 25.01), 4326), 3826))")


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Two committed point layers (one internal, editable by the fire bureau; one restricted), published to
    MapServer and served over HTTP by a thread of this process; users and a personal token."""
    with django_db_blocker.unblock():
        agency = Group.objects.get_or_create(name="wt-消防局")[0]
        with connection.cursor() as cur:
            for table in (TABLE, "wt_secret"):
                _table(cur, table)
            cur.execute(f"SELECT ARRAY[ST_XMin(e) - 500, ST_YMin(e) - 500, ST_XMax(e) + 500, ST_YMax(e) + 500] FROM "
                        f"(SELECT ST_Extent(geom) e FROM layerdata.{TABLE}) s")
            extent = cur.fetchone()[0]
        attributes = [{"name": n, "type": t} for n, t in (("name", "text"), ("pressure_kpa", "double precision"),
                                                          ("outlets", "integer"), ("status", "text"))]
        layers = [Layer.objects.create(slug=slug, title_zh="消防栓", title_en="Hydrants", table_name=table,
                                       kind="vector", srid=3826, geometry_type="Point", feature_count=3,
                                       native_extent=extent, owner_agency=agency, visibility=visibility,
                                       attributes=attributes)
                  for slug, table, visibility in ((SLUG, TABLE, "internal"), (HIDDEN, "wt_secret", "restricted"))]
        LayerForm.objects.create(layer=layers[0], fields={"status": {"values": [{"value": "正常"}, {"value": "損壞"}]},
                                                          "name": {"required": True}})
        users = {}
        for name, member in (("wt-fire", True), ("wt-fire2", True), ("wt-clerk", False)):
            users[name] = User.objects.create_user(name, password="pw")
            if member:
                users[name].groups.add(agency)
        _token, secret = tokens.create(users["wt-fire"], "qgis", ["read", "edit"], 1, actors.SYSTEM)
        _token, reader = tokens.create(users["wt-fire"], "read only", ["read"], 1, actors.SYSTEM)
        publishing.publish_all()
        server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server,
                             handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield {"base": f"http://127.0.0.1:{server.server_port}", "secret": secret, "reader": reader}
        finally:
            server.shutdown()
            import mapscript

            mapscript.msConnPoolCloseUnreferenced()
            Layer.objects.filter(slug__in=[SLUG, HIDDEN]).delete()
            User.objects.filter(username__startswith="wt-").delete()
            agency.delete()
            with connection.cursor() as cur:
                cur.execute(f"DROP TABLE layerdata.{TABLE}, layerdata.wt_secret")
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()")


def as_user(name: str | None) -> Client:
    c = Client()
    if name:
        c.force_login(User.objects.get(username=name))
    return c


def post(c: Client, xml: str):
    return c.post("/ows", data=xml.encode(), content_type="text/xml")


def exception(response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    found = next(e for e in root.iter() if etree.QName(e).localname == "Exception")
    text = next(e for e in found.iter() if etree.QName(e).localname == "ExceptionText").text
    return found.get("exceptionCode"), text


def row(fid: int):
    with connection.cursor() as cur:
        cur.execute(f"SELECT name, pressure_kpa, outlets, status, ST_X(geom), ST_Y(geom) FROM layerdata.{TABLE} "
                    "WHERE fid = %s", [fid])
        return cur.fetchone()


def count() -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM layerdata.{TABLE}")
        return cur.fetchone()[0]


def insert_110(name="新栓", status="正常", lon=121.35, lat=25.02, srs="EPSG:4326") -> str:
    return f"""<wfs:Transaction service="WFS" version="1.1.0" {NSDECL}>
      <wfs:Insert handle="h1"><civgis:{SLUG}>
        <civgis:name>{name}</civgis:name><civgis:pressure_kpa>310.5</civgis:pressure_kpa>
        <civgis:outlets>2</civgis:outlets><civgis:status>{status}</civgis:status>
        <civgis:geom><gml:Point srsName="{srs}"><gml:pos>{lon} {lat}</gml:pos></gml:Point></civgis:geom>
      </civgis:{SLUG}></wfs:Insert></wfs:Transaction>"""


def test_wfs_110_insert_update_delete_with_history_and_audit(world, audited):
    c = as_user("wt-fire")
    before = count()
    made = post(c, insert_110())
    assert made.status_code == 200, made.content.decode()
    root = etree.fromstring(made.content)
    assert root.findtext(f"{{{WFS}}}TransactionSummary/{{{WFS}}}totalInserted") == "1"
    fid_text = root.find(f".//{{{WFS}}}InsertResults/{{{WFS}}}Feature/{{http://www.opengis.net/ogc}}FeatureId")\
        .get("fid")
    assert fid_text.startswith(f"{SLUG}.")
    fid = int(fid_text.split(".")[1])
    name, pressure, outlets, status, x, y = row(fid)
    assert (name, pressure, outlets, status) == ("新栓", 310.5, 2, "正常")
    assert 285_000 < x < 286_000 and 2_767_000 < y < 2_769_000  # lon/lat (EPSG:4326 as x/y) → TWD97
    update = f"""<wfs:Transaction service="WFS" version="1.1.0" {NSDECL}><wfs:Update typeName="civgis:{SLUG}">
      <wfs:Property><wfs:Name>outlets</wfs:Name><wfs:Value>3</wfs:Value></wfs:Property>
      <wfs:Property><wfs:Name>civgis:geom</wfs:Name><wfs:Value><gml:Point srsName="urn:ogc:def:crs:EPSG::3826">
        <gml:pos>280000 2765000</gml:pos></gml:Point></wfs:Value></wfs:Property>
      <ogc:Filter><ogc:FeatureId fid="{fid_text}"/></ogc:Filter></wfs:Update></wfs:Transaction>"""
    changed = post(c, update)
    assert changed.status_code == 200, changed.content.decode()
    assert etree.fromstring(changed.content).findtext(f".//{{{WFS}}}totalUpdated") == "1"
    assert row(fid)[2] == 3 and row(fid)[4:] == (280000, 2765000)
    gone = post(c, f"""<wfs:Transaction service="WFS" version="1.1.0" {NSDECL}><wfs:Delete typeName="{SLUG}">
      <ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>新栓</ogc:Literal>
      </ogc:PropertyIsEqualTo></ogc:Filter></wfs:Delete></wfs:Transaction>""")
    assert gone.status_code == 200 and etree.fromstring(gone.content).findtext(f".//{{{WFS}}}totalDeleted") == "1"
    assert row(fid) is None and count() == before
    history = list(FeatureChange.objects.filter(layer__slug=SLUG, fid=fid).order_by("version"))
    assert [(h.version, h.action, h.username) for h in history] == [
        (1, "create", "wt-fire"), (2, "update", "wt-fire"), (3, "delete", "wt-fire")]
    assert history[1].before["properties"]["outlets"] == 2 and history[1].after["properties"]["outlets"] == 3
    assert history[2].after is None and history[2].before["properties"]["name"] == "新栓"
    assert [e.action for e in audited(object_label=SLUG)] == ["feature_create", "feature_update", "feature_delete"]


def test_wfs_200_resource_id_versions_conflict_and_lat_lon_gml32(world):
    c = as_user("wt-fire")
    made = post(c, f"""<wfs:Transaction service="WFS" version="2.0.0" {NSDECL2}><wfs:Insert>
      <civgis:{SLUG}><civgis:name>二代</civgis:name><civgis:status>損壞</civgis:status>
      <civgis:geom><gml:Point gml:id="p1" srsName="http://www.opengis.net/def/crs/EPSG/0/4326">
      <gml:pos>25.02 121.35</gml:pos></gml:Point></civgis:geom></civgis:{SLUG}></wfs:Insert></wfs:Transaction>""")
    assert made.status_code == 200, made.content.decode()
    rid = etree.fromstring(made.content).find(".//{http://www.opengis.net/fes/2.0}ResourceId").get("rid")
    fid = int(rid.split(".")[1])
    assert 285_000 < row(fid)[4] < 286_000  # latitude first, as EPSG:4326 says

    def update(version):
        return post(c, f"""<wfs:Transaction service="WFS" version="2.0.0" {NSDECL2}>
          <wfs:Update typeName="civgis:{SLUG}"><wfs:Property><wfs:ValueReference>pressure_kpa</wfs:ValueReference>
          <wfs:Value>199.5</wfs:Value></wfs:Property>
          <fes:Filter><fes:ResourceId rid="{rid}" version="{version}"/></fes:Filter></wfs:Update></wfs:Transaction>""")
    assert update(1).status_code == 200 and row(fid)[1] == 199.5
    stale = update(1)  # version 1 was read; the feature is at 2 now
    assert stale.status_code == 409
    code, text = exception(stale)
    assert code == "OperationProcessingFailed" and rid in text and "version 2" in text
    assert etree.fromstring(stale.content).get("version") == "2.0.0"
    # all or nothing: a bad second action leaves the first unwritten
    both = post(c, f"""<wfs:Transaction service="WFS" version="2.0.0" {NSDECL2}>
      <wfs:Delete typeName="{SLUG}"><fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter></wfs:Delete>
      <wfs:Delete typeName="{SLUG}"><fes:Filter><fes:ResourceId rid="{SLUG}.999999"/></fes:Filter></wfs:Delete>
      </wfs:Transaction>""")
    assert both.status_code == 404 and row(fid) is not None and f"{SLUG}.999999" in exception(both)[1]


def test_wfs_100_as_qgis_sends_it_gml2_coordinates(world):
    made = post(as_user("wt-fire"), f"""<Transaction xmlns="http://www.opengis.net/wfs" service="WFS"
      version="1.0.0" xmlns:gml="http://www.opengis.net/gml" xmlns:ogc="http://www.opengis.net/ogc"><Insert>
      <{SLUG} xmlns="https://civgis.example.gov.tw/ows"><geom><gml:Point
      srsName="http://www.opengis.net/gml/srs/epsg.xml#3826"><gml:coordinates cs="," ts=" ">281500,2765500
      </gml:coordinates></gml:Point></geom><name>QGIS</name><status>正常</status></{SLUG}></Insert></Transaction>""")
    assert made.status_code == 200, made.content.decode()
    root = etree.fromstring(made.content)
    assert etree.QName(root).localname == "WFS_TransactionResponse"
    assert root.find(f"{{{WFS}}}TransactionResult/{{{WFS}}}Status/{{{WFS}}}SUCCESS") is not None
    fid = int(root.find(f"{{{WFS}}}InsertResult/{{http://www.opengis.net/ogc}}FeatureId").get("fid").split(".")[1])
    assert row(fid)[0] == "QGIS" and row(fid)[4:] == (281500, 2765500)


def test_form_rules_rights_hidden_layers_and_token_scopes(world):
    c = as_user("wt-fire")
    before = count()
    refused = post(c, insert_110(status="不明"))
    assert refused.status_code == 400
    code, text = exception(refused)
    assert code == "InvalidParameterValue" and "不明" in text and "正常" in text  # the field's value-list message
    nameless = post(c, insert_110(name=""))
    assert nameless.status_code == 400 and "必填" in exception(nameless)[1]
    clerk = post(as_user("wt-clerk"), insert_110())
    assert clerk.status_code == 403 and exception(clerk)[0] == "OperationProcessingFailed"
    hidden = post(as_user("wt-clerk"), insert_110().replace(f"civgis:{SLUG}", f"civgis:{HIDDEN}"))
    missing = post(as_user("wt-clerk"), insert_110().replace(f"civgis:{SLUG}", "civgis:no-such-layer"))
    assert hidden.status_code == missing.status_code == 400
    assert exception(hidden)[1].replace(HIDDEN, "X") == exception(missing)[1].replace("no-such-layer", "X")
    anonymous = post(Client(), insert_110())
    assert anonymous.status_code == 400  # an internal layer is not there for the anonymous
    basic = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"qgis:{world['reader']}".encode()).decode()}
    read_only = Client().post("/ows", data=insert_110().encode(), content_type="text/xml", **basic)
    assert read_only.status_code == 403 and "edit" in exception(read_only)[1]
    assert count() == before and not FeatureChange.objects.filter(layer__slug=SLUG).exists()
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            f'<wfs:Transaction {NSDECL}>&lol2;</wfs:Transaction>')
    assert post(c, bomb).status_code == 400 and exception(post(c, bomb))[0] == "OperationParsingFailed"


def test_locks_hold_features_against_other_writers(world):
    fire, fire2 = as_user("wt-fire"), as_user("wt-fire2")
    locked = post(fire, f"""<wfs:LockFeature service="WFS" version="2.0.0" expiry="60" {NSDECL2}>
      <wfs:Query typeNames="civgis:{SLUG}"><fes:Filter><fes:ResourceId rid="{SLUG}.1"/></fes:Filter></wfs:Query>
      </wfs:LockFeature>""")
    assert locked.status_code == 200, locked.content.decode()
    lock_id = etree.fromstring(locked.content).get("lockId")
    assert lock_id and etree.fromstring(locked.content).find(".//{http://www.opengis.net/fes/2.0}ResourceId")\
        .get("rid") == f"{SLUG}.1"

    def delete_one(c, lock=""):
        return post(c, f"""<wfs:Transaction service="WFS" version="1.1.0" {NSDECL}>{lock}
          <wfs:Delete typeName="{SLUG}"><ogc:Filter><ogc:FeatureId fid="{SLUG}.1"/></ogc:Filter></wfs:Delete>
          </wfs:Transaction>""")
    other = delete_one(fire2)
    assert other.status_code == 409 and "locked" in exception(other)[1] and row(1) is not None
    rest = fire2.patch(f"/api/v1/layers/{SLUG}/features/1/", {"properties": {"outlets": 9}, "version": 0},
                       content_type="application/json")
    assert rest.status_code == 423 and row(1)[2] == 2  # the browser's path is held as well
    again = post(fire2, f"""<wfs:LockFeature service="WFS" version="2.0.0" {NSDECL2}>
      <wfs:Query typeNames="{SLUG}"><fes:Filter><fes:ResourceId rid="{SLUG}.1"/></fes:Filter></wfs:Query>
      </wfs:LockFeature>""")
    assert again.status_code == 409 and exception(again)[0] == "CannotLockAllFeatures"
    with_lock = post(fire2, f"""<wfs:Transaction service="WFS" version="1.1.0" {NSDECL}>
          <wfs:LockId>{lock_id}</wfs:LockId>
          <wfs:Update typeName="{SLUG}"><wfs:Property><wfs:Name>outlets</wfs:Name><wfs:Value>4</wfs:Value>
          </wfs:Property><ogc:Filter><ogc:FeatureId fid="{SLUG}.1"/></ogc:Filter></wfs:Update></wfs:Transaction>""")
    assert with_lock.status_code == 200, with_lock.content.decode()
    # the lock was released with the transaction (releaseAction ALL): anyone may write again
    assert fire.patch(f"/api/v1/layers/{SLUG}/features/1/", {"properties": {"outlets": 5}},
                      content_type="application/json", HTTP_IF_MATCH='"1"').status_code == 200


def test_capabilities_advertise_transactions_only_to_editors(world):
    def operations(c, version):
        caps = c.get("/ows", {"SERVICE": "WFS", "REQUEST": "GetCapabilities", "VERSION": version})
        assert caps.status_code == 200
        return {e.get("name") for e in etree.fromstring(caps.content).iter() if etree.QName(e).localname ==
                "Operation" and e.get("name")}
    assert {"Transaction", "LockFeature", "GetFeatureWithLock"} <= operations(as_user("wt-fire"), "2.0.0")
    caps = etree.fromstring(as_user("wt-fire").get("/ows", {"SERVICE": "WFS", "REQUEST": "GetCapabilities",
                                                            "VERSION": "2.0.0"}).content)
    constraints = {e.get("name"): "".join(e.itertext()).strip() for e in caps.iter()
                   if etree.QName(e).localname == "Constraint"}
    assert constraints.get("ImplementsTransactionalWFS") == constraints.get("ImplementsLockingWFS") == "TRUE"
    assert {"Transaction", "LockFeature"} <= operations(as_user("wt-fire"), "1.1.0")
    assert "Transaction" not in operations(as_user("wt-clerk"), "2.0.0")
    old = etree.fromstring(as_user("wt-fire").get("/ows", {"SERVICE": "WFS", "REQUEST": "GetCapabilities",
                                                          "VERSION": "1.0.0"}).content)
    assert any(etree.QName(e).localname == "Transaction" for e in old.iter())  # WFS 1.0.0, as QGIS asks
    editable_types = [t for t in old.iter(f"{{{WFS}}}FeatureType")
                      if t.find(f"{{{WFS}}}Operations/{{{WFS}}}Insert") is not None]
    assert {t.findtext(f"{{{WFS}}}Name") for t in editable_types} == {SLUG, HIDDEN}  # the agency's two layers
    assert "Transaction" not in operations(as_user("wt-clerk"), "1.1.0")


def test_get_feature_with_lock_over_http_and_owslib_reads(world):
    import requests
    from owslib.wfs import WebFeatureService

    auth = ("qgis", world["secret"])
    answer = requests.post(world["base"] + "/ows", auth=auth, timeout=60, data=f"""<wfs:GetFeatureWithLock
      service="WFS" version="1.1.0" expiry="1" {NSDECL}><wfs:Query typeName="civgis:{SLUG}"><ogc:Filter>
      <ogc:FeatureId fid="{SLUG}.3"/></ogc:Filter></wfs:Query></wfs:GetFeatureWithLock>""".encode(),
                           headers={"Content-Type": "text/xml"})
    assert answer.status_code == 200 and 'lockId="' in answer.text and "<civgis:name>C</civgis:name>" in answer.text
    wfs = WebFeatureService(world["base"] + "/ows", version="2.0.0", username="qgis", password=world["secret"])
    assert SLUG in [name.split(":")[-1] for name in wfs.contents]
    assert {"Transaction", "LockFeature"} <= {op.name for op in wfs.operations}


GDAL_SCRIPT = textwrap.dedent("""
    import os
    import json, sys
    from osgeo import gdal, ogr
    gdal.UseExceptions()
    gdal.SetConfigOption("GDAL_HTTP_AUTH", "BASIC")
    gdal.SetConfigOption("GDAL_HTTP_USERPWD", "qgis:" + sys.argv[2])
    ds = gdal.OpenEx("WFS:" + sys.argv[1] + "/ows?VERSION=1.1.0", gdal.OF_VECTOR | gdal.OF_UPDATE)
    layer = ds.GetLayerByName("civgis:wt-hydrants")
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("name", "GDAL 新增")
    feature.SetField("status", "正常")
    feature.SetField("outlets", 6)
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (281000 2766000)"))
    layer.CreateFeature(feature)
    made = feature.GetFID()
    layer.ResetReading()
    target = [f for f in layer if f.GetField("name") == "B"][0]
    target.SetField("pressure_kpa", 123.25)
    layer.SetFeature(target)
    layer.ResetReading()
    doomed = [f for f in layer if f.GetField("name") == "C"][0]
    layer.DeleteFeature(doomed.GetFID())
    print(json.dumps({"made": made, "updated": target.GetFID(), "deleted": doomed.GetFID()}))
""")


def test_gdal_wfs_driver_inserts_updates_and_deletes(world, tmp_path):
    done = subprocess.run(["/usr/bin/python3", "-c", GDAL_SCRIPT, world["base"], world["secret"]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    source = tmp_path / "new.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.305, 24.995 + i / 1000]},
         "properties": {"name": f"ogr2ogr {i}", "status": "正常", "outlets": i}} for i in (1, 2)]}))
    appended = subprocess.run(
        ["ogr2ogr", "-update", "-append", "-t_srs", "EPSG:3826", "-nln", f"civgis:{SLUG}",
         f"WFS:{world['base']}/ows?VERSION=1.1.0", str(source), "--config", "GDAL_HTTP_AUTH", "BASIC",
         "--config", "GDAL_HTTP_USERPWD", f"qgis:{world['secret']}"], capture_output=True, text=True, timeout=120)
    assert appended.returncode == 0, appended.stderr[-2000:]
    with connection.cursor() as cur:
        cur.execute(f"SELECT name, outlets FROM layerdata.{TABLE} WHERE name LIKE 'ogr2ogr %%' ORDER BY name")
        assert cur.fetchall() == [("ogr2ogr 1", 1), ("ogr2ogr 2", 2)]
    with connection.cursor() as cur:
        cur.execute(f"SELECT name, outlets, ST_X(geom) FROM layerdata.{TABLE} WHERE name = 'GDAL 新增'")
        assert cur.fetchone() == ("GDAL 新增", 6, 281000)
        cur.execute(f"SELECT pressure_kpa FROM layerdata.{TABLE} WHERE name = 'B'")
        assert cur.fetchone() == (123.25,)
        cur.execute(f"SELECT count(*) FROM layerdata.{TABLE} WHERE name = 'C'")
        assert cur.fetchone() == (0,)
    assert set(FeatureChange.objects.filter(layer__slug=SLUG, username="wt-fire").values_list("action", flat=True)) \
        == {"create", "update", "delete"}
    from owslib.wfs import WebFeatureService  # reading back through another client: the engine sees the writes

    wfs = WebFeatureService(world["base"] + "/ows", version="1.1.0", username="qgis", password=world["secret"])
    gml = etree.fromstring(wfs.getfeature(typename=[f"civgis:{SLUG}"]).read())
    names = {e.text for e in gml.iter("{https://civgis.example.gov.tw/ows}name")}
    assert {"GDAL 新增", "ogr2ogr 1", "ogr2ogr 2", "B"} <= names and "C" not in names


def test_ogcapi_part4_create_replace_update_delete(world):
    c = as_user("wt-fire")
    url = f"/ogcapi/collections/{SLUG}/items"
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in \
        Client().get("/ogcapi/conformance", {"f": "json"}).json()["conformsTo"]
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.33, 25.0]},
               "properties": {"name": "四部", "status": "正常", "outlets": 1}}
    made = c.post(url, json.dumps(feature), content_type="application/geo+json")
    assert made.status_code == 201, made.content
    assert made["ETag"] == '"1"' and made["Location"].endswith(f"{url}/{made.json()['id']}")
    item = f"{url}/{made.json()['id']}"
    assert c.get(item)["ETag"] == '"1"'
    patched = c.patch(item, json.dumps({"properties": {"outlets": 3}}), content_type="application/merge-patch+json",
                      HTTP_IF_MATCH='"1"')
    assert patched.status_code == 200 and patched["ETag"] == '"2"' and patched.json()["properties"]["outlets"] == 3
    stale = c.put(item, json.dumps(feature), content_type="application/geo+json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale["ETag"] == '"2"' and stale.json()["code"] == "PreconditionFailed"
    replaced = c.put(item, json.dumps({**feature, "properties": {"name": "取代", "status": "損壞"}}),
                     content_type="application/geo+json", HTTP_IF_MATCH='"2"')
    assert replaced.status_code == 200 and replaced.json()["properties"]["outlets"] is None  # replaced whole
    rule = c.patch(item, json.dumps({"properties": {"status": "?"}}), content_type="application/merge-patch+json")
    assert rule.status_code == 400 and "正常" in rule.json()["description"]
    in_twd97 = c.post(url, json.dumps({**feature, "geometry": {"type": "Point", "coordinates": [282000, 2765500]}}),
                      content_type="application/geo+json",
                      HTTP_CONTENT_CRS="<http://www.opengis.net/def/crs/EPSG/0/3826>")
    assert in_twd97.status_code == 201 and row(in_twd97.json()["id"])[4:] == (282000, 2765500)
    assert as_user("wt-clerk").delete(item).status_code == 403
    assert as_user("wt-clerk").post(f"/ogcapi/collections/{HIDDEN}/items", json.dumps(feature),
                                    content_type="application/geo+json").status_code == 404
    assert c.delete(item, HTTP_IF_MATCH='"3"').status_code == 204
    assert c.get(item).status_code == 404
    assert [h.action for h in FeatureChange.objects.filter(layer__slug=SLUG, fid=made.json()["id"])
            .order_by("version")] == ["create", "update", "update", "delete"]


def test_huge_and_not_finite_numbers_are_refused_naming_the_attribute(world):
    """Review: a number too large for any column (400 digits) was a 500 on every write path (WFS-T, Part 4, the
    REST API): it is a 400 naming the attribute, and nothing is written."""
    c = as_user("wt-fire")
    before = count()
    big = "1" + "0" * 400
    for outlets, pressure, named in ((big, "310", "outlets"), ("2", big, "pressure_kpa"), ("2", "NaN", "pressure_kpa"),
                                     ("2", "-1e400", "pressure_kpa")):
        xml = insert_110().replace("<civgis:outlets>2</civgis:outlets>",
                                   f"<civgis:outlets>{outlets}</civgis:outlets>") \
            .replace("<civgis:pressure_kpa>310.5</civgis:pressure_kpa>",
                     f"<civgis:pressure_kpa>{pressure}</civgis:pressure_kpa>")
        answer = post(c, xml)
        assert answer.status_code == 400, (named, answer.status_code, answer.content[:300])
        code, text = exception(answer)
        assert code == "InvalidParameterValue" and named in text, text
    point = {"type": "Point", "coordinates": [121.33, 25.0]}
    for properties, named in (({"name": "大", "outlets": 10 ** 400}, "outlets"),
                              ({"name": "大", "pressure_kpa": 10 ** 400}, "pressure_kpa")):
        body = json.dumps({"type": "Feature", "geometry": point, "properties": properties})
        part4 = c.post(f"/ogcapi/collections/{SLUG}/items", body, content_type="application/geo+json")
        assert part4.status_code == 400 and named in part4.json()["description"], part4.content[:300]
        rest = c.post(f"/api/v1/layers/{SLUG}/features/", body, content_type="application/json")
        assert rest.status_code == 400 and named in rest.content.decode(), rest.content[:300]
    infinite = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1e400, 0]}, "properties": {}}'
    for crs in ({}, {"HTTP_CONTENT_CRS": "<http://www.opengis.net/def/crs/EPSG/0/3826>"}):
        answer = c.post(f"/ogcapi/collections/{SLUG}/items", infinite, content_type="application/geo+json", **crs)
        assert answer.status_code == 400, (crs, answer.content[:300])
    assert count() == before


def test_a_lock_holds_only_features_that_exist(world):
    """Review: LockFeature locked (and answered as locked) a feature id no feature has — a later insert given that
    id was born held by someone else's lock."""
    from editing import locks

    fire = as_user("wt-fire")
    answer = post(fire, f"""<wfs:LockFeature service="WFS" version="2.0.0" expiry="60" {NSDECL2}>
      <wfs:Query typeNames="{SLUG}"><fes:Filter><fes:ResourceId rid="{SLUG}.2"/><fes:ResourceId rid="{SLUG}.999999"/>
      </fes:Filter></wfs:Query></wfs:LockFeature>""")
    assert answer.status_code == 200, answer.content.decode()
    root = etree.fromstring(answer.content)
    try:
        locked = [e.get("rid") for e in root.iter("{http://www.opengis.net/fes/2.0}ResourceId")]
        assert locked == [f"{SLUG}.2"], answer.content.decode()
        layer = Layer.objects.get(slug=SLUG)
        locks.check(layer.pk, 999999, User.objects.get(username="wt-fire2"))  # nobody's: no Locked raised
        with pytest.raises(locks.Locked):
            locks.check(layer.pk, 2, User.objects.get(username="wt-fire2"))
    finally:
        locks.release(root.get("lockId"))


def test_wfs_200_replace_names_its_layer_by_the_feature_and_hides_a_hidden_one(world):
    """Review: WFS 2.0's Replace has no typeName (the feature's element names the layer): it was refused as "no layer
    named ''"."""
    c = as_user("wt-fire")

    def replace(slug, rid):
        return post(c, f"""<wfs:Transaction service="WFS" version="2.0.0" {NSDECL2}><wfs:Replace>
          <civgis:{slug}><civgis:name>取代</civgis:name><civgis:status>損壞</civgis:status>
          <civgis:geom><gml:Point srsName="EPSG:3826"><gml:pos>281500 2766500</gml:pos></gml:Point></civgis:geom>
          </civgis:{slug}><fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter></wfs:Replace></wfs:Transaction>""")
    done = replace(SLUG, f"{SLUG}.2")
    assert done.status_code == 200, done.content.decode()
    assert etree.fromstring(done.content).findtext(f".//{{{WFS2}}}totalReplaced") == "1"
    assert row(2)[:4] == ("取代", None, None, "損壞") and row(2)[4:] == (281500, 2766500)  # replaced whole
    clerk = as_user("wt-clerk")
    answers = {}
    for slug in (HIDDEN, "no-such-layer"):
        xml = f"""<wfs:Transaction service="WFS" version="2.0.0" {NSDECL2}><wfs:Replace><civgis:{slug}>
          <civgis:name>x</civgis:name></civgis:{slug}><fes:Filter><fes:ResourceId rid="{slug}.2"/></fes:Filter>
          </wfs:Replace></wfs:Transaction>"""
        answers[slug] = post(clerk, xml)
    assert answers[HIDDEN].status_code == answers["no-such-layer"].status_code == 400
    assert exception(answers[HIDDEN])[1].replace(HIDDEN, "X") == \
        exception(answers["no-such-layer"])[1].replace("no-such-layer", "X")
