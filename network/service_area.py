"""Service areas (服務範圍): the roads reachable from (or towards) each facility within each time break, as
polygons — the reached stretches of road (an edge reached part-way is cut where the time runs out) buffered by
`width` metres. Breaks are cumulative zones ("within 10 min", overlapping) or rings between breaks (split);
facilities apart or dissolved. People within each break are apportioned from an area layer by the share of each
polygon's area inside (an area-weighted estimate, as the buffer does)."""

import json

import numpy as np
import shapely
from django.db import connection, transaction
from psycopg2 import sql
from psycopg2.extras import execute_values

from analysis import buffer
from analysis.inputs import AnalysisInputError, metres, readable_layer
from analysis.siting import features
from geo.messages import text as note
from layers.models import DATA_SCHEMA, STAGING_SCHEMA

from . import inputs, places, routing
from .models import SCHEMA

MAX_WIDTH_M = 500.0
HULL_CONCAVITY = 0.1  # ST_ConcaveHull's param_pctconvex: 0 hugs the points, 1 is the convex hull


def check(data: dict, user) -> dict:
    network = inputs.network_of(data, user)
    breaks = inputs.breaks_min(data.get("breaks"))
    direction = str(data.get("direction", "from"))
    if direction not in ("from", "to"):
        raise AnalysisInputError("direction：請填 from（從設施出發）或 to（前往設施）")
    # generalised by default, as ArcGIS's service areas: buffering every reached road of a hundred facilities
    # over a whole city did not finish in 15 minutes (docs/benchmarks.md)
    shape = str(data.get("shape", "hull"))
    if shape not in ("roads", "hull"):
        raise AnalysisInputError("shape：請填 roads（可到達道路的環域，精細）或 hull（可到達範圍的凹包，概略而快）")
    rings = str(data.get("rings", "overlap"))
    if rings not in ("overlap", "split"):
        raise AnalysisInputError("rings：請填 overlap（各時間的範圍，彼此重疊）或 split（相鄰時間之間的環帶）")
    facilities = places.read(data.get("facilities"), "facilities", user)
    places.snap(network, facilities, places.snap_limit(data), "facilities")
    options = {"roads": network.layer.slug, "profile": network.profile, "breaks": breaks, "direction": direction,
               "rings": rings, "shape": shape, "dissolve": bool(data.get("dissolve", False)),
               "facilities": data["facilities"],
               "snap_limit": places.snap_limit(data), "width": metres(data.get("width", 50), "width", MAX_WIDTH_M)}
    if data.get("population") is not None:
        options["population"] = _population_source(data["population"], user)
    return options


def _population_source(spec, user) -> dict:
    if not isinstance(spec, dict):
        raise AnalysisInputError("population：請填 {{\"layer\": 村里圖層, \"attribute\": \"population\"}}")
    layer = readable_layer(spec.get("layer"), user)
    attribute = features.attribute(layer, spec.get("attribute") or "population", "population.attribute")
    if layer.geometry_type not in ("Polygon", "MultiPolygon"):
        raise AnalysisInputError("population：圖層 {slug} 的圖徵是 {geometry}；只有面圖層能依面積分攤",
                                 slug=repr(layer.slug), geometry=layer.geometry_type)
    return {"layer": layer.slug, "attribute": attribute}


