"""One filter model for every data path: features, vector tiles, WMS GetMap, downloads, analysis inputs, share
links and prints all read a layer's filter through `parse` and turn it into SQL through `Filter.sql`.

A filter is JSON
    {"op": "and" | "or", "conditions": [{"attribute", "operator", "value"}, …], "bbox": [w, s, e, n]}
or, in a query string, the same as compact text: conditions separated by `;`, each `attribute:operator:value`
(`in` values separated by `,`, `between` as `low,high`), an optional leading `or;`, and `\\` escaping `;`, `,`,
`:` or `\\` inside a value:  `filter=or;land_use:eq:住宅區;area_m2:between:100,500`.

A time-enabled layer (Layer.time_attribute) also takes `time` (the JSON key or the query parameter; WMS and WFS
pass their TIME here): an ISO 8601 instant or a closed interval `start/end`, an open end written `..` or left
empty — `2026-11-30T08:00+08:00`, `2026-11-30` (the whole day), `2026-11-01/2026-11-30`, `2026-11-30T00:00Z/..`.
Times without a zone are in TIME_ZONE (Asia/Taipei); a day as an end means the whole day.

Operators: = ≠ < ≤ > ≥ contains, starts with, in, is empty, is not empty, between (or their ASCII names in
ALIASES). Attribute names are checked against the layer's attributes, every value is converted to the
column's type and reaches SQL as a psycopg2 Literal: nothing the client writes is pasted into SQL. Bad input
is a BadRequest (400) naming the field, in the request's language.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from hashlib import sha1

from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from geo import messages
from layers import attribute_kinds
from layers.models import Layer

from .access import BadRequest

OPERATORS = ("=", "≠", "<", "≤", ">", "≥", "contains", "starts with", "in", "is empty", "is not empty", "between")
ALIASES = {"eq": "=", "==": "=", "ne": "≠", "!=": "≠", "<>": "≠", "lt": "<", "lte": "≤", "le": "≤", "<=": "≤",
           "gt": ">", "gte": "≥", "ge": "≥", ">=": "≥", "starts": "starts with", "startswith": "starts with",
           "starts_with": "starts with", "empty": "is empty", "is_empty": "is empty", "notempty": "is not empty",
           "not_empty": "is not empty", "is_not_empty": "is not empty"}
TEXT_ONLY = ("contains", "starts with")
ORDERED = ("<", "≤", ">", "≥", "between")
NO_VALUE = ("is empty", "is not empty")
COMPARISON = {"=": "=", "≠": "<>", "<": "<", "≤": "<=", ">": ">", "≥": ">="}
INTEGER = {"integer", "bigint", "smallint"}
FLOAT = {"double precision", "real", "numeric"}
MAX_CONDITIONS = 50
MAX_LIST = 1000
MAX_FIDS = 100_000
MAX_TEXT = 500
MAX_FILTER_TEXT = 20_000
MAX_TIME_TEXT = 100
OPEN_END = ("", "..")
SPEC_KEYS = {"op", "conditions", "bbox", "time"}

# what a value of each column type must look like, for messages
EXPECTED = {
    "integer": messages.by_language(**{"zh-hant": "整數，例如 12", "en": "a whole number, e.g. 12"}),
    "number": messages.by_language(**{"zh-hant": "數字，例如 12.5", "en": "a number, e.g. 12.5"}),
    "boolean": messages.by_language(**{"zh-hant": "true 或 false", "en": "true or false"}),
    "date": messages.by_language(**{"zh-hant": "日期，例如 2024-05-31", "en": "a date, e.g. 2024-05-31"}),
    "timestamp": messages.by_language(**{"zh-hant": "日期時間，例如 2024-05-31T08:00",
                                         "en": "a date and time, e.g. 2024-05-31T08:00"}),
    "text": messages.by_language(**{"zh-hant": "文字", "en": "text"}),
}


def value_class(pgtype: str) -> str:
    if pgtype in INTEGER:
        return "integer"
    if pgtype in FLOAT:
        return "number"
    if pgtype == "boolean":
        return "boolean"
    if pgtype == "date":
        return "date"
    if pgtype.startswith("timestamp"):
        return "timestamp"
    return "text"


@dataclass(frozen=True)
class Condition:
    attribute: str
    operator: str
    value: object = None  # typed: int, float, bool, date, datetime, str; a tuple for `in` and `between`

    def as_json(self) -> dict:
        value = self.value
        if isinstance(value, tuple):
            value = [_plain(v) for v in value]
        out = {"attribute": self.attribute, "operator": self.operator}
        return out if self.operator in NO_VALUE else {**out, "value": _plain(value)}


@dataclass(frozen=True)
class Filter:
    op: str = "and"
    conditions: tuple[Condition, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    fids: tuple[int, ...] | None = field(default=None)  # a selection of features (downloads of selected rows)
    time: tuple[datetime | None, datetime | None] | None = None  # closed [start, end], aware; None: open

    def __bool__(self) -> bool:
        return bool(self.conditions) or self.bbox is not None or self.fids is not None or self.time is not None

    def as_json(self) -> dict:
        out: dict = {"op": self.op, "conditions": [c.as_json() for c in self.conditions]}
        if self.bbox is not None:
            out["bbox"] = list(self.bbox)
        if self.time is not None:
            out["time"] = time_text(self.time)
        return out

    def key(self) -> str:
        """A short stable name of what the filter selects, for cache keys and ETags ('' when it selects all)."""
        if not self:
            return ""
        text = json.dumps([self.as_json(), self.fids], sort_keys=True, ensure_ascii=False, default=str)
        return sha1(text.encode()).hexdigest()[:16]

    def sql(self, layer: Layer, alias: str | None = "t") -> list[sql.Composable]:
        """Conditions to AND with the query's others ([] for no filter), columns on table `alias` (None: bare
        column names, as MapServer's PostGIS layer wants them)."""
        def column(name):
            return sql.Identifier(alias, name) if alias else sql.Identifier(name)
        out = []
        if self.conditions:
            types = {a["name"]: a["type"] for a in layer.attributes}
            parts = [_condition_sql(c, column(c.attribute), types[c.attribute]) for c in self.conditions]
            joined = sql.SQL(" OR " if self.op == "or" else " AND ").join(parts)
            out.append(sql.SQL("({})").format(joined))
        if self.bbox is not None:
            west, south, east, north = self.bbox
            envelope = sql.SQL("ST_Transform(ST_MakeEnvelope({}, {}, {}, {}, 4326), {})").format(
                sql.Literal(west), sql.Literal(south), sql.Literal(east), sql.Literal(north), sql.Literal(layer.srid))
            out.append(sql.SQL("({g} && {e} AND ST_Intersects({g}, {e}))").format(g=column("geom"), e=envelope))
        if self.fids is not None:
            out.append(sql.SQL("{} = ANY({})").format(column("fid"), sql.Literal(list(self.fids))))
        if self.time is not None:
            out += _time_sql(self.time, column(layer.time_attribute), _pgtype(layer, layer.time_attribute))
        return out


