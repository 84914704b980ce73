"""Hot spot and emerging hot spot analyses as analysis jobs (analysis/jobs.py): the request checked (`check`, a 400
naming the field before any work), the events read from the point layer's table (one query), aggregated to a grid
(its empty cells within the study area counted as zero) or to polygons, analysed (stats.py, emerging.py) and written
as the result layer's table (`build`); the result is styled by its classes with zh-Hant and English labels (`style`).

Events the analysis cannot place are counted, never dropped silently: those without a location, without a time
(emerging), with a time after now (emerging), outside the period or of other categories are numbers in the summary.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import shapely
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_noop as N_
from psycopg2 import sql

from layers.models import DATA_SCHEMA, STAGING_SCHEMA, Layer, Style

from ..inputs import AnalysisInputError, number, readable_layer
from . import emerging, stats

MIN_LOCATIONS = 30  # Gi* needs enough locations (ArcGIS's hot spot tools ask for 30)
MIN_STEPS = 10  # the Mann-Kendall trend needs a series (ArcGIS's emerging hot spot analysis asks for 10 steps)
MAX_STEPS = 1000  # ~20 years by the week, ~3 by the day: a longer series is a mistaken period or step
MAX_CUBE = 5_000_000  # locations × time steps: the cube and its Gi* arrays in a worker's memory (~40 MB each)
MAX_CELLS = 500_000
STUDY_AREAS = ("convex_hull", "cells_with_events")  # and "boundary": a polygon layer
DEFAULT_STUDY_AREA = "convex_hull"
STUDY_AREA_CHOICES = {  # what the forms (/events/, the map's tool) offer, each with what it means
    "convex_hull": (N_("事件的範圍（凸包）"), N_(
        "包住所有分析事件的最小凸多邊形內，每個網格都納入，沒有事件的以 0 件計：找得到事件稀少的冷點。")),
    "boundary": (N_("面圖層（如行政區）"), N_(
        "所選面圖層的範圍內，每個網格都納入，沒有事件的以 0 件計（如全市行政區）。")),
    "cells_with_events": (N_("只有事件的網格"), N_(
        "只分析至少有 1 件事件的網格：空網格不計，事件稀少處的冷點找不到。")),
}
DEFAULT_CELL_M = 250.0
HOT = {99: ("熱點（99% 信賴）", "Hot spot (99% confidence)", "#d62f27"),
       95: ("熱點（95% 信賴）", "Hot spot (95% confidence)", "#ed7551"),
       90: ("熱點（90% 信賴）", "Hot spot (90% confidence)", "#fab984"),
       0: ("不顯著", "Not significant", "#eeeeee"),
       -90: ("冷點（90% 信賴）", "Cold spot (90% confidence)", "#c0ccbe"),
       -95: ("冷點（95% 信賴）", "Cold spot (95% confidence)", "#849eba"),
       -99: ("冷點（99% 信賴）", "Cold spot (99% confidence)", "#4575b5")}
CLUSTERS = {"HH": ("高高群聚：高值被高值包圍", "High-high cluster: high values among high values"),
            "LL": ("低低群聚：低值被低值包圍", "Low-low cluster: low values among low values"),
            "HL": ("高低離群：高值被低值包圍", "High-low outlier: a high value among low values"),
            "LH": ("低高離群：低值被高值包圍", "Low-high outlier: a low value among high values"),
            "": ("不顯著", "Not significant")}


class SparseCube(AnalysisInputError):
    """Too few events, locations or time steps to test: said with the counts."""


# ------------------------------------------------------------------------------------------------------------------
# the request
# ------------------------------------------------------------------------------------------------------------------
def check(data: dict, user, emerging_analysis: bool) -> dict:
    """The job's options from a request, every field checked; the events are read and counted too, so a cube too
    sparse to test is a 400 now, with its counts, not a failed job later."""
    layer = readable_layer(data.get("layer"), user)
    if "POINT" not in (layer.geometry_type or "").upper():
        raise AnalysisInputError("layer：圖層 {slug} 是 {kind} 圖層；熱點分析需要點圖層（事件）", slug=repr(layer.slug),
                                 kind=layer.geometry_type or "-")
    options = {"input": layer.slug}
    names = {a["name"] for a in layer.attributes}
    categories = data.get("category")
    if data.get("categories") not in (None, "", []):  # the plural spelling of the same list
        if categories not in (None, "", []):
            raise AnalysisInputError("category、categories：請擇一填寫")
        categories = data["categories"]
    if categories not in (None, "", []):
        if isinstance(categories, str):
            categories = [categories]
        if not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories):
            raise AnalysisInputError("category：請填類別名稱或類別名稱的清單")
        if "category" not in names:
            raise AnalysisInputError("category：圖層 {slug} 沒有 category 屬性，無法依類別篩選", slug=repr(layer.slug))
        options["category"] = categories
    time_needed = emerging_analysis or data.get("period")
    if time_needed and not layer.time_attribute:
        raise AnalysisInputError("layer：圖層 {slug} 沒有設定時間屬性；依時間分析需要事件的時間", slug=repr(layer.slug))
    period = data.get("period") or {}
    if not isinstance(period, dict):
        raise AnalysisInputError("period：請填 {{\"start\": 日期, \"end\": 日期}}")
    for end in ("start", "end"):
        if period.get(end):
            options[f"period_{end}"] = _moment(period[end], f"period.{end}").isoformat()
    if options.get("period_start") and options.get("period_end") and \
            options["period_start"] >= options["period_end"]:
        raise AnalysisInputError("period：開始時間必須早於結束時間")
    areas = data.get("areas")
    if areas:
        area_layer = readable_layer(areas, user)
        if "POLYGON" not in (area_layer.geometry_type or "").upper():
            raise AnalysisInputError("areas：圖層 {slug} 不是面圖層（例如村里、行政區）", slug=repr(area_layer.slug))
        options["areas"] = area_layer.slug
        if data.get("cell_size") is not None:
            raise AnalysisInputError("cell_size 與 areas 請擇一填寫")
    else:
        options["cell_size"] = number(data.get("cell_size", DEFAULT_CELL_M), "cell_size", 10, 10_000)
    options.update(_study_area_options(data, user, grid=not areas))
    hood = data.get("neighbourhood") or data.get("neighborhood") or {}
    if not isinstance(hood, dict):
        raise AnalysisInputError("neighbourhood：請填 {{\"method\": \"distance_band\" 或 \"k_nearest\", …}}")
    method = hood.get("method", "distance_band")
    if method not in ("distance_band", "k_nearest"):
        raise AnalysisInputError("neighbourhood.method：請填 distance_band 或 k_nearest")
    options["neighbourhood"] = {"method": method}
    if method == "distance_band" and hood.get("distance") is not None:
        options["neighbourhood"]["distance"] = number(hood["distance"], "neighbourhood.distance", 1, 50_000)
    if method == "k_nearest":
        options["neighbourhood"]["k"] = int(number(hood.get("k", 8), "neighbourhood.k", 1, 100))
    options["fdr"] = bool(data.get("fdr", True))
    if emerging_analysis:
        options["time_step_days"] = int(number(data.get("time_step_days", 7), "time_step_days", 1, 366))
        options["time_window"] = int(number(data.get("time_window", 1), "time_window", 0, 52))
        alpha = data.get("alpha", 0.05)
        if alpha not in (0.01, 0.05, 0.1):
            raise AnalysisInputError("alpha：請填 0.01、0.05 或 0.1（99%、95%、90% 信賴）")
        options["alpha"] = alpha
    else:
        options["permutations"] = int(number(data.get("permutations", 499), "permutations", 0, 9999))
    events = read_events(layer, options, emerging_analysis)
    locations = aggregate(events, options, user)
    options["checked"] = counted(events, locations, options, emerging_analysis)
    return options


def _study_area_options(data: dict, user, grid: bool) -> dict:
    """Where a grid's empty cells count: `study_area` "convex_hull" (the default: the hull of the events analysed),
    "cells_with_events" (no empty cells), or a polygon layer (`boundary`, e.g. the districts)."""
    kind, boundary = data.get("study_area"), data.get("boundary")
    if not grid:
        if kind or boundary:
            raise AnalysisInputError("study_area、boundary：依區域（areas）分析時每個區域都會計入，不需研究範圍")
        return {}
    if boundary:
        if kind not in (None, "", "boundary"):
            raise AnalysisInputError("study_area：填了 boundary（研究範圍的面圖層）時請不要另填 {kind}",
                                     kind=repr(str(kind)[:40]))
        layer = readable_layer(boundary, user)
        if "POLYGON" not in (layer.geometry_type or "").upper():
            raise AnalysisInputError("boundary：圖層 {slug} 不是面圖層（例如行政區）", slug=repr(layer.slug))
        return {"study_area": "boundary", "boundary": layer.slug}
    kind = kind or DEFAULT_STUDY_AREA
    if kind not in STUDY_AREAS:
        raise AnalysisInputError("study_area：請填 convex_hull（事件的凸包）或 cells_with_events"
                                 "（只分析有事件的網格），或以 boundary 指定面圖層")
    return {"study_area": kind}


def _moment(value, what: str) -> datetime:
    text = str(value)
    try:  # Django's parsers raise ValueError for a well-formed day that is not in the calendar (2026-02-30)
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = datetime(day.year, day.month, day.day) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise AnalysisInputError("{what}：{value} 不是日期或時間（請用 ISO 8601，例如 2026-01-31）", what=what,
                                 value=repr(text[:40]))
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_default_timezone())


# ------------------------------------------------------------------------------------------------------------------
# the events
# ------------------------------------------------------------------------------------------------------------------
class Events:
    """Located (and timed) events in the working CRS as arrays, and the counts of those left out, and why."""

    def __init__(self, x, y, t, left_out: dict, total: int):
        self.x, self.y, self.t, self.left_out, self.total = x, y, t, left_out, total


def read_events(layer: Layer, options: dict, timed: bool) -> Events:
    srid = settings.WORKING_SRID
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    point = sql.SQL("ST_Centroid(geom)") if layer.srid == srid else \
        sql.SQL("ST_Transform(ST_Centroid(geom), {})").format(sql.Literal(srid))
    time_column = sql.Identifier(layer.time_attribute) if layer.time_attribute else None
    time_sql = sql.SQL("extract(epoch FROM {})").format(time_column) if time_column else sql.SQL("NULL::float8")
    where, params = [], []
    if options.get("category"):
        where.append(sql.SQL("category::text = ANY(%s)"))
        params.append(options["category"])
    # three columns of float8 as three byte strings (NaN for none), read by numpy at once: no Python object per
    # value (200,000 events: tenths of a second, not seconds)
    packed = sql.SQL("string_agg(float8send(coalesce({}, 'NaN'::float8)), ''::bytea)")
    query = sql.SQL("SELECT count(*), {x}, {y}, {t} FROM (SELECT CASE WHEN geom IS NULL OR ST_IsEmpty(geom) THEN NULL "
                    "ELSE {point} END AS p, {time} AS tm FROM {table}{where}) e").format(
        x=packed.format(sql.SQL("ST_X(p)")), y=packed.format(sql.SQL("ST_Y(p)")), t=packed.format(sql.SQL("tm")),
        point=point, time=time_sql, table=table,
        where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""))
    with connection.cursor() as cur:
        if options.get("category"):
            cur.execute(sql.SQL("SELECT c, count(*) FROM (SELECT category::text AS c FROM {t} WHERE category::text = "
                                "ANY(%s)) x GROUP BY c").format(t=table), [options["category"]])
            found = dict(cur.fetchall())
            unknown = [c for c in options["category"] if c not in found]
            if unknown:
                raise AnalysisInputError("category：圖層 {slug} 沒有類別 {names} 的事件", slug=repr(layer.slug),
                                         names="、".join(unknown))
        cur.execute(query, params)
        total, *columns = cur.fetchone()
    x, y, t = (np.frombuffer(bytes(c), dtype=">f8").astype(float) if c else np.zeros(0) for c in columns)
    left_out = {}
    located = ~np.isnan(x)
    left_out["without_location"] = int((~located).sum())
    keep = located
    if layer.time_attribute:  # a reported time after now is a wrong time: never counted, always said
        future = ~np.isnan(t) & (t > timezone.now().timestamp())
        left_out["in_the_future"] = int((located & future).sum())
        keep = keep & ~future
    if timed or options.get("period_start") or options.get("period_end"):
        no_time = np.isnan(t)
        left_out["without_time"] = int((keep & no_time).sum())
        keep = keep & ~no_time
        start = datetime.fromisoformat(options["period_start"]).timestamp() if options.get("period_start") else None
        end = datetime.fromisoformat(options["period_end"]).timestamp() if options.get("period_end") else None
        outside = np.zeros_like(keep)
        if start is not None:
            outside |= t < start
        if end is not None:
            outside |= t >= end
        left_out["outside_period"] = int((keep & outside).sum())
        keep = keep & ~outside
    return Events(x[keep], y[keep], t[keep], left_out, total)


# ------------------------------------------------------------------------------------------------------------------
# locations: grid cells or polygons
# ------------------------------------------------------------------------------------------------------------------
class Locations:
    """Where events are counted: N locations (centres for the neighbourhoods) and each event's location; for a grid,
    the study area that its empty cells were counted in (`study_area`: what it is, its cells, those without events)."""

    def __init__(self, xy, of_event, ids, cell=None, origin=None, names=None, area_fids=None, study_area=None):
        self.xy, self.of_event, self.ids = xy, of_event, ids
        self.cell, self.origin, self.names, self.area_fids = cell, origin, names, area_fids
        self.study_area = study_area


def aggregate(events: Events, options: dict, user) -> Locations:
    """Events counted per polygon (`areas`) or per grid cell. A grid's cells are those with events and, unless
    `study_area` is "cells_with_events", every cell whose centre lies in the study area with its count of zero:
    as ArcGIS's Optimized Hot Spot Analysis counts a fishnet within its bounding polygons and Esri's space-time cube
    keeps its empty bins. Without the empty cells a place with few events looks like the average (its zeros are
    not there to pull it down), and a cold spot cannot be found."""
    if options.get("areas"):
        return _areas(events, readable_layer(options["areas"], user))
    cell = float(options["cell_size"])
    kind = options.get("study_area", DEFAULT_STUDY_AREA)
    area = {"kind": kind, **({"layer": options["boundary"]} if options.get("boundary") else {})}
    if len(events.x) == 0:
        return Locations(np.zeros((0, 2)), np.zeros(0, dtype=int), np.zeros((0, 2), dtype=np.int64), cell,
                         (0.0, 0.0), study_area={**area, "cells": 0, "cells_without_events": 0})
    boundary = _study_area(events, options, user) if kind != "cells_with_events" else None
    x_min, y_min, x_max, y_max = (events.x.min(), events.y.min(), events.x.max(), events.y.max())
    if boundary is not None:  # the grid spans the events and the study area
        bx0, by0, bx1, by1 = shapely.bounds(boundary)
        x_min, y_min, x_max, y_max = min(x_min, bx0), min(y_min, by0), max(x_max, bx1), max(y_max, by1)
    x0, y0 = math.floor(x_min / cell) * cell, math.floor(y_min / cell) * cell
    nx, ny = int((x_max - x0) // cell) + 1, int((y_max - y0) // cell) + 1
    most = 4 * MAX_CELLS if boundary is not None else 50 * MAX_CELLS  # the empty ones are tested one by one
    if nx * ny > most:
        raise AnalysisInputError("cell_size：{cell} 公尺的網格太細（研究範圍超過 {n} 格）；請用較大的網格",
                                 cell=f"{cell:g}", n=f"{most:,}")
    ix = ((events.x - x0) // cell).astype(np.int64)
    iy = ((events.y - y0) // cell).astype(np.int64)
    key = iy * nx + ix
    busy = np.unique(key)
    ids = busy
    if boundary is not None:
        every = np.arange(nx * ny, dtype=np.int64)
        cy, cx = np.divmod(every, nx)
        inside = shapely.contains_xy(boundary, x0 + (cx + 0.5) * cell, y0 + (cy + 0.5) * cell)
        ids = np.union1d(busy, every[inside])  # a cell with events is analysed wherever its centre is
    if len(ids) > MAX_CELLS:
        raise AnalysisInputError("cell_size：研究範圍內 {n} 個網格太多（至多 {most}）；請用較大的網格",
                                 n=f"{len(ids):,}", most=f"{MAX_CELLS:,}")
    of_event = np.searchsorted(ids, key)
    cy, cx = np.divmod(ids, nx)
    xy = np.column_stack([x0 + (cx + 0.5) * cell, y0 + (cy + 0.5) * cell])
    area.update(cells=len(ids), cells_without_events=len(ids) - len(busy))
    if boundary is not None:
        area["area_km2"] = round(float(boundary.area) / 1e6, 3)
    return Locations(xy, of_event, np.column_stack([cx, cy]), cell, (x0, y0), study_area=area)


def _study_area(events: Events, options: dict, user):
    """The study area as one (prepared) shapely geometry: the convex hull of the events, or the union of the
    boundary layer's polygons."""
    if options.get("study_area") == "boundary":
        layer = readable_layer(options["boundary"], user)
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT ST_AsBinary(ST_UnaryUnion(ST_Collect({g}))) FROM {t} WHERE geom IS NOT NULL")
                        .format(g=_in_working_crs(layer), t=sql.Identifier(DATA_SCHEMA, layer.table_name)))
            wkb = cur.fetchone()[0]
        if wkb is None:
            raise AnalysisInputError("boundary：圖層 {slug} 沒有任何面", slug=repr(layer.slug))
        area = shapely.from_wkb(bytes(wkb))
    else:
        area = shapely.convex_hull(shapely.multipoints(np.column_stack([events.x, events.y])))
    shapely.prepare(area)
    return area


