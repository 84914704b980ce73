"""CQL2 text filters (OGC API - Features Part 3, `filter-lang=cql2-text`) as SQL conditions on a layer's table.

pygeofilter (PyPI) parses the text into its syntax tree; this module walks the tree and writes each node as
psycopg2.sql: property names are checked against the layer's attributes and become Identifiers, every literal is
converted to its column's type by the shared filter model (layers.serving.filters) and becomes a Literal, and a
geometry literal (WKT or BBOX, in `filter-crs`, default CRS84) reaches PostGIS as GeoJSON text in a Literal.
Nothing the client writes is pasted into SQL.

Supported: = <> < <= > >=, AND / OR / NOT, LIKE (% and _ wildcards), IN, BETWEEN, IS [NOT] NULL, and the spatial
predicates S_INTERSECTS, S_DISJOINT, S_WITHIN, S_CONTAINS, S_TOUCHES, S_CROSSES, S_OVERLAPS, S_EQUALS between the
geometry (`geometry` or `geom`) and a literal. Anything else is a 400 naming the construct.
"""

import json
from datetime import date, datetime

from lark.exceptions import LarkError
from psycopg2 import sql
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parse as parse_text

from layers import attribute_kinds
from layers.models import Layer
from layers.serving import filters
from layers.serving.access import BadRequest

FIELD = "filter"
GEOMETRY_NAMES = ("geometry", "geom")
COMPARISON = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=", ast.GreaterThan: ">",
              ast.GreaterEqual: ">="}
MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
SPATIAL = {ast.GeometryIntersects: "ST_Intersects", ast.GeometryDisjoint: "ST_Disjoint",
           ast.GeometryWithin: "ST_Within", ast.GeometryContains: "ST_Contains", ast.GeometryTouches: "ST_Touches",
           ast.GeometryCrosses: "ST_Crosses", ast.GeometryOverlaps: "ST_Overlaps", ast.GeometryEquals: "ST_Equals"}
MAX_NODES = 200


