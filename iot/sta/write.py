"""Writing through SensorThings: create (with deep insert), update (PATCH) and delete, and observations — one at
a time or many in the dataArray format — through the same ingestion as the HTTP and MQTT feeds (iot.ingest), so
they are checked, counted, kept as latest values and raise alerts the same way.

Who may write, as elsewhere on the platform:
- Observations: the device itself (`Authorization: Device <token>`, iot.tokens) or a user who may edit the
  device's registry layer (admins for devices without one).
- Things, Datastreams, Sensors, ObservedProperties: staff, admins, or users granted `iot.add_device`; changing an
  existing Thing or its streams needs edit rights on its registry layer.
- A Thing harvested from a remote SensorThings service (Device.harvested_from) is read-only for everyone,
  superusers included: 403 on any change to it, its Location, its Datastreams or their Observations.
A Thing the caller may not see answers 404 exactly as one that does not exist; one they may see but not change
answers 403.
"""

import math
import uuid
from datetime import UTC, datetime
from functools import cached_property

from django.conf import settings
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from layers.models import Layer

from .. import ingest
from ..models import Datastream, Device, Observation, Quantity, Sensor
from ..tokens import new_token
from .entities import MEASUREMENT, observation_id, observation_key
from .errors import BadRequest, Forbidden, NotFound, StaError
from .filter import parse_time
from .query import jsonable

SOURCE = "sta"  # how SensorThings writes are counted among rejects (beside http and mqtt)
LOCATION_TYPES = ("application/geo+json", "application/vnd.geo+json", "application/geojson")


class Rejected(BadRequest):
    """An observation the ingestion refused (and counted among the rejects)."""