def _in_working_crs(layer: Layer):
    srid = settings.WORKING_SRID
    return sql.SQL("geom") if layer.srid == srid else sql.SQL("ST_Transform(geom, {})").format(sql.Literal(srid))


def _areas(events: Events, layer: Layer) -> Locations:
    """Every polygon of the area layer is a location (zero counts included); an event in none is counted as
    outside the areas."""
    geom = _in_working_crs(layer)
    label = next((a["name"] for a in layer.attributes if a["name"] in ("name", "village", "town", "title")), None)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid, {label}, ST_AsBinary({g}), ST_X(ST_PointOnSurface({g})), "
                            "ST_Y(ST_PointOnSurface({g})) FROM {t} WHERE geom IS NOT NULL ORDER BY fid").format(
            label=sql.SQL("{}::text").format(sql.Identifier(label)) if label else sql.SQL("NULL"), g=geom,
            t=sql.Identifier(DATA_SCHEMA, layer.table_name)))
        rows = cur.fetchall()
    polygons = shapely.from_wkb([bytes(r[2]) for r in rows])
    tree = shapely.STRtree(polygons)
    points = shapely.points(events.x, events.y)
    event_i, area_i = tree.query(points, predicate="within")
    of_event = np.full(len(events.x), -1, dtype=np.int64)
    of_event[event_i] = area_i  # a point on a shared edge: within neither; in two overlapping: the last
    xy = np.array([[r[3], r[4]] for r in rows], dtype=float).reshape(-1, 2)
    return Locations(xy, of_event, np.arange(len(rows)), names=[r[1] for r in rows],
                     area_fids=np.array([r[0] for r in rows]))


