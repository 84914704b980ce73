"""The SensorThings API (/sta/v1.1/) over a small registry whose answers are worked out by hand below: three
devices (two public, one in another agency's restricted layer), their readings, every query option, writes with
their rights, and the errors SensorThings clients expect."""

import json
import urllib.parse
from datetime import UTC, datetime

import importfiles as files
import numpy as np
import pytest
import shapely
from django.contrib.auth.models import Group, User
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from iot.ingest import ingest
from iot.models import Datastream, Device, Observation, Quantity
from iot.tokens import new_token
from layers.importing import jobs
from layers.importing.pipeline import run_job

pytestmark = pytest.mark.django_db
ROOT = "/sta/v1.1"


def device(device_id, name, lon, lat, layer=None, **fields):
    token, hashed = new_token()
    made = Device.objects.create(device_id=device_id, name=name, token_hash=hashed, layer=layer,
                                 location=Point(lon, lat, srid=4326).transform(3826, clone=True), **fields)
    made.token = token
    return made


def at(hour, minute=0):
    return datetime(2026, 11, 1, hour, minute, tzinfo=UTC).isoformat()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Air A (AQ-1, 121.30/24.99): pm25 10, 20, 30 at 08, 09, 10 h UTC and 25.5 °C at 08 h; Air B (AQ-2,
    121.31/25.00): pm25 40 at 08 h; Hidden (SECRET-1, in a restricted layer): pm25 99 at 08 h. Committed once for
    the module; each test's own writes are rolled back with its transaction."""
    from django.db import connection

    from layers.models import Layer

    with django_db_blocker.unblock():
        agency = Group.objects.create(name="環保局")
        path = files.write_vector(tmp_path_factory.mktemp("sta") / "secret.gpkg",
                                  np.array([shapely.Point(121.2, 24.9)], dtype=object),
                                  {"sensor_id": np.array(["SECRET-1"], dtype=object)}, "EPSG:4326", "GPKG")
        job = run_job(jobs.create(path, path.name, {"slug": "secret-sensors", "visibility": "restricted",
                                                    "owner_agency": agency.pk}).pk)
        assert job.status == "succeeded", job.errors
        layer = Layer.objects.get(slug="secret-sensors")
        layer.owner_agency = agency
        layer.save()
        a = device("AQ-1", "Air A", 121.30, 24.99, properties={"city": "桃園市", "isMobile": False})
        b = device("AQ-2", "Air B", 121.31, 25.00, properties={"city": "新竹市"})
        hidden = device("SECRET-1", "Hidden", 121.2, 24.9, layer=layer)
        for dev, readings in ((a, [("pm25", 8, 10.0), ("pm25", 9, 20.0), ("pm25", 10, 30.0),
                                    ("temperature_c", 8, 25.5)]),
                              (b, [("pm25", 8, 40.0)]), (hidden, [("pm25", 8, 99.0)])):
            outcome = ingest(dev, [{"quantity": q, "value": v, "observed_at": at(h)} for q, h, v in readings],
                             "http")
            assert outcome.accepted == len(readings)
        staff = User.objects.create_user("sta-staff", is_staff=True)
        member = User.objects.create_user("sta-member")
        member.groups.add(agency)
        streams = {(d.device.device_id, d.quantity.code): d.pk for d in Datastream.objects.select_related(
            "device", "quantity")}
        try:
            yield {"a": a, "b": b, "hidden": hidden, "staff": staff, "member": member, "ds": streams}
        finally:
            Device.objects.all().delete()
            Layer.objects.all().delete()
            User.objects.filter(username__startswith="sta-").delete()
            agency.delete()
            with connection.cursor() as cur:
                cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


@pytest.fixture
def registry(world, db):
    return world


def get(path, user=None, **headers):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    resp = client.get(path if path.startswith("http") or path.startswith("/") else f"{ROOT}/{path}", **headers)
    return resp.status_code, json.loads(resp.content) if resp.content[:1] in (b"{", b"[") else resp.content


def values(path, key="@iot.id", user=None):
    status, body = get(path, user)
    assert status == 200, body
    return [e[key] for e in body["value"]]


def q(text: str) -> str:
    return urllib.parse.quote(text, safe="(),/$=&")


