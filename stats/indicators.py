"""Indicators: a formula over a joined statistical table, computed for every area of a level (the table's own
areas, their towns, their counties) in one SQL query.

Aggregation follows the columns' kinds (layers.attribute_kinds): counts add up; a derived figure of a larger area
is computed from the sums of its parts (people ÷ km² of the district, not the mean of its villages' densities —
a weighted mean, the only correct one); a column of ratios (aggregate "mean") is averaged and said to be.
"""

from datetime import date

from django.db import connection
from psycopg2 import sql

from layers import attribute_kinds
from layers.models import DATA_SCHEMA

from .joins import is_stale
from .models import Indicator, JoinMatch, StatJoin

LEVELS = ("area", "town", "county")
SUMMED = {"density", "share", "ratio", "per_1000", "change", "change_pct"}  # formulas that need summable columns
NEEDS_DENOMINATOR = {"share", "ratio", "per_1000"}
DEFAULT_UNITS = {"density": "per_km2", "share": "percent", "change_pct": "percent", "per_1000": "per_1000"}
UNIT_WORDS = {**attribute_kinds.UNITS, "per_1000": ("‰（每千）", "per 1,000")}


class IndicatorProblem(ValueError):
    """A formula that cannot be computed from these columns: the message names the field (a 400)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def attribute(join: StatJoin, name: str) -> dict | None:
    for attr in join.table.layer.attributes:
        if attr["name"] == name:
            return attribute_kinds.described(attr)
    return None


def check(indicator: Indicator) -> None:
    """Raise IndicatorProblem when the formula does not fit the table (before anything is saved)."""
    join, formula = indicator.join, indicator.formula
    num = attribute(join, indicator.numerator)
    if num is None or num["type"] not in attribute_kinds.NUMERIC_TYPES:
        raise IndicatorProblem("numerator", f"{indicator.numerator!r} is not a numeric column of the table")
    if formula in NEEDS_DENOMINATOR:
        den = attribute(join, indicator.denominator)
        if den is None or den["type"] not in attribute_kinds.NUMERIC_TYPES:
            raise IndicatorProblem("denominator", f"{formula} needs a numeric denominator column; "
                                                  f"{indicator.denominator!r} is not one")
        if den["aggregate"] != "sum":
            raise IndicatorProblem("denominator", f"{den['name']!r} is a {den['kind']} and cannot be summed over "
                                                  f"areas")
    if formula in SUMMED and num["aggregate"] != "sum":
        raise IndicatorProblem("numerator", f"{num['name']!r} is a {num['kind']} (aggregate {num['aggregate']}): "
                                            f"a {formula} needs a column that adds up (counts, areas, money)")
    if formula == "value" and num["aggregate"] == "none":
        raise IndicatorProblem("numerator", f"{num['name']!r} does not aggregate (kind {num['kind']})")
    if formula == "density" and not JoinMatch.objects.filter(join=join, area_km2__isnull=False).exists():
        raise IndicatorProblem("formula", f"density needs areas: the boundary layer {join.boundary.slug!r} has no "
                                          f"polygons")
    periods = join.table.periods
    if formula in ("change", "change_pct"):
        if not indicator.base_period:
            raise IndicatorProblem("base_period", "a change needs the earlier period (base_period)")
        for field in ("base_period", "period"):
            when = getattr(indicator, field)
            if when and when.isoformat() not in periods:
                raise IndicatorProblem(field, f"the table has no rows for {when.isoformat()} (it has "
                                              f"{', '.join(periods) or 'no periods'})")


def unit_of(indicator: Indicator) -> tuple[str, str]:
    key = indicator.unit or DEFAULT_UNITS.get(indicator.formula, "")
    if key and key in UNIT_WORDS:  # "" is a unit word too (none): a value keeps its column's unit
        return UNIT_WORDS[key]
    if indicator.formula in ("value", "change"):
        num = attribute(indicator.join, indicator.numerator) or {}
        return num.get("unit", ""), num.get("unit_en", "")
    return key, key


def formula_text(indicator: Indicator, english: bool = False) -> str:
    def title(name):
        attr = attribute(indicator.join, name) or {"name": name}
        return attribute_kinds.title_of(attr, english)

    num = title(indicator.numerator)
    den = title(indicator.denominator) if indicator.denominator else ""
    area = "area (km²)" if english else "面積（平方公里）"
    base = indicator.base_period.isoformat() if indicator.base_period else ""
    return {
        "value": num,
        "density": f"{num} ÷ {area}",
        "share": f"{num} ÷ {den} × 100",
        "ratio": f"{num} ÷ {den}",
        "per_1000": f"{num} ÷ {den} × 1,000",
        "change": f"{num} − {num} ({base})",
        "change_pct": f"({num} − {num} ({base})) ÷ {num} ({base}) × 100",
    }[indicator.formula]


def latest_period(indicator: Indicator) -> date | None:
    periods = indicator.join.table.periods
    return date.fromisoformat(periods[-1]) if periods else None


def values(indicator: Indicator, level: str = "area", period: date | None = None, county: str = "",
           town: str = "", areas: list[str] | None = None) -> dict:
    """The indicator for every area of `level` (filtered to a county, a town, or a list of area keys), the total
    over all of them, and what the join could not place."""
    join = indicator.join
    period = period or indicator.period or latest_period(indicator)
    base = indicator.base_period
    num = sql.Identifier(indicator.numerator)
    den = sql.Identifier(indicator.denominator) if indicator.denominator else None
    num_attr = attribute(join, indicator.numerator)
    mean = indicator.formula == "value" and num_attr["aggregate"] == "mean"
    now = sql.SQL("s.period IS NOT DISTINCT FROM %(period)s")
    then = sql.SQL("s.period IS NOT DISTINCT FROM %(base)s")
    pieces = [
        # float8: numeric sums would come back as Decimals, slow to make by the thousand
        sql.SQL("({}(s.{}) FILTER (WHERE {}))::float8").format(sql.SQL("avg" if mean else "sum"), num, now),
        sql.SQL("(sum(s.{}) FILTER (WHERE {}))::float8").format(den, now) if den else sql.SQL("NULL"),
        sql.SQL("(sum(s.{}) FILTER (WHERE {}))::float8").format(num, then) if base else sql.SQL("NULL"),
        sql.SQL("sum(m.area_km2) FILTER (WHERE {})").format(now),
        sql.SQL("count(*) FILTER (WHERE {})").format(now),
    ]
    group = {
        # the area's own key and name, its polygon, and (for a dashboard's filters) the town it lies in
        "area": (sql.SQL("m.area_key"),
                 sql.SQL("max(concat_ws(' ', s.county_name, s.town_name, s.village_name))"),
                 sql.SQL("min(m.boundary_fid), max(m.town_key), max(concat_ws(' ', nullif(m.county_name, ''), "
                         "m.town_name))")),
        "town": (sql.SQL("m.town_key"), sql.SQL("max(concat_ws(' ', nullif(m.county_name, ''), m.town_name))"),
                 sql.SQL("NULL::int, NULL, NULL")),
        "county": (sql.SQL("m.county_key"), sql.SQL("max(m.county_name)"), sql.SQL("NULL::int, NULL, NULL")),
    }[level]
    where = [sql.SQL("m.join_id = %(join)s")]
    params = {"join": join.pk, "period": period, "base": base}
    if county:
        where.append(sql.SQL("(m.county_key = %(county)s OR m.county_name = %(county)s)"))
        params["county"] = county
    if town:
        where.append(sql.SQL("(m.town_key = %(town)s OR m.town_name = %(town)s)"))
        params["town"] = town
    if areas:
        where.append(sql.SQL("{} = ANY(%(areas)s)").format(group[0]))
        params["areas"] = list(areas)
    # a polygon's area is on one of its rows per period (stats.joins): summed, it counts once
    source = sql.SQL("{} m JOIN {} s ON s.fid = m.row_fid").format(
        sql.Identifier(JoinMatch._meta.db_table), sql.Identifier(DATA_SCHEMA, join.table.layer.table_name))
    condition = sql.SQL(" AND ").join(where)
    # sorted here, not by the database: its collation of 7,000 text keys costs more than Python's sort
    by_area = sql.SQL("SELECT {key}, {name}, {fid}, {pieces} FROM {source} WHERE {where} GROUP BY 1").format(
        key=group[0], name=group[1], fid=group[2], pieces=sql.SQL(", ").join(pieces), source=source, where=condition)
    total = sql.SQL("SELECT {pieces} FROM {source} WHERE {where}").format(
        pieces=sql.SQL(", ").join(pieces), source=source, where=condition)
    with connection.cursor() as cur:
        cur.execute(by_area, params)
        rows = sorted(cur.fetchall(), key=lambda r: r[0] or "")
        if mean:  # a mean of means is not the mean: ask the database
            cur.execute(total, params)
            overall = cur.fetchone()
        else:  # sums of the groups' sums: the same figures without a second pass
            overall = tuple(_sum(r[5 + i] for r in rows) for i in range(len(pieces)))
    decimals = indicator.decimals
    out = [{"key": key, "name": name, "boundary_fid": fid, **({"town_key": town_key, "town_name": town_name}
                                                              if level == "area" else {}),
            **_figures(indicator, pieces_, decimals)}
           for key, name, fid, town_key, town_name, *pieces_ in rows if pieces_[4]]
    unit, unit_en = unit_of(indicator)
    unmatched = {name: join.unmatched_totals[name] for name in (indicator.numerator, indicator.denominator)
                 if name and name in join.unmatched_totals}
    numbers = [v["value"] for v in out if v["value"] is not None]
    return {
        "indicator": {"slug": indicator.slug, "title": indicator.title_zh, "title_en": indicator.title_en,
                      "formula": indicator.formula, "formula_text": formula_text(indicator),
                      "formula_text_en": formula_text(indicator, english=True), "unit": unit, "unit_en": unit_en,
                      "decimals": decimals, "aggregation": "mean" if mean else "sum"},
        "level": level, "period": period.isoformat() if period else None,
        "base_period": base.isoformat() if base else None,
        "boundary": {"slug": join.boundary.slug, "version": join.boundary_version_number, "key": join.key},
        "stale": is_stale(join),
        "values": out,
        "total": _figures(indicator, overall, decimals),
        "range": [min(numbers), max(numbers)] if numbers else None,
        "unmatched": {"rows": join.unmatched_rows, "totals": unmatched},
    }


def _sum(values):
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _figures(indicator: Indicator, pieces: tuple, decimals: int) -> dict:
    n, d, b, area, rows = pieces  # floats from the query (float8), the count an int
    f = indicator.formula
    value = None
    if f == "value":
        value = n
    elif f == "density":
        value = n / area if n is not None and area else None
    elif f in ("share", "ratio", "per_1000"):
        scale = {"share": 100, "ratio": 1, "per_1000": 1000}[f]
        value = n * scale / d if n is not None and d else None
    elif f == "change":
        value = n - b if n is not None and b is not None else None
    elif f == "change_pct":
        value = (n - b) * 100 / b if n is not None and b else None
    return {"value": None if value is None else round(value, decimals), "numerator": n, "denominator": d,
            "base": b, "area_km2": None if area is None else round(area, 4), "rows": rows or 0}