def _pgtype(layer: Layer, name: str) -> str:
    return next((a["type"] for a in layer.attributes if a["name"] == name), "")


def _time_sql(window, column: sql.Composable, pgtype: str) -> list[sql.Composable]:
    """The window on the column in its own type: a date column compares local days, a timestamp without a zone
    local wall-clock times, a timestamptz the instants."""
    local = timezone.get_default_timezone()

    def typed(moment: datetime):
        if pgtype == "date":
            return moment.astimezone(local).date()
        if pgtype.startswith("timestamp") and "with time zone" not in pgtype and pgtype != "timestamptz":
            return moment.astimezone(local).replace(tzinfo=None)
        return moment

    start, end = window
    out = []
    if start is not None:
        out.append(sql.SQL("{} >= {}").format(column, sql.Literal(typed(start))))
    if end is not None:
        out.append(sql.SQL("{} <= {}").format(column, sql.Literal(typed(end))))
    return out or [sql.SQL("{} IS NOT NULL").format(column)]


def time_text(window) -> str:
    """A window as ISO 8601 text (`start/end`, `..` for an open end; one instant alone)."""
    start, end = (m.astimezone(UTC).isoformat().replace("+00:00", "Z") if m else ".." for m in window)
    return start if start == end else f"{start}/{end}"


