"""Buffer (環域分析) of one geometry: zones within each distance, the rings between them, and what falls inside.

Zones are cumulative ("within 500 m"); rings are the bands between consecutive distances, for the map.
Buffers are drawn in the working CRS (TWD97 TM2: within 0.01 % of true distances across Taiwan).
For area layers such as villages, count attributes (population, households …) are apportioned by the share of
each polygon's area inside the zone — an area-weighted estimate, which assumes people are spread evenly.
"""

import re

import shapely
from django.db import connection
from psycopg2 import sql

from geo.crs import WGS84, transform
from layers.models import DATA_SCHEMA, Layer

from .inputs import AnalysisInputError
from .measure import areas

NUMERIC = {"integer", "bigint", "double precision", "numeric", "real", "smallint"}
COUNT_LIKE = re.compile(r"^(population|households|pop|count|male|female|age_.*|.*_count|people|residents)$")
LISTED = 100


def zones(geom, distances: list[float]) -> list[tuple[float, object, object]]:
    """(distance, zone within it, ring beyond the previous one) for ascending distances."""
    out, previous = [], None
    for d in sorted(set(distances)):
        zone = shapely.buffer(geom, d, quad_segs=32)
        ring = zone if previous is None else shapely.difference(zone, previous)
        out.append((d, zone, ring))
        previous = zone
    return out


def summarize(layer: Layer, zone, apportion: list[str] | None = None) -> dict:
    """Counts, sums and means of numeric attributes, a list of features, and area-weighted counts."""
    numeric = [a["name"] for a in layer.attributes if a["type"] in NUMERIC and not a["name"].endswith("_id")]
    polygons = layer.geometry_type in ("Polygon", "MultiPolygon")
    if apportion is None:
        apportion = [n for n in numeric if COUNT_LIKE.match(n)] if polygons else []
    unknown = [n for n in apportion if n not in numeric]
    if unknown:
        raise AnalysisInputError(f"apportion: layer {layer.slug!r} has no numeric attribute(s) {', '.join(unknown)}")
    if apportion and not polygons:
        raise AnalysisInputError(f"apportion: layer {layer.slug!r} has {layer.geometry_type} features; only area "
                                 "layers can be apportioned by area")
    label = next((a["name"] for a in layer.attributes if a["name"] in ("name", "title", "label")), None)
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    stats = [sql.SQL("count(*)")]
    for n in numeric:
        stats += [sql.SQL("sum({c})").format(c=sql.Identifier("t", n)), sql.SQL("avg({c})").format(
            c=sql.Identifier("t", n))]
    share = sql.SQL("ST_Area(ST_Intersection(t.geom, z.g)) / NULLIF(ST_Area(t.geom), 0)")
    for n in apportion:
        stats.append(sql.SQL("sum({c} * {share})").format(c=sql.Identifier("t", n), share=share))
    where = sql.SQL("t.geom && z.g AND ST_Intersects(t.geom, z.g)")
    zone_sql = sql.SQL("WITH z AS (SELECT ST_GeomFromWKB(%s, {srid}) AS g) ").format(srid=sql.Literal(layer.srid))
    with connection.cursor() as cur:
        wkb = shapely.to_wkb(zone)
        cur.execute(zone_sql + sql.SQL("SELECT {} FROM {} t, z WHERE {}").format(
            sql.SQL(", ").join(stats), table, where), [wkb])
        row = cur.fetchone()
        cur.execute(zone_sql + sql.SQL("SELECT t.fid, {} FROM {} t, z WHERE {} ORDER BY t.fid LIMIT {}").format(
            sql.Identifier("t", label) if label else sql.SQL("NULL"), table, where, sql.Literal(LISTED)), [wkb])
        listed = [{"id": fid, "label": name} for fid, name in cur.fetchall()]
    out = {"layer": layer.slug, "title": layer.title_zh, "count": row[0], "sum": {}, "mean": {}, "features": listed,
           "features_listed": len(listed)}
    values = iter(row[1:])
    for n in numeric:
        total, mean = next(values), next(values)
        out["sum"][n] = float(total) if total is not None else None
        out["mean"][n] = float(mean) if mean is not None else None
    if apportion:
        out["area_weighted"] = {n: round(float(v or 0), 1) for n, v in zip(apportion, values, strict=True)}
        out["area_weighted_note"] = ("area-weighted estimate: each polygon's value times the share of its area "
                                     "inside the zone (assumes an even spread)")
    return out


def buffer_report(geom, srid: int, distances: list[float], layers: list[tuple[Layer, list[str] | None]]) -> dict:
    """The whole answer: zones, rings as lon/lat GeoJSON for the map, and summaries per zone and layer."""
    report = []
    for d, zone, ring in zones(geom, distances):
        report.append({
            "distance_m": d,
            "zone_area": areas(zone.area),
            "ring": shapely.geometry.mapping(shapely.set_precision(transform(ring, srid, WGS84), 1e-7)),
            "summaries": [summarize(layer, zone, apportion) for layer, apportion in layers],
        })
    return {"zones": report, "crs_of_rings": "EPSG:4326", "buffered_in": f"EPSG:{srid}"}