# ---------------------------------------------------------------------------------------------------------------
# the service and its entity sets
# ---------------------------------------------------------------------------------------------------------------
def test_the_service_root_lists_the_entity_sets_and_conformance(registry):
    status, body = get(ROOT)
    assert status == 200
    assert [s["name"] for s in body["value"]] == ["Things", "Locations", "HistoricalLocations", "Sensors",
                                                  "ObservedProperties", "Datastreams", "Observations",
                                                  "FeaturesOfInterest"]
    assert body["value"][0]["url"] == "http://testserver/sta/v1.1/Things"
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete" in \
        body["serverSettings"]["conformance"]
    assert get("/sta/v1.0/Things")[1]["value"][0]["@iot.selfLink"].startswith("http://testserver/sta/v1.0/")


def test_things_with_links_and_a_hidden_thing_answers_as_a_missing_one(registry):
    a, hidden = registry["a"], registry["hidden"]
    status, body = get(f"Things({a.pk})")
    assert status == 200
    assert body == {"@iot.id": a.pk, "@iot.selfLink": f"http://testserver{ROOT}/Things({a.pk})", "name": "Air A",
                    "description": "", "properties": {"city": "桃園市", "isMobile": False, "deviceId": "AQ-1"},
                    "Locations@iot.navigationLink": f"http://testserver{ROOT}/Things({a.pk})/Locations",
                    "HistoricalLocations@iot.navigationLink":
                        f"http://testserver{ROOT}/Things({a.pk})/HistoricalLocations",
                    "Datastreams@iot.navigationLink": f"http://testserver{ROOT}/Things({a.pk})/Datastreams"}
    assert values("Things") == [a.pk, registry["b"].pk]
    assert values("Things", user=registry["member"]) == [a.pk, registry["b"].pk, hidden.pk]
    missing = hidden.pk + 1000
    for path in ("Things({})", "Things({})/Datastreams", "Locations({})", "FeaturesOfInterest({})"):
        seen, absent = get(path.format(hidden.pk)), get(path.format(missing))
        assert seen[0] == absent[0] == 404 and seen[1] == absent[1], path


def test_navigation_and_properties(registry):
    ds = registry["ds"][("AQ-1", "pm25")]
    status, body = get(f"Datastreams({ds})/Observations?$orderby=phenomenonTime")
    assert [o["result"] for o in body["value"]] == [10.0, 20.0, 30.0]
    assert body["value"][0]["phenomenonTime"] == "2026-11-01T08:00:00Z"
    oid = body["value"][0]["@iot.id"]
    assert get(f"Observations('{oid}')")[1]["result"] == 10.0
    assert get(f"Observations('{oid}')/Datastream/Thing")[1]["name"] == "Air A"
    assert get(f"Datastreams({ds})/name")[1] == {"name": "Air A pm25"}
    assert get(f"Datastreams({ds})/name/$value")[1] == b"Air A pm25"
    assert get(f"Datastreams({ds})/ObservedProperty")[1]["name"] == "pm25"
    assert get(f"Datastreams({ds})/unitOfMeasurement")[1]["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert get(f"Things({registry['a'].pk})/Locations")[1]["value"][0]["location"] == {
        "type": "Point", "coordinates": [121.3, 24.99]}
    assert get(f"Things({registry['a'].pk})/Datastreams/$ref")[1]["value"][0]["@iot.selfLink"].endswith(
        f"Datastreams({ds})")