def condition(layer: Layer, text: str, srid: int = 4326, flip: bool = False) -> sql.Composable:
    """The CQL2 text as one SQL condition on table alias `t`; geometry literals are in `srid` (y before x when
    `flip`). A BadRequest naming the problem for text that is no CQL2 or does not fit the layer."""
    if not text.strip():
        raise BadRequest("{field}：篩選條件是空的", field=FIELD)
    if len(text) > filters.MAX_FILTER_TEXT or "\0" in text:
        raise BadRequest("{field}：篩選條件太長（最多 {maximum} 字元）", field=FIELD,
                         maximum=f"{filters.MAX_FILTER_TEXT:,}")
    try:
        node = parse_text(text)
    except (LarkError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise BadRequest("{field}：不是有效的 CQL2 文字（{reason}）", field=FIELD, reason=reason) from None
    try:
        return _Writer(layer, srid, flip).write(node)
    except RecursionError:
        raise BadRequest("{field}：篩選條件巢狀太深", field=FIELD) from None


class _Writer:
    def __init__(self, layer: Layer, srid: int, flip: bool):
        self.layer, self.srid, self.flip = layer, srid, flip
        self.attributes = {a["name"]: attribute_kinds.described(a) for a in layer.attributes}
        self.nodes = 0

    def write(self, node) -> sql.Composable:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise BadRequest("{field}：篩選條件太複雜（最多 {maximum} 個節點）", field=FIELD, maximum=MAX_NODES)
        if isinstance(node, ast.And | ast.Or):
            joiner = " AND " if isinstance(node, ast.And) else " OR "
            return sql.SQL("({}{}{})").format(self.write(node.lhs), sql.SQL(joiner), self.write(node.rhs))
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self.write(node.sub_node))
        if type(node) in COMPARISON:
            return self.comparison(node)
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.In):
            column, attribute = self.column(node.lhs)
            if not node.sub_nodes:
                raise BadRequest("{field}：IN 需要至少一個值", field=FIELD)
            typed = [self.literal(v, attribute) for v in node.sub_nodes]
            return sql.SQL("({} {} ({}))").format(column, sql.SQL("NOT IN" if node.not_ else "IN"),
                                                 sql.SQL(", ").join(sql.Literal(v) for v in typed))
        if isinstance(node, ast.Between):
            column, attribute = self.column(node.lhs)
            low, high = self.literal(node.low, attribute), self.literal(node.high, attribute)
            return sql.SQL("({} {} {} AND {})").format(column, sql.SQL("NOT BETWEEN" if node.not_ else "BETWEEN"),
                                                      sql.Literal(low), sql.Literal(high))
        if isinstance(node, ast.IsNull):
            column, _attribute = self.column(node.lhs)
            return sql.SQL("({} IS {}NULL)").format(column, sql.SQL("NOT " if node.not_ else ""))
        if type(node) in SPATIAL:
            return self.spatial(node)
        if isinstance(node, bool):
            return sql.SQL("TRUE" if node else "FALSE")
        raise BadRequest("{field}：不支援 {construct}；可用比較、AND/OR/NOT、LIKE、IN、BETWEEN、IS NULL 與 "
                         "S_INTERSECTS 等空間述詞", field=FIELD, construct=_name(node))

    def column(self, node) -> tuple[sql.Composable, dict]:
        if not isinstance(node, ast.Attribute):
            raise BadRequest("{field}：{construct} 的左邊應是屬性名稱", field=FIELD, construct=_name(node))
        if node.name not in self.attributes:
            raise BadRequest("{field}：圖層 {slug} 沒有屬性 {name}；可用的屬性有 {known}", field=FIELD,
                             slug=repr(self.layer.slug), name=repr(node.name), known=", ".join(self.attributes) or "-")
        return sql.Identifier("t", node.name), self.attributes[node.name]

    def literal(self, value, attribute: dict):
        if isinstance(value, ast.Node | values.Geometry | values.Envelope):
            raise BadRequest("{field}：屬性 {name} 只能與值比較，收到 {construct}", field=FIELD,
                             name=repr(attribute["name"]), construct=_name(value))
        if isinstance(value, date | datetime):
            value = value.isoformat()
        return filters._typed(value, attribute, FIELD)

    def comparison(self, node) -> sql.Composable:
        operator, lhs, rhs = COMPARISON[type(node)], node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            operator, lhs, rhs = MIRRORED[operator], rhs, lhs
        column, attribute = self.column(lhs)
        kind = filters.value_class(attribute["type"])
        if kind == "boolean" and operator not in ("=", "<>"):
            raise BadRequest("{field}：是非屬性 {name} 只能用 = 或 <>", field=FIELD, name=repr(attribute["name"]))
        return sql.SQL("({} {} {})").format(column, sql.SQL(operator), sql.Literal(self.literal(rhs, attribute)))

    def like(self, node) -> sql.Composable:
        column, attribute = self.column(node.lhs)
        if filters.value_class(attribute["type"]) != "text":
            raise BadRequest("{field}：LIKE 只能用於文字屬性；{name} 是 {pgtype}", field=FIELD,
                             name=repr(attribute["name"]), pgtype=attribute["type"])
        if not isinstance(node.pattern, str):
            raise BadRequest("{field}：LIKE 的樣式須是文字", field=FIELD)
        # CQL2's wildcards are SQL's (% and _) and its escape the backslash, as PostgreSQL's LIKE by default (the
        # parser's own `singlechar` is not CQL2's: the pattern is taken as written)
        pattern = node.pattern
        operator = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        return sql.SQL("({} {} {})").format(column, sql.SQL(operator), sql.Literal(pattern))

    def spatial(self, node) -> sql.Composable:
        lhs, rhs = node.lhs, node.rhs
        if not _is_geometry_property(lhs) and _is_geometry_property(rhs):
            lhs, rhs = rhs, lhs
            if type(node) in (ast.GeometryWithin, ast.GeometryContains):
                node = (ast.GeometryContains if isinstance(node, ast.GeometryWithin) else ast.GeometryWithin)(lhs, rhs)
        if not _is_geometry_property(lhs):
            raise BadRequest("{field}：空間述詞的一邊應是幾何屬性 geometry", field=FIELD)
        if self.layer.kind != Layer.Kind.VECTOR:
            raise BadRequest("{field}：圖層 {slug} 沒有幾何", field=FIELD, slug=repr(self.layer.slug))
        shape = self.geometry(rhs)
        function = sql.SQL(SPATIAL[type(node)])
        geom = sql.Identifier("t", "geom")
        if isinstance(node, ast.GeometryIntersects):  # the index first
            return sql.SQL("({g} && {s} AND ST_Intersects({g}, {s}))").format(g=geom, s=shape)
        return sql.SQL("{}({}, {})").format(function, geom, shape)

    def geometry(self, value) -> sql.Composable:
        if isinstance(value, ast.Function) and value.name.lower() == "bbox":  # BBOX(x1, y1, x2, y2)
            numbers = value.arguments
            if len(numbers) != 4 or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
                raise BadRequest("{field}：BBOX 需要四個數字 BBOX(west, south, east, north)", field=FIELD)
            value = values.Envelope(numbers[0], numbers[2], numbers[1], numbers[3])
        if isinstance(value, values.Envelope):
            x1, x2, y1, y2 = value.x1, value.x2, value.y1, value.y2
            if self.flip:
                x1, y1, x2, y2 = y1, x1, y2, x2
            shape = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, {})").format(
                sql.Literal(float(x1)), sql.Literal(float(y1)), sql.Literal(float(x2)), sql.Literal(float(y2)),
                sql.Literal(self.srid))
        elif isinstance(value, values.Geometry):
            shape = sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}), {})").format(
                sql.Literal(json.dumps(value.geometry)), sql.Literal(self.srid))
            if self.flip:
                shape = sql.SQL("ST_FlipCoordinates({})").format(shape)
        else:
            raise BadRequest("{field}：空間述詞需要 WKT 或 BBOX 幾何，收到 {construct}", field=FIELD,
                             construct=_name(value))
        return sql.SQL("ST_Transform({}, {})").format(shape, sql.Literal(self.layer.srid))


def _is_geometry_property(node) -> bool:
    return isinstance(node, ast.Attribute) and node.name in GEOMETRY_NAMES


def _name(node) -> str:
    if isinstance(node, ast.Function):
        return f"{node.name}()"
    if isinstance(node, ast.Attribute):
        return node.name
    if isinstance(node, str | int | float):
        return repr(node)[:40]
    return type(node).__name__