class Writer:
    def __init__(self, user, device_token: str | None, layers):
        """`layers`: the visible layer ids, or a function answering them (read only when needed: a device
        writing to its own stream needs none)."""
        self.user, self._layers = user, layers
        self.token_device = ingest.device_for(device_token) if device_token else None
        self.written: dict | None = None  # the Observation just created by observation(): what it reads back as

    @cached_property
    def layers(self) -> list[int]:
        return self._layers() if callable(self._layers) else self._layers

    # -- rights -----------------------------------------------------------------------------------------------
    def signed_in(self) -> bool:
        return bool(self.user and self.user.is_authenticated)

    def may_create(self) -> bool:
        return self.signed_in() and (self.user.is_superuser or self.user.is_staff
                                     or self.user.has_perm("iot.add_device"))

    def may_manage(self, device: Device) -> bool:
        if device.harvested_from:  # a copy of another service's Thing: changed there, read here
            return False
        if not self.signed_in():
            return False
        if self.user.is_superuser or self.user.is_staff:
            return True
        return device.layer is not None and device.layer.can_edit(self.user)

    def require_create(self, what: str):
        if not self.may_create():
            raise Forbidden(f"creating {what} needs a signed-in user with the right to register sensors")

    def require_manage(self, device: Device, what: str):
        read_only(device)
        if not self.may_manage(device):
            raise Forbidden(f"changing {what} needs edit rights on the Thing's registry layer")

    # -- finding what the caller may see ----------------------------------------------------------------------
    def device(self, key) -> Device:
        device = Device.objects.select_related("layer").filter(pk=_int(key, "Thing")).first()
        if device is None or not (device.layer_id is None or device.layer_id in self.layers):
            raise NotFound(f"no Thing {key!r}")
        return device

    def datastream(self, key) -> Datastream:
        """A Datastream the caller may see — or one of the device whose token the caller sent (a device writes to
        its own streams whoever may read them)."""
        # the device's registry layer is read only if needed (may_manage): a device writing to its own stream —
        # the common case, thousands a minute — needs neither it nor the device's place
        ds = Datastream.objects.select_related("device", "quantity").defer("device__location").filter(
            pk=_int(key, "Datastream")).first()
        own = ds is not None and self.token_device is not None and self.token_device.pk == ds.device_id
        if ds is None or not (own or ds.device.layer_id is None or ds.device.layer_id in self.layers):
            raise NotFound(f"no Datastream {key!r}")
        return ds

    def sensor(self, key) -> Sensor:
        found = Sensor.objects.filter(pk=_int(key, "Sensor")).first()
        if found is None:
            raise NotFound(f"no Sensor {key!r}")
        return found

    def quantity(self, key) -> Quantity:
        found = Quantity.objects.filter(pk=_int(key, "ObservedProperty")).first()
        if found is None:
            raise NotFound(f"no ObservedProperty {key!r}")
        return found

    # -- create -----------------------------------------------------------------------------------------------
    def create(self, set_name: str, body, parent: tuple[str, object] | None) -> tuple[str, object]:
        """(entity set, @iot.id) of what was made."""
        body = _object(body, set_name)
        if set_name == "Observations":
            if parent is not None and parent[0] != "Datastreams":
                raise BadRequest("Observations are posted to Datastreams(id)/Observations or to Observations")
            key = parent[1] if parent else _link(body, "Datastream")
            return "Observations", self.observation(self.datastream(key), body)
        with transaction.atomic():
            if set_name == "Things":
                if parent is not None:
                    raise BadRequest("Things are posted to Things")
                return "Things", self.thing(body).pk
            if set_name == "Datastreams":
                if parent is not None and parent[0] != "Things":
                    raise BadRequest("Datastreams are posted to Datastreams or Things(id)/Datastreams")
                device = self.device(parent[1] if parent else _link(body, "Thing"))
                self.require_manage(device, "a Thing's Datastreams")
                return "Datastreams", self.new_datastream(device, body).pk
            if set_name == "Locations":
                if parent is None or parent[0] != "Things":
                    raise BadRequest("a Location here is the place of one Thing: post it to Things(id)/Locations")
                device = self.device(parent[1])
                self.require_manage(device, "a Thing's Location")
                device.location = location_point(body)
                device.save(update_fields=["location"])
                return "Locations", device.pk
            if set_name == "Sensors":
                self.require_create("Sensors")
                return "Sensors", new_sensor(body).pk
            if set_name == "ObservedProperties":
                self.require_create("ObservedProperties")
                return "ObservedProperties", new_quantity(body, "").pk
        raise BadRequest(f"{set_name} are not created directly here: HistoricalLocations and FeaturesOfInterest "
                         "follow their Thing's Location")

    def thing(self, body: dict) -> Device:
        self.require_create("Things")
        name = _text(body, "name", required=True)
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise BadRequest("Thing properties: give a JSON object")
        properties = dict(properties)
        device_id = str(properties.pop("deviceId", "") or f"sta-{uuid.uuid4().hex[:12]}")
        layer = self.registry_layer(properties.pop("registryLayer", None))
        if Device.objects.filter(device_id=device_id).exists():
            raise BadRequest(f"Thing properties.deviceId: {device_id!r} is taken")
        locations = body.get("Locations") or []
        if not isinstance(locations, list) or len(locations) > 1:
            raise BadRequest("Thing Locations: give at most one (the registry keeps a Thing's current place)")
        _token, hashed = new_token()  # the device's own token is issued by an operator (it is shown only once)
        device = Device.objects.create(
            device_id=device_id, name=name, description=_text(body, "description"), properties=properties, layer=layer,
            token_hash=hashed, location=location_point(_object(locations[0], "Location")) if locations else None)
        streams = body.get("Datastreams") or []
        if not isinstance(streams, list):
            raise BadRequest("Thing Datastreams: give a list")
        for stream in streams:
            self.new_datastream(device, _object(stream, "Datastream"))
        return device

    def registry_layer(self, slug):
        """The registry layer a new Thing belongs to (`properties.registryLayer`): it then follows that layer's
        visibility. Without one the Thing is the platform's own, readable by everyone."""
        if slug is None:
            return None
        layer = Layer.objects.visible_to(self.user).filter(slug=str(slug)).first()
        if layer is None:
            raise BadRequest(f"Thing properties.registryLayer: no layer {slug!r}")
        if not layer.can_edit(self.user):
            raise Forbidden(f"Thing properties.registryLayer: layer {slug!r} belongs to another agency")
        return layer

    def new_datastream(self, device: Device, body: dict) -> Datastream:
        observation_type = body.get("observationType", MEASUREMENT)
        if observation_type != MEASUREMENT:
            raise BadRequest(f"Datastream observationType: only {MEASUREMENT} (numeric results) is kept here, "
                             f"not {observation_type!r}")
        unit = body.get("unitOfMeasurement") or {}
        if not isinstance(unit, dict):
            raise BadRequest("Datastream unitOfMeasurement: give {\"name\", \"symbol\", \"definition\"}")
        symbol = str(unit.get("symbol") or "")
        prop = body.get("ObservedProperty")
        if not isinstance(prop, dict):
            raise BadRequest("Datastream ObservedProperty: give one ({\"@iot.id\": …} or a new one)")
        if "@iot.id" in prop:
            self.require_manage(device, "a Thing's Datastreams")
            quantity = self.quantity(prop["@iot.id"])
        else:
            self.require_create("ObservedProperties")
            quantity = new_quantity(prop, symbol)
        if symbol and quantity.unit and symbol != quantity.unit:
            raise BadRequest(f"Datastream unitOfMeasurement.symbol {symbol!r}: ObservedProperty {quantity.pk} "
                             f"is measured in {quantity.unit!r}")
        if symbol and not quantity.unit:
            quantity.unit = symbol[:20]
            quantity.save(update_fields=["unit"])
        sensor = body.get("Sensor")
        if isinstance(sensor, dict) and "@iot.id" in sensor:
            sensor = self.sensor(sensor["@iot.id"])
        elif isinstance(sensor, dict):
            self.require_create("Sensors")
            sensor = new_sensor(sensor)
        else:
            raise BadRequest("Datastream Sensor: give one ({\"@iot.id\": …} or a new one)")
        try:
            with transaction.atomic():
                return Datastream.objects.create(
                    device=device, quantity=quantity, sensor=sensor, name=_text(body, "name"),
                    description=_text(body, "description"), unit_name=str(unit.get("name") or "")[:100],
                    unit_definition=str(unit.get("definition") or "")[:500])
        except IntegrityError:
            raise BadRequest(f"Thing {device.pk} already has a Datastream of ObservedProperty {quantity.pk} "
                             "(one per Thing and ObservedProperty)") from None

    def observation(self, ds: Datastream, body: dict) -> str:
        found = self.observations([(ds, body)])[0]
        if isinstance(found, StaError):
            raise found
        ident, self.written = found
        return ident

    def observations(self, posts: list[tuple]) -> list:
        """Several Observations, each (its Datastream — or the Datastream's key — and the body): checked one by
        one, stored together by one statement (iot.ingest.ingest_many). For each, in order: (@iot.id, what it reads
        back as) or the StaError it is answered with. A $batch of single Observation POSTs is written this way."""
        results: list = [None] * len(posts)
        streams: dict[str, Datastream] = {}
        batches, where = [], []
        for n, (ds, body) in enumerate(posts):
            try:
                body = _object(body, "Observation")
                if not isinstance(ds, Datastream):
                    key = str(ds if ds is not None else _link(body, "Datastream"))
                    ds = streams[key] if key in streams else self.datastream(key)
                    streams[key] = ds
                self.require_observe(ds)
                if body.get("FeatureOfInterest") not in (None, {"@iot.id": ds.device_id}):
                    raise BadRequest(f"Observation FeatureOfInterest: an observation's feature is its Thing's place "
                                     f"(FeaturesOfInterest({ds.device_id})); leave it out")
                stamp = observation_time(body.get("phenomenonTime"))
                result = body.get("result")
                check_result(result, ds)
            except StaError as exc:
                results[n] = exc
                continue
            batches.append((ds.device, [{"quantity": ds.quantity.code, "value": result,
                                         "observed_at": stamp.isoformat()}]))
            where.append((n, ds, stamp, result))
        quantities = {ds.quantity.code: ds.quantity for _n, ds, _s, _r in where}
        outcomes = ingest.ingest_many(batches, SOURCE, quantities) if batches else []
        for (n, ds, stamp, result), outcome in zip(where, outcomes, strict=True):
            if outcome.rejected:
                reason = outcome.rejected[0]["reason"]
                results[n] = Rejected(
                    f"Datastream {ds.pk} already has an Observation at {stamp.isoformat()}" if reason == "duplicate"
                    else f"Observation rejected: {reason} (ObservedProperty {ds.quantity.code!r} takes "
                         f"{ds.quantity.min_value:g} to {ds.quantity.max_value:g})" if reason == "out of range"
                    else f"Observation rejected: {reason}")
            else:
                stored = jsonable(stamp.astimezone(UTC))  # as the database answers it
                results[n] = (observation_id(ds.pk, stamp),
                              {"phenomenonTime": stored, "resultTime": stored, "result": float(result)})
        return results

    def require_observe(self, ds: Datastream):
        read_only(ds.device)
        if self.token_device is not None and self.token_device.pk == ds.device_id:
            return
        if not self.may_manage(ds.device):
            raise Forbidden(f"writing to Datastream {ds.pk} needs its device's token (Authorization: Device …) "
                            "or edit rights on its registry layer")

    def create_observations(self, body) -> list:
        """The dataArray extension: [{"Datastream": {"@iot.id"}, "components": [...], "dataArray": [[...]]}]
        → one self link (or "error") per row, in order."""
        if not isinstance(body, list):
            raise BadRequest("CreateObservations: give a list of {Datastream, components, dataArray}")
        answers = []
        rows = sum(len(g.get("dataArray") or []) for g in body if isinstance(g, dict))
        if rows > ingest.MAX_BATCH:
            raise BadRequest(f"CreateObservations: at most {ingest.MAX_BATCH:,} observations per request", 413)
        for group in body:
            group = _object(group, "CreateObservations item")
            ds = self.datastream(_link(group, "Datastream"))
            self.require_observe(ds)
            components = group.get("components")
            if not isinstance(components, list) or "result" not in components:
                raise BadRequest("CreateObservations components: a list naming at least result "
                                 "(and phenomenonTime)")
            unknown = set(components) - {"phenomenonTime", "result", "resultTime", "FeatureOfInterest/id"}
            if unknown:
                raise BadRequest(f"CreateObservations components: unknown {sorted(unknown)[0]!r}")
            values = group.get("dataArray")
            if not isinstance(values, list):
                raise BadRequest("CreateObservations dataArray: give a list of rows")
            result_at = components.index("result")
            time_at = components.index("phenomenonTime") if "phenomenonTime" in components else None
            now = timezone.now().isoformat()
            items = []
            for row in values:
                if not isinstance(row, list) or len(row) != len(components):
                    items.append(None)  # rejected as malformed by ingest
                    continue
                items.append({"quantity": ds.quantity.code, "value": row[result_at],
                              "observed_at": row[time_at] if time_at is not None else now})
            outcome = ingest.ingest(ds.device, items, SOURCE, {ds.quantity.code: ds.quantity})
            bad = {r["index"] for r in outcome.rejected}
            for index, item in enumerate(items):
                if index in bad:
                    answers.append("error")
                else:
                    stamp = datetime.fromisoformat(str(item["observed_at"]))
                    answers.append(f"Observations('{observation_id(ds.pk, stamp)}')")
        return answers

    # -- update -----------------------------------------------------------------------------------------------
    def update(self, set_name: str, key, body) -> None:
        body = _object(body, set_name)
        with transaction.atomic():
            if set_name in ("Things", "Locations"):
                device = self.device(key)
                self.require_manage(device, f"a {set_name[:-1]}")
                if set_name == "Locations":
                    if "location" in body:
                        device.location = location_point(body)
                else:
                    for field, attr in (("name", "name"), ("description", "description")):
                        if field in body:
                            setattr(device, attr, _text(body, field))
                    if "properties" in body:
                        props = body["properties"]
                        if not isinstance(props, dict):
                            raise BadRequest("Thing properties: give a JSON object")
                        props = dict(props)
                        props.pop("deviceId", None)  # the registry's id and layer are not changed here
                        props.pop("registryLayer", None)
                        device.properties = props
                device.save()
            elif set_name == "Datastreams":
                ds = self.datastream(key)
                self.require_manage(ds.device, "a Datastream")
                for field in ("name", "description"):
                    if field in body:
                        setattr(ds, field, _text(body, field))
                unit = body.get("unitOfMeasurement")
                if isinstance(unit, dict):
                    ds.unit_name = str(unit.get("name") or ds.unit_name)[:100]
                    ds.unit_definition = str(unit.get("definition") or ds.unit_definition)[:500]
                if isinstance(body.get("Sensor"), dict) and "@iot.id" in body["Sensor"]:
                    ds.sensor = self.sensor(body["Sensor"]["@iot.id"])
                ds.save()
            elif set_name == "Sensors":
                self.require_create("Sensors")
                sensor = self.sensor(key)
                for field, attr in (("name", "name"), ("description", "description"),
                                    ("encodingType", "encoding_type"), ("metadata", "metadata")):
                    if field in body:
                        setattr(sensor, attr, _text(body, field))
                sensor.save()
            elif set_name == "ObservedProperties":
                self.require_create("ObservedProperties")
                quantity = self.quantity(key)
                for field in ("name", "definition", "description"):
                    if field in body:
                        setattr(quantity, field, _text(body, field))
                quantity.save()
            elif set_name == "Observations":
                datastream, stamp = observation_key(key)
                ds = self.datastream(datastream)
                self.require_observe(ds)
                if "phenomenonTime" in body:
                    raise BadRequest("Observation phenomenonTime is part of its id: delete it and post a new one")
                if "result" in body:
                    check_result(body["result"], ds)
                    if not ds.quantity.min_value <= body["result"] <= ds.quantity.max_value:
                        raise BadRequest(f"Observation result {body['result']} is out of range for "
                                         f"{ds.quantity.code!r}")
                    updated = Observation.objects.filter(device_id=ds.device_id, quantity_id=ds.quantity_id,
                                                         observed_at=stamp).update(value=float(body["result"]))
                    if not updated:
                        raise NotFound(f"no Observation {key!r}")
            else:
                raise BadRequest(f"{set_name} follow their Thing: change the Thing's Location instead")

    # -- delete -----------------------------------------------------------------------------------------------
    def delete(self, set_name: str, key) -> None:
        with transaction.atomic():
            if set_name == "Things":
                device = self.device(key)
                self.require_manage(device, "a Thing")
                device.delete()
            elif set_name == "Locations":
                device = self.device(key)
                self.require_manage(device, "a Thing's Location")
                device.location = None
                device.save(update_fields=["location"])
            elif set_name == "Datastreams":
                ds = self.datastream(key)
                self.require_manage(ds.device, "a Datastream")
                Observation.objects.filter(device_id=ds.device_id, quantity_id=ds.quantity_id).delete()
                ds.device.latest_set.filter(quantity_id=ds.quantity_id).delete()
                ds.delete()
            elif set_name == "Observations":
                datastream, stamp = observation_key(key)
                ds = self.datastream(datastream)
                self.require_observe(ds)
                deleted, _ = Observation.objects.filter(device_id=ds.device_id, quantity_id=ds.quantity_id,
                                                        observed_at=stamp).delete()
                if not deleted:
                    raise NotFound(f"no Observation {key!r}")
            elif set_name == "Sensors":
                self.require_create("Sensors")
                self.sensor(key).delete()
            elif set_name == "ObservedProperties":
                self.require_create("ObservedProperties")
                quantity = self.quantity(key)
                if Observation.objects.filter(quantity=quantity).exists() or quantity.datastream_set.exists():
                    raise BadRequest(f"ObservedProperty {key} has Datastreams: delete them first", 409)
                quantity.delete()
            else:
                raise BadRequest(f"{set_name} follow their Thing: delete the Thing's Location instead")


