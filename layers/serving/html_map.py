"""A layer (typically an analysis result) as a standalone interactive HTML map, built with folium: the features
coloured by the layer's style classes, attributes on click, a legend, and the analysis provenance.

The page works offline (Leaflet inlined, no CDN, no online basemap: see offline_map) and is in the user's
language; it is meant to be mailed or attached to a report, not served by the platform.
"""

import html
import json

import folium
from django.utils import translation
from django.utils.translation import gettext as _
from psycopg2 import sql

from geo.dbrouter import reading
from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer
from layers.ogc.sld import ClassRule, class_rules, classes_heading

from . import offline_map, query
from .access import BadRequest
from .features import feature_sql

MAX_FEATURES = 20_000
POPUP_FIELDS = 20


def _matches(rule: ClassRule, value) -> bool:
    if rule.test == "equals":
        return value is not None and str(value) == rule.value
    if rule.test == "null":
        return value is None
    if rule.test == "range":
        if value is None:
            return False
        low_ok = value >= rule.low if rule.low_inclusive else value > rule.low
        return low_ok and value <= rule.high
    return True  # "all" and "else" (reached only when no earlier class matched)


def colour_of(rules: list[ClassRule], properties: dict) -> str:
    for rule in rules:
        if _matches(rule, properties.get(rule.attribute) if rule.attribute else None):
            return rule.color
    return "#bdbdbd"


def render(layer: Layer, params) -> str:
    conditions = query.where(layer, params)
    names = query.properties(layer, params)
    statement = sql.SQL("SELECT {} FROM {} t{} ORDER BY t.fid LIMIT {}").format(
        feature_sql(layer, names, 4326), sql.Identifier(DATA_SCHEMA, layer.table_name), query.where_sql(conditions),
        sql.Literal(MAX_FEATURES + 1))
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(statement)
        features = [json.loads(row[0]) for row in cur.fetchall()]
    if len(features) > MAX_FEATURES:
        raise BadRequest("HTML 地圖最多容納 {maximum} 個圖徵；請篩選圖層（例如 bbox=…），或下載為 GeoPackage",
                         maximum=f"{MAX_FEATURES:,}")
    lang = translation.get_language() or "zh-hant"
    english = lang == "en"
    style = getattr(layer, "style", None)
    rules = class_rules(style, english) if style else [ClassRule(label=layer.title_zh, color="#3388ff", test="all")]
    opacity = style.opacity if style else 0.7
    described = {a["name"]: attribute_kinds.described(a) for a in layer.attributes}
    shown = [n for n in names if n != "fid"][:POPUP_FIELDS]
    for feature in features:
        properties = feature["properties"]
        properties["_colour"] = colour_of(rules, properties)
        for i, name in enumerate(shown):  # what the popup shows: the value as the attribute's format has it
            properties[f"_shown_{i}"] = _shown(described.get(name), properties.get(name))

    west, south, east, north = layer.extent.extent if layer.extent else (120.0, 22.0, 122.0, 25.5)
    title = layer.title_en if english and layer.title_en else layer.title_zh
    fmap = offline_map.new_map(control_scale=True, prefer_canvas=len(features) > 2000)
    fmap.fit_bounds([[south, west], [north, east]])
    aliases = [attribute_kinds.title_of(described[n], english) if n in described else n for n in shown]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=title,
        style_function=lambda f: {"color": f["properties"]["_colour"], "fillColor": f["properties"]["_colour"],
                                  "weight": 1.5, "fillOpacity": opacity},
        marker=folium.CircleMarker(radius=5),
        popup=folium.GeoJsonPopup(fields=[f"_shown_{i}" for i in range(len(shown))], aliases=aliases)
        if shown else None,
    ).add_to(fmap)
    heading = classes_heading(layer, style, english)
    fmap.get_root().html.add_child(folium.Element(_panel(layer, rules, title, heading)))
    return offline_map.render(fmap, title, lang)


def _shown(attribute: dict | None, value) -> str:
    if value is None:
        return ""
    if attribute is None or isinstance(value, str):
        return str(value)
    return attribute_kinds.format_number(attribute, value)


def _panel(layer: Layer, rules: list[ClassRule], title: str, heading: str = "") -> str:
    rows = "".join(f'<div><span style="display:inline-block;width:12px;height:12px;background:{r.color};'
                   f'margin-right:6px"></span>{html.escape(r.label)}</div>' for r in rules)
    provenance = ""
    if layer.provenance:
        params = json.dumps(layer.provenance.get("parameters", {}), ensure_ascii=False)
        line = _("分析：{analysis}；輸入：{inputs}").format(analysis=layer.provenance.get("analysis"),
                                                       inputs=", ".join(layer.provenance.get("inputs", [])))
        provenance = (f"<div style='margin-top:6px;color:#555'>{html.escape(line)}<br>"
                      f"{html.escape(_('參數：'))}{html.escape(params[:300])}<br>"
                      f"{html.escape(str(layer.provenance.get('by') or ''))} "
                      f"{html.escape(str(layer.provenance.get('at') or '')[:16])}</div>")
    return ("<div style='position:fixed;top:10px;right:10px;z-index:9999;background:white;padding:8px 10px;"
            "font:13px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:320px'>"
            f"<b>{html.escape(title)}</b><div>{html.escape(_('{n} 筆').format(n=f'{layer.feature_count:,}'))}</div>"
            + (f"<div style='color:#444;margin:4px 0'>{html.escape(heading)}</div>" if heading else "")
            + f"{rows}{provenance}</div>")
