"""The eight SensorThings entity sets as SQL over the registry (iot_device, iot_datastream, iot_observation, …).

Each set is a SELECT whose columns carry the SensorThings property names (quoted, camelCase) and, prefixed with
`_`, the keys its navigation follows. Query options wrap it (`SELECT … FROM (<set>) e WHERE …`); PostgreSQL
flattens the subquery, so a filter on phenomenonTime still reaches the observations' BRIN index and a
Datastream's observations newest-first still walk the primary key backwards.

How the registry holds them:
- Thing = a device (iot_device); its Location, HistoricalLocation and FeatureOfInterest share its id: the registry
  keeps one place per device (its current one) and observations are made at the device.
- Datastream = a device's readings of one quantity (iot_datastream, one per pair); ObservedProperty = a quantity.
- Observation = a reading; its id is `<datastream id>-<phenomenonTime in µs since 1970>` (the reading's key).
Visibility: a device of a layer the caller may not see is no device at all, nor are its streams and readings.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg2 import sql

from .errors import NotFound

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
VISIBLE = "(d.layer_id IS NULL OR d.layer_id = ANY(%s))"
THING_NAME = "coalesce(nullif(d.name, ''), d.device_id)"


@dataclass(frozen=True)
class Nav:
    """Rows of `target` whose column `remote` equals this row's column `local`."""

    name: str
    target: str
    many: bool
    local: str
    remote: str


@dataclass(frozen=True)
class EntitySet:
    name: str
    singular: str
    sql: str  # the SELECT; each %s in it takes the visible layer ids
    props: dict[str, str]  # property → type (number, string, time, json, geom)
    navs: dict[str, Nav] = field(default_factory=dict)
    geometry: dict[str, str] = field(default_factory=dict)  # geometry property → the column holding it in 4326
    order_key: tuple[str, ...] = ("id",)

    def base(self, layers: list[int]) -> tuple[sql.Composable, list]:
        return sql.SQL(self.sql), [layers] * self.sql.count("%s")

    def key_condition(self, alias: str, key) -> tuple[sql.Composable, list]:
        """SQL selecting the entity with @iot.id `key` (the key as given in the URL or a body)."""
        if self.name == "Observations":
            datastream, stamp = observation_key(key)
            return sql.SQL("{} = %s AND {} = %s").format(
                sql.Identifier(alias, "_datastream"), sql.Identifier(alias, "phenomenonTime")), [datastream, stamp]
        if isinstance(key, bool) or not isinstance(key, int):
            try:
                key = int(str(key).strip("'"))
            except ValueError:
                raise NotFound(f"no {self.singular} {key!r}") from None
        return sql.SQL("{} = %s").format(sql.Identifier(alias, "id")), [key]


def observation_id(datastream: int, stamp: datetime) -> str:
    delta = stamp - datetime(1970, 1, 1, tzinfo=UTC)
    return f"{datastream}-{delta // timedelta(microseconds=1)}"


def observation_key(key) -> tuple[int, datetime]:
    try:
        datastream, micros = str(key).strip("'").split("-")
        return int(datastream), datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        raise NotFound(f"no Observation {key!r}") from None


def _set(name, singular, sql, props, navs=(), geometry=None, order_key=("id",)):
    return EntitySet(name, singular, sql, props, {n.name: n for n in navs}, geometry or {}, order_key)


GEOJSON_4326 = "ST_AsGeoJSON(ST_Transform(d.location, 4326), 7)::jsonb"

