"""Where facilities, incidents, origins and stops are — features of a layer or points drawn on the map — and
where each joins the network: the nearest road within the snapping limit, entered at the nearer end of that edge
(the time along the edge to that end is added; the walk from the point to the road is not, as in most network
tools). A point farther than the limit from every road is a 400 that names it and the limit."""

from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.db import connection
from psycopg2 import sql

from analysis.inputs import AnalysisInputError, geometry, metres, readable_layer, srid_of
from analysis.siting import features
from geo.crs import transform

from .models import SCHEMA

MAX_SNAP_M = 5000.0
MAX_PLACES = 2000


@dataclass
class Places:
    names: list[str]  # for messages and result attributes: a feature's label or "fid 3", a drawn point "#2"
    xy: np.ndarray  # working CRS
    source_fid: list[int | None]
    layer: object = None


@dataclass
class Snapped:
    node: np.ndarray  # network vertex id where each place joins
    access_s: np.ndarray  # seconds along the edge from the place to that vertex
    offset_m: np.ndarray  # distance from the place to the road


def read(spec, what: str, user, maximum: int = MAX_PLACES) -> Places:
    """{"layer": slug, "filter": {…}, "label": attribute} or {"geometry": Point/MultiPoint GeoJSON, "crs": …}."""
    if not isinstance(spec, dict):
        raise AnalysisInputError(
            "{what}：請填 {{\"layer\": 圖層代碼}} 或 {{\"geometry\": 點的 GeoJSON, \"crs\": 4326}}", what=what)
    if spec.get("layer") is not None:
        layer = readable_layer(spec["layer"], user)
        label = spec.get("label") or next((a["name"] for a in layer.attributes if a["name"] in ("name", "title")),
                                          None)
        found = features.points(layer, spec.get("filter"), [label] if label else [], what)
        names = [str(v) if v not in (None, "") else f"fid {f}"
                 for v, f in zip(found[label] if label else [None] * len(found["fid"]), found["fid"], strict=True)]
        places = Places(names, found["xy"], [int(f) for f in found["fid"]], layer)
    else:
        srid = srid_of(spec.get("crs"))
        geom = geometry(spec.get("geometry"), srid, f"{what}.geometry")
        if geom.geom_type not in ("Point", "MultiPoint"):
            raise AnalysisInputError("{what}：這裡需要點，收到的是 {kind}", what=what, kind=geom.geom_type)
        if srid != settings.WORKING_SRID:
            geom = transform(geom, srid, settings.WORKING_SRID)
        xy = shapely.get_coordinates(geom)
        places = Places([f"#{i + 1}" for i in range(len(xy))], xy, [None] * len(xy))
    if not len(places.xy):
        raise AnalysisInputError("{what}：沒有任何地點", what=what)
    if len(places.xy) > maximum:
        raise AnalysisInputError("{what}：最多 {maximum} 個地點，收到 {n} 個", what=what, maximum=maximum,
                                 n=len(places.xy))
    return places


def snap_limit(data: dict) -> float:
    return metres(data.get("snap_limit", 500), "snap_limit", MAX_SNAP_M)


IN_MEMORY = 5000  # more points than this are joined with shapely over the edges read once, not a query per point


def join(network, xy: np.ndarray) -> Snapped:
    """Where each point joins the network (its nearest road, however far)."""
    if len(xy) > IN_MEMORY:
        return join_in_memory(network, xy)
    edges = sql.Identifier(SCHEMA, network.edges_table)
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "SELECT q.ord, e.dist, CASE WHEN e.f <= 0.5 THEN e.source ELSE e.target END,"
            " CASE WHEN e.f <= 0.5 THEN e.f ELSE 1 - e.f END * e.length_m / NULLIF(e.length_m / greatest(e.cost,"
            " e.reverse_cost), 0)"
            " FROM (SELECT ord, ST_SetSRID(ST_MakePoint(x, y), {srid}) AS g FROM unnest(%s::float8[], %s::float8[])"
            " WITH ORDINALITY AS u(x, y, ord)) q CROSS JOIN LATERAL (SELECT source, target, length_m, cost,"
            " reverse_cost, ST_Distance(geom, q.g) AS dist, ST_LineLocatePoint(geom, q.g) AS f FROM {edges}"
            " ORDER BY geom <-> q.g LIMIT 1) e ORDER BY q.ord").format(
            srid=sql.Literal(network.layer.srid), edges=edges), [xy[:, 0].tolist(), xy[:, 1].tolist()])
        rows = cur.fetchall()
    return Snapped(np.array([r[2] for r in rows], np.int64), np.array([float(r[3] or 0) for r in rows]),
                   np.array([r[1] for r in rows], float))


NEAR_M = 50.0  # the in-memory join first measures only the roads this close to each point


def join_in_memory(network, xy: np.ndarray) -> Snapped:
    """The same as `join` for many points at once: the edges read once into a shapely STRtree; every edge within
    NEAR_M of each point measured in one bulk query (the nearest of them is the nearest of all), the points with
    none that close by the tree's nearest search; then the position along the edge by line_locate_point.
    100,000 points: seconds, where a nearest-neighbour query per point in the database takes half a minute."""
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT source, target, CASE WHEN length_m > 0 THEN greatest(cost, reverse_cost) ELSE 0"
                            " END, ST_AsBinary(geom) FROM {} ORDER BY id").format(
            sql.Identifier(SCHEMA, network.edges_table)))
        rows = cur.fetchall()
    source, target = np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64)
    full_s = np.array([float(r[2] or 0) for r in rows])
    lines = shapely.from_wkb([bytes(r[3]) for r in rows])
    points = shapely.points(xy)
    tree = shapely.STRtree(lines)
    edge, offset = np.full(len(xy), -1, np.int64), np.full(len(xy), np.inf)
    who, which = tree.query(points, predicate="dwithin", distance=NEAR_M)
    if len(who):
        measured = shapely.distance(lines[which], points[who])
        order = np.lexsort((which, measured, who))  # per point the nearest (the lowest edge id on a tie)
        first = order[np.r_[True, who[order][1:] != who[order][:-1]]]
        edge[who[first]], offset[who[first]] = which[first], measured[first]
    far = np.flatnonzero(edge < 0)
    if len(far):
        at, gap = tree.query_nearest(points[far], all_matches=False, return_distance=True)
        edge[far[at[0]]], offset[far[at[0]]] = at[1], gap
    f = shapely.line_locate_point(lines[edge], points, normalized=True)
    near_source = f <= 0.5
    return Snapped(np.where(near_source, source[edge], target[edge]),
                   np.where(near_source, f, 1 - f) * full_s[edge], offset)


def snap(network, places: Places, limit: float, what: str) -> Snapped:
    """Join each place to the network, or a 400 naming the places beyond `limit` metres of every road."""
    joined = join(network, places.xy)
    far = np.flatnonzero(joined.offset_m > limit)
    if len(far):
        named = [f"{places.names[i]} ({joined.offset_m[i]:,.0f} m)" for i in far[:10]]
        raise AnalysisInputError(
            "{what}：{n} 個地點距離最近的道路超過 {limit} 公尺（snap_limit），無法接上路網：{places}", what=what,
            n=len(far), limit=f"{limit:,g}", places=named)
    return joined
