"""Noding a line layer into a routable network in PostGIS: vertices closer than the tolerance are one node
(ST_ClusterDBSCAN), lines are split at every node another line (or the line itself) also passes through, and
each piece becomes an edge with a travel time each way; turn restrictions, when the network has a layer of
them, become forbidden edge pairs (network.turns); pgr_connectedComponents then says which parts are cut
off. Lines that only cross (a bridge over a road) are not joined: they share no vertex.

All in the caller's transaction: the new tables replace the old ones when it commits, or nothing changes."""

from django.db import connection
from psycopg2 import sql

from analysis.inputs import AnalysisInputError
from layers.models import DATA_SCHEMA

from . import profiles, turns
from .models import SCHEMA

SMALL_LISTED = 20  # sizes of the small components listed in a build's report


def build(network) -> dict:
    """Build (or rebuild) the network's edge and vertex tables; its report: counts and components."""
    layer = network.layer
    roads = sql.Identifier(DATA_SCHEMA, layer.table_name)
    edges, vertices = (sql.Identifier(SCHEMA, t) for t in (network.edges_table, network.vertices_table))
    tol = sql.Literal(float(network.tolerance_m))
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        # dropped at commit; dropped here too for a caller that builds twice in one transaction
        cur.execute("DROP TABLE IF EXISTS pg_temp.net_parts, pg_temp.net_nodes, pg_temp.net_shared")
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE net_parts ON COMMIT DROP AS SELECT row_number() OVER () AS part, t.fid, d.geom,"
            " {speed}::float8 AS kmh, {direction} AS direction, {label} AS name"
            " FROM {roads} t, LATERAL ST_Dump(ST_Force2D(t.geom)) d"
            " WHERE ST_GeometryType(d.geom) = 'ST_LineString' AND ST_NPoints(d.geom) >= 2").format(
            speed=profiles.speed_kmh(network), direction=profiles.direction(network), label=profiles.label(network),
            roads=roads))
        cur.execute("SELECT count(*) FROM net_parts")
        parts = cur.fetchone()[0]
        if not parts:
            raise AnalysisInputError("圖層 {slug} 沒有可組成路網的線", slug=repr(layer.slug))
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE net_nodes ON COMMIT DROP AS SELECT p.part, (d.path)[1] AS idx, ST_NPoints(p.geom) AS n,"
            " d.geom, ST_ClusterDBSCAN(d.geom, eps := {tol}, minpoints := 1) OVER () + 1 AS node"
            " FROM net_parts p, LATERAL ST_DumpPoints(p.geom) d").format(tol=tol))
        cur.execute("CREATE TEMP TABLE net_shared ON COMMIT DROP AS SELECT node, count(DISTINCT part) AS parts,"
                    " count(*) AS hits FROM net_nodes GROUP BY node")
        cur.execute("SELECT count(*) FROM net_shared WHERE parts > 1")
        if parts > 1 and not cur.fetchone()[0]:
            raise AnalysisInputError(
                "圖層 {slug} 的 {parts} 條線在 {tolerance} 公尺內沒有共用的端點或節點，無法組成路網"
                "（線要在路口共用節點；或加大 tolerance）", slug=repr(layer.slug), parts=parts,
                tolerance=f"{network.tolerance_m:g}")
        # a vertex that ends its line or that another line (or the line again) passes through splits the line there
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(edges, vertices))
        cur.execute(sql.SQL(
            "CREATE TABLE {edges} AS WITH v AS ("
            "  SELECT n.*, (n.idx = 1 OR n.idx = n.n OR s.parts > 1 OR s.hits > s.parts) AS junction"
            "  FROM net_nodes n JOIN net_shared s USING (node)),"
            " k AS (SELECT v.*, sum(junction::int) OVER (PARTITION BY part ORDER BY idx) AS k FROM v),"
            " member AS (SELECT part, k AS piece, idx, node, geom FROM k WHERE idx < n"
            "  UNION ALL SELECT part, k - 1, idx, node, geom FROM k WHERE junction AND idx > 1),"
            " piece AS (SELECT part, piece, ST_MakeLine(geom ORDER BY idx) AS geom,"
            "  (array_agg(node ORDER BY idx))[1] AS source, (array_agg(node ORDER BY idx DESC))[1] AS target"
            "  FROM member GROUP BY part, piece HAVING count(*) >= 2)"
            " SELECT (row_number() OVER (ORDER BY piece.part, piece.piece))::bigint AS id, piece.source::bigint,"
            "  piece.target::bigint, p.fid AS road_fid, p.name, ST_Length(piece.geom) AS length_m,"
            "  CASE WHEN p.direction = -1 THEN -1 ELSE ST_Length(piece.geom) / (p.kmh / 3.6) END AS cost,"
            "  CASE WHEN p.direction = 1 THEN -1 ELSE ST_Length(piece.geom) / (p.kmh / 3.6) END AS reverse_cost,"
            "  piece.geom::geometry(LineString, {srid}) AS geom"
            " FROM piece JOIN net_parts p USING (part)"
            " WHERE NOT (piece.source = piece.target AND ST_Length(piece.geom) <= {tol})").format(
            edges=edges, srid=sql.Literal(layer.srid), tol=tol))
        cur.execute(sql.SQL(
            "CREATE TABLE {vertices} AS SELECT node::bigint AS id,"
            " ((array_agg(geom ORDER BY part, idx))[1])::geometry(Point, {srid}) AS geom"
            " FROM net_nodes WHERE node IN (SELECT source FROM {edges} UNION SELECT target FROM {edges})"
            " GROUP BY node").format(vertices=vertices, edges=edges, srid=sql.Literal(layer.srid)))
        for statement in ("ALTER TABLE {e} ADD PRIMARY KEY (id)", "ALTER TABLE {v} ADD PRIMARY KEY (id)",
                          "CREATE INDEX ON {e} USING gist (geom)", "CREATE INDEX ON {v} USING gist (geom)",
                          "CREATE INDEX ON {e} (source)", "CREATE INDEX ON {e} (target)", "ANALYZE {e}",
                          "ANALYZE {v}"):
            cur.execute(sql.SQL(statement).format(e=edges, v=vertices))
        cur.execute(sql.SQL("SELECT count(*), coalesce(sum(length_m), 0), count(*) FILTER (WHERE cost < 0 OR"
                            " reverse_cost < 0) FROM {}").format(edges))
        n_edges, length, one_way = cur.fetchone()
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(vertices))
        n_vertices = cur.fetchone()[0]
        # connectivity ignores direction: a one-way street still joins its ends
        cur.execute(sql.SQL("SELECT count(*) AS size FROM pgr_connectedComponents({q}) c GROUP BY c.component"
                            " ORDER BY size DESC").format(
            q=sql.Literal(sql.SQL("SELECT id, source, target, 1.0::float8 AS cost, 1.0::float8 AS reverse_cost"
                                  " FROM {}").format(edges).as_string(cur.connection))))
        sizes = [r[0] for r in cur.fetchall()]
    restricted = turns.build(network)
    return {"lines": parts, "edges": n_edges, "vertices": n_vertices, "length_km": round(float(length) / 1000, 3),
            "one_way_edges": one_way, "components": len(sizes), "largest_component_vertices": sizes[0] if sizes else 0,
            "vertices_outside_largest": sum(sizes[1:]), "small_component_sizes": sizes[1:1 + SMALL_LISTED],
            **restricted}


def drop(network) -> None:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(
            sql.Identifier(SCHEMA, network.edges_table), sql.Identifier(SCHEMA, network.vertices_table)))
    turns.drop(network)
