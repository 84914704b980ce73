"""Road widening (道路拓寬) impact: which parcels and buildings a wider road takes, and how much of each.

The road is a stored feature, the features of a road layer matching a filter (e.g. every segment of 中正路),
or a drawn centre line. Its new corridor is the centre line buffered by half the target width (flat ends), or
by half its current width plus the widening on each side. Every parcel the corridor touches becomes a row of
the result layer: its attributes (owner, land use …), the area taken (m², 坪), the share of the parcel taken,
and the buildings standing on the part taken.
"""

import json
from dataclasses import dataclass

import shapely
from django.conf import settings
from django.db import connection
from psycopg2 import sql

from geo.messages import text as note
from geo.units import PING_M2
from layers.models import DATA_SCHEMA, STAGING_SCHEMA

from .inputs import AnalysisInputError, geometry, layer_lookup, metres, readable_layer, srid_of
from .overlay import conditions

MAX_WIDTH_M = 200


def _width(value, what: str) -> float:
    return metres(value, what, MAX_WIDTH_M)


def centre_line(options: dict, user, lookup=None) -> tuple:
    """(centre line in the working CRS, current width or None, road layer slug or None)."""
    road = options.get("road")
    if road:
        layer = (lookup or layer_lookup(user, [road.get("layer")]))(road.get("layer"))
        if layer.geometry_type not in ("LineString", "MultiLineString"):
            raise AnalysisInputError("road：圖層 {slug} 的圖徵是 {geometry}，不是線", slug=repr(layer.slug),
                                     geometry=layer.geometry_type)
        if road.get("id") is not None:
            where = [sql.SQL("r.fid = {}").format(sql.Literal(int(road["id"])))]
        else:
            where = conditions(layer, road.get("filter") or {}, "r")
            if not where:
                raise AnalysisInputError("road：請填 `id`，或以 `filter` 指出道路的路段")
        has_width = any(a["name"] == "width_m" for a in layer.attributes)
        width = sql.SQL("avg(r.width_m)") if has_width else sql.SQL("NULL")
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT ST_AsBinary(ST_LineMerge(ST_Union(r.geom))), {} FROM {} r WHERE {}").format(
                width, sql.Identifier(DATA_SCHEMA, layer.table_name), sql.SQL(" AND ").join(where)))
            wkb, current = cur.fetchone()
        if wkb is None:
            raise AnalysisInputError("road：{slug} 沒有符合的圖徵", slug=repr(layer.slug))
        return shapely.from_wkb(bytes(wkb)), current, layer.slug
    srid = srid_of(options.get("crs"))
    line = geometry(options.get("centreline"), srid, "centreline")
    if line.geom_type not in ("LineString", "MultiLineString"):
        raise AnalysisInputError("centreline：道路中心線必須是線，不是 {kind}", kind=line.geom_type)
    from geo.crs import transform

    return transform(line, srid, settings.WORKING_SRID), None, None


def half_width(options: dict, current: float | None) -> float:
    if options.get("target_width") is not None:
        return _width(options["target_width"], "target_width") / 2
    if options.get("widen_each_side") is not None:
        extra = _width(options["widen_each_side"], "widen_each_side")
        if current is None:
            raise AnalysisInputError("widen_each_side 需要道路目前的寬度（width_m 屬性）；請改填 target_width")
        return current / 2 + extra
    raise AnalysisInputError("請填 target_width（拓寬後的總寬度，公尺）或 widen_each_side（公尺）")


def check(options: dict, user) -> None:
    line, current, _slug = centre_line(options, user)
    half_width(options, current)
    readable_layer(options.get("parcels", "parcels"), user)
    if options.get("buildings"):
        readable_layer(options["buildings"], user)


MAX_REPORT_LENGTH_M = 20_000  # longer corridors: run the job (POST road-widening/)


@dataclass
class Corridor:
    """The affected-parcels SELECT of one widening request, and what it was made from."""

    query: sql.Composed
    params: list
    columns: list[str]  # the SELECT's columns besides geom
    half_width: float
    length_m: float
    inputs: list[str]