def time_steps(events: Events, options: dict) -> tuple[np.ndarray, int, float, float]:
    """(step of each event, number of steps, start, end as epoch seconds): steps of `time_step_days` aligned to the
    end (the period's end, else the last event), as Esri's cube aligns by default, so the last step is whole."""
    step = options["time_step_days"] * 86400.0
    end = datetime.fromisoformat(options["period_end"]).timestamp() if options.get("period_end") else \
        float(events.t.max()) + 1.0 if len(events.t) else 0.0
    start = datetime.fromisoformat(options["period_start"]).timestamp() if options.get("period_start") else \
        float(events.t.min()) if len(events.t) else 0.0
    count = max(1, math.ceil((end - start) / step))
    back = np.floor((end - events.t) / step).astype(np.int64)
    return count - 1 - np.minimum(back, count - 1), count, start, end


def counted(events: Events, locations: Locations, options: dict, timed: bool) -> dict:
    """The counts a summary reports, and a SparseCube when too few to test."""
    placed = locations.of_event >= 0
    out = {"events_read": events.total, "events_analysed": int(placed.sum()), "left_out": dict(events.left_out),
           "locations": len(locations.xy)}
    if options.get("areas"):
        out["left_out"]["outside_areas"] = int((~placed).sum())
    counts = np.bincount(locations.of_event[placed], minlength=len(locations.xy))
    out["locations_with_events"] = int((counts > 0).sum())
    if locations.study_area:
        out["study_area"] = locations.study_area
    if timed:
        steps, n_steps, _start, _end = time_steps(events, options) if len(events.t) else (np.zeros(0, int), 0, 0, 0)
        out["time_steps"] = n_steps
        if n_steps > MAX_STEPS or n_steps * len(locations.xy) > MAX_CUBE:
            raise AnalysisInputError(
                "time_step_days：{steps} 個時間步 × {locations} 個位置太大（至多 {most_steps} 步、{most_cells} 格）；"
                "請用較長的時間步、較短的期間或較大的網格", steps=f"{n_steps:,}", locations=f"{len(locations.xy):,}",
                most_steps=f"{MAX_STEPS:,}", most_cells=f"{MAX_CUBE:,}")
        out["time_steps_with_events"] = int(len(np.unique(steps[placed]))) if len(steps) else 0
        if out["locations_with_events"] < MIN_LOCATIONS or n_steps < MIN_STEPS or \
                out["time_steps_with_events"] < 2:
            raise SparseCube(
                "時空立方體太稀疏，無法檢定：{events} 件事件落在 {locations} 個有事件的位置"
                "（至少需要 {min_locations}）、{steps} 個時間步（至少需要 {min_steps}），"
                "其中 {busy} 個時間步有事件；" + LEFT_OUT +
                "。請用較小的網格、較短的時間步或較長的期間",
                events=out["events_analysed"], locations=out["locations_with_events"], min_locations=MIN_LOCATIONS,
                steps=n_steps, min_steps=MIN_STEPS, busy=out["time_steps_with_events"], **_left_out(out["left_out"]))
    elif out["locations_with_events"] < MIN_LOCATIONS and not options.get("areas") or \
            len(locations.xy) < MIN_LOCATIONS:
        raise SparseCube("事件太少，無法檢定熱點：{events} 件事件落在 {locations} 個位置（至少需要 {min_locations}）；"
                         + LEFT_OUT + "。請用較小的網格或選擇較多事件",
                         events=out["events_analysed"], locations=len(locations.xy), min_locations=MIN_LOCATIONS,
                         **_left_out(out["left_out"]))
    return out