# the SELECTs are constants of this module: the f-strings only share fragments between them
SETS = {s.name: s for s in [
    _set("Things", "Thing", f"""
        SELECT d.id AS "id", {THING_NAME} AS "name", d.description AS "description",
               d.properties || jsonb_strip_nulls(jsonb_build_object(
                   'deviceId', d.device_id, 'registryLayer', l.slug,
                   'harvestedFrom', nullif(d.harvested_from, ''))) AS "properties"
        FROM iot_device d LEFT JOIN layers_layer l ON l.id = d.layer_id WHERE {VISIBLE}""",  # noqa: S608
         {"id": "number", "name": "string", "description": "string", "properties": "json"},
         [Nav("Locations", "Locations", True, "id", "id"),
          Nav("HistoricalLocations", "HistoricalLocations", True, "id", "id"),
          Nav("Datastreams", "Datastreams", True, "id", "_thing")]),
    _set("Locations", "Location", f"""
        SELECT d.id AS "id", {THING_NAME} AS "name", '' AS "description",
               'application/geo+json' AS "encodingType", {GEOJSON_4326} AS "location",
               ST_Transform(d.location, 4326) AS "_geom", NULL::jsonb AS "properties"
        FROM iot_device d WHERE d.location IS NOT NULL AND {VISIBLE}""",  # noqa: S608
         {"id": "number", "name": "string", "description": "string", "encodingType": "string",
          "location": "geom", "properties": "json"},
         [Nav("Things", "Things", True, "id", "id"),
          Nav("HistoricalLocations", "HistoricalLocations", True, "id", "id")],
         geometry={"location": "_geom"}),
    _set("HistoricalLocations", "HistoricalLocation", f"""
        SELECT d.id AS "id", d.created_at AS "time"
        FROM iot_device d WHERE d.location IS NOT NULL AND {VISIBLE}""",  # noqa: S608
         {"id": "number", "time": "time"},
         [Nav("Thing", "Things", False, "id", "id"), Nav("Locations", "Locations", True, "id", "id")]),
    _set("Sensors", "Sensor", f"""
        SELECT s.id AS "id", s.name AS "name", s.description AS "description",
               s.encoding_type AS "encodingType", s.metadata AS "metadata", NULL::jsonb AS "properties"
        FROM iot_sensor s
        WHERE NOT EXISTS (SELECT 1 FROM iot_datastream x WHERE x.sensor_id = s.id)
           OR EXISTS (SELECT 1 FROM iot_datastream x JOIN iot_device d ON d.id = x.device_id
                      WHERE x.sensor_id = s.id AND {VISIBLE})""",  # noqa: S608
         {"id": "number", "name": "string", "description": "string", "encodingType": "string",
          "metadata": "string", "properties": "json"},
         [Nav("Datastreams", "Datastreams", True, "id", "_sensor")]),
    _set("ObservedProperties", "ObservedProperty", """
        SELECT q.id AS "id", coalesce(nullif(q.name, ''), q.code) AS "name",
               coalesce(nullif(q.definition, ''), 'urn:civgis:quantity:' || q.code) AS "definition",
               q.description AS "description",
               jsonb_build_object('code', q.code, 'unit', q.unit, 'minValue', q.min_value,
                                  'maxValue', q.max_value) AS "properties"
        FROM iot_quantity q""",  # noqa: S608
         {"id": "number", "name": "string", "definition": "string", "description": "string", "properties": "json"},
         [Nav("Datastreams", "Datastreams", True, "id", "_observedProperty")]),
    _set("Datastreams", "Datastream", f"""
        SELECT ds.id AS "id", coalesce(nullif(ds.name, ''), {THING_NAME} || ' ' || q.code) AS "name",
               ds.description AS "description", '{MEASUREMENT}' AS "observationType",
               jsonb_build_object('name', coalesce(nullif(ds.unit_name, ''), q.unit), 'symbol', q.unit,
                                  'definition', ds.unit_definition) AS "unitOfMeasurement",
               NULL::jsonb AS "observedArea", NULL::text AS "phenomenonTime", NULL::text AS "resultTime",
               nullif(ds.properties, '{{}}'::jsonb) AS "properties",
               ds.device_id AS "_thing", ds.sensor_id AS "_sensor", ds.quantity_id AS "_observedProperty"
        FROM iot_datastream ds JOIN iot_device d ON d.id = ds.device_id JOIN iot_quantity q ON q.id = ds.quantity_id
        WHERE {VISIBLE}""",  # noqa: S608
         {"id": "number", "name": "string", "description": "string", "observationType": "string",
          "unitOfMeasurement": "json", "observedArea": "json", "phenomenonTime": "string", "resultTime": "string",
          "properties": "json"},
         [Nav("Thing", "Things", False, "_thing", "id"), Nav("Sensor", "Sensors", False, "_sensor", "id"),
          Nav("ObservedProperty", "ObservedProperties", False, "_observedProperty", "id"),
          Nav("Observations", "Observations", True, "id", "_datastream")]),
    _set("Observations", "Observation", f"""
        SELECT ds.id::text || '-' || (extract(epoch FROM o.observed_at) * 1000000)::bigint AS "id",
               o.observed_at AS "phenomenonTime", o.observed_at AS "resultTime", o.value AS "result",
               NULL::jsonb AS "resultQuality", NULL::text AS "validTime", NULL::jsonb AS "parameters",
               ds.id AS "_datastream", o.device_id AS "_featureOfInterest", o.quantity_id AS "_quantity",
               o.received_at AS "_received"
        FROM iot_observation o
        JOIN iot_datastream ds ON ds.device_id = o.device_id AND ds.quantity_id = o.quantity_id
        JOIN iot_device d ON d.id = o.device_id
        WHERE {VISIBLE}""",  # noqa: S608
         {"id": "string", "phenomenonTime": "time", "resultTime": "time", "result": "number",
          "resultQuality": "json", "validTime": "string", "parameters": "json"},
         [Nav("Datastream", "Datastreams", False, "_datastream", "id"),
          Nav("FeatureOfInterest", "FeaturesOfInterest", False, "_featureOfInterest", "id")],
         order_key=("_featureOfInterest", "_quantity", "phenomenonTime")),  # the primary key's order
    _set("FeaturesOfInterest", "FeatureOfInterest", f"""
        SELECT d.id AS "id", {THING_NAME} AS "name", '' AS "description",
               'application/geo+json' AS "encodingType", {GEOJSON_4326} AS "feature",
               ST_Transform(d.location, 4326) AS "_geom", NULL::jsonb AS "properties"
        FROM iot_device d WHERE d.location IS NOT NULL AND {VISIBLE}""",  # noqa: S608
         {"id": "number", "name": "string", "description": "string", "encodingType": "string", "feature": "geom",
          "properties": "json"},
         [Nav("Observations", "Observations", True, "id", "_featureOfInterest")],
         geometry={"feature": "_geom"}),
]}


def entity_set(name: str) -> EntitySet:
    try:
        return SETS[name]
    except KeyError:
        raise NotFound(f"no entity set {name!r}; the sets are {', '.join(SETS)}") from None
