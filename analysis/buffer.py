"""Buffer (環域分析) of one geometry: zones within each distance, the rings between them, and what falls inside.

Zones are cumulative ("within 500 m"); rings are the bands between consecutive distances, for the map.
Buffers are drawn in the working CRS (TWD97 TM2: within 0.01 % of true distances across Taiwan).
For area layers such as villages, attributes that add up (population, households, areas …) are apportioned by
the share of each polygon's area inside the zone — an area-weighted estimate, which assumes people are spread
evenly; the others are summarised as their kind allows (layers.attribute_kinds): never a sum of years.
"""

import shapely
from django.db import connection
from psycopg2 import sql

from geo.crs import WGS84, transform
from geo.messages import text as note
from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer

from .inputs import AnalysisInputError
from .measure import areas
from .overlay import conditions

NUMERIC = attribute_kinds.NUMERIC_TYPES
LISTED = 100
ESTIMATE_NOTE = ("area-weighted estimate: each polygon's value times the share of its area inside the zone "
                 "(assumes an even spread); counts rounded to whole numbers")


def zones(geom, distances: list[float]) -> list[tuple[float, object, object]]:
    """(distance, zone within it, ring beyond the previous one) for ascending distances."""
    out, previous = [], None
    for d in sorted(set(distances)):
        zone = shapely.buffer(geom, d, quad_segs=32)
        ring = zone if previous is None else shapely.difference(zone, previous)
        out.append((d, zone, ring))
        previous = zone
    return out


def _figure(attribute: dict, statistic: str, value, low=None, high=None) -> dict:
    """One figure of a summary with what a page needs to show it: labels, unit, kind, decimals."""
    about = {k: attribute.get(k) for k in ("name", "label", "label_en", "unit", "unit_en", "kind", "decimals")}
    if value is None and statistic != "mean":
        value = 0  # nothing inside the zone adds up to nothing
    figure = {**about, "statistic": statistic, "value": _rounded(attribute, value)}
    if statistic == "mean":
        figure.update(min=_rounded(attribute, low), max=_rounded(attribute, high))
    return figure


def _rounded(attribute: dict, value):
    if value is None:
        return None
    value = float(value)
    if attribute["kind"] == "count" or attribute.get("decimals", 0) == 0:
        return int(round(value))  # people, households, years: whole numbers, an estimate included
    return round(value, attribute["decimals"])


