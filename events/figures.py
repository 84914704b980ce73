"""What an officer reads off an event layer: counts and rates per area (village, district, any polygon layer such as
the statistical areas, a regular grid or H3 cells), category and period; response times (to dispatch, to close:
median and 90th percentile per category and area, the worst areas first); and what changed this week (each category
and district: this week against the mean of the 4 weeks before, biggest rises first). All in SQL over the layer's
table (but an event's H3 cell: events.hexagons); weeks and days are Taiwan's (Asia/Taipei).

Rates are per 1,000 residents, the residents from the statistics tables (the latest period of a statistical table
joined to the boundary layer that has a population column: stats.StatJoin), else from the boundary layer's own
population attribute; areas without residents of their own (grid and H3 cells, an area layer without a population)
get them apportioned from the villages' (events.residents). Each answer says which.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from psycopg2 import sql

from layers.attribute_kinds import NUMERIC_TYPES
from layers.models import DATA_SCHEMA, Layer

from . import hexagons

PERIODS = ("day", "week", "month", "all")
AREA_KINDS = {"village": "villages", "district": "districts"}  # by → the boundary layer's slug by default
KINDS = ("village", "district", "layer", "grid", "h3")
POPULATION_NAMES = ("population", "pop", "人口數", "總人口", "人口", "p_cnt")
# the statistical areas (SEGIS 最小統計區 / 一級 / 二級發布區) have no name: their codes name them, the finest first
NAME_COLUMNS = ("name", "名稱", "village", "district", "villname", "townname", "codebase", "code1", "code2")
TZ = "Asia/Taipei"
MIN_CELL_M, MAX_CELL_M = 50, 20_000


class FigureError(ValueError):
    """A bad parameter: the message says which and why (HTTP 400)."""


@dataclass
class Areas:
    kind: str  # one of KINDS
    layer: Layer | None = None
    name_column: str = ""
    cell_m: float = 0
    resolution: int = 0  # of H3 cells

    @property
    def cells(self) -> bool:
        return self.kind in ("grid", "h3")


def table_sql(layer: Layer) -> sql.Composable:
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


def _area_sql(areas: Areas, layer: Layer):
    """(SELECT of key, name expressions, FROM/JOIN clause) grouping the events of `layer` by area."""
    if areas.kind == "grid":
        c = sql.Literal(float(areas.cell_m))
        key = sql.SQL("concat(floor(ST_X(e.geom) / {c})::bigint, ',', floor(ST_Y(e.geom) / {c})::bigint)").format(c=c)
        return key, key, sql.SQL("")
    if areas.kind == "h3":
        # PostGIS has no H3: each event's cell is found in Python (h3) and joined back by the event's key
        fids, cells = hexagons.assign(table_sql(layer), areas.resolution)
        join = sql.SQL("JOIN unnest({f}::integer[], {c}::text[]) AS a(fid, cell) ON a.fid = e.fid").format(
            f=sql.Literal(fids), c=sql.Literal(cells))
        return sql.SQL("a.cell"), sql.SQL("a.cell"), join
    key = sql.SQL("a.fid::text")
    name = sql.SQL("a.{}::text").format(sql.Identifier(areas.name_column))
    # one area per event, even on a shared boundary (the lowest fid): no event is counted twice
    join = sql.SQL("JOIN LATERAL (SELECT b.fid, b.{n} FROM {t} b WHERE ST_Intersects(b.geom, ST_Transform(e.geom, "
                   "ST_SRID(b.geom))) ORDER BY b.fid LIMIT 1) a ON TRUE").format(
        n=sql.Identifier(areas.name_column), t=table_sql(areas.layer))
    return key, name, join


def population(areas: Areas, user) -> tuple[dict[str, float], dict]:
    """area key → residents of an area layer, and where the figures come from (the statistics tables joined to
    it, else its own population attribute, else source "none")."""
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
                "GROUP BY m.boundary_fid").format(c=sql.Identifier(column), t=table_sql(stat)), [join.pk])
            rows = cur.fetchall()
            cur.execute(sql.SQL("SELECT max(period) FROM {}").format(table_sql(stat)))
            period = cur.fetchone()[0]
        if rows:
            return ({k: float(v) for k, v in rows if v is not None},
                    {"source": "statistics", "table": stat.slug, "title": stat.title_zh, "column": column,
                     "period": period.isoformat() if period else None})
    column = _population_column(areas.layer)
    if column is None:
        return {}, {"source": "none"}
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid::text, {} FROM {}").format(sql.Identifier(column), table_sql(areas.layer)))
        return ({k: float(v) for k, v in cur.fetchall() if v is not None},
                {"source": "layer", "table": areas.layer.slug, "title": areas.layer.title_zh, "column": column})


def _population_column(layer: Layer) -> str | None:
    for a in layer.attributes:
        if a.get("type") in NUMERIC_TYPES and (
                a["name"] in POPULATION_NAMES or a.get("label") in POPULATION_NAMES):
            return a["name"]
    return None


def zones_sql(areas: Areas, keys: list[str]) -> sql.Composable:
    """SELECT of (key, rank, geom in the working CRS) of the areas named by `keys`: what residents are apportioned
    to and what the map draws. `rank` breaks ties on a shared boundary as the events' join does (lowest first)."""
    if areas.kind in ("grid", "h3"):
        if areas.kind == "grid":
            c = areas.cell_m
            shapes = [f"POLYGON(({i * c} {j * c},{(i + 1) * c} {j * c},{(i + 1) * c} {(j + 1) * c},{i * c} "
                      f"{(j + 1) * c},{i * c} {j * c}))" for i, j in (map(int, k.split(",")) for k in keys)]
            srid = settings.WORKING_SRID
        else:
            shapes, srid = [hexagons.wkt(k) for k in keys], 4326
        return sql.SQL("SELECT z.key, z.rank, ST_Transform(ST_GeomFromText(z.wkt, {s}), {w}) AS geom FROM unnest("
                       "{k}::text[], {r}::bigint[], {g}::text[]) AS z(key, rank, wkt)").format(
            s=sql.Literal(srid), w=sql.Literal(settings.WORKING_SRID), k=sql.Literal(list(keys)),
            r=sql.Literal(list(range(len(keys)))), g=sql.Literal(shapes))
    return sql.SQL("SELECT fid::text AS key, fid::bigint AS rank, geom FROM {t} WHERE fid::text = ANY({k})").format(
        t=table_sql(areas.layer), k=sql.Literal(list(keys)))


