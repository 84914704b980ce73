"""Reading what siting needs from layer tables: representative points, attributes, nearest distances."""

import numpy as np
import shapely
from django.db import connection
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

from ..inputs import AnalysisInputError
from ..overlay import conditions


def _table(layer: Layer) -> sql.Composable:
    return sql.Identifier(DATA_SCHEMA, layer.table_name)


def attribute(layer: Layer, name: str, what: str) -> str:
    """The attribute name, if the layer has it; else a 400 listing what it has."""
    if not any(a["name"] == name for a in layer.attributes):
        known = ", ".join(a["name"] for a in layer.attributes)
        raise AnalysisInputError("{what}：圖層 {slug} 沒有屬性 {name}（它有 {known}）", what=what,
                                 slug=repr(layer.slug), name=repr(name), known=known)
    return name


def points(layer: Layer, filters: dict | None, attributes: list[str] = (), what: str = "layer") -> dict:
    """fid, x, y (a point on each feature's surface) and the named attributes of the (filtered) features."""
    names = [attribute(layer, n, what) for n in attributes]
    where = conditions(layer, filters, "t")
    cols = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(n)) for n in names)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT t.fid, ST_X(s.p), ST_Y(s.p){} FROM {} t, LATERAL (SELECT "
                            "ST_PointOnSurface(t.geom) AS p) s{} ORDER BY t.fid").format(
            cols, _table(layer), sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")))
        rows = cur.fetchall()
    out = {"fid": np.array([r[0] for r in rows], dtype=np.int64),
           "xy": np.array([(r[1], r[2]) for r in rows], dtype=float).reshape(-1, 2)}
    for i, n in enumerate(names):
        out[n] = np.array([r[3 + i] for r in rows], dtype=object)
    return out


def nearest_distance(xy: np.ndarray, layer: Layer, filters: dict | None) -> np.ndarray:
    """Distance (m) from each point to the nearest (filtered) feature of a layer, by the GiST index (KNN)."""
    where = conditions(layer, filters, "t")
    extra = sql.SQL(" AND ").join(where) if where else sql.SQL("true")
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "SELECT (SELECT ST_Distance(t.geom, q.g) FROM {} t WHERE {} ORDER BY t.geom <-> q.g LIMIT 1)"
            " FROM (SELECT ord, ST_SetSRID(ST_MakePoint(x, y), {}) AS g FROM unnest(%s::float8[], %s::float8[])"
            " WITH ORDINALITY AS u(x, y, ord)) q ORDER BY q.ord").format(
            _table(layer), extra, sql.Literal(layer.srid)), [xy[:, 0].tolist(), xy[:, 1].tolist()])
        values = [r[0] for r in cur.fetchall()]
    if values and all(v is None for v in values):
        raise AnalysisInputError("圖層 {slug} 沒有符合篩選條件、可量測距離的圖徵", slug=repr(layer.slug))
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def intersecting(layer: Layer, fids: np.ndarray, other: Layer) -> np.ndarray:
    """Which of the given features of `layer` touch any feature of `other` (e.g. a flood zone).

    `other` is cut into ≤ 256-vertex pieces with their own index first (as the overlay does): a large zone
    polygon tested whole against every parcel near it is what makes this slow."""
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS siting_pieces")
        cur.execute(sql.SQL("CREATE TEMP TABLE siting_pieces ON COMMIT DROP AS SELECT ST_Subdivide(geom, 256) AS geom"
                            " FROM {}").format(_table(other)))
        cur.execute("CREATE INDEX ON siting_pieces USING gist (geom)")
        cur.execute("ANALYZE siting_pieces")
        cur.execute(sql.SQL(
            "SELECT t.fid FROM {} t WHERE t.fid = ANY(%s) AND EXISTS (SELECT 1 FROM siting_pieces o WHERE"
            " o.geom && t.geom AND ST_Intersects(o.geom, t.geom))").format(_table(layer)), [fids.tolist()])
        hit = {r[0] for r in cur.fetchall()}
    return np.isin(fids, list(hit))


def areas(layer: Layer, fids: np.ndarray) -> np.ndarray:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT t.fid, ST_Area(t.geom) FROM {} t WHERE t.fid = ANY(%s)").format(_table(layer)),
                    [fids.tolist()])
        found = dict(cur.fetchall())
    return np.array([found.get(int(f), 0.0) for f in fids], dtype=float)


def polygons_with(layer: Layer, value_name: str, filters: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """(shapely polygons, attribute values) of an area layer, e.g. villages and their population."""
    attribute(layer, value_name, "demand")
    where = conditions(layer, filters, "t")
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_AsBinary(t.geom), t.{} FROM {} t{}").format(
            sql.Identifier(value_name), _table(layer),
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")))
        rows = cur.fetchall()
    return (shapely.from_wkb([bytes(r[0]) for r in rows]),
            np.array([float(r[1] or 0) for r in rows], dtype=float))
