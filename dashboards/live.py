"""The live sources of a dashboard's widgets: the sensors' latest readings of a quantity and the Wi-Fi hotspots' daily
usage. Read again at every auto-refresh, so a reading sent through the ingest API (iot.ingest) shows at the next one.

Visibility is the sources' own: a sensor counts only if the viewer may see its registry layer (iot.views'
rule: devices without a layer are the platform's own, seen by all); the Wi-Fi usage table is a layer the viewer must
be able to read, else the widget is not sent at all (dashboards.spec.for_viewer).
"""

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from iot.models import Quantity
from layers.models import DATA_SCHEMA, Layer

WIFI_COLUMNS = ("day", "sessions")  # needed; unique_users and traffic_mb are shown when the table has them


def quantities() -> dict[str, dict]:
    return {q.code: {"code": q.code, "name": q.name or q.code, "unit": q.unit} for q in Quantity.objects.all()}


def sensor(user, code: str) -> dict | None:
    """The latest reading of `code` of every active sensor the viewer may see: their mean, lowest and highest, how
    many, the newest reading's time and how many are stale (older than IOT_STALE_AFTER_HOURS)."""
    quantity = Quantity.objects.filter(code=code).first()
    if quantity is None:
        return None
    seen = list(Layer.objects.visible_to(user).values_list("pk", flat=True))
    stale_after = timezone.now() - timezone.timedelta(hours=settings.IOT_STALE_AFTER_HOURS)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), avg(l.value)::float8, min(l.value)::float8, max(l.value)::float8,"
                    " max(l.observed_at), count(*) FILTER (WHERE l.observed_at < %s)"
                    " FROM iot_latest l JOIN iot_device d ON d.id = l.device_id"
                    " WHERE l.quantity_id = %s AND d.active AND (d.layer_id IS NULL OR d.layer_id = ANY(%s))",
                    [stale_after, quantity.pk, seen])
        devices, mean, low, high, newest, stale = cur.fetchone()
    return {"quantity": quantity.code, "name": quantity.name or quantity.code, "unit": quantity.unit,
            "devices": devices, "mean": None if mean is None else round(mean, 1), "min": low, "max": high,
            "observed_at": newest, "stale": stale, "stale_after_hours": settings.IOT_STALE_AFTER_HOURS}


def usage_layer(user, slug: str) -> Layer | None:
    """The Wi-Fi usage table if the viewer may read it and it has the columns the widget needs."""
    layer = Layer.objects.visible_to(user).filter(slug=slug, kind__in=[Layer.Kind.TABLE, Layer.Kind.VECTOR]).first()
    if layer is None:
        return None
    names = {a["name"] for a in layer.attributes}
    return layer if all(c in names for c in WIFI_COLUMNS) else None


def wifi(user, slug: str) -> dict | None:
    """The latest day's use over every hotspot of the usage table (sessions, unique users, traffic, hotspots that
    reported), and the day before's sessions for the change."""
    layer = usage_layer(user, slug)
    if layer is None:
        return None
    names = {a["name"] for a in layer.attributes}
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    extra = [sql.SQL("sum({})::float8").format(sql.Identifier(c)) if c in names else sql.SQL("NULL::float8")
             for c in ("unique_users", "traffic_mb")]
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT day, sum(sessions)::float8, {}, {}, count(*) FROM {} WHERE day IN "
                            "(SELECT DISTINCT day FROM {} WHERE day IS NOT NULL ORDER BY day DESC LIMIT 2) "
                            "GROUP BY day ORDER BY day DESC").format(*extra, table, table))
        rows = cur.fetchall()
    if not rows:
        return {"day": None, "sessions": None}
    day, sessions, users, traffic, hotspots = rows[0]
    return {"day": day, "sessions": sessions, "unique_users": users, "traffic_mb": traffic, "hotspots": hotspots,
            "previous_day": rows[1][0] if len(rows) > 1 else None,
            "previous_sessions": rows[1][1] if len(rows) > 1 else None}