def features(areas: Areas, rows: list[dict]) -> dict:
    """The areas of `rows` as GeoJSON (EPSG:4326) with their count over all rows, residents and rate: the map's."""
    totals: dict[str, dict] = {}
    for r in rows:
        t = totals.setdefault(r["area"], {"area": r["area"], "name": r["name"], "count": 0,
                                          "population": r["population"]})
        t["count"] += r["count"]
    for t in totals.values():
        t["rate_per_1000"] = round(t["count"] / t["population"] * 1000, 3) if t["population"] else None
    if not totals:
        return {"type": "FeatureCollection", "features": []}
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT z.key, ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(z.geom, 2), 4326), "
                            "6) FROM ({z}) z").format(z=zones_sql(areas, list(totals))))
        shapes = dict(cur.fetchall())
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapes[k]), "properties": t}
        for k, t in totals.items() if shapes.get(k)]}


def residents_of(areas: Areas, keys: list[str], user) -> tuple[dict[str, float], dict]:
    """The residents of each area and where they come from: the area layer's own (statistics tables, attribute),
    else apportioned from the villages (grid and H3 cells, an area layer without a population)."""
    if not areas.cells:
        found, source = population(areas, user)
        if source["source"] != "none" or areas.kind == "village":
            return found, source
    from .residents import apportion

    return apportion(zones_sql(areas, keys), user)