def summarize(layer: Layer, zone, apportion: list[str] | None = None, only=None) -> dict:
    """What falls inside a zone, figure by figure as each attribute's kind allows: counts and measures summed (on
    area layers, area-weighted: an estimate), heights, years and ratios averaged with their range, identifiers,
    categories and text never added up. Also the features inside (up to LISTED)."""
    attributes = [attribute_kinds.described(a) for a in layer.attributes]
    numeric = {a["name"]: a for a in attributes if a["type"] in NUMERIC}
    summed = [a for a in numeric.values() if a["aggregate"] == "sum"]
    averaged = [a for a in numeric.values() if a["aggregate"] == "mean"]
    polygons = layer.geometry_type in ("Polygon", "MultiPolygon")
    if apportion is None:
        apportion = [a["name"] for a in summed] if polygons else []
    unknown = [n for n in apportion if n not in numeric]
    if unknown:
        raise AnalysisInputError("apportion：圖層 {slug} 沒有數值屬性 {attributes}", slug=repr(layer.slug),
                                 attributes=unknown)
    if apportion and not polygons:
        raise AnalysisInputError("apportion：圖層 {slug} 的圖徵是 {geometry}；只有面圖層能依面積分攤",
                                 slug=repr(layer.slug), geometry=layer.geometry_type)
    not_additive = [n for n in apportion if numeric[n]["aggregate"] != "sum"]
    if not_additive:
        named = [f"{n!r} ({numeric[n]['kind']})" for n in not_additive]
        raise AnalysisInputError(
            "apportion：圖層 {slug} 的 {attributes} 不能加總，所以不依面積分攤；只有計數與量測值可以",
            slug=repr(layer.slug), attributes=named)
    label = next((a["name"] for a in layer.attributes if a["name"] in ("name", "title", "label")), None)
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    share = sql.SQL("ST_Area(ST_Intersection(t.geom, z.g)) / NULLIF(ST_Area(t.geom), 0)")
    plan = []  # (attribute, statistic, SQL expressions)
    for a in summed:
        column = sql.Identifier("t", a["name"])
        if a["name"] in apportion:
            plan.append((a, "estimate", [sql.SQL("sum({c} * {share})").format(c=column, share=share)]))
        else:
            plan.append((a, "sum", [sql.SQL("sum({})").format(column)]))
    for a in averaged:
        column = sql.Identifier("t", a["name"])
        plan.append((a, "mean", [sql.SQL("{}({})").format(sql.SQL(f), column) for f in ("avg", "min", "max")]))
    stats = [sql.SQL("count(*)")] + [expr for _a, _s, exprs in plan for expr in exprs]
    where = sql.SQL(" AND ").join([sql.SQL("t.geom && z.g AND ST_Intersects(t.geom, z.g)"),
                                   *conditions(layer, only, "t")])  # `only`: the layer input's filter
    zone_sql = sql.SQL("WITH z AS (SELECT ST_GeomFromWKB(%s, {srid}) AS g) ").format(srid=sql.Literal(layer.srid))
    with connection.cursor() as cur:
        wkb = shapely.to_wkb(zone)
        cur.execute(zone_sql + sql.SQL("SELECT {} FROM {} t, z WHERE {}").format(
            sql.SQL(", ").join(stats), table, where), [wkb])
        row = cur.fetchone()
        cur.execute(zone_sql + sql.SQL("SELECT t.fid, {} FROM {} t, z WHERE {} ORDER BY t.fid LIMIT {}").format(
            sql.Identifier("t", label) if label else sql.SQL("NULL"), table, where, sql.Literal(LISTED)), [wkb])
        listed = [{"id": fid, "label": name} for fid, name in cur.fetchall()]
    values = iter(row[1:])
    figures = [_figure(a, statistic, *[next(values) for _ in exprs]) for a, statistic, exprs in plan]
    out = {"layer": layer.slug, "title": layer.title_zh, "title_en": layer.title_en, "count": row[0],
           "figures": [f for f in figures if f["value"] is not None], "features": listed,
           "features_listed": len(listed)}
    if any(f["statistic"] == "estimate" for f in out["figures"]):
        out["estimate_note"] = ESTIMATE_NOTE
    return out


def buffer_report(geom, srid: int, distances: list[float], layers: list[tuple]) -> dict:
    """The whole answer: zones, rings as lon/lat GeoJSON for the map, and summaries per zone and layer."""
    report = []
    for d, zone, ring in zones(geom, distances):
        report.append({
            "distance_m": d,
            "zone_area": areas(zone.area),
            "ring": shapely.geometry.mapping(shapely.set_precision(transform(ring, srid, WGS84), 1e-7)),
            "summaries": [summarize(layer, zone, apportion, *only) for layer, apportion, *only in layers],
        })
    return {"zones": report, "crs_of_rings": "EPSG:4326", "buffered_in": f"EPSG:{srid}"}


def check_layer(options: dict, user) -> None:
    """A whole-layer buffer request: a readable layer, distances or a distance attribute, a valid filter."""
    from .inputs import distance_m, readable_layer

    layer = readable_layer(options.get("layer"), user)
    conditions(layer, options.get("filter"), "t")
    attribute = options.get("distance_attribute")
    if attribute:
        if attribute not in {a["name"] for a in layer.attributes if a["type"] in NUMERIC}:
            raise AnalysisInputError("distance_attribute：圖層 {slug} 沒有數值屬性 {attribute}", slug=repr(layer.slug),
                                     attribute=repr(attribute))
        if options.get("distances"):
            raise AnalysisInputError("distances 與 distance_attribute 請擇一填寫，不要兩者都填")
        return
    distances = options.get("distances")
    if not isinstance(distances, list) or not 1 <= len(distances) <= 10:
        raise AnalysisInputError("distances：請填 1 到 10 個距離（公尺），例如 [300, 500, 1000]")
    for d in distances:
        distance_m(d, "distances")


