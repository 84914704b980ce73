"""WMS GetFeatureInfo as text/html, for people: per queried layer, a table of the features under the point with
each attribute's label and unit in the request's language and its value formatted as the catalog says.

The front asks the engine for the same request as GeoJSON (one layer at a time, so each answer belongs to one
layer) and writes the page here: the same for both engines, and no per-language templates in the mapfile. The
machine formats (GML, GeoJSON) keep the column names as property names, so programs reading them are unaffected;
their labels are in DescribeFeatureType's annotations and the catalog API.
"""

import html
import json

from django.utils.translation import gettext as _
from django.utils.translation import override

from layers import attribute_kinds
from layers.models import Layer

HTML_FORMATS = ("text/html",)
STYLE = ("body{font:13px sans-serif;margin:6px}table{border-collapse:collapse;margin-bottom:10px}"
         "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
         "th{background:#f3f3f3;font-weight:normal}td.n{text-align:right}caption{font-weight:bold;text-align:left}")


def wanted(params: dict[str, str]) -> bool:
    return (params.get("REQUEST", "").lower() == "getfeatureinfo"
            and params.get("INFO_FORMAT", "").split(";")[0].strip().lower() in HTML_FORMATS)


def _value(attribute: dict | None, value) -> tuple[str, bool]:
    """(the value as shown, whether it is a number, right-aligned)"""
    if value is None:
        return "", False
    if attribute is None or isinstance(value, str | bool):
        return str(value), False
    return attribute_kinds.format_number(attribute, value), True


def layer_table(layer: Layer, features: list[dict], english: bool) -> str:
    title = layer.title_en if english and layer.title_en else layer.title_zh
    if not features:
        return ""
    described = [attribute_kinds.described(a) for a in layer.attributes]
    rows = []
    for feature in features:
        properties = feature.get("properties") or {}
        cells = []
        for attribute in described:
            if attribute["name"] not in properties:
                continue
            shown, number = _value(attribute, properties[attribute["name"]])
            cells.append(f"<tr><th scope='row'>{html.escape(attribute_kinds.title_of(attribute, english))}</th>"
                         f"<td{' class=n' if number else ''}>{html.escape(shown)}</td></tr>")
        rows.append("".join(cells))
    tables = "".join(f"<table><caption>{html.escape(title)}</caption>{r}</table>" for r in rows)
    return tables


def page(parts: list[tuple[Layer, list[dict]]], lang: str) -> bytes:
    english = lang == "en"
    with override(lang):
        body = "".join(layer_table(layer, features, english) for layer, features in parts) or \
            f"<p>{html.escape(_('此處沒有圖徵。'))}</p>"
        title = _("圖徵資訊")
    return (f"<!DOCTYPE html><html lang='{'en' if english else 'zh-Hant'}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>").encode()


def features_of(body: bytes) -> list[dict]:
    """The features of an engine's GeoJSON answer (an empty list for an empty or unreadable one)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    return doc.get("features", []) if isinstance(doc, dict) else []
