"""Widgets bound to a layer or a statistical table (not to an indicator): a count, sum or mean of a field over the
features the viewer may see, grouped by a field, by district or not at all, with the layer's filter model.

    "source": {"layer": slug, "agg": "count" | "sum" | "mean", "field": numeric column (sum, mean),
               "by": column | "district" | "", "filter": {op, conditions} (layers.serving.filters)}

By district is a spatial join: each feature (its point on surface) falls in one polygon of the dashboard's area
boundary — the boundary of its statistics' join (the first indicator's, else the newest join the viewer may see),
the villages of the demo city — and counts for that polygon's district (its JoinMatch town key and name), the same
keys the indicator widgets use, so a district picked anywhere filters these widgets too and theirs picks filter the
indicator widgets. A statistical table (no geometry) is grouped by district through its own join's matches, on its
latest period unless the filter names one.

Cross-filtering: the district and village chosen restrict every source widget (to the features inside); a value of
a grouped field clicked (`pick`: {layer, field, value}) restricts the source widgets over that same layer.
Visibility: the widget is left out of what a viewer is sent when they may not see the layer (dashboards.spec).
"""

from django.db import connection
from psycopg2 import sql

from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer
from layers.serving import filters
from layers.serving.access import BadRequest
from stats.models import JoinMatch, StatJoin

AGGREGATES = ("count", "sum", "mean")
SOURCE_TYPES = ("kpi", "bar", "pie", "table", "list")  # widget types a source can feed
NUMERIC = filters.INTEGER | filters.FLOAT
MAX_GROUPS = 200


