"""From a hotline system's export (or pushed cases) to events: the fixed fields, the column aliases, the parsing
of times, and the checks that report each bad row by number and problem instead of dropping it.

An event layer's table (`layerdata.<table>`) has these columns, in this order, and then the source's other columns
(as text): FIELDS. Its `time_attribute` is `reported_at`.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.importing.readers import LAT_NAMES, LON_NAMES, X_NAMES, Y_NAMES, _norm

TAIPEI = ZoneInfo("Asia/Taipei")
TIME_FIELD = "reported_at"
# name, PostgreSQL type, zh-Hant label, English label
FIELDS = [
    ("case_no", "text", "案件編號", "Case number"),
    ("reported_at", "timestamptz", "受理時間", "Reported"),
    ("category", "text", "案件分類代碼", "Category code"),
    ("category_label", "text", "案件分類", "Category"),
    ("status", "text", "處理狀態", "Status"),
    ("dispatched_at", "timestamptz", "派工時間", "Dispatched"),
    ("closed_at", "timestamptz", "結案時間", "Closed"),
    ("address", "text", "地址", "Address"),
    ("district", "text", "行政區", "District"),
    ("geocode_level", "text", "定位方式", "Located by"),
]
FIELD_NAMES = [f[0] for f in FIELDS]
TYPES = {f[0]: f[1] for f in FIELDS}

# what a column may be called (compared after layers.importing.readers._norm: no spaces, brackets or case)
ALIASES = {
    "case_no": {"案件編號", "案號", "案件號碼", "案件序號", "編號", "caseno", "caseid", "casenumber", "case",
                "servicerequestid", "requestid", "id"},
    "reported_at": {"受理時間", "受理日期", "受理日期時間", "報案時間", "反映時間", "陳情時間", "立案時間", "建立時間",
                    "reportedat", "reported", "requesteddatetime", "datetime", "time", "date"},
    "category": {"案件分類", "案件類別", "案件類型", "反映類別", "分類", "類別", "項目", "category", "servicename",
                 "type"},
    "status": {"處理狀態", "案件狀態", "辦理情形", "狀態", "status"},
    "dispatched_at": {"派工時間", "派案時間", "分派時間", "派工日期", "dispatchedat", "dispatched"},
    "closed_at": {"結案時間", "結案日期", "完成時間", "closedat", "closed"},
    "address": {"地址", "案件地址", "發生地址", "發生地點", "地點", "門牌", "address", "addressstring"},
    "district": {"行政區", "區", "區別", "鄉鎮市區", "district", "area", "town"},
    "lon": LON_NAMES,
    "lat": LAT_NAMES,
    "x": X_NAMES | {"twd97x", "x97"},
    "y": Y_NAMES | {"twd97y", "y97"},
}
# A header-less export of the Tainan 1999 API (kiang/tainan_1999_map: one CSV per week), by position
OPEN311_TAINAN = ["case_no", "reported_at", "district", "category", "subcategory", "description", "address", "lat",
                  "lon"]

# The categories the platform knows, with labels: codes of the demo city, the Tainan API's names mapped to them
KNOWN_CATEGORIES = {
    "pothole": ("道路坑洞", "Pothole"), "fallen_tree": ("路樹倒塌", "Fallen tree"),
    "streetlight": ("路燈故障", "Street light out"), "flooding": ("道路積水", "Flooded road"),
    "signal": ("號誌故障", "Traffic signal fault"), "parking": ("違規停車", "Illegal parking"),
    "noise": ("噪音舉發", "Noise"), "litter": ("髒亂及汙染", "Litter and pollution"),
    "road_repair": ("道路維修", "Road repair"), "transport": ("交通運輸", "Transport"),
    "animal": ("動物救援", "Animal rescue"), "utilities": ("民生管線", "Utility lines"),
    "arcade": ("騎樓舉發", "Arcade obstruction"), "uncategorized": ("未分類", "Uncategorized"),
}
CATEGORY_SYNONYMS = {"坑洞": "pothole", "路面坑洞": "pothole", "路樹": "fallen_tree", "路燈": "streetlight",
                     "積水": "flooding", "號誌": "signal", "交通號誌故障": "signal", "噪音": "noise",
                     "髒亂": "litter", "環境髒亂": "litter"}
UNCATEGORIZED = "uncategorized"

FUTURE_GRACE = timedelta(minutes=10)  # clocks differ

# problems a row can have (bad_time keeps the row, without the time it could not read; the others drop it)
PROBLEMS = {
    "no_time": _("沒有受理時間或無法解讀"),
    "future_time": _("受理時間在未來"),
    "unknown_category": _("分類不在此圖層的分類清單中"),
    "bad_time": _("派工或結案時間無法解讀"),
    "bad_text": _("含有 NUL 字元，或案件編號超過 100 字"),
}
MAX_CASE_NO = 100  # what the list of unlocated events keeps (UnlocatedEvent.case_no)
HEADERLESS_NOTE = _("沒有欄位名稱列：依臺南 1999 開放資料（Open311）的欄位順序讀取")
UNLOCATED_REASONS = {
    "no_place": _("沒有坐標也沒有地址"),
    "bad_coordinates": _("坐標無法解讀或不在臺灣範圍內（經緯度是否對調？），也沒有地址"),
    "address_not_found": _("地址找不到位置"),
    "no_address_layer": _("沒有可用的門牌圖層可定位地址"),
}


@dataclass
class Event:
    values: dict  # FIELD_NAMES (without geocode_level) → value; extras under their source names
    row: int | None  # line in the file (None for a pushed case)
    x: float | None = None  # EPSG:3826 once located
    y: float | None = None
    lon: float | None = None
    lat: float | None = None
    raw_x: str = ""
    raw_y: str = ""
    level: str = ""  # coordinates / exact / nearest_number / road / village / district
    unlocated: str = ""  # reason code when it could not be placed
    extras: dict = field(default_factory=dict)


@dataclass
class Report:
    rows: int = 0
    problems: dict = field(default_factory=dict)  # code → [row numbers or case numbers]
    notes: list = field(default_factory=list)

    def add(self, code: str, where) -> None:
        self.problems.setdefault(code, []).append(where)

    def as_dict(self) -> dict:
        return {"rows": self.rows,
                "problems": [{"problem": code, "message": str(PROBLEMS[code]), "count": len(where),
                              "rows": where[:100]} for code, where in self.problems.items()],
                "notes": [str(n) for n in self.notes]}


def map_columns(header: list[str]) -> dict[str, int] | None:
    """field → column index, from the header's names; None when nothing in it names a time or a case number."""
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _norm(str(name))
        for target, names in ALIASES.items():
            if key in names and target not in found:
                found[target] = i
                break
    if "reported_at" not in found and "case_no" not in found:
        return None
    return found


