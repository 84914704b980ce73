"""Overlay (圖層套疊) of two layers in PostGIS: intersect, union, erase, clip, identity and spatial join.

How it stays fast on city-sized layers: the overlay layer B is cut into small pieces (ST_Subdivide) with their
own GiST index, so every candidate pair is found through an index and intersected against a small piece; a
feature of A lying wholly inside a piece is taken as it is, without clipping. Pieces of one A×B pair are merged
back, polygons extracted from what GEOS returns, and anything not valid is repaired, so outputs are valid.

Column names: A keeps its attribute names; B's attributes keep theirs unless they clash with A's (or with
`a_fid`, `b_fid`, `fid`, `geom`), in which case they are prefixed with B's table name — predictable, not random.
"""

from django.db import connection
from django.http import QueryDict
from psycopg2 import sql

from geo.messages import by_language
from geo.messages import text as note
from layers.models import DATA_SCHEMA, STAGING_SCHEMA, Layer
from layers.pgload import run_on_own_connections
from layers.serving import filters as shared_filters
from layers.serving import query

from .inputs import AnalysisInputError, distance_m

OPERATIONS = ("intersect", "union", "erase", "clip", "identity", "spatial_join")
PREDICATES = ("intersects", "within", "contains", "dwithin")
POLYGONS = ("Polygon", "MultiPolygon")
DIMENSION = {"Point": 1, "MultiPoint": 1, "LineString": 2, "MultiLineString": 2, "Polygon": 3, "MultiPolygon": 3}
NO_GEOMETRY = by_language(**{"zh-hant": "（無）", "en": "no"})  # a layer without features has no type
SUBDIVIDE_VERTICES = 256
TYPE_OF_DIMENSION = {1: "MultiPoint", 2: "MultiLineString", 3: "MultiPolygon"}


def check(operation: str, a: Layer, b: Layer, options: dict) -> None:
    if operation not in OPERATIONS:
        raise AnalysisInputError("operation {operation}：請使用 {choices} 其中之一", operation=repr(operation),
                                 choices=", ".join(OPERATIONS))
    if operation != "spatial_join" and b.geometry_type not in POLYGONS:
        raise AnalysisInputError("{operation} 的疊合圖層必須是面；{slug} 的圖形是 {geometry}", operation=operation,
                                 slug=repr(b.slug), geometry=b.geometry_type or NO_GEOMETRY)
    if operation == "union" and a.geometry_type not in POLYGONS:
        raise AnalysisInputError("union 兩邊都必須是面；{slug} 的圖形是 {geometry}", slug=repr(a.slug),
                                 geometry=a.geometry_type)
    if a.geometry_type not in DIMENSION or (operation == "spatial_join" and b.geometry_type not in DIMENSION):
        raise AnalysisInputError("兩個圖層都只能有一種圖形（點、線或面）")
    if operation == "spatial_join":
        if options.get("predicate", "intersects") not in PREDICATES:
            raise AnalysisInputError("predicate：請使用 {choices} 其中之一", choices=", ".join(PREDICATES))
        if options.get("predicate") == "dwithin":
            distance_m(options.get("distance"), "distance")
        if options.get("join", "one_to_one") not in ("one_to_one", "one_to_many"):
            raise AnalysisInputError("join：請使用 one_to_one 或 one_to_many")
    for side, layer in (("a_filter", a), ("b_filter", b)):
        conditions(layer, options.get(side), "x")  # raises on a bad filter before the job starts


def conditions(layer: Layer, filters: dict | str | None, alias: str) -> list[sql.Composable]:
    """A layer input's filter as SQL on `alias`: the shared filter model (layers.serving.filters: {op, conditions,
    bbox} or its compact text), or the older {attribute[__op]: value} object."""
    if filters is None:
        return []
    if isinstance(filters, str) or (isinstance(filters, dict) and {"op", "conditions", "bbox"} & set(filters)):
        try:
            return shared_filters.parse(layer, filters).sql(layer, alias)
        except query.BadRequest as exc:
            raise AnalysisInputError("{slug} 的篩選條件：{reason}", slug=repr(layer.slug), reason=exc.text()) from exc
    if not isinstance(filters, dict):
        raise AnalysisInputError("篩選條件是物件，例如 {\"land_use\": \"住宅區\", \"area_m2__gte\": 100}")
    params = QueryDict(mutable=True)
    for key, value in filters.items():
        params.appendlist(key, str(value))
    try:
        return query.where(layer, params, alias)
    except query.BadRequest as exc:
        raise AnalysisInputError("{slug} 的篩選條件：{reason}", slug=repr(layer.slug), reason=exc.text()) from exc