def read_only(device: Device) -> None:
    if device.harvested_from:
        raise Forbidden(f"Thing {device.pk} is read from the SensorThings service {device.harvested_from!r} "
                        "(iot.harvest): it is read-only here, for everyone")


def observation_time(value) -> datetime:
    if value is None:
        return timezone.now()
    if not isinstance(value, str):
        raise BadRequest("Observation phenomenonTime: give an ISO 8601 time as a string")
    if "/" in value:
        raise BadRequest("Observation phenomenonTime: a time interval is not kept here; give one instant")
    return parse_time(value, "Observation phenomenonTime")


def check_result(result, ds: Datastream) -> None:
    if isinstance(result, bool) or not isinstance(result, int | float) or not math.isfinite(result):
        raise BadRequest(f"Observation result: Datastream {ds.pk} is an OM_Measurement, its results are numbers "
                         f"(got {type(result).__name__ if result is not None else 'null'})")


def location_point(body: dict) -> Point:
    encoding = body.get("encodingType", "application/geo+json")
    if encoding not in LOCATION_TYPES:
        raise BadRequest(f"Location encodingType: give application/geo+json, not {encoding!r}")
    geometry = body.get("location")
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict):
        raise BadRequest("Location location: give a GeoJSON Point")
    try:
        geom = GEOSGeometry(_json(geometry), srid=4326)
    except (GEOSException, ValueError, TypeError):
        raise BadRequest("Location location: not a GeoJSON geometry") from None
    if geom.geom_type != "Point":
        raise BadRequest(f"Location location: a sensor stands at a Point, not a {geom.geom_type}")
    if not (-180 <= geom.x <= 180 and -90 <= geom.y <= 90):
        raise BadRequest("Location location: give longitude, latitude in degrees (WGS 84)")
    return geom.transform(settings.WORKING_SRID, clone=True)