def _moment(text: str, end: bool) -> datetime:
    """An ISO 8601 date or date-time, aware; a day alone is its first instant, or as an end its last."""
    text = text.strip()
    if len(text) <= 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day, time.max if end else time.min)
        return timezone.make_aware(moment, timezone.get_default_timezone())
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return moment if moment.tzinfo else timezone.make_aware(moment, timezone.get_default_timezone())


def parse_time(layer: Layer, value, where: str = "time") -> tuple[datetime | None, datetime | None]:
    """`value` (an instant, or `start/end` with `..` or nothing for an open end) as a closed window on the layer's
    time attribute; a 400 naming the field when the layer is not time-enabled or the text is no ISO 8601 time."""
    if not layer.time_attribute:
        raise BadRequest("{field}：圖層 {slug} 沒有啟用時間，不能依時間篩選（請先設定其時間屬性 time_attribute）",
                         field=where, slug=repr(layer.slug))
    if not _pgtype(layer, layer.time_attribute):
        raise BadRequest("{field}：圖層 {slug} 的時間屬性 {name} 已不存在", field=where, slug=repr(layer.slug),
                         name=repr(layer.time_attribute))
    text = value if isinstance(value, str) else ""
    problem = BadRequest("{field}：{value} 不是 ISO 8601 時間；請給一個時刻（例如 2026-11-30T08:00+08:00 或 "
                         "2026-11-30）或區間「起/迄」（例如 2026-11-01/2026-11-30，開放的一端寫 ..）",
                         field=where, value=repr(value)[:80])
    if not text.strip() or len(text) > MAX_TIME_TEXT or text.count("/") > 1 or "\0" in text:
        raise problem
    parts = text.split("/")
    try:
        if len(parts) == 1:  # an instant: a day alone is the whole day
            start = _moment(parts[0], end=False)
            end = _moment(parts[0], end=True) if len(parts[0].strip()) <= 10 else start
        else:
            start = None if parts[0].strip() in OPEN_END else _moment(parts[0], end=False)
            end = None if parts[1].strip() in OPEN_END else _moment(parts[1], end=True)
    except (ValueError, OverflowError):
        raise problem from None
    if start is not None and end is not None and start > end:
        raise BadRequest("{field}：開始 {start} 晚於結束 {end}", field=where, start=time_text((start, start)),
                         end=time_text((end, end)))
    return start, end


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def _condition_sql(c: Condition, column: sql.Composable, pgtype: str) -> sql.Composable:
    text = value_class(pgtype) == "text"
    if c.operator in COMPARISON:
        return sql.SQL("{} {} {}").format(column, sql.SQL(COMPARISON[c.operator]), sql.Literal(c.value))
    if c.operator == "contains":  # no LIKE: a % or _ in the value is just a character
        return sql.SQL("strpos(lower({}), lower({})) > 0").format(column, sql.Literal(c.value))
    if c.operator == "starts with":
        return sql.SQL("starts_with(lower({}), lower({}))").format(column, sql.Literal(c.value))
    if c.operator == "in":
        return sql.SQL("{} = ANY({})").format(column, sql.Literal(list(c.value)))
    if c.operator == "between":
        return sql.SQL("{} BETWEEN {} AND {}").format(column, sql.Literal(c.value[0]), sql.Literal(c.value[1]))
    empty = sql.SQL("({c} IS NULL OR {c} = '')" if text else "{c} IS NULL").format(c=column)
    return empty if c.operator == "is empty" else sql.SQL("NOT {}").format(empty)


# ---- parsing ----------------------------------------------------------------------------------------------------