class SourceProblem(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def layer_of(user, slug: str) -> Layer | None:
    """The source layer if the viewer may see it: a vector layer or a table (a statistical one included)."""
    return Layer.objects.visible_to(user).filter(slug=slug, kind__in=[Layer.Kind.VECTOR, Layer.Kind.TABLE]).first()


def _attributes(layer: Layer) -> dict[str, dict]:
    return {a["name"]: attribute_kinds.described(a) for a in layer.attributes}


def stat_join(layer: Layer) -> StatJoin | None:
    table = getattr(layer, "stat_table", None) if layer.kind == Layer.Kind.TABLE else None
    return table.joins.order_by("-created_at").first() if table is not None else None


def check(raw, user, where: str) -> dict:
    """The source as kept: a layer the editor may see, a known aggregate over a numeric field, a grouping field
    that exists, a filter the layer's filter model accepts (a hidden layer is refused as a missing one)."""
    if not isinstance(raw, dict):
        raise SourceProblem(where, "source must be an object {layer, agg, field, by, filter}")
    layer = layer_of(user, str(raw.get("layer", "")))
    if layer is None:
        raise SourceProblem(f"{where}.layer", f"no layer or table {str(raw.get('layer', ''))[:60]!r}")
    attrs = _attributes(layer)
    agg = raw.get("agg", "count")
    if agg not in AGGREGATES:
        raise SourceProblem(f"{where}.agg", f"agg must be one of {', '.join(AGGREGATES)}")
    out = {"layer": layer.slug, "agg": agg}
    if agg != "count":
        field = str(raw.get("field", ""))
        if field not in attrs or attrs[field].get("type") not in NUMERIC:
            raise SourceProblem(f"{where}.field", f"{agg} needs a numeric field of {layer.slug} (got {field!r})")
        out["field"] = field
    by = str(raw.get("by") or "")
    if by == "district":
        if layer.kind == Layer.Kind.TABLE and stat_join(layer) is None:
            raise SourceProblem(f"{where}.by", f"{layer.slug} has no geometry and no join to boundaries: it cannot "
                                               "be grouped by district")
    elif by and by not in attrs:
        raise SourceProblem(f"{where}.by", f"{layer.slug} has no field {by!r}")
    out["by"] = by
    if raw.get("filter"):
        try:
            out["filter"] = filters.parse(layer, raw["filter"], f"{where}.filter").as_json()
        except BadRequest as exc:
            raise SourceProblem(f"{where}.filter", str(exc)) from None
    return out


def describe(source: dict, user) -> dict | None:
    """What the page shows about the source: the layer's title, the figure's label and unit, the grouping's label."""
    layer = layer_of(user, source["layer"])
    if layer is None:
        return None
    attrs = _attributes(layer)
    field = attrs.get(source.get("field", ""), {})
    by = attrs.get(source.get("by", ""), {})
    if source["agg"] == "count":
        unit, unit_en = ("筆", "features")
    else:
        unit, unit_en = field.get("unit", ""), field.get("unit_en", "") or field.get("unit", "")
    return {"layer": layer.slug, "layer_title": layer.title_zh, "layer_title_en": layer.title_en or layer.title_zh,
            "agg": source["agg"], "field": source.get("field", ""),
            "field_label": field.get("label") or source.get("field", ""),
            "field_label_en": field.get("label_en") or field.get("label") or source.get("field", ""),
            "by": source.get("by", ""), "by_label": by.get("label") or source.get("by", ""),
            "by_label_en": by.get("label_en") or by.get("label") or source.get("by", ""),
            "unit": unit, "unit_en": unit_en, "decimals": 0 if source["agg"] == "count" else
            max(int(field.get("decimals") or 0), 1 if source["agg"] == "mean" else 0)}


def fields(user) -> dict[str, dict]:
    """The builder's picker: every vector layer and table the editor may see, with its numeric and grouping
    fields (labels in both languages)."""
    out = {}
    for layer in Layer.objects.visible_to(user).filter(kind__in=[Layer.Kind.VECTOR, Layer.Kind.TABLE]) \
            .order_by("title_zh"):
        attrs = list(_attributes(layer).values())
        out[layer.slug] = {
            "title": layer.title_zh, "title_en": layer.title_en or layer.title_zh,
            "district": layer.kind == Layer.Kind.VECTOR or stat_join(layer) is not None,
            "numeric": [{"name": a["name"], "label": a.get("label") or a["name"],
                         "label_en": a.get("label_en") or a.get("label") or a["name"]}
                        for a in attrs if a.get("type") in NUMERIC and a["name"] != "fid"],
            "groups": [{"name": a["name"], "label": a.get("label") or a["name"],
                        "label_en": a.get("label_en") or a.get("label") or a["name"]}
                       for a in attrs if a.get("type") not in NUMERIC or a.get("kind") == "category"]}
    return out


def area_join(spec_indicators: dict, user) -> StatJoin | None:
    """The join whose boundary places features in districts: the dashboard's first indicator's, else the newest
    join to a boundary the viewer may see."""
    from stats.views import visible_joins

    joins = visible_joins(user)
    for described in spec_indicators.values():
        record = joins.filter(indicators__slug=described["slug"]).first()
        if record is not None:
            return record
    return joins.order_by("-created_at").first()


def _matches(join_id: int, on: str) -> sql.Composable:
    return sql.SQL("(SELECT DISTINCT {on}, area_key, town_key, town_name FROM {t} WHERE join_id = {j})").format(
        on=sql.Identifier(on), t=sql.Identifier(JoinMatch._meta.db_table), j=sql.Literal(join_id))


def aggregate(source: dict, user, areas: StatJoin | None, town: str = "", area: str = "",
              pick: dict | None = None) -> dict | None:
    """{rows: [{key, name, value}], total: {value, count}, period}: the figure for every group and in all, over the
    features inside the district/village chosen and matching the picked value (when it is of this layer)."""
    layer = layer_of(user, source["layer"])
    if layer is None:
        return None
    attrs = _attributes(layer)
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    where: list[sql.Composable] = filters.parse(layer, source.get("filter") or {}).sql(layer, "t")
    joins: list[sql.Composable] = []
    period = None
    by = source.get("by", "")
    needs_areas = by == "district" or town or area
    if needs_areas:
        own = stat_join(layer)
        if own is not None:  # a statistical table: its rows' own matches
            joins.append(sql.SQL("JOIN {m} m ON m.row_fid = t.fid").format(m=_matches(own.pk, "row_fid")))
        elif layer.kind == Layer.Kind.VECTOR and areas is not None:
            boundary = areas.boundary
            joins.append(sql.SQL(
                "JOIN {b} b ON ST_Intersects(b.geom, ST_Transform(ST_PointOnSurface(t.geom), {srid})) "
                "JOIN {m} m ON m.boundary_fid = b.fid").format(
                b=sql.Identifier(DATA_SCHEMA, boundary.table_name), srid=sql.Literal(boundary.srid),
                m=_matches(areas.pk, "boundary_fid")))
        else:
            return {"rows": [], "total": {"value": None, "count": 0}, "period": None, "no_areas": True}
        if town:
            where.append(sql.SQL("m.town_key = {}").format(sql.Literal(town)))
        if area:
            where.append(sql.SQL("m.area_key = {}").format(sql.Literal(area)))
    if layer.kind == Layer.Kind.TABLE and "period" in attrs and not any(
            c["attribute"] == "period" for c in (source.get("filter") or {}).get("conditions", [])):
        with connection.cursor() as cur:  # a statistical table: its latest period, not every period summed
            cur.execute(sql.SQL("SELECT max(period) FROM {}").format(table))
            period = cur.fetchone()[0]
        if period is not None:
            where.append(sql.SQL("t.period = {}").format(sql.Literal(period)))
    if pick and pick.get("layer") == layer.slug and pick.get("field") in attrs and pick["field"] != by:
        # (the widget grouped by the picked field is where it was picked: it keeps its groups, the pick marked)
        column = sql.Identifier("t", pick["field"])
        where.append(sql.SQL("{}::text = {}").format(column, sql.Literal(str(pick.get("value", "")))))
    if source["agg"] == "count":
        figure = sql.SQL("count(*)::float8")
    else:
        fn = sql.SQL("sum" if source["agg"] == "sum" else "avg")
        figure = sql.SQL("{}({})::float8").format(fn, sql.Identifier("t", source["field"]))
    condition = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    base = sql.SQL("FROM {table} t {joins}{where}").format(table=table, joins=sql.SQL(" ").join(joins),
                                                            where=condition)
    rows = []
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {}, count(*) {}").format(figure, base))
        total, count = cur.fetchone()
        if by:
            key = sql.SQL("m.town_key") if by == "district" else sql.SQL("{}::text").format(sql.Identifier("t", by))
            name = sql.SQL("min(m.town_name)") if by == "district" else key
            cur.execute(sql.SQL("SELECT {key}, {name}, {figure}, count(*) {base} GROUP BY 1 ORDER BY 3 DESC NULLS "
                                "LAST LIMIT {n}").format(key=key, name=name if by == "district" else sql.SQL("NULL"),
                                                         figure=figure, base=base, n=sql.Literal(MAX_GROUPS)))
            found = cur.fetchall()
            kind = attrs.get(by, {}).get("kind", "")
            named = {**attribute_kinds.value_labels(kind, [r[0] for r in found]),
                     **(attrs.get(by, {}).get("values") or {})}
            for k, label, value, n in found:
                words = named.get(k) or {}
                zh = label or words.get("label") or (k if k not in (None, "") else "—")
                rows.append({"key": k if k is not None else "", "name": zh, "name_en": words.get("label_en") or zh,
                             "value": value, "count": n})
    return {"rows": rows, "total": {"value": total, "count": count},
            "period": period.isoformat() if hasattr(period, "isoformat") else period,
            "method": "district" if by == "district" else ""}
