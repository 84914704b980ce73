"""A dashboard's document: its selectors and widgets, checked before it is saved, and cut down to what a viewer may
see before it is sent.

    {"selectors": [{"kind": "district"} | {"kind": "period"} | {"kind": "category", "title": …, "title_en": …,
                    "options": [indicator slugs]}],
     "widgets": [{"id": "w1", "type": "kpi" | "bar" | "line" | "table" | "map" | "list" | "text",
                  "indicator": slug, "indicators": [slugs] (table columns), "level": "town" | "area",
                  "title": …, "title_en": …, "width": 1–4 (of a 4-column grid; one column on a phone),
                  "limit": rows of a list, "category": true (follows the category selector),
                  "text": …, "text_en": … (a text widget),
                  "quantity": "pm25" (a sensor widget: the latest readings of the sensors the viewer may see),
                  "layer": "wifi-usage" (a Wi-Fi widget: the usage table's latest day),
                  "target": n, "max": n (a gauge: the indicator's figure against its target, the dial to max),
                  "source": {layer, agg, field, by, filter} (a kpi, bar, pie, table or list over a layer or a
                            statistical table instead of an indicator: dashboards.sources),
                  "quantity": "pm25" (a sensor_week widget: the daily means of the last 7 days),
                  "layer", "filter", "distance", "boundary", "population" (a coverage widget: the share of the
                            people — the boundary's population column — within `distance` m of the layer's
                            features, dashboards.live.coverage)}]}

A widget reads the indicator values API (/api/v1/stats/indicators/{slug}/values/) with the dashboard's filters;
charts, tables and the map are also filter sources (a district or village clicked filters every other widget).
"""

import math

from stats.indicators import unit_of
from stats.views import visible_indicators

from . import live, sources

TYPES = ("kpi", "bar", "line", "table", "map", "list", "text", "sensor", "wifi", "pie", "gauge", "sensor_week",
         "coverage")
LIVE = ("sensor", "wifi", "sensor_week", "coverage")  # live sources, not indicators: dashboards.live
LEVELS = ("town", "area")
SELECTORS = ("district", "period", "category")
MAX_WIDGETS = 24
TEXT_FIELDS = {"title": 200, "title_en": 200, "text": 2000, "text_en": 2000}