def new_sensor(body: dict) -> Sensor:
    return Sensor.objects.create(name=_text(body, "name", required=True), description=_text(body, "description"),
                                 encoding_type=_text(body, "encodingType") or "text/plain",
                                 metadata=_text(body, "metadata"))


def new_quantity(body: dict, unit: str) -> Quantity:
    name = _text(body, "name", required=True)
    definition = _text(body, "definition")
    found = Quantity.objects.filter(definition=definition).first() if definition else None
    if found is not None:
        return found
    code = base = slugify(name)[:32] or "quantity"
    n = 1
    while Quantity.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    # a quantity a client defines has no known range: every finite number is a measurement
    return Quantity.objects.create(code=code, unit=unit[:20], min_value=-math.inf, max_value=math.inf, name=name,
                                   definition=definition, description=_text(body, "description"))


def _json(value) -> str:
    import json

    return json.dumps(value)


def _object(body, what: str) -> dict:
    if not isinstance(body, dict):
        raise BadRequest(f"{what}: give a JSON object")
    return body


def _text(body: dict, field: str, required: bool = False) -> str:
    value = body.get(field)
    if value is None:
        if required:
            raise BadRequest(f"{field}: required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{field}: give text")
    return value


def _link(body: dict, what: str):
    link = body.get(what)
    if not isinstance(link, dict) or "@iot.id" not in link:
        raise BadRequest(f"{what}: give the one it belongs to as {{\"@iot.id\": …}}")
    return link["@iot.id"]


def _int(key, what: str) -> int:
    if isinstance(key, bool):
        raise NotFound(f"no {what} {key!r}")
    try:
        return int(str(key).strip("'"))
    except ValueError:
        raise NotFound(f"no {what} {key!r}") from None