def outline(options: dict) -> sql.Composable:
    """A zone's polygon from its reached stretches of road: "roads" buffers them (detailed: blocks no road reaches
    stay holes; GEOS unions every segment's buffer, slow on a whole city), "hull" buffers their concave hull
    (generalised, as ArcGIS's generalized polygons; a Delaunay triangulation: bench/network.py measures both)."""
    width = sql.Literal(options["width"])
    if options.get("shape") == "hull":
        return sql.SQL("ST_Buffer(ST_ConcaveHull(ST_Collect(piece), {}), {}, 'quad_segs=4')").format(
            sql.Literal(HULL_CONCAVITY), width)
    return sql.SQL("ST_Buffer(ST_Collect(piece), {}, 'quad_segs=4')").format(width)


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    network = inputs.network_of(options, user)
    found = places.read(options["facilities"], "facilities", user)
    snapped = places.snap(network, found, options["snap_limit"], "facilities")
    towards = options["direction"] == "to"
    breaks_s = [b * 60 for b in options["breaks"]]
    routing.reach_into("net_dd", network, [(i, int(node), float(snapped.access_s[i]))
                                           for i, node in enumerate(snapped.node)], breaks_s[-1], towards)
    progress(40, note("已算出各設施可到達的道路"))
    target = sql.Identifier(STAGING_SCHEMA, staging)
    with connection.cursor() as cur:
        _zones(cur, network, options, breaks_s, towards)
        zones = sql.SQL("SELECT * FROM net_zones")
        partition = sql.SQL("") if options["dissolve"] else sql.SQL("PARTITION BY fac")
        fac = sql.SQL("NULL::integer AS fac") if options["dissolve"] else sql.SQL("fac")
        shape = sql.SQL("zone") if options["rings"] == "overlap" else sql.SQL(
            "CASE WHEN lag(zone) OVER w IS NULL THEN zone ELSE ST_Difference(zone, lag(zone) OVER w) END")
        inner = sql.SQL("0::float8") if options["rings"] == "overlap" else sql.SQL("coalesce(lag(brk) OVER w, 0)")
        cur.execute(sql.SQL(
            "CREATE TABLE {target} AS SELECT (row_number() OVER (ORDER BY z.fac, z.break_min))::integer AS fid, z.*"
            " FROM ("
            " SELECT {fac}, round((brk / 60)::numeric, 2)::float8 AS break_min,"
            "  round(({inner} / 60)::numeric, 2)::float8 AS from_min,"
            "  ST_Multi(ST_CollectionExtract({shape}, 3)) AS geom FROM ({zones}) s WINDOW w AS ({partition} ORDER BY"
            "  brk)) z WHERE NOT ST_IsEmpty(z.geom)").format(
            target=target, fac=fac, inner=inner, shape=shape, zones=zones, partition=partition))
        cur.execute(sql.SQL("ALTER TABLE {t} ALTER COLUMN fid SET NOT NULL, ADD COLUMN facility text,"
                            " ADD COLUMN facility_fid integer, ADD COLUMN area_ha float8").format(t=target))
        if not options["dissolve"]:
            named = sql.SQL("UPDATE {t} SET facility = v.name, facility_fid = v.ffid::integer FROM (VALUES %s)"
                            " AS v(i, name, ffid) WHERE {t}.fac = v.i").format(t=target)
            execute_values(cur, named.as_string(cur.connection),
                           [(i, n, f) for i, (n, f) in enumerate(zip(found.names, found.source_fid, strict=True))])
        cur.execute(sql.SQL("UPDATE {t} SET area_ha = round((ST_Area(geom) / 10000)::numeric, 2)").format(t=target))
        cur.execute(sql.SQL("ALTER TABLE {t} DROP COLUMN fac").format(t=target))
        progress(70, note("服務範圍已繪製"))
        summary = {"breaks_min": options["breaks"], "facilities": len(found.names), "direction": options["direction"]}
        if network.has_turns:  # pgr_drivingDistance knows no turn restrictions
            summary["turn_restrictions"] = "ignored"
        if options.get("population"):
            summary["population"] = _people(cur, target, options, user)
    return [network.layer.slug], [], summary


def outlines(network, xy, minutes: float, towards: bool = True, width: float = 50.0) -> list[dict | None]:
    """Per place (working CRS), the outline of where it reaches within `minutes` (or, `towards`, whence it is
    reached) as lon/lat GeoJSON, generalised as a service area's hull; None for a place off the network or
    reaching no road. For maps of an answer (the siting report's reach around each site)."""
    if not len(xy):
        return []
    snapped = places.join(network, np.asarray(xy, float))
    on = np.flatnonzero(snapped.offset_m <= places.MAX_SNAP_M)
    out: list[dict | None] = [None] * len(xy)
    if not len(on):
        return out
    options = {"shape": "hull", "width": width, "dissolve": False}
    with transaction.atomic():
        routing.reach_into("net_dd", network, [(int(i), int(snapped.node[i]), float(snapped.access_s[i]))
                                               for i in on], minutes * 60, towards)
        with connection.cursor() as cur:
            _zones(cur, network, options, [minutes * 60], towards)
            cur.execute(sql.SQL("SELECT fac, ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(zone, 10), 4326),"
                                " 6) FROM net_zones WHERE zone IS NOT NULL AND NOT ST_IsEmpty(zone)"))
            for fac, geojson in cur.fetchall():
                out[int(fac)] = json.loads(geojson)
    return out