# ---------------------------------------------------------------------------------------------------------------
# $filter: hand-checked answers
# ---------------------------------------------------------------------------------------------------------------
FILTERS = [
    ("Things", "name eq 'Air A'", ["Air A"]),
    ("Things", "name ne 'Air A'", ["Air B"]),
    ("Things", "startswith(name, 'Air') and not endswith(name, 'B')", ["Air A"]),
    ("Things", "substringof('B', name)", ["Air B"]),
    ("Things", "contains(name, 'ir')", ["Air A", "Air B"]),
    ("Things", "length(name) eq 5 and tolower(name) eq 'air b'", ["Air B"]),
    ("Things", "toupper(substring(name, 4)) eq 'A'", ["Air A"]),
    ("Things", "indexof(name, 'B') eq 4", ["Air B"]),
    ("Things", "properties/city eq '桃園市'", ["Air A"]),
    ("Things", "properties/isMobile eq false", ["Air A"]),
    ("Things", "properties/nothing eq null", ["Air A", "Air B"]),
    ("Things", "(name eq 'Air A' or name eq 'Air B') and properties/deviceId eq 'AQ-2'", ["Air B"]),
    ("Observations", "result gt 15 and result le 30", [20.0, 25.5, 30.0]),
    ("Observations", "result add 5 gt 40", [40.0]),
    ("Observations", "result mul 2 sub 10 eq 30 or result div 4 eq 10", [20.0, 40.0]),
    ("Observations", "result mod 20 eq 0", [20.0, 40.0]),
    ("Observations", "round(result) eq 26", [25.5]),
    ("Observations", "floor(result) eq 25 and ceiling(result) eq 26", [25.5]),
    ("Observations", "phenomenonTime ge 2026-11-01T09:00:00Z", [20.0, 30.0]),
    ("Observations", "phenomenonTime lt '2026-11-01T17:00:00+08:00'", [10.0, 25.5, 40.0]),
    ("Observations", "year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 11 and day(phenomenonTime) eq 1"
                     " and hour(phenomenonTime) eq 9 and minute(phenomenonTime) eq 0", [20.0]),
    ("Observations", "Datastream/Thing/name eq 'Air B'", [40.0]),
    ("Observations", "Datastream/@iot.id eq {ds}", [10.0, 20.0, 30.0]),
    ("Datastreams", "Thing/id eq {thing} and ObservedProperty/@iot.id ne {pm25}", ["Air A temperature_c"]),
    ("Observations", "Datastream/ObservedProperty/name eq 'temperature_c'", [25.5]),
    ("Observations", "FeatureOfInterest/name eq 'Air A' and result lt 15", [10.0]),
    ("Datastreams", "unitOfMeasurement/symbol eq '°C'", ["Air A temperature_c"]),
    ("Locations", "st_within(location, geography'POLYGON((121.305 24.98, 121.32 24.98, 121.32 25.01, "
                  "121.305 25.01, 121.305 24.98))')", ["Air B"]),
    ("Locations", "geo.intersects(location, geography'POLYGON((121.29 24.98, 121.301 24.98, 121.301 24.995, "
                  "121.29 24.995, 121.29 24.98))')", ["Air A"]),
    ("Locations", "st_intersects(location, geometry'LINESTRING(121.2 24.99, 121.4 24.99)')", ["Air A"]),
    # Air A to Air B: 0.01° of longitude and of latitude at 25° N, about 1.5 km (geodesic)
    ("Locations", "geo.distance(location, geography'POINT(121.30 24.99)') lt 100", ["Air A"]),
    ("Locations", "geo.distance(location, geography'POINT(121.30 24.99)') gt 1400 and "
                  "geo.distance(location, geography'POINT(121.30 24.99)') lt 1600", ["Air B"]),
    ("FeaturesOfInterest", "not st_disjoint(feature, geography'POLYGON((121.309 24.999, 121.311 24.999, "
                           "121.311 25.001, 121.309 25.001, 121.309 24.999))')", ["Air B"]),
]


@pytest.mark.parametrize(("entity_set", "expression", "expected"), FILTERS, ids=[f[1][:60] for f in FILTERS])
def test_filter(registry, entity_set, expression, expected):
    expression = expression.format(ds=registry["ds"][("AQ-1", "pm25")], thing=registry["a"].pk,
                                   pm25=Quantity.objects.get(code="pm25").pk)
    key = "result" if entity_set == "Observations" else "name"
    found = values(f"{entity_set}?$filter={q(expression)}&$orderby={key}", key)
    assert found == expected


BAD_FILTERS = [
    ("name eq", "ends too early"),
    ("name eq 'Air", "cannot read"),
    ("colour eq 'red'", "no property 'colour'"),
    ("name eq 5", "cannot compare a string with a number"),
    ("name", "not a condition"),
    ("frobnicate(name)", "unknown function 'frobnicate'"),
    ("st_within(name, geography'POINT(1 2)')", "argument 1 of st_within() must be a geometry"),
    ("st_within(location, geography'POINT(1 2')", "is not WKT"),
    ("(name eq 'a'", "expected ')'"),
    ("Datastreams/name eq 'x'", "of which a Thing has many"),
]


@pytest.mark.parametrize(("expression", "message"), BAD_FILTERS, ids=[b[0] for b in BAD_FILTERS])
def test_a_malformed_filter_is_a_400_naming_the_problem(registry, expression, message):
    path = "Locations" if "location" in expression else "Things"
    status, body = get(f"{path}?$filter={q(expression)}")
    assert status == 400 and body["code"] == 400 and body["type"] == "error"
    assert message in body["message"] and "$filter" in body["message"]


def test_a_time_that_is_not_iso_8601_in_a_filter(registry):
    status, body = get(f"Observations?$filter={q(chr(112) + 'henomenonTime gt ' + repr('yesterday'))}")
    assert status == 400 and "'yesterday' is not an ISO 8601 time" in body["message"]


