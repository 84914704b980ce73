"""Reading the values of Taiwanese statistical tables: numbers as agencies write them, ROC (民國) periods, place
names, and the column names that drift between years of the same open-data set (resolved through alias lists).

Each function says what it could not read by raising ValueError with the reason; the importer adds the file,
row and column.
"""

import re
from datetime import date

# A standard column of a statistical table → the names agencies have given it over the years (compared after
# lower-casing and removing spaces, underscores and full-width brackets). First hit wins, in this order.
ALIASES: dict[str, tuple[str, ...]] = {
    "villcode": ("villcode", "district_code", "區域別代碼", "村里代碼", "村里代碼11碼", "villagecode", "vill_code",
                 "a_vill_id", "v_id11"),
    "towncode": ("towncode", "town_id", "town_code", "鄉鎮市區代碼", "a_town_id"),
    "countycode": ("countycode", "county_id", "county_code", "縣市代碼", "a_county_id"),
    "codebase": ("codebase", "最小統計區代碼", "最小統計區"),
    "code1": ("code1", "一級發布區代碼", "一級發布區"),
    "code2": ("code2", "二級發布區代碼", "二級發布區"),
    "county": ("county", "countyname", "縣市", "縣市名稱", "縣市別"),
    "town": ("town", "townname", "鄉鎮市區", "鄉鎮市區名稱", "區", "行政區", "區別"),
    "village": ("village", "villname", "villagename", "villagenam", "村里", "村里名稱", "村里別", "里別"),
    "site": ("site_id", "區域別", "縣市鄉鎮", "行政區域"),
    "period": ("statistic_yyymm", "statistic_yyy", "info_time", "資料時間", "統計年月", "資料年月", "年月", "統計期",
               "statistic_yyyymm", "period", "年度", "統計年"),
}
CODE_STANDARDS = ("villcode", "towncode", "countycode", "codebase", "code1", "code2")
NAME_STANDARDS = ("county", "town", "village", "site")


def squeeze(name: str) -> str:
    """Compared without case, spaces or brackets; underscores count (NLSC's TOWNID 'H01' is not TOWN_ID)."""
    return re.sub(r"[\s（）()]+", "", str(name or "")).lower()


_ALIAS_INDEX = {squeeze(alias): standard for standard, names in ALIASES.items() for alias in names}


def standard_of(name: str, caption: str = "") -> str | None:
    """The standard column a header (or its Chinese caption) stands for, or None."""
    for text in (name, caption):
        hit = _ALIAS_INDEX.get(squeeze(text))
        if hit:
            return hit
    return None


# --- numbers ----------------------------------------------------------------------------------------------------
MISSING = {"", "-", "－", "—", "–", "…", "...", "x", "X", "na", "NA", "N/A", "n/a", "null", "NULL", "*", "**"}
_FULL_WIDTH = str.maketrans("０１２３４５６７８９，．－＋％", "0123456789,.-+%")
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+")


def number(text) -> float | None:
    """A count or measure as agencies write it: '1,234', '１２３', '12.5%', '-' (no figure: None).
    Raises ValueError for anything else (so a text column is never read as numbers by accident)."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError("not a number")
    if isinstance(text, int | float):
        return float(text)
    value = str(text).strip().translate(_FULL_WIDTH).replace(" ", "")
    if value in MISSING:
        return None
    if value.endswith("%"):
        value = value[:-1]
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{str(text)!r} is not a number")
    return float(value.replace(",", ""))


def is_number(text) -> bool:
    try:
        number(text)
        return True
    except ValueError:
        return False


# --- periods ----------------------------------------------------------------------------------------------------
_ROC_FORMS = (
    re.compile(r"(?:民國)?\s*(?P<y>\d{2,3})\s*(?:Y|年)\s*(?:(?P<m>\d{1,2})\s*(?:M|月)?)?(?:\s*(?P<d>\d{1,2})\s*日)?",
               re.IGNORECASE),  # 114Y12M, 106Y, 民國114年12月, 114年12月31日
    re.compile(r"(?P<y>\d{3})(?P<m>\d{2})"),  # 11412
    re.compile(r"(?P<y>\d{2,3})[/.-](?P<m>\d{1,2})(?:[/.-](?P<d>\d{1,2}))?"),  # 114/12, 107/02/05
    re.compile(r"(?P<y>\d{3})"),  # 114: a year of the ROC calendar
)
_WESTERN = re.compile(r"(?P<y>(?:18|19|20)\d{2})(?:[/.-]?(?P<m>\d{1,2})(?:[/.-]?(?P<d>\d{1,2}))?)?")


def period(text) -> date:
    """A statistics period as a real date: ROC '114Y12M' / '11412' / '民國114年12月' / '107/02/05' / '114' and
    western '2025-12' / '202512' / '2025'. A month is its first day. Raises ValueError naming what it got."""
    if isinstance(text, date):
        return text
    if isinstance(text, int | float) and not isinstance(text, bool) and float(text).is_integer():
        text = str(int(text))
    value = str(text or "").strip().translate(_FULL_WIDTH)
    if not value:
        raise ValueError("no period given")
    western = _WESTERN.fullmatch(value)
    if western:
        return _date(int(western["y"]), western["m"], western["d"], value)
    for form in _ROC_FORMS:
        hit = form.fullmatch(value)
        if hit:
            return _date(int(hit["y"]) + 1911, hit["m"], hit.groupdict().get("d"), value)
    raise ValueError(f"{value!r} is not a period (e.g. 114Y12M, 11412, 民國114年12月, 2025-12)")


def _date(year: int, month, day, original: str) -> date:
    try:
        return date(year, int(month or 1), int(day or 1))
    except ValueError:
        raise ValueError(f"{original!r} is not a real date") from None


# --- places -----------------------------------------------------------------------------------------------------
_TAI = str.maketrans({"台": "臺"})


def place(name) -> str:
    """A place name as compared in a join: trimmed, full-width spaces gone, 台 → 臺 (both are in use)."""
    return re.sub(r"[\s\u3000]+", "", str(name or "")).translate(_TAI)


_SITE = re.compile(r"(?P<county>.+?[縣市])(?P<town>.+[鄉鎮市區])$")


def split_site(site: str) -> tuple[str, str]:
    """'桃園市桃園區' → ('桃園市', '桃園區'): the household registry's site_id is county and town in one."""
    hit = _SITE.match(place(site))
    return (hit["county"], hit["town"]) if hit else ("", place(site))


def code(value) -> str:
    """A code as text: '68000010001' stays as it is, 68000010001.0 (a spreadsheet's number) loses its '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