def output_names(a: Layer, b: Layer) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """[(source column, output column)] for A and for B."""
    a_cols = [(n["name"], n["name"]) for n in a.attributes]
    taken = {out for _src, out in a_cols} | {"fid", "geom", "a_fid", "b_fid", "join_count"}
    b_cols = []
    for attr in b.attributes:
        name = attr["name"]
        out = name if name not in taken else f"{b.table_name}_{name}"[:63]
        taken.add(out)
        b_cols.append((name, out))
    return a_cols, b_cols


def _where(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def _polygons(expr: sql.Composable, dim: int) -> sql.Composable:
    """Only the wanted dimension, as Multi*, repaired if GEOS left it invalid."""
    return sql.SQL("ST_Multi(ST_CollectionExtract((SELECT CASE WHEN ST_IsValid(x) THEN x ELSE ST_MakeValid(x) END"
                   " FROM (SELECT {} AS x OFFSET 0) v), {}))").format(expr, sql.Literal(dim))


def build(staging: str, operation: str, a: Layer, b: Layer, options: dict, progress) -> None:
    """Create STAGING_SCHEMA.staging with the result (fid, a_fid, A attributes, b_fid, B attributes, geom)."""
    a_table, b_table = sql.Identifier(DATA_SCHEMA, a.table_name), sql.Identifier(DATA_SCHEMA, b.table_name)
    a_where = _where(conditions(a, options.get("a_filter"), "a"))
    b_where = _where(conditions(b, options.get("b_filter"), "b"))
    a_cols, b_cols = output_names(a, b)
    dim = DIMENSION[a.geometry_type]
    target = sql.Identifier(STAGING_SCHEMA, staging)
    a_select = sql.SQL("").join(sql.SQL(", a.{} AS {}").format(sql.Identifier(s), sql.Identifier(o))
                                for s, o in a_cols)
    b_select = sql.SQL("").join(sql.SQL(", b.{} AS {}").format(sql.Identifier(s), sql.Identifier(o))
                                for s, o in b_cols)
    b_nulls = sql.SQL("").join(sql.SQL(", NULL::{} AS {}").format(sql.SQL(_pgtype(b, s)), sql.Identifier(o))
                               for s, o in b_cols)
    a_nulls = sql.SQL("").join(sql.SQL(", NULL::{} AS {}").format(sql.SQL(_pgtype(a, s)), sql.Identifier(o))
                               for s, o in a_cols)
    with connection.cursor() as cur:
        if operation == "spatial_join":
            cur.execute(_spatial_join(target, a, b, a_table, b_table, a_where, b_where, a_select, b_select, options))
            return
        pieces_table = sql.Identifier(STAGING_SCHEMA, f"{staging}_b")
        raws = [sql.Identifier(STAGING_SCHEMA, f"{staging}_r{k}") for k in range(2)]
        cur.execute(sql.SQL("DROP TABLE IF EXISTS ov_pairs, {}, {}, {}").format(pieces_table, *raws))
        cur.execute(sql.SQL(
            "CREATE TABLE {} AS SELECT (row_number() OVER ())::integer AS piece, b.fid AS b_fid,"
            " ST_Subdivide(b.geom, {}) AS g FROM {} b WHERE {}").format(
            pieces_table, sql.Literal(SUBDIVIDE_VERTICES), b_table, b_where))
        cur.execute(sql.SQL("CREATE INDEX ON {t} USING gist (g); ANALYZE {t}").format(t=pieces_table))
        progress(30, note("套疊圖層已切成有索引的小塊"))

        # Each candidate pair once, in join order (piece by piece, so PostGIS reuses the prepared piece for
        # ST_Intersects/ST_Within): grouping in the same query would sort first and compute after, unprepared (5×).
        # Outside a transaction the pieces are shared out to two connections, one core each.
        def raw(k: int, share: int) -> sql.Composable:
            return sql.SQL(
                "CREATE TABLE {} AS SELECT a.fid AS a_fid, s.b_fid, w.whole,"
                " CASE WHEN w.whole THEN NULL ELSE ST_Intersection(a.geom, s.g) END AS piece"
                " FROM {} s JOIN {} a ON a.geom && s.g AND ST_Intersects(a.geom, s.g),"
                " LATERAL (SELECT ST_Within(a.geom, s.g) AS whole OFFSET 0) w WHERE s.piece % {} = {} AND {}"
            ).format(raws[k], pieces_table, a_table, sql.Literal(share), sql.Literal(k), a_where)

        if connection.in_atomic_block:  # other connections could not see the pieces
            cur.execute(raw(0, 1))
            cur.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {} LIMIT 0").format(raws[1], raws[0]))
        else:
            run_on_own_connections([[raw(0, 2)], [raw(1, 2)]])
        # a feature cut by several pieces of one B feature: its parts are merged back (rare, so grouped apart)
        cur.execute(sql.SQL(
            "CREATE TEMP TABLE ov_pairs AS"
            " WITH r AS (SELECT * FROM {} UNION ALL SELECT * FROM {}),"
            " n AS (SELECT a_fid, b_fid, count(*) AS parts FROM r GROUP BY a_fid, b_fid)"
            " SELECT r.a_fid, r.b_fid, r.whole, r.piece AS g FROM r JOIN n USING (a_fid, b_fid) WHERE n.parts = 1"
            " UNION ALL SELECT r.a_fid, r.b_fid, bool_or(r.whole), ST_UnaryUnion(ST_Collect(r.piece))"
            " FROM r JOIN n USING (a_fid, b_fid) WHERE n.parts > 1 GROUP BY r.a_fid, r.b_fid").format(*raws))
        cur.execute(sql.SQL("DROP TABLE {}, {}, {}").format(pieces_table, *raws))
        cur.execute("DELETE FROM ov_pairs WHERE NOT whole AND (g IS NULL OR ST_IsEmpty(g))")
        progress(65, note("圖徵配對已完成交集"))
        pieces = {
            "intersect": _pairs_sql(a_table, b_table, a_select, b_select, dim, a.srid),
            "clip": _clip_sql(a_table, a_select, dim, a.srid),
            "erase": _erase_sql(a_table, a_where, a_select, b_nulls, dim, a.srid),
        }
        parts = {"intersect": ["intersect"], "clip": ["clip"], "erase": ["erase"],
                 "identity": ["intersect", "erase"], "union": ["intersect", "erase", "b_only"]}[operation]
        if "b_only" in parts:
            pieces["b_only"] = _b_only_sql(b_table, b_where, a_table, a_nulls, b_select, a.srid)
        union = sql.SQL(" UNION ALL ").join(pieces[p] for p in parts)
        # OFFSET 0: each output geometry is built once (else the emptiness test is pushed into the joins and
        # builds it a second time); the memory keeps the joins' hash tables and the fid sort off disk
        cur.execute("SET work_mem = '128MB'")
        cur.execute(sql.SQL("CREATE TABLE {} AS SELECT (row_number() OVER (ORDER BY a_fid, b_fid))::integer AS fid, *"
                            " FROM (SELECT * FROM ({}) u OFFSET 0) r WHERE NOT ST_IsEmpty(geom)").format(target, union))
        cur.execute("RESET work_mem")
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET NOT NULL").format(target))
        cur.execute("DROP TABLE ov_pairs")  # a temporary table: the worker's session lives on


def _pgtype(layer: Layer, name: str) -> str:
    pgtype = next(a["type"] for a in layer.attributes if a["name"] == name)
    return pgtype if pgtype in query.INTEGER | query.FLOAT | {"text", "boolean", "date"} else "text"


# A pair is either "whole" (the A feature lies inside a piece of B: taken unclipped) or has its clipped part g.
PAIR_GEOM = sql.SQL("CASE WHEN p.whole THEN a.geom ELSE p.g END")
PER_A = sql.SQL("(SELECT a_fid, bool_or(whole) AS whole, ST_UnaryUnion(ST_Collect(g)) AS g FROM ov_pairs"
                " GROUP BY a_fid)")


def _pair_output(dim: int) -> sql.Composable:
    """A whole feature goes out as it is (valid already); only clipped parts need extracting and checking."""
    return sql.SQL("CASE WHEN p.whole THEN ST_Multi(a.geom) ELSE {} END").format(_polygons(sql.SQL("p.g"), dim))


def _typed(expr: sql.Composable, dim: int, srid: int) -> sql.Composable:
    """Typed in the SELECT, so the result table needs no rewrite to get its geometry type."""
    return sql.SQL("({})::geometry({}, {})").format(expr, sql.SQL(TYPE_OF_DIMENSION[dim]), sql.Literal(srid))


def _pairs_sql(a_table, b_table, a_select, b_select, dim, srid):
    return sql.SQL("SELECT p.a_fid{}, p.b_fid{}, {} AS geom FROM ov_pairs p JOIN {} a ON a.fid = p.a_fid"
                   " JOIN {} b ON b.fid = p.b_fid").format(a_select, b_select, _typed(_pair_output(dim), dim, srid),
                                                          a_table, b_table)


def _clip_sql(a_table, a_select, dim, srid):
    return sql.SQL("SELECT p.a_fid{}, NULL::integer AS b_fid, {} AS geom FROM {} p JOIN {} a ON a.fid = p.a_fid"
                   ).format(a_select, _typed(_pair_output(dim), dim, srid), PER_A, a_table)


def _erase_sql(a_table, a_where, a_select, b_nulls, dim, srid):
    rest = sql.SQL("CASE WHEN p.a_fid IS NULL THEN a.geom WHEN p.whole THEN 'GEOMETRYCOLLECTION EMPTY'::geometry"
                   " ELSE ST_Difference(a.geom, p.g) END")
    return sql.SQL("SELECT a.fid AS a_fid{}, NULL::integer AS b_fid{}, {} AS geom FROM {} a LEFT JOIN {} p"
                   " ON p.a_fid = a.fid WHERE {}").format(a_select, b_nulls, _typed(_polygons(rest, dim), dim, srid),
                                                         a_table, PER_A, a_where)


def _b_only_sql(b_table, b_where, a_table, a_nulls, b_select, srid):
    covered = sql.SQL("(SELECT p.b_fid, ST_UnaryUnion(ST_Collect({})) AS g FROM ov_pairs p JOIN {} a"
                      " ON a.fid = p.a_fid GROUP BY p.b_fid)").format(PAIR_GEOM, a_table)
    return sql.SQL(
        "SELECT NULL::integer AS a_fid{}, b.fid AS b_fid{}, {} AS geom FROM {} b LEFT JOIN {} c ON c.b_fid = b.fid"
        " WHERE {}"
    ).format(a_nulls, b_select, _typed(_polygons(sql.SQL(
        "CASE WHEN c.g IS NULL THEN b.geom ELSE ST_Difference(b.geom, c.g) END"), 3), 3, srid), b_table, covered,
        b_where)


def _spatial_join(target, a, b, a_table, b_table, a_where, b_where, a_select, b_select, options):
    predicate = options.get("predicate", "intersects")
    if predicate == "dwithin":
        test = sql.SQL("ST_DWithin(a.geom, b.geom, {})").format(
            sql.Literal(distance_m(options.get("distance"), "distance")))
    else:
        test = sql.SQL({"intersects": "ST_Intersects(a.geom, b.geom)", "within": "ST_Within(a.geom, b.geom)",
                        "contains": "ST_Contains(a.geom, b.geom)"}[predicate])
    matches = sql.SQL("SELECT a.fid AS a_fid, b.fid AS b_fid FROM {} a JOIN {} b ON {} WHERE {} AND {}").format(
        a_table, b_table, test, a_where, b_where)
    if options.get("join", "one_to_one") == "one_to_many":
        body = sql.SQL("SELECT m.a_fid{}, m.b_fid{}, a.geom FROM ({}) m JOIN {} a ON a.fid = m.a_fid"
                       " JOIN {} b ON b.fid = m.b_fid").format(a_select, b_select, matches, a_table, b_table)
    else:  # every feature of A once: the match with the lowest id, and how many there were
        body = sql.SQL(
            "SELECT a.fid AS a_fid{}, m.b_fid, coalesce(m.n, 0)::integer AS join_count{}, a.geom FROM {} a"
            " LEFT JOIN (SELECT a_fid, min(b_fid) AS b_fid, count(*) AS n FROM ({}) mm GROUP BY a_fid) m"
            " ON m.a_fid = a.fid LEFT JOIN {} b ON b.fid = m.b_fid WHERE {}"
        ).format(a_select, b_select, a_table, matches, b_table, a_where)
    return sql.SQL("CREATE TABLE {} AS SELECT (row_number() OVER (ORDER BY a_fid, b_fid))::integer AS fid, *"
                   " FROM ({}) r").format(target, body)
