"""One harvest run of one remote SensorThings service: its Things with their Locations, their Datastreams with
units and ObservedProperties, and the Observations newer than what the registry already holds of each Datastream,
into read-only devices (Device.harvested_from).

One walk of the Things collection carries everything (`$expand=Locations,Datastreams($expand=ObservedProperty,
Observations($filter=phenomenonTime gt …))`), so a run costs one request per page of Things plus one per extra
page of a busy Datastream's Observations. "Newer" is per Datastream: the time of its latest reading here (its
iot_latest row); the request asks from the oldest of those (at most STA_HARVEST_LOOKBACK_HOURS back) and each
Datastream keeps only what is newer than its own. Each Thing is written in its own transaction, so a run that
fails half-way keeps the Things it finished and the next run goes on from there. Observations go through the same
ingestion as every feed (iot.ingest): checked, counted among the rejects (source `harvest`), kept as latest values,
raising alerts.
"""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.text import slugify

from .. import ingest
from ..models import Datastream, Device, Latest, Quantity
from ..tokens import new_token
from . import civil_iot
from .client import Client, HarvestError
from .sources import Source

SOURCE = "harvest"  # how its rejects are counted
THINGS_PER_PAGE = 100
OBSERVATIONS_PER_PAGE = 1000
OPEN_RANGE = 1e12  # a quantity first met in a remote service: no range known, none enforced
# names of what the platform already measures (normalised: lower case, letters and digits only) and its unit
KNOWN = {"pm25": ("pm25", "ug/m3"), "細懸浮微粒": ("pm25", "ug/m3"), "pm10": ("pm10", "ug/m3"),
         "懸浮微粒": ("pm10", "ug/m3"), "temperature": ("temperature_c", "c"), "airtemperature": ("temperature_c", "c"),
         "溫度": ("temperature_c", "c"), "relativehumidity": ("humidity_pct", "%"), "humidity": ("humidity_pct", "%"),
         "相對濕度": ("humidity_pct", "%"), "濕度": ("humidity_pct", "%")}


def _key(text: str) -> str:
    return re.sub(r"[^\w]|_", "", str(text or "").lower())


