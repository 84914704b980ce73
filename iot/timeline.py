"""What the viewer's time slider needs to play sensor readings and Wi-Fi use on the map: which of the layers on
the map carry them and the time they cover. The frames themselves come from the sensor API (iot.views: the latest
values with `time=start/end`) and the Wi-Fi usage analysis (analysis.wifi.usage.daily)."""

import json
from datetime import datetime, time, timedelta

from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from analysis.inputs import AnalysisInputError
from analysis.wifi import usage
from layers.models import DATA_SCHEMA, Layer
from layers.timeaxis import iso


def sensor_layers(layer_ids: list[int]) -> dict[int, dict]:
    """Registry layers (of `layer_ids`) whose sensors have readings: {layer id: {"kind": "sensors", "extent":
    [first, last], "quantities": {code: unit}}}. The first reading of each sensor and quantity is one step down
    the observations' primary key, the last is its latest value: no scan of the readings."""
    if not layer_ids:
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT d.layer_id, min(f.first), max(l.observed_at), jsonb_object_agg(q.code, q.unit)"
                    " FROM iot_latest l JOIN iot_device d ON d.id = l.device_id JOIN iot_quantity q"
                    " ON q.id = l.quantity_id CROSS JOIN LATERAL (SELECT o.observed_at AS first FROM iot_observation o"
                    " WHERE o.device_id = l.device_id AND o.quantity_id = l.quantity_id ORDER BY o.observed_at"
                    " LIMIT 1) f WHERE d.active AND d.layer_id = ANY(%s) GROUP BY d.layer_id", [layer_ids])
        rows = cur.fetchall()
    out = {}
    for layer, first, last, quantities in rows:
        if isinstance(quantities, str):  # Django leaves jsonb from a raw cursor as text
            quantities = json.loads(quantities)
        out[layer] = {"kind": "sensors", "extent": [iso(first), iso(last)], "quantities": quantities}
    return out


def wifi_layer(layer: Layer, user) -> dict | None:
    """For a Wi-Fi hotspot layer (a point layer with the hotspots' ids, paired with a usage table the user may
    read, as the Wi-Fi page pairs them): {"kind": "wifi", "usage": its slug, "extent": [first day 00:00, last day
    24:00 less a second] in the city's time}; None for any other layer."""
    if "Point" not in layer.geometry_type or not any(a["name"] == usage.COLUMNS["id"] for a in layer.attributes):
        return None
    try:
        hotspots, table, columns = usage.sources({"hotspots": layer.slug}, user)
    except AnalysisInputError:
        return None  # no usage records this user may read
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT min({day})::date, max({day})::date FROM {table}").format(
            day=sql.Identifier(columns["day"]), table=sql.Identifier(DATA_SCHEMA, table.table_name)))
        first, last = cur.fetchone()
    if first is None:
        return None
    zone = timezone.get_default_timezone()
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last, time.min, tzinfo=zone) + timedelta(days=1, seconds=-1)
    return {"kind": "wifi", "usage": table.slug, "extent": [iso(start), iso(end)]}


def animations(layers: list[Layer], user) -> dict[str, dict]:
    """slug → what plays on the map for it, for the layers that have any."""
    sensors = sensor_layers([layer.pk for layer in layers if layer.kind == Layer.Kind.VECTOR])
    out = {}
    for layer in layers:
        found = sensors.get(layer.pk) or (wifi_layer(layer, user) if layer.kind == Layer.Kind.VECTOR else None)
        if found:
            out[layer.slug] = found
    return out
