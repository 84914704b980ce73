"""Query parameters → safe SQL: attribute filters, bbox, property selection, sorting, output CRS.

Filters use Django-style suffixes on attribute names: `land_use=住宅區`, `land_value__gte=50000`,
`land_use__in=住宅區,商業區`, `name__like=中正%`, `note__isnull=true`, `rank__ne=3`. Every name is checked
against the layer's attributes and every value converted to the column's type before it becomes a
psycopg2.sql Literal; nothing is concatenated into SQL.
"""

import re
from datetime import date, datetime

from psycopg2 import sql

from geo import messages
from geo.dbrouter import reading
from layers.models import Layer

from . import filters
from .access import BadRequest

RESERVED = {"bbox", "limit", "offset", "properties", "fields", "sort", "crs", "f", "format", "page", "filename",
            "coords", "labels", "filter", "fids", "time"}
OPERATORS = {"": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "like": "LIKE", "ilike": "ILIKE"}
INTEGER = {"integer", "bigint", "smallint"}
MAX_OFFSET = 2**62
FLOAT = {"double precision", "real", "numeric"}


def attribute_types(layer: Layer) -> dict[str, str]:
    return {a["name"]: a["type"] for a in layer.attributes}


def _value(text: str, pgtype: str, param: str):
    if "\0" in text:
        raise BadRequest("{param}：不可含 NUL 字元", param=param)
    try:
        if pgtype in INTEGER:
            return int(text)
        if pgtype in FLOAT:
            return float(text)
        if pgtype == "boolean":
            if text.lower() not in {"true", "false", "1", "0"}:
                raise ValueError(text)
            return text.lower() in {"true", "1"}
        if pgtype == "date":
            return date.fromisoformat(text)
        if pgtype.startswith("timestamp"):
            return datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("{param}={value}：不是有效的 {pgtype}", param=param, value=repr(text), pgtype=pgtype) from None
    return text


def where(layer: Layer, params, alias: str = "t") -> list[sql.Composable]:
    """AND-ed conditions from the filter parameters (bbox included) and the `filter` / `fids` of the shared filter
    model (serving.filters), on table alias `alias`; unknown names are an error."""
    types = attribute_types(layer)
    conditions = []
    for param in params:
        if param in RESERVED:
            continue
        name, _, op = param.partition("__")
        if name not in types:
            known = ", ".join(types) or messages.by_language(**{"zh-hant": "（無）", "en": "(none)"})
            raise BadRequest("不認得的篩選條件 {param}：圖層 {slug} 的屬性有 {known}", param=repr(param),
                             slug=repr(layer.slug), known=known)
        column = sql.Identifier(alias, name)
        for text in params.getlist(param):
            if op == "in":
                values = [_value(v, types[name], param) for v in text.split(",") if v != ""]
                if not values:
                    raise BadRequest("{param}：請填以逗號分隔的清單", param=param)
                conditions.append(sql.SQL("{} = ANY({})").format(column, sql.Literal(values)))
            elif op == "isnull":
                conditions.append(sql.SQL("{} IS {}NULL").format(
                    column, sql.SQL("" if _value(text, "boolean", param) else "NOT ")))
            elif op in OPERATORS:
                if op in ("like", "ilike") and types[name] != "text":
                    raise BadRequest("{param}：LIKE 只能用於文字屬性；{name} 是 {pgtype}", param=param, name=repr(name),
                                     pgtype=types[name])
                conditions.append(sql.SQL("{} {} {}").format(column, sql.SQL(OPERATORS[op]),
                                                             sql.Literal(_value(text, types[name], param))))
            else:
                raise BadRequest("{param} 中不認得的運算子 __{op}；請使用 {choices} 其中之一", op=op, param=repr(param),
                                 choices=", ".join(["(none)", *[o for o in OPERATORS if o], "in", "isnull"]))
    if params.get("bbox"):
        west, south, east, north = parse_bbox(params["bbox"])
        envelope = sql.SQL("ST_Transform(ST_MakeEnvelope({}, {}, {}, {}, 4326), {})").format(
            sql.Literal(west), sql.Literal(south), sql.Literal(east), sql.Literal(north), sql.Literal(layer.srid))
        geom = sql.Identifier(alias, "geom")
        conditions.append(sql.SQL("{g} && {e} AND ST_Intersects({g}, {e})").format(g=geom, e=envelope))
    return conditions + filters.from_params(layer, params).sql(layer, alias)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise BadRequest("bbox：請以經緯度填 west,south,east,north，例如 bbox=121.2,24.9,121.4,25.1") \
            from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("bbox={bbox} 不是 west < east、south < north 的經緯度範圍", bbox=repr(text))
    return west, south, east, north


def where_sql(conditions: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")


def properties(layer: Layer, params) -> list[str]:
    """The attributes a request asks for: `properties=` or `fields=` (comma-separated), default all."""
    names = list(attribute_types(layer))
    key = "properties" if params.get("properties") else "fields"
    if not params.get(key):
        return names
    chosen = [p.strip() for p in params[key].split(",") if p.strip()]
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise BadRequest("{param}：圖層 {slug} 沒有屬性 {attributes}", param=key, attributes=unknown,
                         slug=repr(layer.slug))
    return chosen


def order_by(layer: Layer, params) -> sql.Composable:
    """`sort=land_value,-area_m2`; the feature id breaks ties so pages never overlap."""
    names = attribute_types(layer)
    keys = []
    for item in filter(None, (s.strip() for s in params.get("sort", "").split(","))):
        name = item.lstrip("-+")
        if name not in names and name != "fid":
            raise BadRequest("sort：圖層 {slug} 沒有屬性 {name}", name=repr(name), slug=repr(layer.slug))
        keys.append(sql.SQL("{} {}").format(sql.Identifier("t", name), sql.SQL("DESC" if item[0] == "-" else "ASC")))
    keys.append(sql.SQL("t.fid"))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)


def output_srid(params, default: int = 4326) -> int:
    text = params.get("crs", "")
    if not text:
        return default
    code = text.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if not re.fullmatch(r"[0-9]{1,9}", code):
        raise BadRequest("crs={crs}：請填 EPSG 代碼，例如 crs=3826 或 crs=EPSG:4326", crs=repr(text))
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = %s", [int(code)])
        if not cur.fetchone():
            raise BadRequest("crs={crs}：本系統不認得 EPSG:{code} 這個坐標系統", crs=repr(text), code=code)
    return int(code)


def page(params, default: int = 100, maximum: int = 10_000) -> tuple[int, int]:
    try:
        limit = int(params.get("limit", default))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise BadRequest("limit 與 offset 必須是整數") from None
    if not 1 <= limit <= maximum:
        raise BadRequest("limit 必須介於 1 到 {maximum}", maximum=f"{maximum:,}")
    if not 0 <= offset <= MAX_OFFSET:
        raise BadRequest("offset 必須介於 0 到 {maximum}", maximum=f"{MAX_OFFSET:,}")
    return limit, offset
