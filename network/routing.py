"""The pgRouting calls every tool shares: the edges query (travelled from the places or towards them), costs
from many to many, trees up to a budget, and paths with their edges in travel order."""

from django.db import connection
from psycopg2 import sql

from . import turns
from .models import SCHEMA

# pgr_trsp's answer for a path that needs a forbidden turn costs at least this much: no path
RESTRICTED = turns.FORBIDDEN_COST / 10


def edges_query(network, towards: bool = False) -> str:
    """The edges SQL pgRouting reads; `towards` swaps the directions (times *to* the places, on one-way roads)."""
    cost, reverse = ("reverse_cost", "cost") if towards else ("cost", "reverse_cost")
    query = sql.SQL("SELECT id, source, target, {} AS cost, {} AS reverse_cost FROM {}").format(
        sql.Identifier(cost), sql.Identifier(reverse), sql.Identifier(SCHEMA, network.edges_table))
    return query.as_string(connection.connection)


def costs(network, sources: list[int], targets: list[int], restricted: bool = True) -> dict[tuple[int, int], float]:
    """Graph seconds between vertices; a pair missing from the answer is unreachable (a vertex to itself is 0).
    Turn restrictions are honoured (pgr_trsp, pair by pair) unless `restricted` is False: the OD matrix's
    many-to-many times ignore them."""
    connection.ensure_connection()
    out = {(s, s): 0.0 for s in set(sources) & set(targets)}
    if restricted and network.has_turns:
        pairs = [(s, t) for s in sorted(set(sources)) for t in sorted(set(targets)) if s != t]
        with connection.cursor() as cur:
            _pairs_table(cur, pairs)
            cur.execute("SELECT start_vid, end_vid, agg_cost FROM pgr_trsp(%s, %s, 'SELECT source, target FROM"
                        " net_pairs', true) WHERE edge = -1 AND agg_cost < %s",
                        [edges_query(network), turns.restrictions_query(network), RESTRICTED])
            out |= {(s, t): float(c) for s, t, c in cur.fetchall()}
        return out
    with connection.cursor() as cur:
        cur.execute("SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s::bigint[], %s::bigint[], true)",
                    [edges_query(network), sorted(set(sources)), sorted(set(targets))])
        for s, t, c in cur.fetchall():
            out[(s, t)] = float(c)
    return out


def reach_into(table: str, network, roots: list[tuple[int, int, float]], budget: float, towards: bool) -> None:
    """Fill temp `table` (fac, node, agg) with every vertex within `budget` seconds of each place: `roots` are
    (place index, vertex, seconds from the place to the vertex). Stays in the database: a service area of a
    hundred facilities over a city's network is millions of rows."""
    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.net_roots, {}").format(sql.Identifier("pg_temp", table)))
        cur.execute("CREATE TEMP TABLE net_roots ON COMMIT DROP AS SELECT * FROM unnest(%s::integer[], %s::bigint[],"
                    " %s::float8[]) AS r(fac, node, access)",
                    [[r[0] for r in roots], [r[1] for r in roots], [float(r[2]) for r in roots]])
        # the columns renamed by position: the root's is from_v in pgRouting 3.4 and start_vid from 3.6 on
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT r.fac, d.node, d.agg + r.access AS agg"
            " FROM pgr_drivingDistance(%s, %s::bigint[], %s, true, false) AS d(seq, root, node, edge, cost, agg)"
            " JOIN net_roots r ON r.node = d.root WHERE d.agg + r.access <= %s").format(sql.Identifier(table)),
            [edges_query(network, towards), sorted({r[1] for r in roots}), float(budget), float(budget)])


def paths(network, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], list[dict]]:
    """(source, target) → the edges of the fastest path in travel order: id, seconds, metres, name and the edge's
    geometry drawn in the travel direction (WKB). Unreachable pairs and a vertex to itself get []."""
    connection.ensure_connection()
    wanted = sorted({p for p in pairs if p[0] != p[1]})
    out: dict[tuple[int, int], list[dict]] = {p: [] for p in pairs}
    if not wanted:
        return out
    edges = sql.Identifier(SCHEMA, network.edges_table)
    # with turn restrictions pgr_trsp (a path needing a forbidden turn costs FORBIDDEN_COST: left out)
    search, args = "pgr_dijkstra(%s, 'SELECT source, target FROM net_pairs', true)", [edges_query(network)]
    if network.has_turns:
        search = "pgr_trsp(%s, %s, 'SELECT source, target FROM net_pairs', true)"
        args += [turns.restrictions_query(network)]
    with connection.cursor() as cur:
        _pairs_table(cur, wanted)
        if network.has_turns:  # the pairs whose only way needs a forbidden turn
            cur.execute(sql.SQL("SELECT start_vid, end_vid FROM {} WHERE edge = -1 AND agg_cost >= %s").format(
                sql.SQL(search)), [*args, RESTRICTED])
            blocked = cur.fetchall()
            cur.execute("DELETE FROM net_pairs WHERE (source, target) IN (SELECT * FROM unnest(%s::bigint[],"
                        " %s::bigint[]))", [[r[0] for r in blocked], [r[1] for r in blocked]])
        cur.execute(sql.SQL(
            "SELECT r.start_vid, r.end_vid, e.id, r.cost, e.length_m, e.name,"
            " ST_AsBinary(CASE WHEN r.node = e.source THEN e.geom ELSE ST_Reverse(e.geom) END)"
            " FROM {search} r JOIN {edges} e ON e.id = r.edge"
            " ORDER BY r.start_vid, r.end_vid, r.path_seq").format(search=sql.SQL(search), edges=edges), args)
        for s, t, edge, seconds, length, name, wkb in cur.fetchall():
            out[(s, t)].append({"edge": edge, "seconds": float(seconds), "metres": float(length), "name": name,
                                "wkb": bytes(wkb)})
    return out


def _pairs_table(cur, pairs: list[tuple[int, int]]) -> None:
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS net_pairs (source bigint, target bigint)")
    cur.execute("TRUNCATE net_pairs")
    cur.execute("INSERT INTO net_pairs SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [[s for s, _ in pairs], [t for _, t in pairs]])