class SpecProblem(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _slugs(widget: dict) -> list[str]:
    found = [widget["indicator"]] if widget.get("indicator") else []
    return found + [s for s in widget.get("indicators", []) if s not in found]


def check(spec, user) -> dict:
    """The document as it will be kept: known types and levels, text cut to length, every indicator one the editor
    may see (an unknown and a hidden one are refused alike: the answer tells nothing of the hidden one)."""
    if not isinstance(spec, dict):
        raise SpecProblem("spec", "the dashboard must be a JSON object {selectors, widgets}")
    seen = set(visible_indicators(user).values_list("slug", flat=True))
    widgets, ids = [], set()
    raw_widgets = spec.get("widgets", [])
    if not isinstance(raw_widgets, list) or len(raw_widgets) > MAX_WIDGETS:
        raise SpecProblem("widgets", f"widgets must be a list of at most {MAX_WIDGETS}")
    for n, raw in enumerate(raw_widgets, 1):
        if not isinstance(raw, dict) or raw.get("type") not in TYPES:
            raise SpecProblem(f"widgets[{n}].type", f"widget {n}: type must be one of {', '.join(TYPES)}")
        widget = {"id": str(raw.get("id") or f"w{n}")[:20], "type": raw["type"]}
        if widget["id"] in ids:
            widget["id"] = f"w{n}"
        ids.add(widget["id"])
        for key, length in TEXT_FIELDS.items():
            if raw.get(key):
                widget[key] = str(raw[key])[:length]
        if raw.get("source") is not None and raw["type"] in sources.SOURCE_TYPES:
            try:
                widget["source"] = sources.check(raw["source"], user, f"widgets[{n}].source")
            except sources.SourceProblem as problem:
                raise SpecProblem(problem.field, f"widget {n}: {problem}") from None
        elif raw["type"] == "coverage":
            layer = sources.layer_of(user, str(raw.get("layer", "")))
            if layer is None or layer.kind != layer.Kind.VECTOR:
                raise SpecProblem(f"widgets[{n}].layer", f"widget {n}: no layer {str(raw.get('layer', ''))[:60]!r}")
            widget["layer"] = layer.slug
            widget["boundary"] = str(raw.get("boundary") or "villages")[:50]
            widget["population"] = str(raw.get("population") or "population")[:63]
            if live.coverage_layers(user, widget) is None:
                raise SpecProblem(f"widgets[{n}].population", f"widget {n}: no population column "
                                  f"{widget['population']!r} in the boundary layer {widget['boundary']!r}")
            try:
                widget["distance"] = min(5000.0, max(10.0, float(raw.get("distance", 500))))
                if raw.get("filter"):
                    widget["filter"] = sources.filters.parse(layer, raw["filter"], f"widgets[{n}].filter").as_json()
            except sources.BadRequest as exc:
                raise SpecProblem(f"widgets[{n}].filter", f"widget {n}: {exc}") from None
            except (TypeError, ValueError):
                raise SpecProblem(f"widgets[{n}].distance", f"widget {n}: distance must be metres") from None
        elif raw["type"] in ("sensor", "sensor_week"):
            widget["quantity"] = str(raw.get("quantity") or "pm25")
            if widget["quantity"] not in live.quantities():
                raise SpecProblem(f"widgets[{n}].quantity", f"widget {n}: no quantity {widget['quantity']!r}")
        elif raw["type"] == "wifi":
            widget["layer"] = str(raw.get("layer") or "wifi-usage")
            if live.usage_layer(user, widget["layer"]) is None:
                raise SpecProblem(f"widgets[{n}].layer", f"widget {n}: no Wi-Fi usage table {widget['layer']!r} "
                                  f"(a table with the columns {', '.join(live.WIFI_COLUMNS)})")
        elif raw["type"] != "text":
            if raw.get("indicator"):
                widget["indicator"] = str(raw["indicator"])
            if raw.get("indicators"):
                if not isinstance(raw["indicators"], list):
                    raise SpecProblem(f"widgets[{n}].indicators", f"widget {n}: indicators must be a list")
                widget["indicators"] = [str(s) for s in raw["indicators"]][:8]
            if not _slugs(widget):
                raise SpecProblem(f"widgets[{n}].indicator", f"widget {n}: choose an indicator")
            for slug in _slugs(widget):
                if slug not in seen:
                    raise SpecProblem(f"widgets[{n}].indicator", f"widget {n}: no indicator {slug!r}")
            level = raw.get("level", "town")
            if level not in LEVELS:
                raise SpecProblem(f"widgets[{n}].level", f"widget {n}: level must be town or area")
            widget["level"] = level
            if raw.get("category"):
                widget["category"] = True
        try:
            widget["width"] = min(4, max(1, int(raw.get("width", 1))))
            if raw.get("limit"):
                widget["limit"] = min(100, max(1, int(raw["limit"])))
        except (TypeError, ValueError):
            raise SpecProblem(f"widgets[{n}].width", f"widget {n}: width and limit are whole numbers") from None
        for key in ("target", "max"):
            if raw["type"] == "gauge" and raw.get(key) not in (None, ""):
                try:
                    widget[key] = float(raw[key])
                except (TypeError, ValueError):
                    raise SpecProblem(f"widgets[{n}].{key}", f"widget {n}: {key} must be a number") from None
                if not math.isfinite(widget[key]):
                    raise SpecProblem(f"widgets[{n}].{key}", f"widget {n}: {key} must be a number")
        widgets.append(widget)
    selectors = []
    for n, raw in enumerate(spec.get("selectors", []) or [], 1):
        kind = raw.get("kind") if isinstance(raw, dict) else raw
        if kind not in SELECTORS:
            raise SpecProblem(f"selectors[{n}]", f"selector {n}: kind must be one of {', '.join(SELECTORS)}")
        selector = {"kind": kind}
        if kind == "category":
            options = [str(s) for s in raw.get("options", [])][:12] if isinstance(raw, dict) else []
            for slug in options:
                if slug not in seen:
                    raise SpecProblem(f"selectors[{n}].options", f"selector {n}: no indicator {slug!r}")
            if not options:
                raise SpecProblem(f"selectors[{n}].options", f"selector {n}: a category selector needs indicators")
            selector["options"] = options
            for key in ("title", "title_en"):
                if raw.get(key):
                    selector[key] = str(raw[key])[:200]
        if all(s["kind"] != kind for s in selectors):
            selectors.append(selector)
    return {"selectors": selectors, "widgets": widgets}


def keep_hidden(new: dict, old: dict, user) -> dict:
    """An editor who may not see some of the widgets (another agency's tables) keeps them by saving: they were not
    sent, so they come back from the stored document, at the end."""
    hidden = for_viewer(old, user)["hidden"]
    widgets = [w for w in old.get("widgets", []) if w.get("id") in hidden]
    return {**new, "widgets": new["widgets"] + widgets}


def for_viewer(spec: dict, user, seen: dict | None = None) -> dict:
    """The document with only what `user` may see: widgets over an indicator they may not see are left out (not
    even their titles), as are such options of a category selector; `indicators` describes the rest (title, unit,
    periods), `hidden` lists the ids left out (kept on save, never sent)."""
    if seen is None:
        seen = {i.slug: i for i in visible_indicators(user)}
    widgets, hidden, used, described = [], [], set(), {}
    for widget in spec.get("widgets", []):
        slugs = _slugs(widget)
        if widget.get("source"):
            described[widget["id"]] = sources.describe(widget["source"], user)
        if any(s not in seen for s in slugs) or (
                widget.get("type") == "wifi" and live.usage_layer(user, widget.get("layer", "")) is None) or (
                widget.get("source") and described[widget["id"]] is None) or (
                widget.get("type") == "coverage" and live.coverage_layers(user, widget) is None):
            hidden.append(widget.get("id"))
            described.pop(widget.get("id"), None)
            continue
        widgets.append(widget)
        used.update(slugs)
    selectors = []
    for selector in spec.get("selectors", []):
        if selector.get("kind") == "category":
            options = [s for s in selector.get("options", []) if s in seen]
            if not options:
                continue
            selector = {**selector, "options": options}
            used.update(options)
        selectors.append(selector)
    return {"selectors": selectors, "widgets": widgets, "hidden": hidden, "sources": described,
            "indicators": {slug: describe(seen[slug]) for slug in sorted(used)}}


def describe(indicator) -> dict:
    unit, unit_en = unit_of(indicator)
    join = indicator.join
    return {"slug": indicator.slug, "title": indicator.title_zh, "title_en": indicator.title_en or indicator.title_zh,
            "unit": unit, "unit_en": unit_en or unit, "decimals": indicator.decimals, "formula": indicator.formula,
            "periods": list(join.table.periods), "boundary": join.boundary.slug,
            "boundary_column": join.boundary_column, "key": join.key}
