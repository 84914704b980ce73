"""Time-enabled layers: which attributes may be a layer's time (Layer.time_attribute: a date or timestamp
column) and the time extent its data covers, for WMS capabilities (wms_timeextent), the layer's metadata and the
viewer's time slider. Filtering by time is layers.serving.filters (one filter for every path)."""

from datetime import UTC, date, datetime, time

from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from geo import messages

from .models import DATA_SCHEMA, Layer


def is_time_type(pgtype: str) -> bool:
    return pgtype == "date" or pgtype.startswith("timestamp")


def time_attributes(layer: Layer) -> list[str]:
    """The attributes that could make the layer time-enabled."""
    return [a["name"] for a in layer.attributes if is_time_type(a.get("type", ""))]


def check_attribute(layer: Layer, name: str) -> str:
    """`name` if it may be the layer's time attribute ('' switches time off); a ValueError saying why not, in the
    reader's language."""
    if not name:
        return ""
    types = {a["name"]: a.get("type", "") for a in layer.attributes}
    choices = ", ".join(time_attributes(layer)) or "-"
    if name not in types:
        raise ValueError(messages.worded("圖層 {slug} 沒有屬性 {name}；可當時間的日期／時間屬性有 {choices}",
                                         slug=repr(layer.slug), name=repr(name), choices=choices))
    if not is_time_type(types[name]):
        raise ValueError(messages.worded("{name} 不是日期或時間屬性；可當時間的有 {choices}", name=repr(name),
                                         choices=choices))
    return name


def _aware(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else timezone.make_aware(value, timezone.get_default_timezone())
    if isinstance(value, date):
        return timezone.make_aware(datetime.combine(value, time.min), timezone.get_default_timezone())
    return None


def extent(layer: Layer) -> tuple[datetime, datetime] | None:
    """The first and last time in the layer's data (aware), or None (not time-enabled, no table, no times)."""
    if not layer.time_attribute or not layer.table_name:
        return None
    if layer.time_attribute not in time_attributes(layer):
        return None
    column = sql.Identifier(layer.time_attribute)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(
            c=column, t=sql.Identifier(DATA_SCHEMA, layer.table_name)))
        low, high = cur.fetchone()
    low, high = _aware(low), _aware(high)
    return (low, high) if low and high else None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
