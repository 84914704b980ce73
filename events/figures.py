"""What an officer reads off an event layer: counts and rates per area (village, district or a regular grid),
category and period; response times (to dispatch, to close: median and 90th percentile per category and area, the
worst areas first); and what changed this week (each category and district: this week against the mean of the 4
weeks before, biggest rises first). All in SQL over the layer's table; weeks and days are Taiwan's (Asia/Taipei).

Rates are per 1,000 residents, the residents from the statistics tables (the latest period of a statistical table
joined to the boundary layer that has a population column: stats.StatJoin), else from the boundary layer's own
population attribute; each answer says which.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

PERIODS = ("day", "week", "month", "all")
AREA_KINDS = {"village": "villages", "district": "districts"}  # by → the boundary layer's slug by default
POPULATION_NAMES = ("population", "pop", "人口數", "總人口", "人口")
NAME_COLUMNS = ("name", "名稱", "village", "district", "villname", "townname")
TZ = "Asia/Taipei"
MIN_CELL_M, MAX_CELL_M = 50, 20_000


class FigureError(ValueError):
    """A bad parameter: the message says which and why (HTTP 400)."""


@dataclass
class Areas:
    kind: str  # village / district / grid
    layer: Layer | None = None
    name_column: str = ""
    cell_m: float = 0


def _table(layer: Layer) -> sql.Composable:
    return sql.Identifier(DATA_SCHEMA, layer.table_name)


def _filters(category: str | None, start: datetime | None, end: datetime | None, alias: str = "e"):
    where, params = [sql.SQL("TRUE")], []
    if category:
        where.append(sql.SQL("{}.category = %s").format(sql.Identifier(alias)))
        params.append(category)
    if start:
        where.append(sql.SQL("{}.reported_at >= %s").format(sql.Identifier(alias)))
        params.append(start)
    if end:
        where.append(sql.SQL("{}.reported_at < %s").format(sql.Identifier(alias)))
        params.append(end)
    return sql.SQL(" AND ").join(where), params


def name_column(layer: Layer) -> str:
    names = [a["name"] for a in layer.attributes]
    found = next((n for n in NAME_COLUMNS if n in names), None)
    if found is None:
        raise FigureError(f"the area layer {layer.slug!r} has no name attribute ({', '.join(NAME_COLUMNS)})")
    return found


def _area_sql(areas: Areas):
    """(SELECT of key, name expressions, FROM/JOIN clause) grouping events by area."""
    if areas.kind == "grid":
        c = sql.Literal(float(areas.cell_m))
        key = sql.SQL("concat(floor(ST_X(e.geom) / {c})::bigint, ',', floor(ST_Y(e.geom) / {c})::bigint)").format(c=c)
        return key, key, sql.SQL("")
    key = sql.SQL("a.fid::text")
    name = sql.SQL("a.{}::text").format(sql.Identifier(areas.name_column))
    # one area per event, even on a shared boundary (the lowest fid): no event is counted twice
    join = sql.SQL("JOIN LATERAL (SELECT b.fid, b.{n} FROM {t} b WHERE ST_Intersects(b.geom, ST_Transform(e.geom, "
                   "ST_SRID(b.geom))) ORDER BY b.fid LIMIT 1) a ON TRUE").format(
        n=sql.Identifier(areas.name_column), t=_table(areas.layer))
    return key, name, join


def population(areas: Areas, user) -> tuple[dict[str, float], dict]:
    """area key → residents, and where the figures come from."""
    if areas.kind == "grid":
        return {}, {"source": "none"}
    from stats.models import StatJoin

    visible = Layer.objects.visible_to(user)
    for join in StatJoin.objects.filter(boundary=areas.layer, table__layer__in=visible).select_related(
            "table__layer").order_by("-created_at"):
        stat = join.table.layer
        column = _population_column(stat)
        if column is None:
            continue
        with connection.cursor() as cur:
            cur.execute(sql.SQL(
                "SELECT m.boundary_fid::text, sum(s.{c}) FROM stats_joinmatch m JOIN {t} s ON s.fid = m.row_fid "
                "WHERE m.join_id = %s AND s.period IS NOT DISTINCT FROM (SELECT max(period) FROM {t}) "
                "GROUP BY m.boundary_fid").format(c=sql.Identifier(column), t=_table(stat)), [join.pk])
            rows = cur.fetchall()
            cur.execute(sql.SQL("SELECT max(period) FROM {}").format(_table(stat)))
            period = cur.fetchone()[0]
        if rows:
            return ({k: float(v) for k, v in rows if v is not None},
                    {"source": "statistics", "table": stat.slug, "title": stat.title_zh, "column": column,
                     "period": period.isoformat() if period else None})
    column = _population_column(areas.layer)
    if column is None:
        return {}, {"source": "none"}
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid::text, {} FROM {}").format(sql.Identifier(column), _table(areas.layer)))
        return ({k: float(v) for k, v in cur.fetchall() if v is not None},
                {"source": "layer", "table": areas.layer.slug, "title": areas.layer.title_zh, "column": column})


def _population_column(layer: Layer) -> str | None:
    for a in layer.attributes:
        if a.get("type") in ("integer", "bigint", "double precision") and (
                a["name"] in POPULATION_NAMES or a.get("label") in POPULATION_NAMES):
            return a["name"]
    return None


def counts(layer: Layer, areas: Areas, period: str, user, category: str | None = None,
           start: datetime | None = None, end: datetime | None = None, per_category: bool = True) -> dict:
    """Events per area × category × period (per area × period, categories together, without `per_category`),
    with the area's residents and the rate per 1,000 of them."""
    if period not in PERIODS:
        raise FigureError(f"period: one of {', '.join(PERIODS)}")
    key, name, join = _area_sql(areas)
    when = (sql.SQL("NULL::date") if period == "all" else
            sql.SQL("date_trunc({p}, e.reported_at AT TIME ZONE {tz})::date").format(p=sql.Literal(period),
                                                                                       tz=sql.Literal(TZ)))
    where, params = _filters(category, start, end)
    cat = sql.SQL("e.category") if per_category else sql.SQL("NULL::text")
    query = sql.SQL("SELECT {key} AS k, min({name}) AS n, {cat} AS c, min(e.category_label), {when} AS p, "
                    "count(*) FROM {t} e {join} WHERE {where} GROUP BY k, c, p "
                    "ORDER BY p NULLS FIRST, k, c").format(key=key, name=name, cat=cat, when=when,
                                                           t=_table(layer), join=join, where=where)
    with connection.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
        cur.execute(sql.SQL("SELECT count(*) FROM {t} e WHERE {where}").format(t=_table(layer), where=where),
                    params)
        total = cur.fetchone()[0]
    residents, source = population(areas, user)
    out = []
    for k, n, cat, label, p, count in rows:
        pop = residents.get(k)
        row = {"area": k, "name": n, "category": cat, "category_label": label if cat else None,
               "period": p.isoformat() if p else None, "count": count, "population": pop,
               "rate_per_1000": round(count / pop * 1000, 3) if pop else None}
        if areas.kind == "grid":
            i, j = (int(v) for v in k.split(","))
            row["cell"] = [i * areas.cell_m, j * areas.cell_m, (i + 1) * areas.cell_m, (j + 1) * areas.cell_m]
        out.append(row)
    return {"by": areas.kind, "areas": areas.layer.slug if areas.layer else None, "cell_m": areas.cell_m or None,
            "period": period, "category": category or None, "events": total,
            "in_areas": sum(r["count"] for r in out), "population": source, "units": {
                "count": "件", "rate_per_1000": "件/千人", "population": "人", "cell": "m (EPSG:3826)"},
            "results": out}