def parse(layer: Layer, spec, where: str = "filter") -> Filter:
    """A Filter from JSON (a dict, or its text) or the compact text form, checked against the layer."""
    if spec is None or spec == "" or spec == {}:
        return Filter()
    if isinstance(spec, str):
        if len(spec) > MAX_FILTER_TEXT:
            raise BadRequest("{field}：篩選條件太長（最多 {maximum} 字元）", field=where,
                             maximum=f"{MAX_FILTER_TEXT:,}")
        if spec.lstrip().startswith("{"):
            try:
                spec = json.loads(spec)
            except ValueError as exc:
                raise BadRequest("{field}：不是有效的 JSON（{reason}）", field=where, reason=str(exc)[:80]) from None
        else:
            spec = compact_to_json(spec, where)
    if not isinstance(spec, dict):
        raise BadRequest("{field}：請給 {{\"op\", \"conditions\": [{{\"attribute\", \"operator\", \"value\"}}]}} 物件",
                         field=where)
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise BadRequest("{field}：不認得的欄位 {names}；可用 op、conditions、bbox、time", field=where, names=unknown)
    op = str(spec.get("op", "and")).lower()
    if op not in ("and", "or"):
        raise BadRequest("{field}.op：請用 and 或 or，收到 {value}", field=where, value=repr(spec.get("op")))
    raw = spec.get("conditions", [])
    if not isinstance(raw, list):
        raise BadRequest("{field}.conditions：請給條件的清單", field=where)
    if len(raw) > MAX_CONDITIONS:
        raise BadRequest("{field}.conditions：最多 {maximum} 個條件", field=where, maximum=MAX_CONDITIONS)
    attributes = {a["name"]: attribute_kinds.described(a) for a in layer.attributes}
    conditions = tuple(_condition(layer, attributes, item, f"{where}.conditions[{i}]") for i, item in enumerate(raw))
    bbox = spec.get("bbox")
    window = parse_time(layer, spec["time"], f"{where}.time") if spec.get("time") not in (None, "") else None
    return Filter(op, conditions, parse_bbox(bbox, f"{where}.bbox") if bbox not in (None, "", []) else None,
                  time=window)


def _named(attribute: dict) -> dict:
    """How a message names an attribute: its label in the reader's language and its column name."""
    zh, en = attribute_kinds.title_of(attribute), attribute_kinds.title_of(attribute, english=True)
    name = attribute["name"]
    return messages.by_language(**{"zh-hant": f"{zh}（{name}）" if zh != name else name,
                                   "en": f"{en} ({name})" if en != name else name})


def _condition(layer: Layer, attributes: dict, item, where: str) -> Condition:
    if not isinstance(item, dict):
        raise BadRequest("{field}：請給 {{\"attribute\", \"operator\", \"value\"}} 物件", field=where)
    name = item.get("attribute")
    if not isinstance(name, str) or not name:
        raise BadRequest("{field}.attribute：缺少屬性名稱", field=where)
    if name not in attributes:
        raise BadRequest("{field}.attribute：圖層 {slug} 沒有屬性 {name}；可用的屬性有 {known}", field=where,
                         slug=repr(layer.slug), name=repr(name), known=", ".join(attributes) or "-")
    operator = item.get("operator")
    operator = ALIASES.get(str(operator).strip().lower(), str(operator).strip().lower()) if operator is not None \
        else None
    if operator not in OPERATORS:
        raise BadRequest("{field}.operator：不認得的運算子 {operator}；請使用 {choices} 其中之一", field=where,
                         operator=repr(item.get("operator")), choices=", ".join(OPERATORS))
    attribute = attributes[name]
    kind = value_class(attribute["type"])
    if operator in TEXT_ONLY and kind != "text":
        raise BadRequest("{field}.operator：{operator} 只能用於文字屬性；{attribute} 是{expected}", field=where,
                         operator=operator, attribute=_named(attribute), expected=EXPECTED[kind])
    if operator in ORDERED and kind == "boolean":
        raise BadRequest("{field}.operator：{operator} 不能用於是非屬性 {attribute}；請用 = 或 ≠", field=where,
                         operator=operator, attribute=_named(attribute))
    if operator in NO_VALUE:
        return Condition(name, operator)
    if "value" not in item or item["value"] is None:
        raise BadRequest("{field}.value：缺少值；{attribute} 需要{expected}", field=where,
                         attribute=_named(attribute), expected=EXPECTED[kind])
    value = item["value"]
    if operator == "in":
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_LIST:
            raise BadRequest("{field}.value：in 需要 1 到 {maximum} 個值的清單", field=where, maximum=MAX_LIST)
        return Condition(name, operator, tuple(_typed(v, attribute, where + ".value") for v in values))
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise BadRequest("{field}.value：between 需要 [下限, 上限] 兩個值", field=where)
        low, high = (_typed(v, attribute, where + ".value") for v in value)
        if low > high:
            raise BadRequest("{field}.value：下限 {low} 大於上限 {high}", field=where, low=_plain(low),
                             high=_plain(high))
        return Condition(name, operator, (low, high))
    return Condition(name, operator, _typed(value, attribute, where + ".value"))