LEFT_OUT = ("未納入的事件：無位置 {no_place}、無時間 {no_time}、時間在未來 {future}、期間外 {outside}、"
            "區域外 {outside_areas}")


def _left_out(left_out: dict) -> dict:
    return {"no_place": left_out.get("without_location", 0), "no_time": left_out.get("without_time", 0),
            "future": left_out.get("in_the_future", 0), "outside": left_out.get("outside_period", 0),
            "outside_areas": left_out.get("outside_areas", 0)}


# ------------------------------------------------------------------------------------------------------------------
# the analyses
# ------------------------------------------------------------------------------------------------------------------
def neighbourhood(locations: Locations, values: np.ndarray, options: dict) -> tuple[object, dict]:
    """Spatial weights (binary, self included) and the parameters used, the derived ones said as derived."""
    hood = options["neighbourhood"]
    if hood["method"] == "k_nearest":
        k = min(hood["k"], len(locations.xy) - 1)
        return stats.k_nearest(locations.xy, k, True), {"method": "k_nearest", "k": k, "derived": False}
    if hood.get("distance"):
        return stats.distance_band(locations.xy, hood["distance"], True), {
            "method": "distance_band", "distance_m": hood["distance"], "derived": False}
    band = stats.optimized_band(locations.xy, values)
    used = {"method": "distance_band", "distance_m": round(band.distance, 1), "derived": True,
            "derived_how": band.how, "start_m": round(band.start, 1), "increment_m": round(band.increment, 1),
            "moran_z_by_distance": [[round(d, 1), round(z, 3)] for d, z in band.peaks],
            "locational_outliers": band.outliers}
    if band.k:
        used["k_for_mean_distance"] = band.k
    return stats.distance_band(locations.xy, band.distance, True), used


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    """The analysis of a job: (input slugs, further tables, summary) as analysis.jobs._build returns."""
    from geo.messages import text as note

    timed = options["analysis"] == "emerging_hotspots"
    layer = readable_layer(options["input"], user)
    events = read_events(layer, options, timed)
    locations = aggregate(events, options, user)
    summary = counted(events, locations, options, timed)
    progress(20, note("事件已彙整"))
    placed = locations.of_event >= 0
    n = len(locations.xy)
    totals = np.bincount(locations.of_event[placed], minlength=n).astype(float)
    w, hood = neighbourhood(locations, totals, options)
    degree = np.asarray(w.sum(axis=1)).ravel() - 1
    summary["neighbourhood"] = hood
    summary["neighbours"] = {"min": int(degree.min()), "mean": round(float(degree.mean()), 2),
                             "max": int(degree.max()), "without_any": int((degree == 0).sum())}
    parameters = {k: options[k] for k in ("cell_size", "areas", "study_area", "boundary", "category", "period_start",
                                          "period_end", "fdr", "time_step_days", "time_window", "alpha",
                                          "permutations") if k in options}
    summary["parameters"] = parameters
    inputs = [layer.slug] + [options[k] for k in ("areas", "boundary") if options.get(k)]
    if timed:
        steps, n_steps, start, end = time_steps(events, options)
        cube = np.bincount(steps[placed] * n + locations.of_event[placed], minlength=n_steps * n).reshape(n_steps, n)
        summary["time"] = {"start": datetime.fromtimestamp(start, timezone.get_default_timezone()).isoformat(),
                           "end": datetime.fromtimestamp(end, timezone.get_default_timezone()).isoformat(),
                           "steps": n_steps, "step_days": options["time_step_days"]}
        result = emerging.analyse(cube, w, options["time_window"], options["alpha"], options["fdr"])
        progress(60, note("時空熱點已計算"))
        codes, counts = np.unique(result.pattern, return_counts=True)
        summary["classes"] = {emerging.pattern_name(int(c)): int(k) for c, k in zip(codes, counts, strict=True)}
        columns = {"events": totals.astype(np.int64), "pattern": result.pattern.astype(np.int64),
                   "hot_steps": result.hot.sum(axis=1), "cold_steps": result.cold.sum(axis=1),
                   "final_z": result.z[-1], "final_p": result.p[-1],
                   "trend_z": result.gi_trend_z, "trend_p": result.gi_trend_p,
                   "count_trend_z": result.count_trend_z, "count_trend_p": result.count_trend_p}
    else:
        z = stats.gi_star(totals, w)
        p = stats.two_sided_p(z)
        q = stats.fdr_q_values(p)
        level = stats.confidence(z, p, options["fdr"])
        wm = w.tolil()
        wm.setdiag(0)
        moran = stats.local_moran(totals, wm.tocsr(), options["permutations"] or 0)
        significant = moran.p <= 0.05 if options["permutations"] else np.zeros(n, dtype=bool)
        cluster = np.where(significant, np.array(["", "HH", "LH", "LL", "HL"])[moran.quadrant], "")
        progress(60, note("熱點已計算"))
        codes, counts = np.unique(level, return_counts=True)
        summary["classes"] = {_level_name(int(c)): int(k) for c, k in zip(codes, counts, strict=True)}
        kinds, kc = np.unique(cluster, return_counts=True)
        summary["clusters"] = {(k or "not_significant"): int(c) for k, c in zip(kinds, kc, strict=True)}
        columns = {"events": totals.astype(np.int64), "hotspot": level.astype(np.int64), "gi_z": z, "gi_p": p,
                   "gi_q": q, "moran_i": moran.i, "moran_p": moran.p, "cluster": cluster}
    _write(staging, locations, columns, options)
    progress(80, note("結果已寫入"))
    return inputs, [], summary


