"""The values one attribute of a layer takes, most frequent first, for a form's options (a filter, a category
factor's scores): each value with a label (another attribute, e.g. kind and kind_zh) and how many features hold
it."""

from django.utils.translation import get_language
from psycopg2 import sql

from geo.dbrouter import reading
from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer

from .access import BadRequest

MAX_VALUES = 50


def attribute_values(layer: Layer, attribute: str, label: str | None = None, limit: int = MAX_VALUES) -> dict:
    names = {a["name"] for a in layer.attributes}
    if not layer.table_name or layer.kind not in (Layer.Kind.VECTOR, Layer.Kind.TABLE):
        raise BadRequest("圖層 {slug} 沒有屬性表", slug=repr(layer.slug))
    if attribute not in names:
        raise BadRequest("attribute：圖層 {slug} 沒有屬性 {name}", slug=repr(layer.slug), name=repr(attribute))
    if label and label not in names:
        raise BadRequest("label：圖層 {slug} 沒有屬性 {name}", slug=repr(layer.slug), name=repr(label))
    label = label or attribute
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(sql.SQL("SELECT {a}::text, min({l}::text), count(*) FROM {t} WHERE {a} IS NOT NULL GROUP BY 1"
                            " ORDER BY 3 DESC, 1 LIMIT %s").format(
            a=sql.Identifier(attribute), l=sql.Identifier(label), t=sql.Identifier(DATA_SCHEMA, layer.table_name)),
            [limit + 1])
        rows = cur.fetchall()
    described = next(a for a in layer.attributes if a["name"] == attribute)
    english = not (get_language() or "zh").startswith("zh")
    return {"attribute": attribute, "values": [{"value": v, "label": _said(described, v, lab, english), "count": n}
                                               for v, lab, n in rows[:limit]],
            "more": len(rows) > limit}


def _said(described: dict, value, shown, english: bool):
    """A value as the request's language says it (the attribute's value labels: 住宅區 → Residential zone,
    sports_centre → 運動中心 / Sports centre); else the label column's text, or the value itself."""
    said = attribute_kinds.value_label(described, value, english=english)
    return shown if said == value else said