def response_times(layer: Layer, areas: Areas, category: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, worst: int = 5) -> dict:
    """Hours to dispatch and to close (median, 90th percentile) per category × area and per category overall;
    the areas with the slowest median closing first in `worst`."""
    key, name, join = _area_sql(areas)
    where, params = _filters(category, start, end)
    hours = ("percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM e.{col} - e.reported_at) / 3600.0) "
             "FILTER (WHERE e.{col} IS NOT NULL AND e.{col} >= e.reported_at)")
    measures = sql.SQL(", ").join(sql.SQL(hours.format(q=q, col=col)) for col in ("dispatched_at", "closed_at")
                                  for q in ("0.5", "0.9"))
    counted = sql.SQL("count(*), count(e.dispatched_at), count(e.closed_at)")

    def run(group_key, group_name, join_sql, group_by):
        q = sql.SQL("SELECT {k}, {n}, {counted}, {measures} FROM {t} e {join} WHERE {where} GROUP BY {g} "
                    "ORDER BY 1, 2").format(k=group_key, n=group_name, counted=counted, measures=measures,
                                            t=_table(layer), join=join_sql, where=where, g=group_by)
        with connection.cursor() as cur:
            cur.execute(q, params)
            return cur.fetchall()

    def row(values, **head):
        n, n_dispatched, n_closed, d50, d90, c50, c90 = values
        r = lambda v: round(float(v), 2) if v is not None else None  # noqa: E731
        return {**head, "count": n, "dispatched": n_dispatched, "closed": n_closed,
                "dispatch_median_h": r(d50), "dispatch_p90_h": r(d90), "close_median_h": r(c50),
                "close_p90_h": r(c90)}

    by_category = [row(v[2:], category=v[0], category_label=v[1]) for v in run(
        sql.SQL("e.category"), sql.SQL("min(e.category_label)"), sql.SQL(""), sql.SQL("e.category"))]
    by_area = [row(v[2:], area=v[0], name=v[1]) for v in run(
        sql.SQL("{}").format(key), sql.SQL("min({})").format(name), join, sql.SQL("1"))]
    by_both = []
    for v in run(sql.SQL("concat(e.category, '|', {})").format(key),
                 sql.SQL("concat(min(e.category_label), '|', min({}))").format(name), join, sql.SQL("1")):
        cat, area = v[0].split("|", 1)
        label, area_name = v[1].split("|", 1)
        by_both.append(row(v[2:], category=cat, category_label=label, area=area, name=area_name))
    slowest = sorted((r for r in by_area if r["close_median_h"] is not None), key=lambda r: -r["close_median_h"])
    return {"by": areas.kind, "areas": areas.layer.slug if areas.layer else None, "cell_m": areas.cell_m or None,
            "category": category or None, "units": {"time": "小時", "count": "件"},
            "by_category": by_category, "by_area": by_area, "by_category_and_area": by_both,
            "worst": slowest[:worst]}


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 Taiwan time of the week holding `moment`."""
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(TZ))
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def latest(layer: Layer) -> datetime | None:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT max(reported_at) FROM {}").format(_table(layer)))
        return cur.fetchone()[0]


def changes(layer: Layer, week_of: datetime | None = None, weeks_before: int = 4, top: int = 10,
            districts: Areas | None = None) -> dict:
    """Per category and district: this week's count against the mean of the `weeks_before` weeks before it.
    The week is the one holding `week_of` (default: the layer's latest case). The district is the case's own
    `district`, else the one of `districts` (a boundary layer) it lies in."""
    moment = week_of or latest(layer)
    if moment is None:
        return {"week": None, "results": [], "rises": [], "units": {"count": "件"}}
    this = week_start(moment)
    first = this - timedelta(weeks=weeks_before)
    end = this + timedelta(weeks=1)
    district, join = sql.SQL("coalesce(e.district, '')"), sql.SQL("")
    if districts is not None:
        _key, name, join = _area_sql(districts)
        join = sql.SQL("LEFT ") + join
        district = sql.SQL("coalesce(nullif(e.district, ''), {}, '')").format(name)
    query = sql.SQL(
        "SELECT e.category, min(e.category_label), {district}, "
        "count(*) FILTER (WHERE e.reported_at >= %(this)s), "
        "count(*) FILTER (WHERE e.reported_at < %(this)s) "
        "FROM {t} e {join} WHERE e.reported_at >= %(first)s AND e.reported_at < %(end)s "
        "GROUP BY 1, 3 ORDER BY 1, 3").format(district=district, t=_table(layer), join=join)
    with connection.cursor() as cur:
        cur.execute(query, {"this": this, "first": first, "end": end})
        rows = cur.fetchall()
    out = []
    for cat, label, district, now_n, before_n in rows:
        mean = before_n / weeks_before
        out.append({"category": cat, "category_label": label, "district": district or None, "this_week": now_n,
                    "mean_before": round(mean, 2), "change": round(now_n - mean, 2),
                    "change_pct": round((now_n - mean) / mean * 100, 1) if mean else None})
    rises = sorted((r for r in out if r["change"] > 0), key=lambda r: (-r["change"], r["category"]))[:top]
    return {"week": this.date().isoformat(), "week_end": (end - timedelta(days=1)).date().isoformat(),
            "weeks_before": weeks_before, "units": {"count": "件", "mean_before": "件/週", "change": "件"},
            "results": out, "rises": rises}