# ---------------------------------------------------------------------------------------------------------------
# $orderby $top $skip $count @iot.nextLink $select $expand
# ---------------------------------------------------------------------------------------------------------------
def test_orderby_top_skip_count_and_next_link(registry):
    status, body = get("Observations?$orderby=result desc&$top=2&$count=true")
    assert [o["result"] for o in body["value"]] == [40.0, 30.0]
    assert body["@iot.count"] == 5  # the hidden device's 99 is not counted
    assert body["@iot.nextLink"].startswith("http://testserver/sta/v1.1/Observations?")
    second = get(body["@iot.nextLink"])[1]
    assert [o["result"] for o in second["value"]] == [25.5, 20.0]
    third = get(second["@iot.nextLink"])[1]
    assert [o["result"] for o in third["value"]] == [10.0] and "@iot.nextLink" not in third
    assert values("Observations?$orderby=phenomenonTime desc,result&$skip=1&$top=2", "result") == [20.0, 10.0]
    assert values("Observations?$orderby=Datastream/Thing/name desc,result", "result") == [40.0, 10.0, 20.0, 25.5,
                                                                                          30.0]
    empty = get("Things?$top=0&$count=true")[1]
    assert (empty["@iot.count"], empty["value"]) == (2, [])


def test_top_has_a_default_and_a_maximum(registry):
    from iot.sta import query

    assert query.DEFAULT_TOP == 100 and query.MAX_TOP == 1000
    a = registry["a"]
    quantity = Quantity.objects.get(code="humidity_pct")
    ingest(a, [{"quantity": "humidity_pct", "value": i % 100, "observed_at": datetime(
        2026, 10, 1, tzinfo=UTC).replace(minute=i % 60, hour=i // 60 % 24, day=1 + i // 1440).isoformat()}
        for i in range(1100)], "http")
    assert Observation.objects.filter(quantity=quantity).count() == 1100
    assert len(values("Observations?$filter=" + q("Datastream/ObservedProperty/name eq 'humidity_pct'"))) == 100
    assert len(values("Observations?$top=5000&$filter=" + q("Datastream/ObservedProperty/name eq 'humidity_pct'"))) \
        == 1000


def test_select(registry):
    status, body = get(f"Things({registry['a'].pk})?$select=name,id")
    assert body == {"@iot.id": registry["a"].pk, "name": "Air A"}
    assert get("Things?$select=name")[1]["value"] == [{"name": "Air A"}, {"name": "Air B"}]
    assert get("Things?$select=colour")[0] == 400


def test_nested_expand_with_options(registry):
    a = registry["a"]
    status, body = get(f"Things({a.pk})?$expand=" + q(
        "Datastreams($select=name;$orderby=name;$expand=Observations($top=1;$orderby=phenomenonTime desc;"
        "$select=result,phenomenonTime)),Locations"))
    assert status == 200, body
    assert [(d["name"], d["Observations"]) for d in body["Datastreams"]] == [
        ("Air A pm25", [{"phenomenonTime": "2026-11-01T10:00:00Z", "result": 30.0}]),
        ("Air A temperature_c", [{"phenomenonTime": "2026-11-01T08:00:00Z", "result": 25.5}])]
    assert body["Datastreams"][0]["Observations@iot.nextLink"].endswith("$skip=1")
    assert body["Locations"][0]["location"]["coordinates"] == [121.3, 24.99]
    status, body = get("Observations?$orderby=result&$top=1&$expand=Datastream/Thing,FeatureOfInterest")
    assert body["value"][0]["Datastream"]["Thing"]["name"] == "Air A"
    assert body["value"][0]["FeatureOfInterest"]["feature"]["type"] == "Point"
    status, body = get(f"Things({a.pk})?$expand=" + q("Datastreams($filter=result gt 1)"))
    assert status == 400 and "Datastream has no property 'result'" in body["message"]
    status, body = get(f"Things({a.pk})?$expand=Colours")
    assert status == 400 and "no navigation property 'Colours'" in body["message"]
    status, body = get(f"Things({a.pk})?$expand=" + q("Datastreams($top=1"))
    assert status == 400 and "unbalanced parentheses" in body["message"]


def test_data_array_result_format(registry):
    ds = registry["ds"][("AQ-1", "pm25")]
    status, body = get(f"Datastreams({ds})/Observations?$resultFormat=dataArray&$orderby=phenomenonTime"
                       "&$select=phenomenonTime,result")
    assert body["value"] == [{"Datastream@iot.navigationLink": f"http://testserver{ROOT}/Datastreams({ds})",
                              "components": ["phenomenonTime", "result"], "dataArray@iot.count": 3,
                              "dataArray": [["2026-11-01T08:00:00Z", 10.0], ["2026-11-01T09:00:00Z", 20.0],
                                            ["2026-11-01T10:00:00Z", 30.0]]}]


def test_unknown_sets_properties_and_options(registry):
    assert get("Gadgets")[0] == 404 and "no entity set 'Gadgets'" in get("Gadgets")[1]["message"]
    assert get(f"Things({registry['a'].pk})/Gadgets")[0] == 404
    assert get("Things?$top=many")[0] == 400
    assert get("Things?$frobnicate=1")[1]["message"].startswith("unknown query option '$frobnicate'")
    assert get("Things/Datastreams")[0] == 400


# ---------------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------------
def post(path, body, user=None, device_token=None, method="post"):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    extra = {"HTTP_AUTHORIZATION": f"Device {device_token}"} if device_token else {}
    resp = getattr(client, method)(f"{ROOT}/{path}", body, format="json", **extra)
    return resp, json.loads(resp.content) if resp.content else None


THING = {"name": "河川水位站 W-1", "description": "水位計", "properties": {"deviceId": "W-1", "city": "桃園市"},
         "Locations": [{"name": "橋下", "description": "", "encodingType": "application/vnd.geo+json",
                        "location": {"type": "Point", "coordinates": [121.25, 24.95]}}],
         "Datastreams": [{"name": "水位", "description": "river level",
                          "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                          "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "ucum:m"},
                          "Sensor": {"name": "Radar gauge", "description": "", "encodingType": "text/plain",
                                     "metadata": "VEGAPULS"},
                          "ObservedProperty": {"name": "water level", "definition": "urn:water-level",
                                               "description": "river water level"}}]}


def test_deep_insert_of_a_thing_and_observations(registry):
    anonymous, _ = post("Things", THING)
    assert anonymous.status_code == 403
    resp, body = post("Things", THING, registry["staff"])
    assert resp.status_code == 201, body
    assert resp["Location"] == body["@iot.selfLink"] == f"http://testserver{ROOT}/Things({body['@iot.id']})"
    made = Device.objects.get(device_id="W-1")
    assert (made.name, made.properties) == ("河川水位站 W-1", {"city": "桃園市"})
    ds = Datastream.objects.get(device=made)
    assert (ds.name, ds.quantity.definition, ds.quantity.unit, ds.sensor.metadata) == (
        "水位", "urn:water-level", "m", "VEGAPULS")
    loc = get(f"Things({made.pk})/Locations")[1]["value"][0]["location"]["coordinates"]
    assert loc == pytest.approx([121.25, 24.95])
    again, body = post("Things", THING, registry["staff"])
    assert again.status_code == 400 and "'W-1' is taken" in body["message"]

    resp, body = post(f"Datastreams({ds.pk})/Observations", {"phenomenonTime": "2026-11-01T08:00:00+08:00",
                                                             "result": 1.25}, registry["staff"])
    assert resp.status_code == 201, body
    assert body["result"] == 1.25 and body["phenomenonTime"] == "2026-11-01T00:00:00Z"
    assert resp["Location"] == f"http://testserver{ROOT}/Observations('{body['@iot.id']}')"
    resp, body = post("Observations", {"phenomenonTime": "2026-11-01T09:00:00Z", "result": 1.5,
                                       "Datastream": {"@iot.id": ds.pk}}, registry["staff"])
    assert resp.status_code == 201 and Observation.objects.filter(device=made).count() == 2
    assert get(f"Datastreams({ds.pk})/Observations?$count=true")[1]["@iot.count"] == 2


@pytest.mark.parametrize(("body", "message"), [
    ({"phenomenonTime": "2026-11-01T08:00:00Z", "result": "high"}, "its results are numbers (got str)"),
    ({"phenomenonTime": "2026-11-01T08:00:00Z", "result": True}, "its results are numbers (got bool)"),
    ({"phenomenonTime": "1 Nov 2026", "result": 1}, "'1 Nov 2026' is not an ISO 8601 time"),
    ({"phenomenonTime": "2026-11-01T08:00:00", "result": 1}, "has no time zone"),
    ({"phenomenonTime": "2026-11-01T08:00:00Z/2026-11-01T09:00:00Z", "result": 1}, "a time interval"),
    ({"phenomenonTime": "2026-11-01T08:00:00Z", "result": -5}, "out of range"),
    ({"phenomenonTime": "2026-11-01T08:00:00Z", "result": 12}, "already has an Observation at"),
])
def test_a_bad_observation_is_a_400_naming_the_problem(registry, body, message):
    ds = registry["ds"][("AQ-1", "pm25")]
    resp, answer = post(f"Datastreams({ds})/Observations", body, device_token=registry["a"].token)
    assert resp.status_code == 400 and message in answer["message"], answer


def test_who_may_write_observations(registry):
    ds_a, ds_hidden = registry["ds"][("AQ-1", "pm25")], registry["ds"][("SECRET-1", "pm25")]
    reading = {"phenomenonTime": "2026-11-01T11:00:00Z", "result": 5}
    assert post(f"Datastreams({ds_a})/Observations", reading)[0].status_code == 403
    assert post(f"Datastreams({ds_a})/Observations", reading, device_token=registry["b"].token)[0].status_code == 403
    hidden, missing = post(f"Datastreams({ds_hidden})/Observations", reading), \
        post(f"Datastreams({ds_hidden + 1000})/Observations", reading)
    assert hidden[0].status_code == missing[0].status_code == 404
    assert hidden[1]["message"].replace(str(ds_hidden), "#") == missing[1]["message"].replace(str(ds_hidden + 1000),
                                                                                              "#")
    # the hidden device writes with its own token, and reads back what it wrote (nobody else anonymous may)
    resp, body = post(f"Datastreams({ds_hidden})/Observations", reading, device_token=registry["hidden"].token)
    assert resp.status_code == 201 and body["result"] == 5
    assert get(resp["Location"])[0] == 404
    resp, body = post(f"Datastreams({ds_hidden})/Observations", {**reading, "phenomenonTime": "2026-11-01T12:00:00Z"},
                      registry["member"])
    assert resp.status_code == 201 and body["result"] == 5
    assert post(f"Datastreams({ds_a})/Observations", reading, registry["member"])[0].status_code == 403


def test_create_observations_in_the_data_array_format(registry):
    ds = registry["ds"][("AQ-2", "pm25")]
    body = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
             "dataArray": [["2026-11-01T09:00:00Z", 41], ["2026-11-01T10:00:00Z", "n/a"], ["noon", 3],
                           ["2026-11-01T11:00:00Z", 43.5]]}]
    resp, links = post("CreateObservations", body, device_token=registry["b"].token)
    assert resp.status_code == 201
    assert links[1:3] == ["error", "error"] and links[0].endswith("')") and links[3].startswith(
        f"http://testserver{ROOT}/Observations('{ds}-")
    assert values(f"Datastreams({ds})/Observations?$orderby=phenomenonTime", "result") == [40.0, 41.0, 43.5]
    assert get(links[3])[1]["result"] == 43.5
    assert post("CreateObservations", body)[0].status_code == 403