def looks_like_open311(row: list) -> bool:
    return len(row) >= 9 and bool(re.match(r"^[A-Z]{2}\d{6,}", str(row[0]))) and parse_time(row[1]) is not None


_ROC = re.compile(r"^(\d{2,3})[/.-](\d{1,2})[/.-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
            "%Y%m%d%H%M%S", "%Y%m%d")


def parse_time(value) -> datetime | None:
    """An aware datetime from what an export holds: ISO 8601 (offset kept; none means Taiwan time), 2024/05/01
    08:30, 民國 113/05/01 08:30, a spreadsheet's date or datetime; None when it is not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=TAIPEI)
    if isinstance(value, date):
        return datetime.combine(value, time.min, TAIPEI)
    text = str(value).strip()
    if not text:
        return None
    roc = _ROC.match(text)
    if roc and len(roc.group(1)) <= 3 and int(roc.group(1)) < 200:
        y, m, d, hh, mm, ss = roc.groups()
        try:
            return datetime(int(y) + 1911, int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=TAIPEI)
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
        for fmt in _FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class CategoryMatcher:
    """Category text → code: by code, by label (zh or en) or a known synonym. `known` is the layer's list (code →
    (zh, en)); with `open_list` a new text becomes a new category (a new layer learns its list from its file)."""

    def __init__(self, known: dict[str, tuple[str, str]], open_list: bool):
        self.known = dict(known)
        self.open_list = open_list
        self.added: list[str] = []
        self._lookup = {}
        for code, (zh, en) in known.items():
            for key in (code, zh, en):
                if key:
                    self._lookup[key.strip().lower()] = code

    def code(self, text: str) -> str | None:
        text = text.strip()
        if not text:
            if UNCATEGORIZED not in self.known and self.open_list:
                self.known[UNCATEGORIZED] = KNOWN_CATEGORIES[UNCATEGORIZED]
                self.added.append(UNCATEGORIZED)
            return UNCATEGORIZED if UNCATEGORIZED in self.known else None
        hit = self._lookup.get(text.lower()) or self._lookup.get(CATEGORY_SYNONYMS.get(text, "\0"))
        if hit:
            return hit
        if not self.open_list:
            return None
        code = CATEGORY_SYNONYMS.get(text)
        if code is None:
            code = next((c for c, (zh, en) in KNOWN_CATEGORIES.items() if text in (zh, en, c)), text[:60])
        if code not in self.known:
            zh, en = KNOWN_CATEGORIES.get(code, (text[:100], ""))  # Category.label_zh
            self.known[code] = (zh, en)
            self.added.append(code)
        self._lookup[text.lower()] = code
        return code

    def label(self, code: str) -> str:
        return self.known.get(code, (code, ""))[0]


def events_from_rows(mapping: dict[str, int], rows: list[tuple[int, list]], header: list[str],
                     categories: CategoryMatcher, report: Report, now: datetime | None = None) -> list[Event]:
    """Each good row as an Event (located or not yet); each bad one counted in `report` under its problem."""
    now = now or timezone.now()
    used = set(mapping.values())
    extras = [(i, h) for i, h in enumerate(header) if i not in used and str(h).strip()]
    nul_in_header = any("\0" in str(h) for h in header)  # a pushed case's keys are its header
    out = []
    for line, cells in rows:
        if not any(_text(c) for c in cells):
            continue
        report.rows += 1

        def cell(name, cells=cells):
            i = mapping.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        values = {"case_no": _text(cell("case_no")), "status": _text(cell("status")),
                  "address": _text(cell("address")), "district": _text(cell("district"))}
        # PostgreSQL stores no NUL (text or JSON): a row holding one, in a value or a pushed key, is refused by name
        if len(values["case_no"]) > MAX_CASE_NO or nul_in_header or any("\0" in _text(c) for c in cells):
            report.add("bad_text", line)
            continue
        reported = parse_time(cell("reported_at"))
        if reported is None:
            report.add("no_time", line)
            continue
        if reported > now + FUTURE_GRACE:
            report.add("future_time", line)
            continue
        code = categories.code(_text(cell("category")))
        if code is None:
            report.add("unknown_category", line)
            continue
        times = {}
        for name in ("dispatched_at", "closed_at"):
            raw = cell(name)
            times[name] = parse_time(raw)
            if raw not in (None, "") and times[name] is None:
                report.add("bad_time", line)
        values.update(reported_at=reported, category=code, category_label=categories.label(code), **times)
        event = Event(values, line, extras={h: _text(cells[i]) if i < len(cells) else "" for i, h in extras})
        for a, b in (("lon", "lat"), ("x", "y")):
            if a in mapping and b in mapping:
                event.raw_x, event.raw_y = _text(cell(a)), _text(cell(b))
                event.level = "lonlat" if a == "lon" else "twd97"
                break
        out.append(event)
    return out


def event_from_json(item: dict, categories: CategoryMatcher, report: Report, now: datetime | None = None):
    """A pushed case (JSON object, keys as the file's aliases) through the same checks; None when rejected."""
    if not isinstance(item, dict):
        report.rows += 1
        report.add("no_time", "?")
        return None
    header = list(item.keys())
    mapping = map_columns(header) or {}
    where = str(item.get(header[mapping["case_no"]]) if "case_no" in mapping else "?")
    before = {k: len(v) for k, v in report.problems.items()}
    events = events_from_rows(mapping, [(0, list(item.values()))], header, categories, report, now)
    for code, rows in report.problems.items():  # name the case, not a line, in a push's report
        rows[before.get(code, 0):] = [where] * (len(rows) - before.get(code, 0))
    if events:
        events[0].row = None
        return events[0]
    return None