def _unit(symbol: str) -> str:
    text = str(symbol or "").lower().replace("μ", "u").replace("µ", "u").replace("³", "3").replace(" ", "")
    return {"°c": "c", "℃": "c", "degc": "c", "celsius": "c", "microgrampercubicmeter": "ug/m3"}.get(text, text)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Run:
    def __init__(self, source: Source, client: Client):
        self.source, self.client = source, client
        self.counts: Counter = Counter()
        self.rejects: Counter = Counter()
        self.now = timezone.now()
        self._quantities = {q.code: q for q in Quantity.objects.all()}
        self._geocoder = None

    # -- the walk ------------------------------------------------------------------------------------------------
    def since(self) -> datetime:
        """From when to ask for Observations: the oldest of this service's Datastreams' latest readings, at most
        the lookback back (a first run, a Datastream that never reported)."""
        floor = self.now - timedelta(hours=settings.STA_HARVEST_LOOKBACK_HOURS)
        streams = Datastream.objects.filter(device__harvested_from=self.source.name)
        if not streams.exists():
            return floor
        latest = Latest.objects.filter(device__harvested_from=self.source.name)
        if latest.count() < streams.count():
            return floor
        oldest = latest.aggregate(t=Min("observed_at"))["t"]
        return max(floor, oldest) if oldest else floor

    def run(self) -> str:
        since = _iso(self.since())
        observations = (f"Observations($filter=phenomenonTime gt {since};$orderby=phenomenonTime asc;"
                        f"$top={OBSERVATIONS_PER_PAGE};$select=phenomenonTime,result)")
        params = {"$top": THINGS_PER_PAGE, "$count": "false",
                  "$expand": f"Locations,Datastreams($expand=ObservedProperty,{observations})"}
        if self.source.things_filter:
            params["$filter"] = self.source.things_filter
        for thing in self.client.collection(f"{self.source.base_url}/Things", params):
            self.thing(thing)
        return self.summary()

    def summary(self) -> str:
        c = self.counts
        text = (f"{self.source.name}: {c['things']:,} Things ({c['new_things']:,} new), {c['datastreams']:,} "
                f"Datastreams, {c['observations']:,} new Observations")
        notes = [f"{n:,} rejected: {reason}" for reason, n in self.rejects.most_common()]
        for key, what in (("addresses", "found"), ("addresses_not_found", "not found")):
            if c[key]:
                notes.append(f"{c[key]:,} {'address' if c[key] == 1 else 'addresses'} {what}")
        if notes:
            text += " (" + ", ".join(notes) + ")"
        return text + f"; {self.client.pages:,} pages read"

    # -- one Thing -----------------------------------------------------------------------------------------------
    def thing(self, thing: dict) -> None:
        remote = thing.get("@iot.id")
        where = thing.get("@iot.selfLink") or f"{self.source.base_url}/Things({remote})"
        if remote is None:
            raise HarvestError(f"{self.source.base_url}/Things: an entity without @iot.id")
        streams = []
        for stream in thing.get("Datastreams") or []:
            if not isinstance(stream, dict) or stream.get("@iot.id") is None:
                raise HarvestError(f"{where}: a Datastream without @iot.id")
            # the Observations the expansion carried and the pages its own nextLink leads to, read before writing
            first = stream.get("Observations") or []
            found = list(self.client.rest_of(first, stream.get("Observations@iot.nextLink"), where))
            streams.append((stream, found))
        with transaction.atomic():
            device = self.device(thing, str(remote), where)
            for stream, found in streams:
                self.datastream(device, stream, found, where)
        self.counts["things"] += 1

    def device(self, thing: dict, remote: str, where: str) -> Device:
        properties = civil_iot.plain_value(thing.get("properties") or {})
        if not isinstance(properties, dict):
            properties = {"value": properties}
        description = str(thing.get("description") or "")
        properties = {**civil_iot.packed_metadata(description), **properties}
        point = self.place(thing.get("Locations") or [], where)
        device_id = f"{self.source.name}:{remote}"[:80]
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            device = Device(device_id=device_id, token_hash=new_token()[1])  # a token nobody is given
            self.counts["new_things"] += 1
        elif device.harvested_from != self.source.name:
            raise HarvestError(f"{where}: device {device_id!r} exists here and is not from this service")
        device.name = str(thing.get("name") or "")[:200]
        device.description, device.properties = description, properties
        device.harvested_from, device.remote_id, device.active = self.source.name, remote[:80], True
        if point is not None:
            device.location = point
        device.save()
        return device

    def place(self, locations: list, where: str):
        """The first usable Location as a point in the working CRS; an address is looked up in the platform's
        public address points."""
        for entity in locations:
            if not isinstance(entity, dict):
                continue
            point, address = civil_iot.location(entity)
            if point is None and address:
                point = self.geocode(address)
                self.counts["addresses" if point is not None else "addresses_not_found"] += 1
            if point is not None:
                return point.transform(settings.WORKING_SRID, clone=True)
        return None

    def geocode(self, text: str):
        from django.contrib.gis.geos import Point

        from layers.geocoding import geocoder, index
        from layers.models import Layer

        if self._geocoder is None:
            self._geocoder = geocoder.Geocoder(index.address_layers(
                Layer.objects.filter(visibility=Layer.Visibility.PUBLIC)))
        match = self._geocoder.geocode(text) if self._geocoder else None
        return Point(match.lon, match.lat, srid=4326) if match else None

    # -- one Datastream ------------------------------------------------------------------------------------------
    def datastream(self, device: Device, stream: dict, found: list, where: str) -> None:
        unit = stream.get("unitOfMeasurement") if isinstance(stream.get("unitOfMeasurement"), dict) else {}
        prop = stream.get("ObservedProperty") if isinstance(stream.get("ObservedProperty"), dict) else {}
        quantity = self.quantity(prop or {"name": stream.get("name")}, unit)
        description = str(stream.get("description") or "").strip()
        properties = {**civil_iot.packed_metadata(description),
                      **(civil_iot.plain_value(stream.get("properties")) or {})}
        ds, _created = Datastream.objects.update_or_create(device=device, quantity=quantity, defaults={
            "name": str(stream.get("name") or "")[:200], "description": description,
            "unit_name": str(unit.get("name") or unit.get("symbol") or "")[:100],
            "unit_definition": str(unit.get("definition") or "")[:500], "properties": properties,
            "remote_id": str(stream["@iot.id"])[:80]})
        self.counts["datastreams"] += 1
        latest = Latest.objects.filter(device=device, quantity=quantity).values_list("observed_at", flat=True).first()
        items = []
        for observation in found:
            moment = civil_iot.stamp(observation.get("phenomenonTime"), f"{where} Datastream {ds.remote_id}")
            if moment is None or (latest is not None and moment <= latest):
                continue  # what an earlier run took (the request asked from the oldest stream's time)
            value = civil_iot.number(observation.get("result"))
            if value is None:
                self.rejects["result is not a number"] += 1
                continue
            items.append({"quantity": quantity.code, "value": value, "observed_at": moment.isoformat()})
        if items:
            outcome = ingest.ingest(device, items, SOURCE)
            self.counts["observations"] += outcome.accepted
            self.rejects.update(outcome.counts())

    def quantity(self, prop: dict, unit: dict) -> Quantity:
        name = str(prop.get("name") or "").strip() or "unnamed"
        symbol = str(unit.get("symbol") or unit.get("name") or "").strip()
        known = KNOWN.get(_key(name))
        if known and _unit(symbol) == known[1] and known[0] in self._quantities:
            return self._quantities[known[0]]
        code = slugify(f"{name}-{symbol}" if symbol else name, allow_unicode=True)[:40] or "unnamed"
        if code not in self._quantities:
            self._quantities[code], _ = Quantity.objects.get_or_create(code=code, defaults={
                "unit": symbol[:20], "min_value": -OPEN_RANGE, "max_value": OPEN_RANGE, "name": name[:200],
                "definition": str(prop.get("definition") or "")[:500],
                "description": str(prop.get("description") or "")})
        return self._quantities[code]


def harvest(source: Source) -> str:
    """Run one harvest of `source`; the summary, or a HarvestError saying what went wrong."""
    client = Client(source.base_url, settings.STA_HARVEST_TIMEOUT_S, settings.STA_HARVEST_MAX_PAGES)
    try:
        return Run(source, client).run()
    finally:
        client.close()
