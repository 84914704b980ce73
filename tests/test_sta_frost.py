"""A third-party SensorThings client, FROST's `frost-sta-client` (PyPI), against our endpoint on a live server
(gunicorn on the test database, as the browser tests run it): it creates a Thing with its Location and a
Datastream (deep insert), posts Observations, and reads them back with its own query builder."""

import importlib

import frost_sta_client as fsc
import pytest
from django.apps import apps
from frost_sta_client.service.auth_handler import AuthHandler
from requests.auth import AuthBase

pytestmark = pytest.mark.django_db  # (without it pytest-django leaves the module on the non-test database)
STAFF = "sta-frost"


class PlatformToken(AuthHandler):
    """The platform's API token (`Authorization: Token …`) where the client would send a password."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def add_auth_header(self):
        key = self.key

        class Header(AuthBase):
            def __call__(self, request):
                request.headers["Authorization"] = f"Token {key}"
                return request

        return Header()


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    """What the live server works on: the quantities and a staff user with an API token (committed)."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from iot.models import Device, Quantity, Sensor

    with django_db_blocker.unblock():
        importlib.import_module("iot.migrations.0002_quantities").create(apps, None)
        before = set(Quantity.objects.values_list("pk", flat=True))
        user = User.objects.create_user(STAFF, is_staff=True)
        key = Token.objects.create(user=user).key
        try:
            yield key
        finally:
            Device.objects.filter(device_id__startswith="frost-").delete()
            Sensor.objects.all().delete()
            Quantity.objects.exclude(pk__in=before).delete()
            user.delete()


@pytest.fixture(scope="module")
def facts():
    return {}


@pytest.fixture(scope="module")
def service(server, city):
    return fsc.SensorThingsService(f"{server}/sta/v1.1", auth_handler=PlatformToken(city))


def test_frost_client_creates_and_reads_entities(service, server):
    import requests

    location = fsc.Location(name="大漢溪橋", description="bridge", encoding_type="application/geo+json",
                            location={"type": "Point", "coordinates": [121.28, 24.93]})
    sensor = fsc.Sensor(name="Radar gauge", description="radar", encoding_type="application/pdf",
                        metadata="https://example.org/radar.pdf")
    prop = fsc.ObservedProperty(name="river level", definition="urn:civgis:test:river-level",
                                description="water level of a river")
    datastream = fsc.Datastream(name="水位", description="river level at the bridge",
                                observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                                                 "OM_Measurement",
                                unit_of_measurement=fsc.UnitOfMeasurement(name="metre", symbol="m",
                                                                          definition="ucum:m"),
                                sensor=sensor, observed_property=prop)
    thing = fsc.Thing(name="水位站 frost-1", description="a river gauge",
                      properties={"deviceId": "frost-1", "city": "桃園市"}, locations=[location],
                      datastreams=[datastream])
    service.create(thing)
    assert isinstance(thing.id, int)

    found = service.things().find(thing.id)
    assert (found.name, found.properties["city"], found.properties["deviceId"]) == ("水位站 frost-1", "桃園市",
                                                                                 "frost-1")
    streams = service.things().query().filter(f"@iot.id eq {thing.id}").expand("Datastreams").list()
    stream_id = streams.entities[0].datastreams.entities[0].id
    stream = service.datastreams().find(stream_id)
    assert stream.name == "水位" and stream.unit_of_measurement.symbol == "m"

    for hour, level in ((1, 1.25), (2, 1.75), (3, 2.5)):
        observation = fsc.Observation(phenomenon_time=f"2026-11-01T0{hour}:00:00+00:00", result=level,
                                      datastream=stream)
        service.create(observation)
        assert isinstance(observation.id, str) and observation.id.startswith(f"{stream_id}-")

    high = service.observations().query().filter(f"Datastream/@iot.id eq {stream_id} and result gt 1.5") \
        .orderby("phenomenonTime", "ASC").list()
    assert [o.result for o in high.entities] == [1.75, 2.5]
    latest = service.datastreams().query().filter(f"id eq {stream_id}") \
        .expand("Observations($orderby=phenomenonTime desc;$top=1),Thing").list().entities[0]
    assert [o.result for o in latest.observations.entities] == [2.5]
    assert latest.thing.name == "水位站 frost-1"
    near = service.locations().query().filter(
        "st_within(location, geography'POLYGON((121.27 24.92, 121.29 24.92, 121.29 24.94, 121.27 24.94, "
        "121.27 24.92))')").list()
    assert [loc.id for loc in near.entities] == [thing.id]

    first = service.observations().query().filter(f"Datastream/@iot.id eq {stream_id}") \
        .orderby("phenomenonTime", "ASC").list().entities[0]
    service.delete(first)
    assert requests.get(f"{server}/sta/v1.1/Observations('{first.id}')", timeout=10).status_code == 404
    # without the token the same client may read but not write
    anonymous = fsc.SensorThingsService(f"{server}/sta/v1.1")
    with pytest.raises(Exception, match="403"):
        anonymous.create(fsc.Observation(phenomenon_time="2026-11-01T05:00:00+00:00", result=3.0,
                                         datastream=stream))
    assert len(anonymous.observations().query().filter(f"Datastream/@iot.id eq {stream_id}").list().entities) == 2
