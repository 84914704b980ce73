"""Every figure a dashboard's widgets need for one filter state, in one request (/api/v1/dashboards/<slug>/values/).

The page used to ask the indicator values API once per widget and figure (7 requests for a district clicked on an
8-widget dashboard); the per-request cost (middleware, visibility, DRF) was most of the time. Here the queries are
the same ones the page would make — worked out from the stored document and the filter, widget by widget, as
dashboard.js does — answered by the same code (stats.indicators.values) after one visibility check: a widget over an
indicator the viewer may not see is not in the document they get (dashboards.spec.for_viewer), so it asks nothing.

Each answer is keyed `slug~level~period~town~areas` (period as asked, '' for the indicator's own; the page builds the
same key); `have` lists keys the page already holds (the bars over every district, the map's every village, which
no district filter changes), not answered again. The live widgets (dashboards.live) are answered every time, keyed
`sensor~<quantity>` and `wifi~<layer>`.
"""

from datetime import date

from stats import indicators
from stats.views import visible_indicators

from . import live, sources
from . import spec as specs


def key(slug: str, level: str, period: str = "", town: str = "", areas: str = "") -> str:
    return "~".join((slug, level, period or "", town or "", areas or ""))


class Filter:
    def __init__(self, town: str = "", area: str = "", period: str = "", category: str = "", pick: str = ""):
        self.town, self.area, self.period, self.category = town, area, period, category
        self.pick = pick  # "layer|field|value": a value of a source widget's grouping clicked

    def picked(self) -> dict | None:
        parts = self.pick.split("|", 2)
        return {"layer": parts[0], "field": parts[1], "value": parts[2]} if len(parts) == 3 else None

    def scope(self) -> tuple[str, str]:
        """(level, areas) of a single figure: the village chosen, else the district, else the whole city."""
        if self.area:
            return "area", self.area
        if self.town:
            return "town", self.town
        return "county", ""


def queries(spec: dict, described: dict, chosen: Filter) -> list[tuple]:
    """(slug, level, period, town, areas, kpi?) for every figure of the viewer's widgets, as dashboard.js asks them.
    A KPI's previous period needs its own answer first: marked, the caller adds it."""
    options = next((s.get("options", []) for s in spec["selectors"] if s["kind"] == "category"), [])

    def indicator_of(w):
        if w.get("category") and chosen.category and chosen.category in options:
            return chosen.category
        return w.get("indicator") or (w.get("indicators") or [None])[0]

    def period(slug, asked=""):
        return asked or (chosen.period if chosen.period in described[slug]["periods"] else "")

    out = []
    level, areas = chosen.scope()
    first = next((indicator_of(w) for w in spec["widgets"] if indicator_of(w)), None)
    if first and any(s["kind"] == "district" for s in spec["selectors"]):
        out.append((first, "town", period(first), "", "", False))
    for w in spec["widgets"]:
        if w["type"] in ("sensor", "wifi", "text", "sensor_week", "coverage") or w.get("source"):
            continue
        slug = indicator_of(w)
        wl = w.get("level", "town")
        town = chosen.town if wl == "area" else ""
        if w["type"] in ("kpi", "gauge"):
            out.append((slug, level, period(slug), "", areas, w["type"] == "kpi"))
        elif w["type"] in ("bar", "list", "pie"):
            out.append((slug, wl, period(slug), town, "", False))
        elif w["type"] == "table":
            for s in w.get("indicators") or [slug]:
                out.append((s, wl, period(s), town, "", False))
        elif w["type"] == "map":
            out.append((slug, "area", period(slug), "", "", False))
        elif w["type"] == "line":
            out.extend((slug, level, p, "", areas, False) for p in described[slug]["periods"])
    return out


def answer(spec: dict, user, chosen: Filter, have: set[str]) -> dict:
    seen = {i.slug: i for i in visible_indicators(user)}
    shown = specs.for_viewer(spec, user, seen)
    out: dict[str, dict | None] = {}

    def ask(slug, level, period, town, areas):
        k = key(slug, level, period, town, areas)
        if k not in have and k not in out:
            when = date.fromisoformat(period) if period else None
            out[k] = indicators.values(seen[slug], level, when, town=town, areas=[areas] if areas else None)
        return out.get(k)

    for slug, level, period, town, areas, kpi in queries(shown, shown["indicators"], Filter(**vars(chosen))):
        now = ask(slug, level, period, town, areas)
        periods = shown["indicators"][slug]["periods"]
        if kpi and now and now["period"] in periods and seen[slug].formula not in ("change", "change_pct"):
            at = periods.index(now["period"])
            if at > 0:
                ask(slug, level, periods[at - 1], town, areas)
    areas = None
    if any(w.get("source") or w["type"] == "coverage" for w in shown["widgets"]):
        areas = sources.area_join(shown["indicators"], user)
    for w in shown["widgets"]:  # live sources and layers: read at every refresh, never held (have=)
        if w.get("source"):
            out[live_key(w)] = sources.aggregate(w["source"], user, areas, chosen.town, chosen.area, chosen.picked())
        elif live_key(w) in out:
            continue
        elif w["type"] == "sensor":
            out[live_key(w)] = live.sensor(user, w["quantity"])
        elif w["type"] == "sensor_week":
            out[live_key(w)] = live.sensor_week(user, w["quantity"])
        elif w["type"] == "wifi":
            out[live_key(w)] = live.wifi(user, w["layer"])
        elif w["type"] == "coverage":
            out[live_key(w)] = live.coverage(user, w, areas, chosen.town)
    return {"answers": out}


def live_key(widget: dict) -> str:
    """How a live or layer widget's answer is keyed: `sensor~pm25`, `sensor_week~pm25`, `wifi~<layer>`,
    `src~<widget id>`, `coverage~<widget id>` (a layer widget's figures depend on its own settings)."""
    if widget.get("source"):
        return f"src~{widget['id']}"
    if widget["type"] == "coverage":
        return f"coverage~{widget['id']}"
    return f"{widget['type']}~{widget.get('quantity') or widget.get('layer')}"
