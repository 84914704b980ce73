"""Statistics of one attribute over a layer's filtered features, for the attribute table: how many features hold a
value, and — as the attribute's kind allows (layers.attribute_kinds) — the sum (only of what adds up: counts,
measures, money), mean, min and max of numbers and dates, and the distinct values of categories and text with how
many features hold each, labelled in the request's language."""

from django.utils.translation import get_language
from psycopg2 import sql

from geo.dbrouter import reading
from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer

from . import query
from .access import BadRequest

TOP_VALUES = 20
ORDERED_TYPES = {"date", "timestamp without time zone", "timestamp with time zone"}


def column_statistics(layer: Layer, attribute: str, params) -> dict:
    if not layer.table_name or layer.kind not in (Layer.Kind.VECTOR, Layer.Kind.TABLE):
        raise BadRequest("圖層 {slug} 沒有屬性表", slug=repr(layer.slug))
    found = next((a for a in layer.attributes if a["name"] == attribute), None)
    if found is None:
        raise BadRequest("attribute：圖層 {slug} 沒有屬性 {name}", slug=repr(layer.slug), name=repr(attribute))
    described = attribute_kinds.described(found)
    column = sql.Identifier("t", attribute)
    numeric = described["type"] in attribute_kinds.NUMERIC_TYPES and described["kind"] not in (
        "identifier", "category")
    figures = [sql.SQL("count(*)"), sql.SQL("count({})").format(column)]
    names = ["features", "count"]
    if numeric or described["type"] in ORDERED_TYPES:
        figures += [sql.SQL("min({})").format(column), sql.SQL("max({})").format(column)]
        names += ["min", "max"]
    if numeric:
        figures.append(sql.SQL("avg({})::float8").format(column))
        names.append("mean")
        if described["kind"] in attribute_kinds.SUMMABLE_KINDS and described.get("aggregate") == "sum":
            figures.append(sql.SQL("sum({})::float8").format(column))
            names.append("sum")
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    where = query.where_sql(query.where(layer, params))
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(sql.SQL("SELECT {} FROM {} t{}").format(sql.SQL(", ").join(figures), table, where))
        out = dict(zip(names, cur.fetchone(), strict=True))
        if not numeric:
            cur.execute(sql.SQL("SELECT count(DISTINCT {c}) FROM {t} t{w}").format(c=column, t=table, w=where))
            out["distinct"] = cur.fetchone()[0]
            cur.execute(sql.SQL("SELECT {c}, count(*) FROM {t} t{w} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}").format(
                c=column, t=table, w=where, n=sql.Literal(TOP_VALUES)))
            english = not (get_language() or "zh").startswith("zh")
            out["values"] = [{"value": _plain(v), "label": _plain(attribute_kinds.value_label(described, v, english)),
                              "count": n} for v, n in cur.fetchall()]
    for key in ("min", "max", "mean", "sum"):
        if key in out:
            out[key] = attribute_kinds.round_value(described, _plain(out[key]))
    return {"attribute": attribute, **out}


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value) if value.__class__.__name__ == "Decimal" else value