def test_update_and_delete(registry):
    a = registry["a"]
    resp, body = post(f"Things({a.pk})", {"name": "Air A2", "properties": {"city": "台北市"}}, registry["staff"],
                      method="patch")
    assert resp.status_code == 200 and body["name"] == "Air A2" and body["properties"]["deviceId"] == "AQ-1"
    assert post(f"Things({a.pk})", {"name": "x"}, registry["member"], method="patch")[0].status_code == 403
    hidden = registry["hidden"]
    assert post(f"Things({hidden.pk})", {"name": "x"}, method="patch")[0].status_code == 404
    ds = registry["ds"][("AQ-1", "pm25")]
    oid = values(f"Datastreams({ds})/Observations?$orderby=phenomenonTime")[0]
    resp, body = post(f"Observations('{oid}')", {"result": 11.0}, device_token=a.token, method="patch")
    assert resp.status_code == 200 and body["result"] == 11.0
    assert post(f"Observations('{oid}')", None, device_token=a.token, method="delete")[0].status_code == 200
    assert get(f"Observations('{oid}')")[0] == 404
    resp = post(f"Datastreams({ds})", None, registry["staff"], method="delete")[0]
    assert resp.status_code == 200 and not Observation.objects.filter(device=a, quantity__code="pm25").exists()
    assert post(f"Things({a.pk})", None, registry["staff"], method="delete")[0].status_code == 200
    assert get(f"Things({a.pk})")[0] == 404