def _level_name(level: int) -> str:
    return "not_significant" if level == 0 else f"{'hot' if level > 0 else 'cold'}_{abs(level)}"


def _write(staging: str, locations: Locations, columns: dict, options: dict) -> None:
    """The result table: one row per location with its polygon (grid cell or area) and `columns`."""
    srid = settings.WORKING_SRID
    target = sql.Identifier(STAGING_SCHEMA, staging)
    names = list(columns)
    arrays = [columns[k].tolist() for k in names]
    kinds = ["text[]" if columns[k].dtype.kind in "UO" else "bigint[]" if columns[k].dtype.kind in "iu"
             else "float8[]" for k in names]
    unnest = sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(k)) for k in kinds)
    selected = sql.SQL(", ").join(sql.SQL("u.{}").format(sql.Identifier(k)) for k in names)
    aliases = sql.SQL(", ").join(sql.Identifier(k) for k in names)
    with connection.cursor() as cur:
        if options.get("areas"):
            area = Layer.objects.get(slug=options["areas"])
            geom = sql.SQL("a.geom") if area.srid == srid else \
                sql.SQL("ST_Transform(a.geom, {})").format(sql.Literal(srid))
            cur.execute(sql.SQL(
                "CREATE TABLE {target} AS SELECT (row_number() OVER ())::integer AS fid, u.area_fid, "
                "u.area_name, {selected}, ST_Multi({geom}) AS geom FROM unnest(%s::bigint[], %s::text[], {unnest}) "
                "AS u(area_fid, area_name, {aliases}) JOIN {areas} a ON a.fid = u.area_fid").format(
                target=target, selected=selected, geom=geom, unnest=unnest, aliases=aliases,
                areas=sql.Identifier(DATA_SCHEMA, area.table_name)),
                [locations.area_fids.tolist(), [str(n) if n is not None else None for n in locations.names], *arrays])
        else:
            cell = locations.cell
            x0, y0 = locations.origin
            cur.execute(sql.SQL(
                "CREATE TABLE {target} AS SELECT (row_number() OVER ())::integer AS fid, u.col, u.row, {selected}, "
                "ST_MakeEnvelope({x0} + u.col * {c}, {y0} + u.row * {c}, {x0} + (u.col + 1) * {c}, "
                "{y0} + (u.row + 1) * {c}, {srid}) AS geom FROM unnest(%s::bigint[], %s::bigint[], {unnest}) "
                "AS u(col, row, {aliases})").format(
                target=target, selected=selected, x0=sql.Literal(x0), y0=sql.Literal(y0), c=sql.Literal(cell),
                srid=sql.Literal(srid), unnest=unnest, aliases=aliases),
                [locations.ids[:, 0].tolist(), locations.ids[:, 1].tolist(), *arrays])
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET NOT NULL").format(target))


