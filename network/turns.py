"""Turn restrictions (轉向限制) read from a companion layer of the road layer, reduced to forbidden
from-edge → to-edge pairs at one node, as pgRouting's pgr_trsp reads them (3.4: restrictions SQL with `path`
bigint[] and `cost`).

The restrictions layer (usually points at the junctions) has one feature per restriction:

* `from_road` — the road travelled before the turn, `to_road` — the road taken after it: values of the road
  layer's `road_id_attribute` (its `fid` when none is set);
* `restriction` (optional) — as OpenStreetMap's: `no_*` (no_left_turn, no_right_turn, no_straight_on, no_u_turn,
  no_entry…) forbids from → to; `only_*` (only_straight_on, only_left_turn…) forbids from → every other road at
  that junction, the U-turn included; empty means `no_`.

The via node is where the two roads meet (the one nearest the restriction's own geometry, when they meet twice).
A via *road* (OSM restrictions over a way) is not read. A restriction whose roads are not found or do not meet is
counted as unmatched and listed in the build report, never guessed."""

from django.db import connection
from psycopg2 import sql

from analysis.inputs import AnalysisInputError
from layers.models import DATA_SCHEMA, Layer

from .models import SCHEMA

COLUMNS = ("from_road", "to_road")
KIND = "restriction"
FORBIDDEN_COST = 1e9  # pgr_trsp's cost of taking a restricted path: a route costing more is no route
UNMATCHED_LISTED = 20


def check(layer: Layer, roads: Layer, road_id: str) -> None:
    """The restrictions layer has the two road columns, and the road layer the id they name: a 400 otherwise."""
    names = {a["name"] for a in layer.attributes}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise AnalysisInputError("restrictions：圖層 {slug} 沒有屬性 {names}（轉向限制需要 from_road、to_road，"
                                 "可加 restriction）", slug=repr(layer.slug), names=", ".join(missing))
    if road_id and road_id not in {a["name"] for a in roads.attributes}:
        raise AnalysisInputError("road_id_attribute：圖層 {slug} 沒有屬性 {name}", slug=repr(roads.slug),
                                 name=repr(road_id))


def build(network) -> dict:
    """Fill the network's turns table from its restrictions layer (after the edges); counts for the report."""
    turns = sql.Identifier(SCHEMA, network.turns_table)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(turns))
        cur.execute(sql.SQL("CREATE TABLE {} (path bigint[] NOT NULL, cost float8 NOT NULL)").format(turns))
        layer = network.restrictions
        if layer is None:
            return {}
        has_kind = any(a["name"] == KIND for a in layer.attributes)
        road_key = (sql.SQL("t.{}::text").format(sql.Identifier(network.road_id_attribute))
                    if network.road_id_attribute else sql.SQL("t.fid::text"))
        cur.execute("DROP TABLE IF EXISTS pg_temp.net_turn_rows, pg_temp.net_turn_at")
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE net_turn_rows ON COMMIT DROP AS SELECT r.fid, trim(r.from_road::text) AS from_key,"
            " trim(r.to_road::text) AS to_key, lower(coalesce(trim({kind}), '')) AS kind, r.geom"
            " FROM {restrictions} r").format(
            kind=sql.SQL("r.{}::text").format(sql.Identifier(KIND)) if has_kind else sql.SQL("NULL::text"),
            restrictions=sql.Identifier(DATA_SCHEMA, layer.table_name)))
        # each restriction's via node: where a piece of the from road meets a piece of the to road (for the same
        # road, a U-turn on one piece), the meeting nearest the restriction's own geometry
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE net_turn_at ON COMMIT DROP AS SELECT DISTINCT ON (r.fid) r.fid, r.kind,"
            "  a.id AS from_edge, b.id AS to_edge, n.node"
            " FROM net_turn_rows r"
            " JOIN {edges} a ON a.road_fid IN (SELECT t.fid FROM {roads} t WHERE {key} = r.from_key)"
            " JOIN {edges} b ON b.road_fid IN (SELECT t.fid FROM {roads} t WHERE {key} = r.to_key)"
            "  AND (a.id = b.id) = (r.from_key = r.to_key)"
            " CROSS JOIN LATERAL (SELECT unnest(ARRAY[a.source, a.target]) AS node"
            "  INTERSECT SELECT unnest(ARRAY[b.source, b.target])) n"
            " JOIN {vertices} v ON v.id = n.node"
            " ORDER BY r.fid, ST_Distance(v.geom, r.geom) NULLS LAST, a.id, b.id").format(
            edges=sql.Identifier(SCHEMA, network.edges_table),
            roads=sql.Identifier(DATA_SCHEMA, network.layer.table_name),
            key=road_key, vertices=sql.Identifier(SCHEMA, network.vertices_table)))
        # no_*: the pair itself; only_*: the from edge into every other edge at the via node
        cur.execute(sql.SQL(
            "INSERT INTO {turns} SELECT DISTINCT ARRAY[from_edge, to_edge], {cost} FROM ("
            "  SELECT from_edge, to_edge FROM net_turn_at WHERE kind NOT LIKE 'only%'"
            "  UNION SELECT t.from_edge, e.id FROM net_turn_at t JOIN {edges} e ON t.node IN (e.source, e.target)"
            "   WHERE t.kind LIKE 'only%' AND e.id <> t.to_edge) f").format(
            turns=turns, cost=sql.Literal(FORBIDDEN_COST), edges=sql.Identifier(SCHEMA, network.edges_table)))
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(turns))
        forbidden = cur.fetchone()[0]
        cur.execute("SELECT count(*), count(a.fid), (array_agg(r.fid ORDER BY r.fid) FILTER (WHERE a.fid IS NULL))"
                    "[1:%s] FROM net_turn_rows r LEFT JOIN net_turn_at a USING (fid)", [UNMATCHED_LISTED])
        read, applied, unmatched = cur.fetchone()
    return {"restrictions_layer": layer.slug, "restrictions": read, "restrictions_applied": applied,
            "restrictions_unmatched": read - applied, "unmatched_restriction_fids": unmatched or [],
            "forbidden_turns": forbidden}


def restrictions_query(network) -> str:
    return sql.SQL("SELECT path, cost FROM {}").format(sql.Identifier(SCHEMA, network.turns_table)).as_string(
        connection.connection)


def drop(network) -> None:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, network.turns_table)))