def test_a_thing_created_elsewhere_gets_its_datastream_on_its_first_reading(registry):
    token, hashed = new_token()
    fresh = Device.objects.create(device_id="NEW-1", token_hash=hashed)
    assert values(f"Things({fresh.pk})/Datastreams") == []
    ingest(fresh, [{"quantity": "noise_db", "value": 55, "observed_at": at(8)}], "mqtt")
    assert values(f"Things({fresh.pk})/Datastreams", "name") == ["NEW-1 noise_db"]


NASTY = [
    "Things?$filter=" + q("geo.distance(location, geography'POINT(500 500)') lt 1"),
    "Locations?$filter=" + q("geo.distance(location, geography'POINT(500 500)') lt 1"),
    "Locations?$filter=" + q("st_relate(location, geography'POINT(1 1)', 'nonsense')"),
    "Observations?$filter=" + q("result div 0 gt 1 or result mod 0 eq 1"),
    "Observations?$filter=" + q("phenomenonTime gt 99999-01-01T00:00:00Z"),
    "Observations?$filter=" + q("result gt 1e400"),
    "Observations?$filter=" + q("substring('abc', 99999999999) eq 'x'"),
    "Observations('1-99999999999999999999999')",
    "Observations('nonsense')",
    "Things('x')",
    "Things(1.5)",
    "Things?$orderby=" + q("geo.intersects(location, location)"),
    "Things?$orderby=nothing",
    "Things?$expand=" + q("Datastreams($top=-1)"),
    "Things?$skip=-3",
    "Things?$count=maybe",
    "Things?$select=",
    "Things?$expand=" + q("Datastreams($expand=Observations($expand=Datastream($expand=Thing($expand=Datastreams))))"),
]