# ------------------------------------------------------------------------------------------------------------------
# the result's legend
# ------------------------------------------------------------------------------------------------------------------
DESCRIBED = {
    "events": ("事件數", "Events", "件", "events", "count"),
    "hotspot": ("熱點分類（Gi*）", "Hot spot class (Gi*)", "", "", "category"),
    "gi_z": ("Gi* z 分數", "Gi* z-score", "", "", "measure"),
    "gi_p": ("Gi* p 值", "Gi* p-value", "", "", "ratio"),
    "gi_q": ("Gi* FDR 校正 p 值", "Gi* FDR-adjusted p-value", "", "", "ratio"),
    "moran_i": ("局部 Moran's I", "Local Moran's I", "", "", "measure"),
    "moran_p": ("局部 Moran's I 擬似 p 值", "Local Moran's I pseudo p-value", "", "", "ratio"),
    "cluster": ("群聚與離群（局部 Moran's I）", "Clusters and outliers (local Moran's I)", "", "", "category"),
    "pattern": ("時空熱點模式", "Emerging hot spot pattern", "", "", "category"),
    "hot_steps": ("顯著熱點時間步數", "Significant hot time steps", "步", "steps", "count"),
    "cold_steps": ("顯著冷點時間步數", "Significant cold time steps", "步", "steps", "count"),
    "final_z": ("最後時間步 Gi* z 分數", "Gi* z-score in the final step", "", "", "measure"),
    "final_p": ("最後時間步 Gi* p 值", "Gi* p-value in the final step", "", "", "ratio"),
    "trend_z": ("聚集強度趨勢 z（Mann-Kendall）", "Clustering trend z (Mann-Kendall)", "", "", "measure"),
    "trend_p": ("聚集強度趨勢 p 值", "Clustering trend p-value", "", "", "ratio"),
    "count_trend_z": ("事件數趨勢 z（Mann-Kendall）", "Event count trend z (Mann-Kendall)", "", "", "measure"),
    "count_trend_p": ("事件數趨勢 p 值", "Event count trend p-value", "", "", "ratio"),
    "col": ("網格欄", "Grid column", "", "", "identifier"),
    "row": ("網格列", "Grid row", "", "", "identifier"),
    "area_fid": ("區域編號", "Area id", "", "", "identifier"),
    "area_name": ("區域名稱", "Area name", "", "", "category"),
}