def corridor(options: dict, user) -> Corridor:
    """One SELECT of every parcel the widened road takes: its attributes, the area and share taken, and the
    buildings standing on the part taken. The corridor is cut into small pieces for the index search (a long
    road's bounding box holds far more parcels than the road touches), and parcels wholly inside it are taken
    whole instead of clipped."""
    road = options.get("road") or {}
    lookup = layer_lookup(user, [options.get("parcels", "parcels"), options.get("buildings"), road.get("layer")])
    line, current, road_slug = centre_line(options, user, lookup)
    half = half_width(options, current)
    parcels = lookup(options.get("parcels", "parcels"))
    buildings = lookup(options["buildings"]) if options.get("buildings") else None
    filters = conditions(parcels, options.get("parcel_filter"), "p")
    attrs = [a["name"] for a in parcels.attributes
             if a["name"] not in ("affected_m2", "affected_ping", "affected_pct", "buildings_touched",
                                  "building_ids", "parcel_fid")]
    columns = sql.SQL("").join(sql.SQL(", p.{}").format(sql.Identifier(n)) for n in attrs)
    if buildings:
        touched = sql.SQL(
            "LEFT JOIN LATERAL (SELECT count(*) AS n, string_agg(b.fid::text, ',' ORDER BY b.fid) AS ids FROM {} b"
            " WHERE b.geom && t.piece AND ST_Intersects(b.geom, t.piece)) bt ON true").format(
            sql.Identifier(DATA_SCHEMA, buildings.table_name))
        touched_cols = sql.SQL("coalesce(bt.n, 0)::integer AS buildings_touched, bt.ids AS building_ids")
    else:
        touched, touched_cols = sql.SQL(""), sql.SQL("NULL::integer AS buildings_touched, NULL::text AS building_ids")
    table = sql.Identifier(DATA_SCHEMA, parcels.table_name)
    query = sql.SQL(
        "WITH c AS (SELECT ST_Buffer(ST_GeomFromWKB(%s, {srid}), %s, 'endcap=flat join=round') AS g),"
        " cut AS (SELECT ST_Subdivide(c.g, 32) AS g FROM c),"
        " hit AS (SELECT DISTINCT p.fid FROM {parcels} p JOIN cut ON p.geom && cut.g AND ST_Intersects(p.geom, cut.g)"
        " WHERE {where}),"
        # materialized: each piece is cut once, not once per use of it
        " pieces AS MATERIALIZED (SELECT p.fid, CASE WHEN ST_Covers(c.g, p.geom) THEN p.geom"
        " ELSE ST_MakeValid(ST_Intersection(p.geom, c.g)) END AS piece FROM hit JOIN {parcels} p USING (fid), c),"
        " taken AS MATERIALIZED (SELECT fid, piece, ST_Area(piece) AS area FROM pieces)"
        " SELECT (row_number() OVER (ORDER BY p.fid))::integer AS fid, p.fid AS parcel_fid{columns},"
        " round(t.area::numeric, 2)::float8 AS affected_m2,"
        " round((t.area / {ping})::numeric, 2)::float8 AS affected_ping,"
        " round((100 * t.area / NULLIF(ST_Area(p.geom), 0))::numeric, 2)::float8 AS affected_pct,"
        " {touched_cols}, ST_Multi(ST_CollectionExtract(t.piece, 3))::geometry(MultiPolygon, {srid}) AS geom"
        " FROM taken t JOIN {parcels} p USING (fid) {touched}"
        " WHERE t.area > 0.01"
    ).format(srid=sql.Literal(parcels.srid), parcels=table, columns=columns, ping=sql.Literal(PING_M2),
             touched_cols=touched_cols, touched=touched,
             where=sql.SQL(" AND ").join([sql.SQL("true"), *filters]))
    inputs = [s for s in (road_slug, parcels.slug, buildings.slug if buildings else None) if s]
    names = ["fid", "parcel_fid", *attrs, "affected_m2", "affected_ping", "affected_pct", "buildings_touched",
             "building_ids"]
    return Corridor(query, [shapely.to_wkb(line), half], names, half, line.length, inputs)


def build(staging: str, options: dict, user, progress) -> list[str]:
    found = corridor(options, user)
    progress(30, note("沿 {length} 公尺中心線、寬 {width} 公尺的拓寬範圍", width=f"{2 * found.half_width:g}",
                      length=f"{found.length_m:,.0f}"))
    target = sql.Identifier(STAGING_SCHEMA, staging)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} AS ").format(target) + found.query, found.params)
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET NOT NULL").format(target))
        cur.execute(sql.SQL("SELECT count(*), coalesce(sum(affected_m2), 0), coalesce(sum(buildings_touched), 0)"
                            " FROM {}").format(target))
        n, area, touched_total = cur.fetchone()
    progress(70, note("受影響宗地 {n} 筆，拓寬用地 {m2} 平方公尺（{ping} 坪），觸及建物 {buildings} 棟", n=n,
                      m2=f"{area:,.1f}", ping=f"{area / PING_M2:,.1f}", buildings=touched_total))
    return found.inputs


def report(options: dict, user) -> dict:
    """The affected parcels at once, as GeoJSON in lon/lat with totals (what the map shows before saving)."""
    found = corridor(options, user)
    if found.length_m > MAX_REPORT_LENGTH_M:
        raise AnalysisInputError("中心線長 {length} 公里；一次最多回答 {maximum} 公里，較長的道路請以工作執行"
                                 "（POST /api/v1/analysis/road-widening/）", length=f"{found.length_m / 1000:,.1f}",
                                 maximum=f"{MAX_REPORT_LENGTH_M / 1000:g}")
    # GeoJSON geometry from PostGIS, properties encoded here: cheaper than PostgreSQL's row-to-JSON of a geometry row
    wrapped = sql.SQL("SELECT {}, ST_AsGeoJSON(ST_Transform(r.geom, 4326), 7) FROM ({}) r ORDER BY r.fid").format(
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(n)) for n in found.columns), found.query)
    with connection.cursor() as cur:
        cur.execute(wrapped, found.params)
        rows = cur.fetchall()
    features = ",".join(
        f'{{"type": "Feature", "id": {row[0]}, "properties": '
        f"{json.dumps(dict(zip(found.columns, row[:-1], strict=True)), ensure_ascii=False, default=str)}, "
        f'"geometry": {row[-1]}}}' for row in rows)
    count, area = len(rows), sum(row[found.columns.index("affected_m2")] for row in rows)
    touched = sum(row[found.columns.index("buildings_touched")] or 0 for row in rows)
    totals = {"parcels": count, "affected_m2": round(area, 2), "affected_ping": round(area / PING_M2, 2),
              "buildings_touched": touched, "corridor_width_m": round(2 * found.half_width, 3),
              "centre_line_m": round(found.length_m, 1)}
    return {"type": "FeatureCollection", "totals": totals, "inputs": found.inputs, "features_json": f"[{features}]"}