@pytest.mark.parametrize("path", NASTY)
def test_nasty_input_is_a_4xx_with_a_message_never_a_500(registry, path):
    status, body = get(path)
    assert status in (200, 400, 404), (status, body)
    if status != 200:
        assert body["code"] == status and body["message"]


def test_st_relate_with_a_pattern(registry):
    assert values("Locations?$filter=" + q("st_relate(location, geography'POLYGON((121.29 24.98, 121.301 24.98, "
                                           "121.301 24.995, 121.29 24.995, 121.29 24.98))', 'T*F**F***')"),
                  "name") == ["Air A"]


def test_batch_requests(registry):
    a, ds = registry["a"], registry["ds"][("AQ-1", "pm25")]
    resp, body = post("$batch", {"requests": [
        {"id": "1", "method": "get", "url": f"Things({a.pk})?$select=name"},
        {"id": "2", "method": "post", "url": "Things", "body": {"name": "Batch thing", "properties": {
            "deviceId": "B-1"}}},
        {"id": "3", "method": "get", "url": "$2?$select=name"},
        {"id": "4", "method": "get", "url": "Things(999999)"},
        {"id": "5", "method": "post", "url": f"Datastreams({ds})/Observations", "atomicityGroup": "g",
         "body": {"phenomenonTime": "2026-11-01T11:00:00Z", "result": 31}},
        {"id": "6", "method": "post", "url": f"Datastreams({ds})/Observations", "atomicityGroup": "g",
         "body": {"phenomenonTime": "2026-11-01T12:00:00Z", "result": "oops"}},
        {"id": "7", "method": "put", "url": "Things"}]}, registry["staff"])
    assert resp.status_code == 200
    answers = {r["id"]: r for r in body["responses"]}
    assert answers["1"] == {"id": "1", "status": 200, "body": {"name": "Air A"}}
    made = answers["2"]["body"]["@iot.id"]
    assert answers["2"]["status"] == 201 and answers["2"]["location"].endswith(f"Things({made})")
    assert answers["3"]["body"] == {"name": "Batch thing"}
    assert answers["4"]["status"] == 404
    # one of the group failed: neither was stored, both answer the failure
    assert answers["5"]["status"] == answers["6"]["status"] == 400 and "results are numbers" in \
        answers["5"]["body"]["message"]
    assert not Observation.objects.filter(device=a, value=31).exists()
    assert answers["7"]["status"] == 405
    assert Device.objects.filter(device_id="B-1").exists()
    anonymous, body = post("$batch", {"requests": [{"id": "1", "method": "post", "url": "Things",
                                                    "body": {"name": "x"}}]})
    assert body["responses"][0]["status"] == 403


