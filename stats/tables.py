"""From a grid as read to a statistical table's typed columns: which column holds the area's code (or names) and
the period, numbers read as numbers, ROC periods as dates; every bad value named by file, row and column.

Standard columns are added in front of the file's own (which stay as they came): `area_code`, `county_name`,
`town_name`, `village_name` and `period`, so joins and indicators read every table the same way.
"""

import re
from dataclasses import dataclass, field

from geo.messages import text as note
from layers.importing.errors import ImportProblem, row_list
from layers.naming import column_names

from . import parsing
from .readers import Grid

STANDARD = ("area_code", "county_name", "town_name", "village_name", "period")
# what a code of each kind looks like, and the level its rows are at
CODE_FORMS = {
    "villcode": (re.compile(r"\d{11}"), "village", "11 位數字（縣市 5 + 鄉鎮市區 3 + 村里 3）"),
    "towncode": (re.compile(r"\d{8}"), "town", "8 位數字（縣市 5 + 鄉鎮市區 3）"),
    "countycode": (re.compile(r"\d{5}|[A-Z]"), "county", "5 位數字"),
    "codebase": (re.compile(r"A\d{4}-\d{4}-\d{2}"), "codebase", "最小統計區代碼，例如 A6801-0066-00"),
    "code1": (re.compile(r"A\d{4}-\d{2}-\d{3}|A\d{4}-\d{4}"), "code1", "一級發布區代碼，例如 A6801-01-001"),
    "code2": (re.compile(r"A\d{4}-\d{2}"), "code2", "二級發布區代碼，例如 A6802-82"),
}
KEY_ORDER = ("villcode", "codebase", "code1", "code2", "towncode", "countycode")
DIGIT_LEVELS = {11: "villcode", 8: "towncode", 5: "countycode"}
NUMERIC_SHARE = 0.8  # a column this share of whose values are numbers is a numeric column: the rest are errors


@dataclass
class Table:
    """Typed columns ready to load, and what the statistics need to know about them."""

    columns: dict[str, tuple[str, list]]  # name → (PostgreSQL type, values)
    labels: dict[str, str]  # name → original header (or its Chinese caption)
    level: str
    key: str
    periods: list[str]
    messages: list[dict] = field(default_factory=list)

    def __len__(self):
        return len(next(iter(self.columns.values()))[1])


def build(grid: Grid, code_column: str = "", level: str = "", period: str = "") -> Table:
    """`code_column` names the column of area codes when the file's own name for it is not a known one (e.g. the
    2013 census' `ivid`: joined through a crosswalk), at `level`; `period` is the rows' period when the file has
    no period column."""
    name = grid.name
    if period:
        grid.meta["period"] = period
    header, rows = grid.header, grid.rows
    captions = (grid.captions + [""] * len(header))[:len(header)]
    standards = {}
    for i, (h, c) in enumerate(zip(header, captions, strict=True)):
        standard = parsing.standard_of(h, c)
        if standard and standard not in standards:
            standards[standard] = i
    if code_column:
        if code_column not in header:
            raise ImportProblem("沒有欄位 {column}；欄位名稱為 {header}", column=repr(code_column),
                                header=", ".join(header[:15]), file=name, field=code_column)
        standards["code"] = header.index(code_column)
        key, level = "code", level or "village"
    else:
        key, level = _key(grid, standards)
    lines = [n for n, _r in rows]
    messages = list(grid.messages)

    codes = [None] * len(rows)
    if key != "name":
        col = standards[key]
        codes = [parsing.code(r[col]) or None for _n, r in rows]
        pattern, _lvl, wanted = CODE_FORMS.get(key, (re.compile(r".+"), level, "代碼"))
        bad = [n for n, c in zip(lines, codes, strict=True) if c is None or not pattern.fullmatch(c)]
        if bad:
            first = codes[lines.index(bad[0])]
            raise ImportProblem("欄位 {column} 的 {value} 不是{key}代碼：應為 {wanted}（{which}）", column=header[col],
                                value=repr(first or ""), key=key.upper(), wanted=note(wanted), which=row_list(bad),
                                file=name, rows=bad[:50], field=header[col])
    county, town, village = _names(rows, standards)
    if key == "name" and not any(village) and level == "village":
        raise ImportProblem("找不到地區代碼或村里名稱欄位（例如 VILLCODE、district_code、區域別代碼、村里名稱）",
                            file=name)

    periods = _periods(grid, rows, standards, lines)
    seen: dict[tuple, int] = {}
    for n, c, co, to, vi, p in zip(lines, codes, county, town, village, periods, strict=True):
        ident = (c, p) if c else (co, to, vi, p)
        if ident in seen:
            raise ImportProblem("第 {first} 行與第 {line} 行是同一地區同一期（{area}）；一區一期只能有一列",
                                first=seen[ident], line=n, area=" ".join(str(v) for v in ident if v),
                                file=name, rows=[seen[ident], n])
        seen[ident] = n

    names = column_names([*STANDARD, *header])
    std_names, own_names = names[:len(STANDARD)], names[len(STANDARD):]
    columns = {std_names[0]: ("text", codes), std_names[1]: ("text", county), std_names[2]: ("text", town),
               std_names[3]: ("text", village), std_names[4]: ("date", periods)}
    labels = dict(zip(std_names, ("地區代碼", "縣市", "鄉鎮市區", "村里", "統計期"), strict=True))
    code_columns = {i for s, i in standards.items() if s in (*parsing.CODE_STANDARDS, "code")}
    for i, (column, original) in enumerate(zip(own_names, header, strict=True)):
        values = [r[i] for _n, r in rows]
        pgtype, typed = _typed(values, lines, original, name, is_code=i in code_columns or i == standards.get("period"))
        columns[column] = (pgtype, typed)
        labels[column] = captions[i] or original
    if not any(t in ("double precision", "bigint") for t, _v in list(columns.values())[len(STANDARD):]):
        messages.append(note("表中沒有數值欄位；指標需要數值"))
    distinct = sorted({p.isoformat() for p in periods if p})
    return Table(columns, labels, level, key, distinct, messages)


