"""Turning a Style's settings into drawable classes: one symbol, categories of a value, or graduated ranges.

Class breaks come from mapclassify (quantiles, equal interval, natural breaks = Fisher–Jenks, which is
deterministic, unlike k-means based breaks, and manual breaks); standard-deviation classes are 1 σ wide, the middle
one centred on the mean. The result is stored on the style, so the viewer, the SLD and the mapfile all draw from
the same classes. Errors are worded in the reader's language (geo.messages) and name the field at fault.
"""

import re
import warnings

import mapclassify
import numpy as np
from django.db import connection
from psycopg2 import sql

from geo.messages import Worded, by_language

from . import attribute_kinds
from .models import DATA_SCHEMA, Layer, Style

# ColorBrewer sequential ramps (5 classes are interpolated to any count) and a qualitative palette.
RAMPS = {
    "YlOrRd": ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    "Blues": ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
    "Greens": ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
    "Reds": ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"],
    "Purples": ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"],
    "RdYlGn": ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"],
    "Viridis": ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"],
}
QUALITATIVE = ["#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#b2df8a",
               "#fb9a99", "#fdbf6f", "#cab2d6", "#ffff99"]
OTHER_COLOR = "#bdbdbd"
NO_DATA_COLOR = "#f0f0f0"
LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
MAX_CATEGORIES = len(QUALITATIVE)
SAMPLE_ROWS = 200_000
CLASSIFIERS = {
    Style.Method.QUANTILES: mapclassify.Quantiles,
    Style.Method.EQUAL_INTERVAL: mapclassify.EqualInterval,
    Style.Method.NATURAL_BREAKS: mapclassify.FisherJenks,
}
METHODS = (*CLASSIFIERS, Style.Method.STANDARD_DEVIATION, Style.Method.MANUAL)
MAX_CLASSES = 12
# Fisher–Jenks is O(n²k) in pure Python (mapclassify without numba): 1,000 values take ~1 s here, so larger
# data is classified through 1,000 evenly spaced quantiles of it.
JENKS_MAX_VALUES = 1000
NUMERIC_TYPES = {"integer", "bigint", "smallint", "double precision", "real", "numeric"}


class StyleError(Worded, ValueError):
    """A style that cannot be drawn; `field` is the style setting at fault."""

    def __init__(self, field: str, message: str, **params):
        self.field = field
        super().__init__(message, **params)


def ramp_colors(ramp: str, count: int) -> list[str]:
    if ramp not in RAMPS:
        raise StyleError("ramp", "沒有色階 {ramp}；請使用 {choices} 其中之一", ramp=repr(ramp),
                         choices=", ".join(RAMPS))
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in RAMPS[ramp]], dtype=float)
    positions = np.linspace(0, len(stops) - 1, count)
    out = []
    for p in positions:
        lo = int(np.floor(p))
        hi = min(lo + 1, len(stops) - 1)
        rgb = stops[lo] + (stops[hi] - stops[lo]) * (p - lo)
        out.append("#" + "".join(f"{int(round(v)):02x}" for v in rgb))
    return out


def compute_classes(style: Style) -> list[dict]:
    layer = style.layer
    if style.kind != Style.Kind.SINGLE and layer.kind == Layer.Kind.RASTER:
        raise StyleError("kind", "網格圖層以數值色階著色；類別與屬性分級只適用於向量圖層")
    if style.kind == Style.Kind.SINGLE:
        return [{"label": layer.title_zh, "color": style.fill_color}]
    attr = attribute_of(layer, style.attribute, "attribute")
    if style.kind == Style.Kind.CATEGORIZED:
        return _categories(layer, style)
    if attr["type"] not in NUMERIC_TYPES:
        raise StyleError("attribute", "分級需要數值屬性；「{attribute}」是文字或其他型別（{type}）",
                         attribute=_label(attr), type=attr["type"])
    return _graduated(layer, style)


def attribute_of(layer: Layer, name: str, field: str) -> dict:
    """The layer's attribute `name`, or an error naming it and the attributes there are (by their labels)."""
    attr = next((a for a in layer.attributes if a["name"] == name), None)
    if attr is None:
        labels = [_label(a) for a in layer.attributes]
        raise StyleError(field, "圖層沒有屬性 {attribute}；可用的屬性：{names}", attribute=repr(name),
                         names=labels or "—")
    return attr


def _label(attribute: dict) -> dict:
    """An attribute as a reader knows it, in either language: its label and unit, then its column name."""
    described = attribute_kinds.described(attribute)
    return by_language(**{lang: f"{attribute_kinds.title_of(described, lang == 'en')} [{attribute['name']}]"
                          for lang in ("zh-hant", "en")})


def keep_edits(computed: list[dict], edited: list[dict], kind: str) -> list[dict]:
    """The computed classes with the colours and line widths an editor set on them: a category keeps its edit by
    value, a graduated class by position when the class count is unchanged (else the ramp's colours stand)."""
    if not edited:
        return computed
    if kind == Style.Kind.CATEGORIZED:
        by_key = {_class_key(c): c for c in edited}
        pairs = [(c, by_key.get(_class_key(c))) for c in computed]
    elif len(edited) == len(computed):
        pairs = list(zip(computed, edited, strict=True))
    else:
        return computed
    out = []
    for cls, edit in pairs:
        cls = dict(cls)
        if edit:
            cls.update({k: edit[k] for k in ("color", "width") if edit.get(k) not in (None, "")})
        out.append(cls)
    return out


