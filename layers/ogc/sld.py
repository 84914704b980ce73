"""A layer's Style rendered as an SLD 1.0 document (StyledLayerDescriptor 1.0.0).

One Rule per class of `Style.classes`, titled with the class label, so that GetLegendGraphic shows the same
classes as the viewer. `class_rules` is the engine-neutral reading of the classes (which features a class takes);
the SLD here and a MapServer mapfile can both be built from it.
"""

from dataclasses import dataclass

from lxml import etree

from layers import attribute_kinds

SLD_NS = "http://www.opengis.net/sld"
OGC_NS = "http://www.opengis.net/ogc"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SLD_SCHEMA = "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd"
NSMAP = {None: SLD_NS, "ogc": OGC_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
# SLD 1.0's well-known marks; it has no pin mark, so a marker is a triangle there
WELL_KNOWN_MARKS = {"circle": "circle", "square": "square", "triangle": "triangle", "star": "star",
                    "marker": "triangle"}
DASH_ARRAYS = {"dashed": "6 4", "dotted": "1 3"}  # in pixels, per unit of line width as MapServer's PATTERN


@dataclass(frozen=True)
class ClassRule:
    """Which features one class takes: all of them, attribute == value, min < attribute <= max (mapclassify's
    classes take their upper break; the first also takes the minimum), or whatever no other class took ("else")."""

    label: str
    color: str
    test: str  # "all" | "equals" | "range" | "null" | "else"
    attribute: str = ""
    value: str = ""
    low: float = 0.0
    high: float = 0.0
    low_inclusive: bool = False
    width: float | None = None  # a line width set on this class (else the style's)


def class_rules(style, english: bool = False) -> list[ClassRule]:
    """The classes in drawing order; a range's label ends with the attribute's unit (English with `english`)."""
    classes = style.classes or [{"label": style.layer.title_zh, "color": style.fill_color}]
    unit = _unit(style, english)
    rules = []
    for i, cls in enumerate(classes):
        label = str(cls.get("label", ""))
        if unit and "max" in cls:
            label = f"{label} {unit}"  # a legend says what its numbers are
        common = {"label": label, "color": cls.get("color") or style.fill_color, "width": cls.get("width")}
        if cls.get("other"):
            rules.append(ClassRule(test="else", **common))
        elif cls.get("no_data"):
            rules.append(ClassRule(test="null", attribute=style.attribute, **common))
        elif "min" in cls and "max" in cls:
            rules.append(ClassRule(test="range", attribute=style.attribute, low=float(cls["min"]),
                                   high=float(cls["max"]), low_inclusive=i == 0, **common))
        elif "value" in cls and style.attribute:
            rules.append(ClassRule(test="equals", attribute=style.attribute, value=str(cls["value"]), **common))
        else:
            rules.append(ClassRule(test="all", **common))
    return rules


def _unit(style, english: bool = False) -> str:
    attribute = next((a for a in style.layer.attributes if a.get("name") == style.attribute), None)
    return "" if attribute is None else attribute_kinds.described(attribute).get("unit_en" if english else "unit", "")


def classes_heading(layer, style, english: bool = False) -> str:
    """What a legend's classes are of, in one language: '人口密度（人/平方公里） · 分位數' / 'Population density
    (people/km²) · quantiles' (nothing for a single symbol). The method is named in the active language."""
    if style is None or style.kind == "single" or not style.attribute:
        return ""
    attribute = next((a for a in layer.attributes if a.get("name") == style.attribute), None)
    text = attribute_kinds.title_of(attribute_kinds.described(attribute), english) if attribute else style.attribute
    return f"{text} · {style.get_method_display()}" if style.kind == "graduated" and style.method else text


def legend_title(layer, style) -> str:
    """The layer's title and, for classes of an attribute, the attribute's label, unit and classification method:
    '村里界與人口：人口密度（人/平方公里），分位數'."""
    attribute = next((a for a in layer.attributes if a.get("name") == getattr(style, "attribute", "")), None)
    if attribute is None or style.kind == "single":
        return layer.title_zh
    title = f"{layer.title_zh}：{attribute_kinds.title_of(attribute_kinds.described(attribute))}"
    if style.kind == "graduated" and style.method:
        title += f"，{style.get_method_display()}"
    return title


def render_sld(layer, style=None) -> bytes:
    """The SLD 1.0 document for `layer` drawn with `style` (default: the layer's own style)."""
    style = style if style is not None else layer.style
    root = etree.Element(_sld("StyledLayerDescriptor"), nsmap=NSMAP, version="1.0.0")
    root.set(f"{{{XSI_NS}}}schemaLocation", SLD_SCHEMA)
    named = _sub(root, "NamedLayer")
    _sub(named, "Name", layer.slug)
    user = _sub(named, "UserStyle")
    _sub(user, "Name", layer.slug)
    _sub(user, "Title", legend_title(layer, style) if layer.kind != "raster" else layer.title_zh)
    fts = _sub(user, "FeatureTypeStyle")
    if layer.kind == "raster":
        # one rule: several RasterSymbolizers would paint the raster several times; the ColorMap entries carry
        # the classes into the legend
        el = _sub(fts, "Rule")
        _sub(el, "Title", layer.title_zh)
        _raster_symbolizer(el, style)
        return _serialize(root)
    layer_scales = (style.min_scale, style.max_scale)
    label_scales = (style.label_min_scale or style.min_scale, style.label_max_scale or style.max_scale)
    labels_apart = style.label_attribute and label_scales != layer_scales
    for rule in class_rules(style):
        el = _sub(fts, "Rule")
        _sub(el, "Title", rule.label)
        _filter(el, rule)
        _scale_range(el, *layer_scales)
        _geometry_symbolizer(el, layer.geometry_type, rule.color, style, rule.width)
        if style.label_attribute and not labels_apart:
            _text_symbolizer(el, style)
    if labels_apart:  # SLD 1.0 gives a scale range per rule: labels drawn at other scales are a rule of their own
        el = _sub(fts, "Rule")
        _sub(el, "Title", style.label_attribute)
        _scale_range(el, *label_scales)
        _text_symbolizer(el, style)
    return _serialize(root)


def _scale_range(rule_el, low, high):
    if low:
        _sub(rule_el, "MinScaleDenominator", str(low))
    if high:
        _sub(rule_el, "MaxScaleDenominator", str(high))


def _serialize(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sld(tag: str) -> str:
    return f"{{{SLD_NS}}}{tag}"


def _ogc(tag: str) -> str:
    return f"{{{OGC_NS}}}{tag}"


def _sub(parent, tag: str, text: str | None = None, ns=_sld, **attrs):
    el = etree.SubElement(parent, ns(tag), **attrs)
    if text is not None:
        el.text = text
    return el


def _css(parent, tag: str, params: dict):
    el = _sub(parent, tag)
    for name, value in params.items():
        _sub(el, "CssParameter", _num(value) if isinstance(value, float) else value, name=name)
    return el


def _num(value: float) -> str:
    return repr(float(value)).removesuffix(".0")


def _comparison(parent, op: str, attribute: str, literal: str):
    cmp = _sub(parent, op, ns=_ogc)
    _sub(cmp, "PropertyName", attribute, ns=_ogc)
    _sub(cmp, "Literal", literal, ns=_ogc)


def _filter(rule_el, rule: ClassRule):
    if rule.test == "else":
        _sub(rule_el, "ElseFilter")
    elif rule.test == "equals":
        _comparison(_sub(rule_el, "Filter", ns=_ogc), "PropertyIsEqualTo", rule.attribute, rule.value)
    elif rule.test == "null":
        _sub(_sub(_sub(rule_el, "Filter", ns=_ogc), "PropertyIsNull", ns=_ogc), "PropertyName", rule.attribute,
             ns=_ogc)
    elif rule.test == "range":
        both = _sub(_sub(rule_el, "Filter", ns=_ogc), "And", ns=_ogc)
        lower = "PropertyIsGreaterThanOrEqualTo" if rule.low_inclusive else "PropertyIsGreaterThan"
        _comparison(both, lower, rule.attribute, _num(rule.low))
        _comparison(both, "PropertyIsLessThanOrEqualTo", rule.attribute, _num(rule.high))


def _geometry_symbolizer(rule_el, geometry_type: str, color: str, style, width: float | None = None):
    kind = (geometry_type or "").lower()
    if "point" in kind:
        graphic = _sub(_sub(rule_el, "PointSymbolizer"), "Graphic")
        mark = _sub(graphic, "Mark")
        _sub(mark, "WellKnownName", WELL_KNOWN_MARKS.get(style.point_symbol, "circle"))
        _css(mark, "Fill", {"fill": color, "fill-opacity": float(style.opacity)})
        _css(mark, "Stroke", {"stroke": style.stroke_color, "stroke-width": float(style.stroke_width)})
        _sub(graphic, "Size", _num(style.point_size))
    elif "line" in kind:
        line = _sub(rule_el, "LineSymbolizer")
        stroke = {"stroke": color, "stroke-width": float(width or style.stroke_width),
                  "stroke-opacity": float(style.opacity)}
        if style.line_dash in DASH_ARRAYS:
            stroke["stroke-dasharray"] = DASH_ARRAYS[style.line_dash]
        _css(line, "Stroke", stroke)
    else:  # polygons, and mixed "Geometry" columns
        poly = _sub(rule_el, "PolygonSymbolizer")
        _css(poly, "Fill", {"fill": color, "fill-opacity": float(style.opacity)})
        stroke = {"stroke": style.stroke_color, "stroke-width": float(width or style.stroke_width)}
        if style.line_dash in DASH_ARRAYS:
            stroke["stroke-dasharray"] = DASH_ARRAYS[style.line_dash]
        _css(poly, "Stroke", stroke)


def _text_symbolizer(rule_el, style):
    text = _sub(rule_el, "TextSymbolizer")
    _sub(_sub(text, "Label"), "PropertyName", style.label_attribute, ns=_ogc)
    _css(text, "Font", {"font-size": float(style.label_size)})
    halo = _sub(text, "Halo")
    _sub(halo, "Radius", _num(style.label_halo_width))
    _css(halo, "Fill", {"fill": style.label_halo_color})
    _css(text, "Fill", {"fill": style.label_color})


def _raster_symbolizer(rule_el, style):
    raster = _sub(rule_el, "RasterSymbolizer")
    _sub(raster, "Opacity", _num(style.opacity))
    ranged = [c for c in style.classes if "max" in c]
    if not ranged:  # a single-symbol raster keeps its own colours
        return
    # SLD 1.0's ColorMap is a ramp through its entries: one entry per class at the class's upper bound, labelled
    # like the class, gives the legend the viewer's classes.
    color_map = _sub(raster, "ColorMap")
    for cls in ranged:
        _sub(color_map, "ColorMapEntry", color=cls["color"], quantity=_num(cls["max"]), label=str(cls["label"]))
