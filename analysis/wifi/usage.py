"""Each hotspot's use from its daily usage records: sessions, traffic, how full it gets, and flags.

Under-used: mean daily sessions below `under_share` of the median hotspot's. Overloaded: peak concurrent users
at the hotspot's capacity on at least `overload_share` of its days.
"""

import statistics
from collections import Counter
from datetime import date

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

from ..inputs import AnalysisInputError, number, readable_layer

COLUMNS = {"id": "hotspot_id", "capacity": "max_users", "name": "name", "day": "day", "sessions": "sessions",
           "traffic": "traffic_mb", "peak": "peak_concurrent"}
HOTSPOT_COLUMNS = ("id", "capacity", "name")


def sources(data: dict, user) -> tuple[Layer, Layer, dict]:
    """The hotspot layer, the usage table and the column names, checked."""
    hotspots = readable_layer(data.get("hotspots", "wifi-hotspots"), user)
    usage = readable_layer(data.get("usage", "wifi-usage"), user, kinds=(Layer.Kind.TABLE, Layer.Kind.VECTOR))
    columns = {**COLUMNS, **(data.get("columns") or {})}
    for key, column in columns.items():
        # the id joins the two; the other columns belong to one of them
        layers = (hotspots, usage) if key == "id" else (hotspots,) if key in HOTSPOT_COLUMNS else (usage,)
        for one in layers:
            if not any(a["name"] == column for a in one.attributes):
                raise AnalysisInputError("columns.{key}：圖層 {slug} 沒有屬性 {column}", key=key, slug=repr(one.slug),
                                         column=repr(column))
    return hotspots, usage, columns


def stats(data: dict, user) -> dict:
    hotspots, usage, c = sources(data, user)
    under = number(data.get("under_share", 0.35), "under_share", 0, 1, True)
    overload = number(data.get("overload_share", 0.2), "overload_share", 0, 1, True)
    h, u = sql.Identifier("h", c["id"]), sql.Identifier("u", c["id"])
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "SELECT {hid}::text, {name}::text, {cap}, count(u.*), coalesce(avg({sessions}), 0)::float8,"
            " coalesce(avg({traffic}), 0)::float8, avg({peak}::float8 / NULLIF({cap}, 0)),"
            " coalesce(avg(({peak} >= {cap})::int), 0)::float8, min({day})::text, max({day})::text"
            " FROM {hotspots} h LEFT JOIN {usage} u ON {uid}::text = {hid}::text GROUP BY 1, 2, 3 ORDER BY 1").format(
            hid=h, uid=u, name=sql.Identifier("h", c["name"]), cap=sql.Identifier("h", c["capacity"]),
            sessions=sql.Identifier("u", c["sessions"]), traffic=sql.Identifier("u", c["traffic"]),
            peak=sql.Identifier("u", c["peak"]), day=sql.Identifier("u", c["day"]),
            hotspots=sql.Identifier(DATA_SCHEMA, hotspots.table_name),
            usage=sql.Identifier(DATA_SCHEMA, usage.table_name)))
        rows = cur.fetchall()
    with_records = [r[4] for r in rows if r[3]]
    median = statistics.median(with_records) if with_records else 0
    today = timezone.localdate()
    names = Counter(r[1] for r in rows if r[1])
    out = []
    for hid, name, capacity, days, sessions, traffic, utilisation, full_share, first, last in rows:
        flags = []
        if days == 0:
            flags.append("no usage records")
        elif sessions < under * median:
            flags.append("under-used")
        if days and full_share >= overload:
            flags.append("overloaded")
        out.append({"id": hid, "name": name, "capacity": capacity, "days": days, "first_day": first, "last_day": last,
                    "mean_sessions": round(sessions, 2), "mean_traffic_mb": round(traffic, 2),
                    "mean_utilisation": None if utilisation is None else round(utilisation, 4),
                    "days_at_capacity_share": round(full_share, 4), "flags": flags,
                    **_freshness(last, today), "duplicate_name": bool(name) and names[name] > 1})
    newest = max((h["last_day"] for h in out if h["last_day"]), default=None)
    return {"hotspots": out, "median_sessions": median, "under_share": under, "overload_share": overload, "freshness": {
        "today": today.isoformat(), "stale_after_days": settings.WIFI_STALE_AFTER_DAYS, "last_day": newest,
        **_freshness(newest, today),
        "stale_hotspots": sum(h["stale"] for h in out),
        "duplicate_names": sorted(n for n, c in names.items() if c > 1)}, "rules": {
        "under-used": f"mean daily sessions < {under:g} × the median hotspot's ({median:,.1f})",
        "overloaded": f"peak concurrent users at capacity on ≥ {overload:.0%} of days"}}


def _freshness(last_day: str | None, today: date) -> dict:
    """How old the last record is; stale past WIFI_STALE_AFTER_DAYS (usage is reported a day or so late)."""
    if last_day is None:
        return {"age_days": None, "stale": False}
    age = (today - date.fromisoformat(last_day)).days
    return {"age_days": age, "stale": age > settings.WIFI_STALE_AFTER_DAYS}


def series(data: dict, user, hotspot_id: str) -> list[dict]:
    """One hotspot's daily records, for its chart."""
    _hotspots, usage, c = sources(data, user)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {day}::text, {sessions}, {traffic}, {peak} FROM {usage} WHERE {id}::text = %s"
                            " ORDER BY {day}").format(
            day=sql.Identifier(c["day"]), sessions=sql.Identifier(c["sessions"]), traffic=sql.Identifier(c["traffic"]),
            peak=sql.Identifier(c["peak"]), usage=sql.Identifier(DATA_SCHEMA, usage.table_name),
            id=sql.Identifier(c["id"])), [hotspot_id])
        rows = cur.fetchall()
    if not rows:
        raise AnalysisInputError("熱點 {hotspot} 沒有使用紀錄", hotspot=repr(hotspot_id))
    return [{"day": d, "sessions": s, "traffic_mb": t, "peak_concurrent": p} for d, s, t, p in rows]


def daily(data: dict, user) -> dict:
    """Every hotspot's sessions per day on one calendar, for playing the days on the map: the days with any
    record, and per hotspot its sessions on each of them (None where it has no record that day)."""
    _hotspots, usage, c = sources(data, user)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {id}::text, {day}::text, {sessions} FROM {usage} ORDER BY 2, 1").format(
            id=sql.Identifier(c["id"]), day=sql.Identifier(c["day"]), sessions=sql.Identifier(c["sessions"]),
            usage=sql.Identifier(DATA_SCHEMA, usage.table_name)))
        rows = cur.fetchall()
    days = sorted({d for _h, d, _s in rows})
    at = {d: i for i, d in enumerate(days)}
    sessions: dict[str, list] = {}
    for hid, d, n in rows:
        sessions.setdefault(hid, [None] * len(days))[at[d]] = n
    return {"days": days, "sessions": sessions}
