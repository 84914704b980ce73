"""Measurement: length, area, perimeter, distance and nearest features — geodesic on GRS80 (the truth) with
planar TWD97 / TM2 figures beside them, in m, km, m², ha, km² and 坪."""

import shapely
from django.db import connection
from psycopg2 import sql
from shapely.ops import nearest_points

from geo.crs import TWD97_TM2_121, WGS84, transform
from geo.units import GRS80, all_areas, convert_length, geodesic_area, geodesic_length
from layers.models import DATA_SCHEMA, Layer

MAX_NEAREST = 100


def lengths(metres: float) -> dict:
    return {"m": round(metres, 3), "km": round(convert_length(metres, "km"), 6)}


def areas(square_metres: float) -> dict:
    return {unit: round(value, 4) for unit, value in all_areas(square_metres).items()}


def figures(geom, srid: int) -> dict:
    """Geodesic and planar (TWD97 TM2) measures of a geometry given in `srid`."""
    lonlat = transform(geom, srid, WGS84)
    tm2 = transform(geom, srid, TWD97_TM2_121)
    kind = geom.geom_type
    out = {"type": kind, "geodesic": {}, "planar_twd97": {}}
    if kind in ("LineString", "MultiLineString", "LinearRing"):
        out["geodesic"]["length"] = lengths(geodesic_length(lonlat))
        out["planar_twd97"]["length"] = lengths(tm2.length)
    elif kind in ("Polygon", "MultiPolygon"):
        out["geodesic"].update(area=areas(geodesic_area(lonlat)), perimeter=lengths(geodesic_length(lonlat)))
        out["planar_twd97"].update(area=areas(tm2.area), perimeter=lengths(tm2.length))
    else:
        out["geodesic"]["length"] = out["planar_twd97"]["length"] = lengths(0.0)
    return out


def geodesic_between(a_lonlat, b_lonlat) -> float:
    _fwd, _back, metres = GRS80.inv(a_lonlat.x, a_lonlat.y, b_lonlat.x, b_lonlat.y)
    return metres


def distance(a, b, srid: int) -> dict:
    """Shortest distance between two geometries: the closest points found in TM2, measured both ways."""
    a_tm2, b_tm2 = transform(a, srid, TWD97_TM2_121), transform(b, srid, TWD97_TM2_121)
    p, q = nearest_points(a_tm2, b_tm2)
    p_ll, q_ll = transform(p, TWD97_TM2_121, WGS84), transform(q, TWD97_TM2_121, WGS84)
    return {
        "geodesic": lengths(geodesic_between(p_ll, q_ll)),
        "planar_twd97": lengths(a_tm2.distance(b_tm2)),
        "closest_points": [[round(p_ll.x, 7), round(p_ll.y, 7)], [round(q_ll.x, 7), round(q_ll.y, 7)]],
    }


def nearest(layer: Layer, geom, count: int) -> list[dict]:
    """The `count` features of a layer nearest to a geometry (given in the layer's CRS), with distances."""
    label = next((a["name"] for a in layer.attributes if a["name"] in ("name", "title", "label")), None)
    label_sql = sql.Identifier("t", label) if label else sql.SQL("NULL")
    query = sql.SQL(
        "WITH q AS (SELECT ST_GeomFromWKB(%s, {srid}) AS g) "
        "SELECT fid, lbl, planar, ST_Distance(ST_Transform(cg, 4326)::geography, ST_Transform(q.g, 4326)::geography)"
        " FROM (SELECT t.fid, {label}::text AS lbl, ST_Distance(t.geom, q.g) AS planar, t.geom AS cg"
        "       FROM {table} t, q ORDER BY t.geom <-> q.g LIMIT {n}) c, q ORDER BY planar, fid"
    ).format(srid=sql.Literal(layer.srid), label=label_sql, table=sql.Identifier(DATA_SCHEMA, layer.table_name),
             n=sql.Literal(count))
    with connection.cursor() as cur:
        cur.execute(query, [shapely.to_wkb(geom)])
        rows = cur.fetchall()
    return [{"id": fid, "label": lbl, "geodesic": lengths(geo), "planar": lengths(planar)}
            for fid, lbl, planar, geo in rows]
