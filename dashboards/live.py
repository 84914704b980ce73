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


def sensor_week(user, code: str, days: int = 7) -> dict | None:
    """The daily means of `code` over the week up to the newest reading (`days` local days, that day included; today
    for sensors that report) from every reading of the active sensors the viewer may see:
    {days: [{day, mean, readings, sensors}], unit}. A day without readings is there with mean null (the line shows
    the gap, it does not bridge it)."""
    quantity = Quantity.objects.filter(code=code).first()
    if quantity is None:
        return None
    seen = list(Layer.objects.visible_to(user).values_list("pk", flat=True))
    zone = settings.TIME_ZONE
    with connection.cursor() as cur:
        cur.execute("SELECT max(l.observed_at) FROM iot_latest l JOIN iot_device d ON d.id = l.device_id"
                    " WHERE l.quantity_id = %s AND d.active AND (d.layer_id IS NULL OR d.layer_id = ANY(%s))",
                    [quantity.pk, seen])
        newest = cur.fetchone()[0]
    last = timezone.localtime(newest).date() if newest else timezone.localdate()
    first = last - timezone.timedelta(days=days - 1)
    with connection.cursor() as cur:
        cur.execute("SELECT (o.observed_at AT TIME ZONE %s)::date AS day, avg(o.value)::float8, count(*),"
                    " count(DISTINCT o.device_id)"
                    " FROM iot_observation o JOIN iot_device d ON d.id = o.device_id"
                    " WHERE o.quantity_id = %s AND d.active AND (d.layer_id IS NULL OR d.layer_id = ANY(%s))"
                    " AND o.observed_at >= (%s::date)::timestamp AT TIME ZONE %s"
                    " AND o.observed_at < (%s::date + 1)::timestamp AT TIME ZONE %s"
                    " GROUP BY 1 ORDER BY 1", [zone, quantity.pk, seen, first, zone, last, zone])
        found = {day: (mean, n, sensors) for day, mean, n, sensors in cur.fetchall()}
    out = []
    for i in range(days):
        day = first + timezone.timedelta(days=i)
        mean, n, sensors = found.get(day, (None, 0, 0))
        out.append({"day": day.isoformat(), "mean": None if mean is None else round(mean, 1), "readings": n,
                    "sensors": sensors})
    return {"quantity": quantity.code, "name": quantity.name or quantity.code, "unit": quantity.unit, "days": out,
            "last_day": last.isoformat()}


def coverage_layers(user, widget: dict) -> tuple[Layer, Layer] | None:
    """(facility layer, population boundary) when the viewer may see both, else None (the widget is not sent)."""
    seen = Layer.objects.visible_to(user).filter(kind=Layer.Kind.VECTOR)
    facilities = seen.filter(slug=widget.get("layer", "")).first()
    boundary = seen.filter(slug=widget.get("boundary", "villages")).first()
    if facilities is None or boundary is None or widget.get("population") not in {
            a["name"] for a in boundary.attributes}:
        return None
    return facilities, boundary


def coverage(user, widget: dict, areas, town: str = "") -> dict | None:
    """The share of the people living within `distance` metres (straight line) of a facility of the layer (its
    filter applied): each polygon of the area boundary (the villages) holds its `population` spread evenly over its
    area, so the people covered are the population × the share of the polygon's area inside the facilities'
    dissolved buffer. For the district chosen (its polygons: through the dashboard's area join, when it is over this
    boundary), else the whole city."""
    from layers.serving import filters

    found = coverage_layers(user, widget)
    if found is None:
        return None
    facilities, boundary = found
    distance = float(widget.get("distance", 500))
    where = filters.parse(facilities, widget.get("filter") or {}).sql(facilities, "t")
    condition = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    by_town = bool(town) and areas is not None and areas.boundary_id == boundary.pk
    inside = sql.SQL(" WHERE b.fid IN (SELECT boundary_fid FROM {} WHERE join_id = {} AND town_key = {})").format(
        sql.Identifier("stats_joinmatch"), sql.Literal(areas.pk), sql.Literal(town)) if by_town else sql.SQL("")
    query = sql.SQL(
        "WITH reach AS (SELECT ST_Union(ST_Buffer(ST_Transform(t.geom, {srid}), {d})) AS g, count(*) AS n"
        " FROM {fac} t{cond}),"
        " areas AS (SELECT b.fid, b.geom, b.{pop}::float8 AS pop FROM {bnd} b{inside})"
        " SELECT sum(a.pop), sum(a.pop * CASE WHEN r.g IS NULL OR ST_Area(a.geom) = 0 THEN 0 ELSE"
        " ST_Area(ST_Intersection(a.geom, ST_Transform(r.g, ST_SRID(a.geom)))) / ST_Area(a.geom) END), max(r.n)"
        " FROM areas a CROSS JOIN reach r").format(
        srid=sql.Literal(boundary.srid), d=sql.Literal(distance),
        fac=sql.Identifier(DATA_SCHEMA, facilities.table_name),
        cond=condition, pop=sql.Identifier(widget["population"]), bnd=sql.Identifier(DATA_SCHEMA, boundary.table_name),
        inside=inside)
    with connection.cursor() as cur:
        cur.execute(query)
        people, covered, count = cur.fetchone()
    return {"people": people, "covered": covered, "district": town if by_town else "",
            "share": round(covered / people * 100, 1) if people else None,
            "facilities": count or 0, "distance_m": distance, "layer": facilities.slug,
            "layer_title": facilities.title_zh, "layer_title_en": facilities.title_en or facilities.title_zh,
            "boundary": boundary.slug, "boundary_title": boundary.title_zh,
            "boundary_title_en": boundary.title_en or boundary.title_zh}