def _zones(cur, network, options: dict, breaks_s: list[float], towards: bool) -> None:
    """Temp table net_zones (fac — unless dissolved —, brk, zone) from the reach in net_dd: each break's reached
    stretches of road, drawn by `outline`."""
    edges = sql.Identifier(SCHEMA, network.edges_table)
    directions = ("reverse_cost", "cost") if towards else ("cost", "reverse_cost")
    cost, reverse = (sql.Identifier("e", c) for c in directions)
    group = sql.SQL("brk") if options["dissolve"] else sql.SQL("fac, brk")
    cur.execute("DROP TABLE IF EXISTS pg_temp.net_breaks, pg_temp.net_zones")  # see topology
    cur.execute("CREATE INDEX ON net_dd (node, fac)")
    cur.execute("CREATE TEMP TABLE net_breaks ON COMMIT DROP AS SELECT * FROM unnest(%s::float8[]) AS brk",
                [breaks_s])
    # each edge touched by a facility's tree: the stretch reached from its source end and from its target end
    # (cut only where the time runs out on it; an edge reached whole is taken once, as it is)
    cur.execute(sql.SQL(
        "CREATE TEMP TABLE net_zones ON COMMIT DROP AS"
        " WITH touched AS (SELECT d.fac, e.id FROM net_dd d JOIN {edges} e ON e.source = d.node"
        "  UNION SELECT d.fac, e.id FROM net_dd d JOIN {edges} e ON e.target = d.node),"
        " ends AS (SELECT t.fac, e.geom, {cost} AS c, {reverse} AS rc, ds.agg AS ds, dt.agg AS dt"
        "  FROM touched t JOIN {edges} e ON e.id = t.id"
        "  LEFT JOIN net_dd ds ON ds.fac = t.fac AND ds.node = e.source"
        "  LEFT JOIN net_dd dt ON dt.fac = t.fac AND dt.node = e.target),"
        " reach AS (SELECT ends.*, b.brk, (ends.c >= 0 AND ends.ds + ends.c <= b.brk) AS whole"
        "  FROM ends CROSS JOIN net_breaks b),"
        " pieces AS (SELECT reach.fac, reach.brk, p.piece FROM reach, LATERAL (VALUES"
        "  (CASE WHEN whole THEN geom WHEN ds <= brk AND c > 0 THEN ST_LineSubstring(geom, 0, (brk - ds) / c)"
        "   END),"
        "  (CASE WHEN whole THEN NULL WHEN dt + rc <= brk AND rc >= 0 THEN geom"
        "   WHEN dt <= brk AND rc > 0 THEN ST_LineSubstring(geom, 1 - (brk - dt) / rc, 1) END)"
        " ) p(piece) WHERE p.piece IS NOT NULL)"
        " SELECT {group}, {shape} AS zone FROM pieces GROUP BY {group}").format(
        edges=edges, cost=cost, reverse=reverse, group=group, shape=outline(options)))


def _people(cur, target, options: dict, user) -> list[dict]:
    """People per result polygon (a column) and, per break, within reach of any facility (the summary)."""
    source = options["population"]
    layer = readable_layer(source["layer"], user)
    column = sql.Identifier("v", source["attribute"])
    cur.execute(sql.SQL(
        "ALTER TABLE {t} ADD COLUMN population float8; UPDATE {t} r SET population = round(coalesce((SELECT"
        " sum({c} * ST_Area(ST_Intersection(v.geom, r.geom)) / NULLIF(ST_Area(v.geom), 0)) FROM {v} v"
        " WHERE v.geom && r.geom AND ST_Intersects(v.geom, r.geom)), 0)::numeric)").format(
        t=target, c=column, v=sql.Identifier(DATA_SCHEMA, layer.table_name)))
    out = []
    for brk in options["breaks"]:
        cur.execute("SELECT ST_AsBinary(ST_Union(zone)) FROM net_zones WHERE brk = %s", [brk * 60])
        row = cur.fetchone()
        people = 0
        if row and row[0]:
            found = buffer.summarize(layer, shapely.from_wkb(bytes(row[0])), [source["attribute"]])
            people = next((f["value"] for f in found["figures"] if f["name"] == source["attribute"]), 0)
        out.append({"break_min": brk, "population": people, "layer": layer.slug, "attribute": source["attribute"]})
    return out