def _typed(value, attribute: dict, where: str):
    """A value converted to the attribute's column type, or a 400 saying what was expected."""
    kind = value_class(attribute["type"])
    problem = BadRequest("{field}：{attribute} 需要{expected}，收到 {value}", field=where,
                         attribute=_named(attribute), expected=EXPECTED[kind], value=repr(value)[:80])
    if isinstance(value, dict | list) or (isinstance(value, bool) and kind != "boolean"):
        raise problem
    text = str(value).strip()
    if "\0" in text or len(text) > MAX_TEXT:
        raise problem
    try:
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number = int(float(text)) if isinstance(value, float) else int(text)
            if not -2**63 <= number < 2**63:
                raise ValueError
            return number
        if kind == "number":
            number = float(text)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "timestamp":
            return datetime.fromisoformat(text)
    except ValueError:
        raise problem from None
    return str(value)


def parse_bbox(value, where: str = "bbox") -> tuple[float, float, float, float]:
    parts = value.split(",") if isinstance(value, str) else value
    try:
        if isinstance(parts, bool) or len(parts) != 4 or any(isinstance(p, bool) for p in parts):
            raise ValueError
        west, south, east, north = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise BadRequest("{field}：請以經緯度填 [west, south, east, north]，例如 [121.2, 24.9, 121.4, 25.1]",
                         field=where) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("{field}：{bbox} 不是 west < east、south < north 的經緯度範圍", field=where,
                         bbox=repr(value))
    return west, south, east, north


def parse_fids(value, where: str = "fids") -> tuple[int, ...]:
    """A selection of feature ids: a list, or comma-separated text."""
    parts = [p for p in value.split(",") if p.strip()] if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or not 1 <= len(parts) <= MAX_FIDS:
        raise BadRequest("{field}：請給 1 到 {maximum} 個圖徵編號", field=where, maximum=f"{MAX_FIDS:,}")
    try:
        if any(isinstance(p, bool | float) for p in parts):
            raise ValueError
        fids = tuple(sorted({int(p) for p in parts}))
    except (TypeError, ValueError):
        raise BadRequest("{field}：圖徵編號必須是整數", field=where) from None
    if fids[0] < 0 or fids[-1] >= 2**31:
        raise BadRequest("{field}：圖徵編號必須是整數", field=where)
    return fids


# ---- the compact text form --------------------------------------------------------------------------------------