def test_a_batch_of_single_observation_posts_is_written_together_each_answered_as_if_alone(registry):
    """A run of Observation POSTs in a $batch (how many clients send a backlog) is stored by one statement, but each
    answers as it would alone: 201 with its Location and body, or its own error; a later request may refer to it."""
    a, hidden = registry["a"], registry["hidden"]
    ds, secret = registry["ds"][("AQ-1", "pm25")], registry["ds"][("SECRET-1", "pm25")]
    obs = f"Datastreams({ds})/Observations"
    resp, body = post("$batch", {"requests": [
        {"id": "1", "method": "post", "url": obs, "body": {"phenomenonTime": "2026-11-01T11:00:00Z", "result": 31}},
        {"id": "2", "method": "post", "url": "Observations", "body": {
            "Datastream": {"@iot.id": ds}, "phenomenonTime": "2026-11-01T20:00:00+08:00", "result": 32.5}},
        {"id": "3", "method": "post", "url": obs, "body": {"phenomenonTime": "2026-11-01T11:00:00Z", "result": 1}},
        {"id": "4", "method": "post", "url": obs, "body": {"phenomenonTime": "yesterday", "result": 1}},
        {"id": "5", "method": "post", "url": f"Datastreams({secret})/Observations", "body": {"result": 1}},
        {"id": "6", "method": "post", "url": obs, "body": {"phenomenonTime": "2026-11-01T13:00:00Z",
                                                         "result": 99999}},
        {"id": "7", "method": "get", "url": "$1?$select=result"}]}, device_token=a.token)
    assert resp.status_code == 200
    answers = {r["id"]: r for r in body["responses"]}
    assert [answers[k]["status"] for k in "1234567"] == [201, 201, 400, 400, 404, 400, 200]
    first = answers["1"]
    assert first["location"].endswith(f"Observations('{ds}-{1793530800 * 10**6}')")
    assert first["body"]["result"] == 31 and first["body"]["phenomenonTime"] == "2026-11-01T11:00:00Z"
    assert answers["2"]["body"]["phenomenonTime"] == "2026-11-01T12:00:00Z"
    assert "already has an Observation" in answers["3"]["body"]["message"]
    assert "ISO 8601" in answers["4"]["body"]["message"]
    assert "out of range" in answers["6"]["body"]["message"]
    assert answers["7"]["body"] == {"result": 31.0}
    assert sorted(Observation.objects.filter(device=a, quantity__code="pm25", value__gt=30.5).values_list(
        "value", flat=True)) == [31.0, 32.5]
    assert not Observation.objects.filter(device=hidden, value=1).exists()


def test_filtering_by_a_linked_id_is_a_column_condition_not_a_subquery_per_row(registry):
    """Observations?$filter=Datastream/@iot.id eq 5 is the commonest Civil IoT query: it must reach the primary key
    (a correlated subquery per observation would scan the whole table)."""
    from django.db import connection

    from iot.sta.entities import SETS
    from iot.sta.filter import compile_filter

    expr = compile_filter("Datastream/@iot.id eq 5", SETS["Observations"], "e", [])
    with connection.cursor() as cur:
        text = expr.sql.as_string(cur.cursor)
    assert text == '("e"."_datastream" = %s)' and expr.params == [5]
    deeper = compile_filter("Datastream/Thing/@iot.id eq 5", SETS["Observations"], "e", [])
    with connection.cursor() as cur:
        assert deeper.sql.as_string(cur.cursor).count("(SELECT ") == 1  # one correlated subquery, not two


def test_a_thing_created_into_a_registry_layer_follows_its_visibility(registry):
    from django.contrib.auth.models import Permission

    register = Permission.objects.get(codename="add_device")
    member, outsider = registry["member"], User.objects.create_user("sta-outsider")
    for user in (member, outsider):
        user.user_permissions.add(register)
    member, outsider = User.objects.get(pk=member.pk), User.objects.get(pk=outsider.pk)  # fresh permission caches
    thing = {"name": "機密站", "properties": {"deviceId": "S-2", "registryLayer": "secret-sensors"}}
    assert post("Things", thing)[0].status_code == 403
    resp, body = post("Things", thing, member)
    assert resp.status_code == 201 and body["properties"]["registryLayer"] == "secret-sensors"
    assert get(resp["Location"])[0] == 404  # anonymous: as if it did not exist
    assert get(resp["Location"], member)[0] == 200
    denied, body = post("Things", {**thing, "properties": {"registryLayer": "secret-sensors"}}, outsider)
    missing, other = post("Things", {**thing, "properties": {"registryLayer": "nowhere"}}, outsider)
    assert denied.status_code == missing.status_code == 400
    assert body["message"].replace("secret-sensors", "#") == other["message"].replace("nowhere", "#")