def _class_key(cls: dict) -> tuple:
    """Which category a class is: a value, or the "other" or "no data" class."""
    return ("other" if cls.get("other") else "no_data" if cls.get("no_data") else "value", cls.get("value"))


def _categories(layer: Layer, style: Style) -> list[dict]:
    col = sql.Identifier(style.attribute)
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {c}::text, count(*) FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 "
                            "ORDER BY count(*) DESC, 1 LIMIT {n}").format(
            c=col, t=table, n=sql.Literal(MAX_CATEGORIES + 1)))
        rows = cur.fetchall()
    shown = sorted(rows[:MAX_CATEGORIES], key=_category_order(rows[:MAX_CATEGORIES]))
    classes = [{"value": value, "label": value, "color": QUALITATIVE[i], "count": n}
               for i, (value, n) in enumerate(shown)]
    classes += _no_data(layer, style)
    if len(rows) > MAX_CATEGORIES:
        classes.append({"value": None, "label": "其他 (other)", "color": OTHER_COLOR, "other": True})
    return classes


def _leading_number(text: str) -> float | None:
    match = LEADING_NUMBER.match(text or "")
    return float(match.group(1)) if match else None


def _category_order(rows):
    """Categories that are ranges or levels ('0.3–0.5 m', '1.0–2.0 m') in ascending order; others by how many
    features they have (the commonest first)."""
    if rows and all(_leading_number(value) is not None for value, _n in rows):
        return lambda row: (_leading_number(row[0]), row[0])
    return lambda row: (-row[1], row[0])


def _no_data(layer: Layer, style: Style) -> list[dict]:
    """A no-data class when some features have no value: they are drawn, and the legend says what they are."""
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {t} WHERE {c} IS NULL").format(
            c=sql.Identifier(style.attribute), t=sql.Identifier(DATA_SCHEMA, layer.table_name)))
        missing = cur.fetchone()[0]
    return [{"value": None, "label": "無資料 (no data)", "color": NO_DATA_COLOR, "no_data": True,
             "count": missing}] if missing else []


def _graduated(layer: Layer, style: Style) -> list[dict]:
    if style.method not in METHODS:
        raise StyleError("method", "分級需要分類方法：{choices}", choices=", ".join(METHODS))
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    sample = sql.SQL("TABLESAMPLE SYSTEM ({})").format(sql.Literal(
        min(100.0, 100.0 * SAMPLE_ROWS / layer.feature_count))) if layer.feature_count > SAMPLE_ROWS else sql.SQL("")
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {c}::float8 FROM {t} {s} WHERE {c} IS NOT NULL").format(
            c=sql.Identifier(style.attribute), t=table, s=sample))
        values = np.fromiter((v for (v,) in cur.fetchall()), dtype=float)
    attribute = attribute_kinds.described(next(a for a in layer.attributes if a["name"] == style.attribute))
    if len(values) < 2 or values.min() == values.max():
        raise StyleError("attribute", "屬性「{attribute}」的值少於兩種，無法分級；請改用單一符號",
                         attribute=_label(attribute))
    bins = breaks(values, style.method, style.class_count, style.manual_breaks)
    lows = np.concatenate([[values.min()], bins[:-1]])
    colors = ramp_colors(style.ramp, len(bins))
    shown = attribute_kinds.format_number
    return [{"min": float(lo), "max": float(hi), "label": f"{shown(attribute, lo)} – {shown(attribute, hi)}",
             "color": color}
            for lo, hi, color in zip(lows, bins, colors, strict=True)] + _no_data(layer, style)


def breaks(values: np.ndarray, method: str, count: int, manual: list[float] | None = None) -> np.ndarray:
    """The classes' upper bounds (ascending, the last one the maximum); a class takes (previous bound, bound],
    the first one also the minimum."""
    if method == Style.Method.MANUAL:
        if not manual:
            raise StyleError("manual_breaks", "自訂斷點至少需要一個數值")
        inner = [b for b in manual if values.min() <= b < values.max()]
        return np.array([*inner, float(values.max())])
    if method == Style.Method.STANDARD_DEVIATION:
        return standard_deviation_breaks(values, count)
    k = max(2, min(count, len(np.unique(values))))
    fit_on = values
    if method == Style.Method.NATURAL_BREAKS and len(values) > JENKS_MAX_VALUES:
        fit_on = np.quantile(values, np.linspace(0, 1, JENKS_MAX_VALUES))  # deterministic, unlike random sampling
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Numba not installed", UserWarning)
        return CLASSIFIERS[method](fit_on, k=k).bins


def standard_deviation_breaks(values: np.ndarray, count: int) -> np.ndarray:
    """Classes 1 σ (population standard deviation) wide, the middle class centred on the mean (an odd count) or
    bounded by it (an even one); bounds outside the data are dropped, so no class is empty by construction."""
    mean, sigma = float(values.mean()), float(values.std())
    inner = [mean + (i - (count - 2) / 2) * sigma for i in range(count - 1)]
    return np.array([*(b for b in inner if values.min() <= b < values.max()), float(values.max())])