def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    """Split on unescaped `separator` (at most `limit` times), keeping escapes for the next level."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == separator and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def compact_to_json(text: str, where: str = "filter") -> dict:
    """`or;land_use:eq:住宅區;area_m2:between:100,500` → {"op": "or", "conditions": [...]}."""
    pieces = [p for p in _split(text.strip(), ";") if p.strip()]
    op = "and"
    if pieces and pieces[0].strip().lower() in ("and", "or"):
        op = pieces.pop(0).strip().lower()
    conditions = []
    for i, piece in enumerate(pieces):
        parts = _split(piece, ":", 2)
        if len(parts) < 2:
            raise BadRequest("{field}：第 {number} 個條件 {text} 請寫成 屬性:運算子:值，例如 land_use:eq:住宅區",
                             field=where, number=i + 1, text=repr(_unescape(piece)))
        name, operator = _unescape(parts[0]).strip(), _unescape(parts[1]).strip()
        condition = {"attribute": name, "operator": operator}
        if len(parts) == 3:
            canonical = ALIASES.get(operator.lower(), operator.lower())
            if canonical in ("in", "between"):
                condition["value"] = [_unescape(v) for v in _split(parts[2], ",")]
            else:
                condition["value"] = _unescape(parts[2])
        conditions.append(condition)
    return {"op": op, "conditions": conditions}


def to_compact(spec: Filter) -> str:
    """The compact text of a filter (its conditions; a bbox and a time travel as the `bbox` and `time`
    parameters)."""
    def esc(value) -> str:
        text = str(_plain(value))
        for ch in "\\;,:":
            text = text.replace(ch, "\\" + ch)
        return text
    parts = ["or"] if spec.op == "or" else []
    for c in spec.conditions:
        item = f"{esc(c.attribute)}:{c.operator}"
        if c.operator not in NO_VALUE:
            item += ":" + (",".join(esc(v) for v in c.value) if isinstance(c.value, tuple) else esc(c.value))
        parts.append(item)
    return ";".join(parts)


def engine_sql(layer: Layer, spec, where: str = "filter") -> str:
    """A layer's filter (its JSON or compact text, or a Filter) as one SQL condition on its bare column names, as
    text, for the OGC engine (MapServer's NATIVE_FILTER); '' when it filters nothing. The text is psycopg2's
    rendering of checked identifiers and Literals, the same as any query here sends."""
    conditions = (spec if isinstance(spec, Filter) else parse(layer, spec, where)).sql(layer, alias=None)
    if not conditions:
        return ""
    connection.ensure_connection()
    return sql.SQL(" AND ").join(conditions).as_string(connection.connection)


def check_shape(spec, where: str = "filter") -> dict | None:
    """A filter kept for later (a share link, a print) checked for its shape only — op, conditions of attribute,
    operator and value, bbox — without naming a layer's attributes (the person opening it may not see the layer);
    it is checked against the layer when it is applied."""
    if spec in (None, "", {}):
        return None
    if isinstance(spec, str):
        spec = compact_to_json(spec, where) if not spec.lstrip().startswith("{") else spec
    if not isinstance(spec, dict) or set(spec) - SPEC_KEYS:
        raise BadRequest("{field}：請給 {{\"op\", \"conditions\": [{{\"attribute\", \"operator\", \"value\"}}]}} 物件",
                         field=where)
    op = str(spec.get("op", "and")).lower()
    if op not in ("and", "or"):
        raise BadRequest("{field}.op：請用 and 或 or，收到 {value}", field=where, value=repr(spec.get("op")))
    raw = spec.get("conditions", [])
    if not isinstance(raw, list) or len(raw) > MAX_CONDITIONS:
        raise BadRequest("{field}.conditions：最多 {maximum} 個條件", field=where, maximum=MAX_CONDITIONS)
    conditions = []
    for i, item in enumerate(raw):
        here = f"{where}.conditions[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("attribute"), str) or set(item) - {
                "attribute", "operator", "value"}:
            raise BadRequest("{field}：請給 {{\"attribute\", \"operator\", \"value\"}} 物件", field=here)
        operator = ALIASES.get(str(item.get("operator")).lower(), str(item.get("operator")).lower())
        if operator not in OPERATORS:
            raise BadRequest("{field}.operator：不認得的運算子 {operator}；請使用 {choices} 其中之一", field=here,
                             operator=repr(item.get("operator")), choices=", ".join(OPERATORS))
        value = item.get("value")
        if isinstance(value, dict) or (isinstance(value, list) and (
                len(value) > MAX_LIST or any(isinstance(v, dict | list) for v in value))) or len(str(value)) > 20_000:
            raise BadRequest("{field}：請給 {{\"attribute\", \"operator\", \"value\"}} 物件", field=here)
        conditions.append({"attribute": item["attribute"][:63], "operator": operator,
                           **({"value": value} if operator not in NO_VALUE else {})})
    out = {"op": op, "conditions": conditions}
    if spec.get("bbox") not in (None, "", []):
        out["bbox"] = list(parse_bbox(spec["bbox"], f"{where}.bbox"))
    if spec.get("time") not in (None, ""):
        if not isinstance(spec["time"], str) or len(spec["time"]) > MAX_TIME_TEXT:
            raise BadRequest("{field}.time：請給 ISO 8601 時刻或區間的文字", field=where)
        out["time"] = spec["time"]
    return out


def from_params(layer: Layer, params) -> Filter:
    """The filter of a request: its `filter` parameter (JSON or compact), a `fids` selection and a `time` window
    (the parameter wins over a `time` inside the filter)."""
    found = parse(layer, params.get("filter") or None)
    if params.get("fids"):
        found = replace(found, fids=parse_fids(params.get("fids")))
    if params.get("time"):
        found = replace(found, time=parse_time(layer, params.get("time")))
    return found