def legend(analysis: str) -> tuple[str, list[dict], dict]:
    """(the attribute drawn, its classes in drawing order, its value labels {value: {label, label_en}})."""
    if analysis == "emerging_hotspots":
        order = [3, 4, 2, 1, 5, 6, 7, 8, 0, -8, -7, -6, -5, -1, -2, -4, -3]
        labels = {str(c): {"label": emerging.PATTERNS[c][0], "label_en": emerging.PATTERNS[c][1]} for c in order}
        classes = [{"value": str(c), "label": emerging.PATTERNS[c][0], "label_en": emerging.PATTERNS[c][1],
                    "color": emerging.PATTERN_COLORS[c]} for c in order]
        return "pattern", classes, labels
    order = [99, 95, 90, 0, -90, -95, -99]
    labels = {str(c): {"label": HOT[c][0], "label_en": HOT[c][1]} for c in order}
    classes = [{"value": str(c), "label": HOT[c][0], "label_en": HOT[c][1], "color": HOT[c][2]} for c in order]
    return "hotspot", classes, labels


def style(layer: Layer, analysis: str) -> None:
    """The result drawn by its classes, each labelled with what it means, and its attributes described."""
    attribute, classes, labels = legend(analysis)
    described = []
    for a in layer.attributes:
        zh, en, unit, unit_en, kind = DESCRIBED.get(a["name"], (None,) * 5)
        if zh:
            a = {**a, "label": zh, "label_en": en, "unit": unit, "unit_en": unit_en, "kind": kind}
        if a["name"] == attribute:
            a["values"] = labels
        if a["name"] == "cluster":
            a["values"] = {k: {"label": v[0], "label_en": v[1]} for k, v in CLUSTERS.items() if k}
        described.append(a)
    layer.attributes = described
    layer.save(update_fields=["attributes"])
    drawn, _created = Style.objects.get_or_create(layer=layer)
    drawn.kind, drawn.attribute = Style.Kind.CATEGORIZED, attribute
    drawn.stroke_color, drawn.stroke_width, drawn.opacity = "#9e9e9e", 0.3, 0.8
    drawn.classes = classes
    drawn.save()