def build_layer(staging: str, options: dict, user, progress) -> list[str]:
    """Buffers of every (filtered) feature of a layer: rings per distance, dissolved per ring or per feature."""
    from layers.models import STAGING_SCHEMA

    from .inputs import readable_layer

    layer = readable_layer(options["input"], user)
    where = conditions(layer, options.get("filter"), "t")
    where_sql = sql.SQL(" AND ").join(where) if where else sql.SQL("true")
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    target = sql.Identifier(STAGING_SCHEMA, staging)
    dissolve = bool(options.get("dissolve"))
    with connection.cursor() as cur:
        if options.get("distance_attribute"):
            radius = sql.Identifier("t", options["distance_attribute"])
            attrs = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(a["name"])) for a in layer.attributes)
            body = sql.SQL("SELECT t.fid AS source_fid{attrs}, ST_Multi(ST_Buffer(t.geom, {r}, 'quad_segs=16'))"
                           " AS geom FROM {t} t WHERE {w} AND {r} > 0").format(
                attrs=attrs, r=radius, t=table, w=where_sql)
            if dissolve:
                body = sql.SQL("SELECT NULL::integer AS source_fid, ST_Multi(ST_Union(geom)) AS geom FROM ({}) d"
                               ).format(body)
        else:
            distances = sorted({float(d) for d in options["distances"]})
            def ring(lo: float, d: float) -> sql.Composable:
                outer = sql.SQL("ST_Buffer(t.geom, {}, 'quad_segs=16')").format(sql.Literal(d))
                inner = sql.SQL("ST_Buffer(t.geom, {}, 'quad_segs=16')").format(sql.Literal(lo))
                shape = sql.SQL("ST_Difference({}, {})").format(outer, inner) if lo else outer
                return sql.SQL("SELECT t.fid AS source_fid, {d}::float8 AS distance_m, {lo}::float8 AS inner_m,"
                               " ST_Multi(ST_CollectionExtract({shape}, 3)) AS geom FROM {t} t WHERE {w}").format(
                    d=sql.Literal(d), lo=sql.Literal(lo), shape=shape, t=table, w=where_sql)

            rings = sql.SQL(" UNION ALL ").join(
                ring(lo, d) for lo, d in zip([0.0, *distances[:-1]], distances, strict=True))
            if dissolve:  # one ring per distance over all features: union the buffers, then cut the rings
                zones = sql.SQL(" UNION ALL ").join(
                    sql.SQL("SELECT {d}::float8 AS d, ST_Union(ST_Buffer(t.geom, {d}, 'quad_segs=16')) AS g FROM {t} t"
                            " WHERE {w}").format(d=sql.Literal(d), t=table, w=where_sql) for d in distances)
                rings = sql.SQL(
                    "SELECT NULL::integer AS source_fid, z.d AS distance_m, coalesce(lag(z.d) OVER w, 0) AS inner_m,"
                    " ST_Multi(ST_CollectionExtract(CASE WHEN lag(z.g) OVER w IS NULL THEN z.g"
                    " ELSE ST_Difference(z.g, lag(z.g) OVER w) END, 3)) AS geom FROM ({}) z WINDOW w AS (ORDER BY z.d)"
                ).format(zones)
            body = rings
        cur.execute(sql.SQL("CREATE TABLE {} AS SELECT (row_number() OVER ())::integer AS fid, * FROM ({}) b"
                            " WHERE NOT ST_IsEmpty(geom)").format(target, body))
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET NOT NULL").format(target))
    progress(70, note("環域已繪製"))
    return [layer.slug]