def counts(layer: Layer, areas: Areas, period: str, user, category: str | None = None,
           start: datetime | None = None, end: datetime | None = None, per_category: bool = True,
           geometry: bool = False) -> dict:
    """Events per area × category × period (per area × period, categories together, without `per_category`),
    with the area's residents and the rate per 1,000 of them; with `geometry`, the areas as GeoJSON too."""
    if period not in PERIODS:
        raise FigureError(f"period: one of {', '.join(PERIODS)}")
    key, name, join = _area_sql(areas, layer)
    when = (sql.SQL("NULL::date") if period == "all" else
            sql.SQL("date_trunc({p}, e.reported_at AT TIME ZONE {tz})::date").format(p=sql.Literal(period),
                                                                                       tz=sql.Literal(TZ)))
    where, params = _filters(category, start, end)
    cat = sql.SQL("e.category") if per_category else sql.SQL("NULL::text")
    query = sql.SQL("SELECT {key} AS k, min({name}) AS n, {cat} AS c, min(e.category_label), {when} AS p, "
                    "count(*) FROM {t} e {join} WHERE {where} GROUP BY k, c, p "
                    "ORDER BY p NULLS FIRST, k, c").format(key=key, name=name, cat=cat, when=when,
                                                           t=table_sql(layer), join=join, where=where)
    with connection.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
        cur.execute(sql.SQL("SELECT count(*) FROM {t} e WHERE {where}").format(t=table_sql(layer), where=where),
                    params)
        total = cur.fetchone()[0]
    residents, source = residents_of(areas, sorted({r[0] for r in rows}), user)
    out = []
    for k, n, cat, label, p, count in rows:
        pop = residents.get(k)
        row = {"area": k, "name": n, "category": cat, "category_label": label if cat else None,
               "period": p.isoformat() if p else None, "count": count,
               "population": round(pop, 1) if pop is not None else None,
               "rate_per_1000": round(count / pop * 1000, 3) if pop else None}
        if areas.kind == "grid":
            i, j = (int(v) for v in k.split(","))
            row["cell"] = [i * areas.cell_m, j * areas.cell_m, (i + 1) * areas.cell_m, (j + 1) * areas.cell_m]
        elif areas.kind == "h3":
            row["polygon"] = hexagons.polygon(k)
        out.append(row)
    answer = {"by": areas.kind, "areas": areas.layer.slug if areas.layer else None, "cell_m": areas.cell_m or None,
              "period": period, "category": category or None, "events": total,
              "in_areas": sum(r["count"] for r in out), "population": source, "units": {
                  "count": "件", "rate_per_1000": "件/千人", "population": "人", "cell": "m (EPSG:3826)"},
              "results": out}
    if areas.kind == "h3":
        answer["h3"] = {"resolution": areas.resolution, "edge_m": hexagons.edge_m(areas.resolution)}
        answer["units"] |= {"edge_m": "m", "polygon": "EPSG:4326"}
    if geometry:
        answer["features"] = features(areas, out)
    return answer


def response_times(layer: Layer, areas: Areas, category: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, worst: int = 5) -> dict:
    """Hours to dispatch and to close (median, 90th percentile) per category × area and per category overall;
    the areas with the slowest median closing first in `worst`."""
    key, name, join = _area_sql(areas, layer)
    where, params = _filters(category, start, end)
    hours = ("percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM e.{col} - e.reported_at) / 3600.0) "
             "FILTER (WHERE e.{col} IS NOT NULL AND e.{col} >= e.reported_at)")
    measures = sql.SQL(", ").join(sql.SQL(hours.format(q=q, col=col)) for col in ("dispatched_at", "closed_at")
                                  for q in ("0.5", "0.9"))
    counted = sql.SQL("count(*), count(e.dispatched_at), count(e.closed_at)")

    def run(group_key, group_name, join_sql, group_by):
        q = sql.SQL("SELECT {k}, {n}, {counted}, {measures} FROM {t} e {join} WHERE {where} GROUP BY {g} "
                    "ORDER BY 1, 2").format(k=group_key, n=group_name, counted=counted, measures=measures,
                                            t=table_sql(layer), join=join_sql, where=where, g=group_by)
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
        cur.execute(sql.SQL("SELECT max(reported_at) FROM {}").format(table_sql(layer)))
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
        _key, name, join = _area_sql(districts, layer)
        join = sql.SQL("LEFT ") + join
        district = sql.SQL("coalesce(nullif(e.district, ''), {}, '')").format(name)
    query = sql.SQL(
        "SELECT e.category, min(e.category_label), {district}, "
        "count(*) FILTER (WHERE e.reported_at >= %(this)s), "
        "count(*) FILTER (WHERE e.reported_at < %(this)s) "
        "FROM {t} e {join} WHERE e.reported_at >= %(first)s AND e.reported_at < %(end)s "
        "GROUP BY 1, 3 ORDER BY 1, 3").format(district=district, t=table_sql(layer), join=join)
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