def _key(grid: Grid, standards: dict) -> tuple[str, str]:
    """The code the rows are keyed by and their level; a VILLCODE-named column of 8 digits is a town code."""
    for key in KEY_ORDER:
        if key in standards:
            if key in ("villcode", "towncode", "countycode"):
                lengths = {len(parsing.code(r[standards[key]])) for _n, r in grid.rows[:200]} - {0}
                if len(lengths) == 1 and (n := lengths.pop()) in DIGIT_LEVELS:
                    key = DIGIT_LEVELS[n]
            return key, CODE_FORMS[key][1]
    if "village" in standards:
        return "name", "village"
    if "town" in standards or "site" in standards:
        return "name", "town"
    if "county" in standards:
        return "name", "county"
    raise ImportProblem("找不到地區代碼或名稱欄位；欄位名稱為 {header}。可用的名稱例如 VILLCODE、district_code、"
                        "區域別代碼、TOWN_ID、CODEBASE、CODE2、縣市、鄉鎮市區、村里名稱",
                        header=", ".join(grid.header[:15]), file=grid.name)


def _names(rows, standards) -> tuple[list, list, list]:
    def column(standard):
        i = standards.get(standard)
        return [parsing.place(r[i]) or None if i is not None else None for _n, r in rows]

    county, town, village = column("county"), column("town"), column("village")
    if "site" in standards:  # 桃園市桃園區: county and town in one
        split = [parsing.split_site(r[standards["site"]]) for _n, r in rows]
        county = [c or s[0] or None for c, s in zip(county, split, strict=True)]
        town = [t or s[1] or None for t, s in zip(town, split, strict=True)]
    return county, town, village


def _periods(grid: Grid, rows, standards, lines) -> list:
    i = standards.get("period")
    if i is None:
        fallback = grid.meta.get("period") or grid.meta.get("_statistic_yyymm") or ""
        if not fallback:
            return [None] * len(rows)
        try:
            when = parsing.period(fallback)
        except ValueError:
            return [None] * len(rows)
        return [when] * len(rows)
    out, bad = [], []
    for n, (_line, r) in zip(lines, rows, strict=True):
        try:
            out.append(parsing.period(r[i]))
        except ValueError:
            out.append(None)
            bad.append(n)
    if bad:
        value = rows[lines.index(bad[0])][1][i]
        raise ImportProblem("欄位 {column} 的 {value} 不是統計期：應為 114Y12M、11412、民國114年12月或 2025-12"
                            "（{which}）", column=grid.header[i], value=repr(str(value)), which=row_list(bad),
                            file=grid.name, rows=bad[:50], field=grid.header[i])
    return out


def _typed(values: list, lines: list[int], column: str, file: str, is_code: bool) -> tuple[str, list]:
    """Numbers (thousands separators, '-' for none) as numbers; a column mostly of numbers with a few that are
    not is an error naming them, not a text column."""
    if is_code:
        return "text", [parsing.code(v) or None for v in values]
    numbers, bad = [], []
    for n, v in zip(lines, values, strict=True):
        try:
            numbers.append(parsing.number(v))
        except ValueError:
            numbers.append(None)
            bad.append(n)
    present = sum(1 for v in values if str(v).strip() not in parsing.MISSING)
    if not bad and present:
        if all(x is None or x.is_integer() for x in numbers) and all(abs(x) < 2**62 for x in numbers if x is not None):
            return "bigint", [None if x is None else int(x) for x in numbers]
        return "double precision", numbers
    if present and (present - len(bad)) / present >= NUMERIC_SHARE:
        value = values[lines.index(bad[0])]
        raise ImportProblem("欄位 {column} 的 {value} 不是數字：這一欄其他值都是數字（可寫 1,234；沒有數值寫 -）"
                            "（{which}）", column=column, value=repr(str(value)), which=row_list(bad), file=file,
                            rows=bad[:50], field=column)
    return "text", [None if str(v).strip() == "" else str(v).strip() for v in values]
