"""What a layer's attribute is: its labels in zh-Hant and English, its unit, its kind and how it is shown.

Guessed once, when a table is described (import, demo city, analysis result, restore), from the column's name,
its original name (often Chinese) and a sample of its values; editable afterwards in the catalog API. Everything
that shows a value to a person (identify, summaries, legends, exports) reads these fields instead of guessing.

An attribute is stored as {name, type, source, label, label_en, unit, unit_en, kind, decimals, aggregate}:
- kind: one of KINDS (identifier, category, count, measure, ratio, money, date, text);
- decimals: how many decimals a value is shown and exported with (no float noise such as 2226.7000000000003);
- aggregate: how values over many features combine: "sum" (people, households, areas, lengths), "mean" (heights,
  widths, densities, years: averaged and given as a range) or "none" (identifiers, categories, text).
"""

import math
import re
from dataclasses import dataclass

KINDS = ("identifier", "category", "count", "measure", "ratio", "money", "date", "text")
AGGREGATES = ("sum", "mean", "none")
# kinds whose values may be added up; the others are never summed, whatever a user sets
SUMMABLE_KINDS = ("count", "measure", "money")
NUMERIC_TYPES = {"integer", "bigint", "smallint", "double precision", "real", "numeric"}
MAX_DECIMALS = 6

# unit key → (zh-Hant, English) as shown after a value
UNITS = {
    "": ("", ""),
    "m": ("公尺", "m"), "km": ("公里", "km"), "m2": ("平方公尺", "m²"), "ha": ("公頃", "ha"),
    "km2": ("平方公里", "km²"), "ping": ("坪", "ping"), "people": ("人", "people"), "households": ("戶", "households"),
    "floors": ("層", "floors"), "lanes": ("線道", "lanes"), "year": ("年", ""), "years": ("歲", "years"),
    "per_km2": ("人/平方公里", "people/km²"), "percent": ("%", "%"), "twd": ("元", "NT$"),
    "twd_per_m2": ("元/平方公尺", "NT$/m²"), "kmh": ("公里/小時", "km/h"), "mbps": ("Mbps", "Mbps"),
    "mb": ("MB", "MB"), "ugm3": ("μg/m³", "μg/m³"), "celsius": ("°C", "°C"), "sessions": ("次", "sessions"),
    "villages": ("個", "villages"), "items": ("個", "items"),
}


# Category values the platform knows (the demo city's, Taiwanese land-use zones, ownership, road classes …):
# stored value → (zh-Hant, English). A category attribute lists those of its values it holds under `values`
# ({value: {label, label_en}}), editable like the rest, so legends and identify speak the page's language.
KNOWN_VALUES = {
    # land-use zones (使用分區) and their codes
    "住宅區": ("住宅區", "Residential zone"), "商業區": ("商業區", "Commercial zone"),
    "工業區": ("工業區", "Industrial zone"), "農業區": ("農業區", "Agricultural zone"),
    "學校用地": ("學校用地", "School land"), "公園用地": ("公園用地", "Park land"),
    "機關用地": ("機關用地", "Government land"), "道路用地": ("道路用地", "Road land"),
    "residential": ("住宅區", "Residential zone"), "commercial": ("商業區", "Commercial zone"),
    "industrial": ("工業區", "Industrial zone"), "agricultural": ("農業區", "Agricultural zone"),
    "government": ("機關用地", "Government land"), "road": ("道路用地", "Road land"),
    # ownership (公私有別)
    "市有": ("市有", "City-owned"), "國有": ("國有", "State-owned"), "私有": ("私有", "Private"),
    "縣有": ("縣有", "County-owned"), "鄉鎮市有": ("鄉鎮市有", "Township-owned"),
    # building uses
    "住宅": ("住宅", "Residential"), "商業": ("商業", "Commercial"), "工業": ("工業", "Industrial"),
    "農舍": ("農舍", "Farmhouse"), "學校": ("學校", "School"), "公共": ("公共", "Public"),
    # facilities
    "school": ("學校", "School"), "park": ("公園", "Park"), "library": ("圖書館", "Library"),
    "sports_centre": ("運動中心", "Sports centre"), "公園": ("公園", "Park"), "圖書館": ("圖書館", "Library"),
    "運動中心": ("運動中心", "Sports centre"), "商圈": ("商圈", "Shopping district"),
    # roads
    "arterial": ("主要幹道", "Arterial road"), "collector": ("次要幹道", "Collector road"),
    "local": ("地方道路", "Local road"), "主要幹道": ("主要幹道", "Arterial road"),
    "次要幹道": ("次要幹道", "Collector road"), "地方道路": ("地方道路", "Local road"),
    # sensors
    "運作中": ("運作中", "Operating"), "離線": ("離線", "Offline"), "路燈": ("路燈", "Street light"),
    "校園": ("校園", "School campus"), "機關": ("機關", "Government building"),
}


def value_labels(kind: str, values: list) -> dict:
    """{value: {label, label_en}} for the known category values among `values` (a sample of the column)."""
    if kind != "category":
        return {}
    found = {str(v) for v in values if v is not None and str(v) in KNOWN_VALUES}
    return {v: {"label": KNOWN_VALUES[v][0], "label_en": KNOWN_VALUES[v][1]} for v in sorted(found)}


@dataclass(frozen=True)
class Known:
    """A known column: a pattern over its name or original name, and what such a column is."""

    pattern: str
    kind: str
    zh: str
    en: str
    unit: str = ""
    decimals: int | None = None
    aggregate: str | None = None  # default: by kind (see default_aggregate)


# Words a pattern's named groups stand for, in (zh-Hant, English).
WORDS = {
    "people": ("", ""), "nindigenous": ("非原住民", "non-indigenous "), "indigenous": ("原住民", "indigenous "),
    "indigenous_plain": ("平地原住民", "lowland indigenous "),
    "indigenous_mountain": ("山地原住民", "highland indigenous "),
    "indigenous_pingpu": ("平埔原住民", "Pingpu indigenous "), "m": ("男性", "male "), "f": ("女性", "female "),
    "": ("", ""), "min": ("最小", "minimum "), "max": ("最大", "maximum "),
}

# First match wins: specific names before generic ones. Patterns match the whole lower-cased column name or the
# whole original name (e.g. a Chinese header). Taiwanese open-data schemas: MOI village/town/county codes
# (VILLCODE …), cadastre (段, 地號), household registration (戶政司 ODRP013: people_total_m …), SEGIS (P_CNT …).
KNOWN: tuple[Known, ...] = (
    # --- identifiers and codes
    Known(r"site_id|區域別", "category", "區域別", "District"),
    Known(r"villcode|village_?code|villageid|村里代碼|district_code|區域別代碼", "identifier", "村里代碼",
          "Village code"),
    Known(r"towncode|town_?code|townid|town_id|鄉鎮市區代碼", "identifier", "鄉鎮市區代碼", "Township code"),
    Known(r"countycode|county_?code|countyid|county_id|縣市代碼", "identifier", "縣市代碼", "County code"),
    Known(r"landno|land_no|parcel_no|地號", "identifier", "地號", "Parcel number"),
    Known(r"sectno|sect_no|section_no|段號|地段代碼", "identifier", "地段代碼", "Section code"),
    Known(r"codebase|code1|code2", "identifier", "統計區代碼", "Statistical area code"),
    Known(r"parcel_id", "identifier", "宗地編號", "Parcel ID"),
    Known(r"building_id", "identifier", "建物編號", "Building ID"),
    Known(r"village_id", "identifier", "村里編號", "Village ID"),
    Known(r"district_id", "identifier", "行政區編號", "District ID"),
    Known(r"road_id", "identifier", "道路編號", "Road ID"),
    Known(r"river_id", "identifier", "河川編號", "River ID"),
    Known(r"zone_id", "identifier", "分區編號", "Zone ID"),
    Known(r"facility_id", "identifier", "設施編號", "Facility ID"),
    Known(r"hotspot_id", "identifier", "熱點編號", "Hotspot ID"),
    Known(r"sensor_id", "identifier", "感測器編號", "Sensor ID"),
    Known(r"stationid|station_id|測站代碼", "identifier", "測站編號", "Station ID"),
    Known(r"source_fid", "identifier", "來源圖徵編號", "Source feature ID"),
    Known(r"from_node", "identifier", "起點節點", "From node"),
    Known(r"to_node", "identifier", "終點節點", "To node"),
    Known(r"case_no|案件編號|案號", "identifier", "案件編號", "Case number"),
    Known(r"objectid|gid|id|ivid|項次|編號|序號|villagesn|townsn|countysn", "identifier", "編號", "ID"),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_id", "identifier", "{stem} 編號", "{stem} ID"),
    # --- places and categories
    Known(r"district|town|townname|鄉鎮市區|行政區|區", "category", "行政區", "District"),
    Known(r"category|案件分類代碼", "category", "案件分類代碼", "Category code"),
    Known(r"category_label|案件分類|案件類別", "category", "案件分類", "Category"),
    Known(r"geocode_level|定位方式", "category", "定位方式", "Located by"),
    Known(r"village|villname|villagenam|村里|村里名稱", "category", "村里", "Village"),
    Known(r"county|countyname|縣市|縣市名稱|city|region", "category", "縣市", "County/city"),
    Known(r"villeng", "text", "村里英文名", "Village (English)"),
    Known(r"towneng", "text", "鄉鎮英文名", "Township (English)"),
    Known(r"countyeng", "text", "縣市英文名", "County (English)"),
    Known(r"section|sectname|地段|段|段名", "category", "地段", "Cadastral section"),
    Known(r"land_use|使用分區|土地使用分區", "category", "使用分區", "Land-use zone"),
    Known(r"land_use_code|使用分區代碼", "category", "使用分區代碼", "Land-use code"),
    Known(r"owner_type|公私有別|權屬", "category", "公私有別", "Ownership"),
    Known(r"use|用途|建物用途", "category", "建物用途", "Building use"),
    Known(r"kind|type|類型|類別|種類", "category", "類型", "Type"),
    Known(r"kind_zh", "category", "類型", "Type"),  # the type's Chinese name: its values carry English labels
    Known(r"road_class|道路等級", "category", "道路等級", "Road class"),
    Known(r"class_zh", "category", "等級（中文）", "Class (Chinese)"),
    Known(r"road_name|路名", "text", "路名", "Road name"),
    Known(r"road|路街|街路|路段|街路段", "text", "路街段", "Road/street"),  # a door-number address's parts
    Known(r"lane|巷|巷弄", "text", "巷弄", "Lane/alley"),
    Known(r"number|house_?number|門牌號|號", "text", "門牌號", "House number"),
    Known(r"routename|route_name|路線|路線名稱", "category", "路線", "Route"),
    Known(r"status|狀態", "category", "狀態", "Status"),
    Known(r"model|型號", "category", "型號", "Model"),
    Known(r"mount|安裝位置", "category", "安裝位置", "Mounting"),
    Known(r"venue_type|場所類型", "category", "場所類型", "Venue type"),
    Known(r"depth_class|淹水深度分級", "category", "淹水深度分級", "Flood depth class"),
    Known(r"scenario|情境", "category", "降雨情境", "Rainfall scenario"),
    Known(r"unit|管理單位|單位", "category", "管理單位", "Managing agency"),
    Known(r"note|備註|notes", "text", "備註", "Note"),
    Known(r"name|名稱|站名|station|stationname|出入口名稱", "text", "名稱", "Name"),
    Known(r"address|addr|地址|門牌|loc|location", "text", "地址", "Address"),
    # --- people and households (count)
    Known(r"(?P<who>people|nindigenous|indigenous_plain|indigenous_mountain|indigenous_pingpu)_total_(?P<sex>m|f)",
          "count", "{who}{sex}人口", "{who}{sex}population", "people"),
    Known(r"population|pop|people_total|p_cnt|人口數|人口|總人口數|現住人口", "count", "人口數", "Population",
          "people"),
    Known(r"households|household|h_cnt|戶數|household_no", "count", "戶數", "Households", "households"),
    Known(r"male|m_cnt|男|男性人口|男性", "count", "男性人口", "Male population", "people"),
    Known(r"female|f_cnt|女|女性人口|女性", "count", "女性人口", "Female population", "people"),
    Known(r"age_(?P<lo>\d+)_(?P<hi>\d+)", "count", "{lo}–{hi} 歲人口", "Population aged {lo}–{hi}", "people"),
    Known(r"age_(?P<lo>\d+)_?(?:plus|up|over)", "count", "{lo} 歲以上人口", "Population aged {lo}+", "people"),
    Known(r"villages", "count", "村里數", "Villages", "villages"),
    Known(r"capacity|容量|容納人數", "count", "容納人數", "Capacity", "people"),
    Known(r"max_users", "count", "最大連線人數", "Maximum users", "people"),
    Known(r"unique_users", "count", "使用人數", "Unique users", "people"),
    Known(r"peak_concurrent", "count", "尖峰同時連線人數", "Peak concurrent users", "people", aggregate="mean"),
    Known(r"sessions", "count", "連線次數", "Sessions", "sessions"),
    Known(r"floors|樓層數|樓層|地上層數", "count", "樓層數", "Floors", "floors", aggregate="mean"),
    Known(r"lanes|車道數", "count", "車道數", "Lanes", "lanes", aggregate="mean"),
    Known(r"(?:.*_)?(?:count|cnt|num)|數量|件數", "count", "數量", "Count", "items"),
    # --- measures (area and length add up; heights, widths, depths, speeds do not)
    Known(r"area_m2|shape_area|面積|面積_平方公尺|area", "measure", "面積", "Area", "m2", 2),
    Known(r"footprint_m2|建築面積", "measure", "建物投影面積", "Footprint area", "m2", 1),
    Known(r"floor_area_m2|總樓地板面積|樓地板面積", "measure", "總樓地板面積", "Floor area", "m2", 1),
    Known(r"area_km2|面積_平方公里", "measure", "面積", "Area", "km2", 4),
    Known(r"area_ha|面積_公頃", "measure", "面積", "Area", "ha", 2),
    Known(r"length_m|shape_len|shape_length|length|長度", "measure", "長度", "Length", "m", 1),
    Known(r"perimeter|周長", "measure", "周長", "Perimeter", "m", 1),
    Known(r"distance_m|inner_m", "measure", "距離", "Distance", "m", 0, "mean"),
    Known(r"width_m|width|路寬|寬度", "measure", "寬度", "Width", "m", 1, "mean"),
    Known(r"height_m|height|building_height|高度|建物高度", "measure", "高度", "Height", "m", 1, "mean"),
    Known(r"depth_(?P<end>min|max)_m", "measure", "{end}淹水深度", "{end}flood depth", "m", 1, "mean"),
    Known(r"altitude_m|elevation|海拔|高程", "measure", "海拔高度", "Elevation", "m", 1, "mean"),
    Known(r"speed_kmh|速限", "measure", "速限", "Speed limit", "kmh", 0, "mean"),
    Known(r"bandwidth_mbps|頻寬", "measure", "頻寬", "Bandwidth", "mbps", 0, "mean"),
    Known(r"traffic_mb|流量", "measure", "流量", "Traffic", "mb", 1),
    Known(r"pm25|pm2_5", "measure", "PM2.5", "PM2.5", "ugm3", 1, "mean"),
    Known(r"pm10", "measure", "PM10", "PM10", "ugm3", 1, "mean"),
    Known(r"temperature_c|temperature|溫度|氣溫", "measure", "溫度", "Temperature", "celsius", 1, "mean"),
    # --- ratios and densities
    Known(r"density_per_km2|density|pop_density|人口密度|密度", "ratio", "人口密度", "Population density",
          "per_km2", 1),
    Known(r"humidity_pct|humidity|濕度|相對濕度", "ratio", "相對濕度", "Relative humidity", "percent", 1),
    Known(r"popularity", "ratio", "熱門指數", "Popularity index", "", 3),
    Known(r"traffic_exposure", "ratio", "交通暴露指數", "Traffic exposure index", "", 3),
    Known(r"share|ratio|rate|pct|percent|比例|比率|百分比|率", "ratio", "比例", "Share", "percent", 1),
    # --- money
    Known(r"land_value|公告土地現值|公告現值|土地現值", "money", "公告土地現值", "Announced land value",
          "twd_per_m2", 0, "mean"),
    Known(r"price|cost|amount|金額|價格|費用|預算", "money", "金額", "Amount", "twd", 0),
    # --- years and dates
    Known(r"year_built|建造年份|建築完成年|建築年份|完工年", "date", "建造年份", "Year built", "year", 0),
    Known(r"opened_year|啟用年|啟用年份", "date", "啟用年份", "Year opened", "year", 0),
    Known(r"statistic_yyy|statistic_yyymm|統計年|統計年月|資料年月|info_time", "date", "統計年月（民國）",
          "Statistics period (ROC calendar)", "", 0),
    Known(r"install_date|裝設日期|設置日期", "date", "裝設日期", "Installation date"),
    # city events (events/): 1999 hotline cases
    Known(r"reported_at|受理時間|受理日期", "date", "受理時間", "Reported"),
    Known(r"dispatched_at|派工時間", "date", "派工時間", "Dispatched"),
    Known(r"closed_at|結案時間", "date", "結案時間", "Closed"),
    Known(r"dateestablished|date_established|成立日期", "date", "設立日期", "Date established"),
    Known(r"observed_at|觀測時間", "date", "觀測時間", "Observed at"),
    Known(r"day|date|日期", "date", "日期", "Date"),
    Known(r"year|年|年份|年度", "date", "年份", "Year", "year", 0),
    # analysis results (road widening) and generic suffixes: the unit is in the name
    Known(r"affected_m2", "measure", "徵收面積", "Area taken", "m2", 2),
    Known(r"affected_ping", "measure", "徵收面積（坪）", "Area taken (ping)", "ping", 2),
    Known(r"affected_pct", "ratio", "徵收比例", "Share taken", "percent", 1),
    Known(r"buildings_touched", "count", "受影響建物數", "Buildings affected", "items"),
    Known(r"building_ids", "identifier", "受影響建物編號", "Buildings affected (IDs)"),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_m2", "measure", "{stem}", "{stem}", "m2", 2),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_ha", "measure", "{stem}", "{stem}", "ha", 2),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_km2", "measure", "{stem}", "{stem}", "km2", 4),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_ping", "measure", "{stem}", "{stem}", "ping", 2),
    Known(r"(?P<stem>[a-z][a-z0-9_]*)_(?:pct|percent)", "ratio", "{stem}", "{stem}", "percent", 1),
    Known(r"x|x_twd97|坐標x|坐標x\(twd97\)|lon|longitude|經度", "measure", "X 坐標", "X coordinate", "", 6, "none"),
    Known(r"y|y_twd97|坐標y|坐標y\(twd97\)|lat|latitude|緯度", "measure", "Y 坐標", "Y coordinate", "", 6, "none"),
)
_COMPILED = [(re.compile(rf"^(?:{k.pattern})$", re.IGNORECASE), k) for k in KNOWN]
_DEFAULT_DECIMALS = {"count": 0, "money": 0, "identifier": 0, "date": 0, "ratio": 2, "measure": 2}


def default_aggregate(kind: str) -> str:
    return "sum" if kind in SUMMABLE_KINDS else "mean" if kind in ("ratio", "date") else "none"


def known(name: str, source: str = "") -> tuple[Known, dict] | None:
    """The first table entry whose pattern the column's name or original name matches, with its groups."""
    for candidate in (name, source):
        text = (candidate or "").strip()
        if not text:
            continue
        for pattern, entry in _COMPILED:
            match = pattern.match(text)
            if match:
                return entry, {k: v or "" for k, v in match.groupdict().items()}
    return None


def _fill(template: str, groups: dict, lang: int) -> str:
    words = {k: WORDS.get(v, (v, v))[lang] for k, v in groups.items()}
    text = template.format(**words).strip()
    return text[:1].upper() + text[1:] if lang else text


def decimals_of(values) -> int:
    """The fewest decimals (≤ MAX_DECIMALS) that show every sampled number as stored, float noise aside."""
    needed = 0
    for v in values:
        if v is None or isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            continue
        d = 0
        while d < MAX_DECIMALS and abs(round(v, d) - v) > 1e-9 * max(1.0, abs(v)):
            d += 1
        needed = max(needed, d)
    return needed


def _looks_like_years(numbers: list[float]) -> bool:
    return bool(numbers) and all(float(v).is_integer() and 1800 <= v <= 2100 for v in numbers)


def guess(name: str, pgtype: str, source: str = "", values: list | None = None) -> dict:
    """Label (zh-Hant, English), unit, kind, decimals and aggregate of one column, from its names and a sample."""
    values = [v for v in (values or []) if v is not None]
    numeric = pgtype in NUMERIC_TYPES
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    hit = known(name, source)
    if hit:
        entry, groups = hit
        kind, zh, en = entry.kind, _fill(entry.zh, groups, 0), _fill(entry.en, groups, 1)
        unit, decimals, aggregate = entry.unit, entry.decimals, entry.aggregate
        if "stem" in groups:
            stem = _words(groups["stem"])
            zh, en = (f"{stem} 編號", f"{stem} ID") if kind == "identifier" else (stem, stem)
    else:  # unknown numbers are averaged, not summed: a total of 'years' is how nonsense figures happen
        kind, zh, en, unit, decimals, aggregate = _by_values(name, pgtype, numbers, values), source or name, \
            _words(name), "", None, None
        if kind == "measure":
            aggregate = "mean"
    if kind in SUMMABLE_KINDS + ("ratio",) and not numeric and not _all_numeric_text(values):
        kind = "text"  # e.g. a "population" column holding notes
    if pgtype in ("date", "timestamptz", "timestamp with time zone", "timestamp without time zone", "timestamp"):
        kind, unit = "date", ""
    if not numeric:
        aggregate = "none"  # only numbers are added up or averaged
    if decimals is None:
        decimals = decimals_of(numbers) if numeric and kind in ("measure", "ratio") else \
            _DEFAULT_DECIMALS.get(kind, 0)
    if numeric and kind in ("measure", "ratio") and numbers and hit:
        # a known column shows its usual decimals, more (up to two) when its values carry them: 1000.05 m²
        decimals = max(decimals, min(decimals_of(numbers), decimals + 2))
    if _has_cjk(source):
        zh = source.strip()  # the data producer's own Chinese header says it best (出入口名稱, not 名稱)
    zh_unit, en_unit = UNITS.get(unit, (unit, unit))
    out = {"label": zh, "label_en": en, "unit": zh_unit, "unit_en": en_unit, "kind": kind,
           "decimals": int(decimals), "aggregate": aggregate or default_aggregate(kind)}
    named = value_labels(kind, values)
    if named:
        out["values"] = named
    return out


def _all_numeric_text(values: list) -> bool:
    texts = [v for v in values if isinstance(v, str)]
    return bool(texts) and all(re.fullmatch(r"-?[\d,]+(\.\d+)?", t.strip()) for t in texts)


def _words(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", name).strip()
    return text[:1].upper() + text[1:]


def _by_values(name: str, pgtype: str, numbers: list[float], values: list) -> str:
    """The kind of a column no table entry knows: from its type and values. Unknown numbers are measures that are
    averaged, not summed (summing an unknown number is how a total of 'years' happens)."""
    if pgtype in NUMERIC_TYPES:
        if re.search(r"(^|_)(id|code|no|sn)$", name):
            return "identifier"
        if _looks_like_years(numbers) and re.search(r"year|yr", name):
            return "date"
        if numbers and all(0 <= v <= 1 for v in numbers) and any(0 < v < 1 for v in numbers):
            return "ratio"
        return "measure"
    if pgtype == "boolean":
        return "category"
    texts = [str(v) for v in values]
    if texts and re.search(r"(^|_)(id|code|no)$", name):
        return "identifier"
    if texts and len(set(texts)) <= max(12, len(texts) // 20):
        return "category"
    return "text"


def _has_cjk(text: str) -> bool:
    return bool(text) and re.search(r"[\u3400-\u9fff]", text) is not None


def described(attribute: dict) -> dict:
    """An attribute as stored, described by a guess from its names if it never was (a raster band, an old entry)."""
    if "kind" in attribute and "aggregate" in attribute:
        return attribute
    entry = describe(attribute["name"], attribute.get("type", ""), attribute.get("source", ""), previous=attribute)
    return {**attribute, **entry}


DESCRIBED_FIELDS = ("label", "label_en", "unit", "unit_en", "kind", "decimals", "aggregate", "values")


def describe(name: str, pgtype: str, source: str = "", values: list | None = None,
             previous: dict | None = None) -> dict:
    """One column's catalog entry {name, type, source, label, …}. A previous entry of the same column and type
    (a restore, a re-describe) keeps its description: an editor's corrections survive."""
    out = {"name": name, "type": pgtype, "source": source, **guess(name, pgtype, source, values)}
    if previous and previous.get("type") == pgtype:
        kept = {k: previous[k] for k in DESCRIBED_FIELDS if k in previous}
        if "kind" not in previous and kept.get("label") in (name, source, previous.get("source")):
            kept.pop("label", None)  # an entry from before descriptions: its label was only the column's name
        out.update(kept)
        out["source"] = previous.get("source", source)
    return out




def validate_edit(attribute: dict, edit: dict) -> dict:
    """An editor's change to one attribute's description, checked; raises ValueError naming the bad field."""
    unknown = sorted(set(edit) - set(DESCRIBED_FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; editable: {', '.join(DESCRIBED_FIELDS)}")
    merged = {**described(attribute), **edit}
    for key in ("label", "label_en", "unit", "unit_en"):
        if key in edit and (not isinstance(edit[key], str) or len(edit[key]) > 100):
            raise ValueError(f"{key}: give text of at most 100 characters")
    if "label" in edit and not edit["label"].strip():
        raise ValueError("label: must not be empty")
    if "values" in edit:
        merged["values"] = _checked_values(edit["values"], described(attribute).get("values") or {})
    if merged.get("kind") not in KINDS:
        raise ValueError(f"kind: {merged.get('kind')!r} is not one of {', '.join(KINDS)}")
    if not isinstance(merged.get("decimals"), int) or isinstance(merged.get("decimals"), bool) \
            or not 0 <= merged["decimals"] <= MAX_DECIMALS:
        raise ValueError(f"decimals: give a whole number from 0 to {MAX_DECIMALS}")
    if "kind" in edit and "aggregate" not in edit:
        merged["aggregate"] = default_aggregate(merged["kind"])
    if merged.get("aggregate") not in AGGREGATES:
        raise ValueError(f"aggregate: {merged.get('aggregate')!r} is not one of {', '.join(AGGREGATES)}")
    if merged["aggregate"] == "sum" and merged["kind"] not in SUMMABLE_KINDS:
        raise ValueError(f"aggregate: a {merged['kind']} attribute cannot be summed (only "
                         f"{', '.join(SUMMABLE_KINDS)})")
    if merged["aggregate"] != "none" and merged.get("type") not in NUMERIC_TYPES:
        raise ValueError(f"aggregate: {attribute['name']!r} holds {merged.get('type')}, not numbers")
    return merged


def _checked_values(edit, current: dict) -> dict:
    """An edit of a category's value labels, {value: {label, label_en}} merged into the current ones (null removes
    a value's labels)."""
    if not isinstance(edit, dict) or len(edit) > 500:
        raise ValueError("values: give {value: {label, label_en}} for at most 500 values")
    out = dict(current)
    for value, labels in edit.items():
        if labels is None:
            out.pop(value, None)
            continue
        if not isinstance(labels, dict) or set(labels) - {"label", "label_en"} or not all(
                isinstance(v, str) and len(v) <= 100 for v in labels.values()):
            raise ValueError(f"values: {value!r} needs {{label, label_en}}, each text of at most 100 characters")
        out[value] = {**out.get(value, {}), **labels}
    return out


def value_label(attribute: dict, value, english: bool = False):
    """A category value as a person reads it in a language (the stored value when no label is known)."""
    named = (attribute.get("values") or {}).get(str(value)) if value is not None else None
    if not named and attribute.get("kind") == "category" and str(value) in KNOWN_VALUES:
        zh, en = KNOWN_VALUES[str(value)]  # a value the column's sample did not hold
        named = {"label": zh, "label_en": en}
    if not named:
        return value
    return (named.get("label_en") if english else named.get("label")) or value


def round_value(attribute: dict, value):
    """A number rounded to the attribute's decimals (ints stay ints); anything else as it is."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    decimals = attribute.get("decimals")
    if decimals is None or isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    rounded = round(value, decimals)
    return int(rounded) if decimals == 0 else rounded


def format_number(attribute: dict, value) -> str:
    """A number as a page shows it: the attribute's decimals, thousands separators (not in years or codes)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    decimals = int(attribute.get("decimals") or 0)
    grouping = "," if attribute.get("kind") not in ("date", "identifier") else ""
    return f"{value:{grouping}.{decimals}f}"


def title_of(attribute: dict, english: bool = False) -> str:
    """'人口密度（人/平方公里）' / 'Population density (people/km²)': what a legend or a column header says."""
    label = (attribute.get("label_en") if english else None) or attribute.get("label") or attribute["name"]
    unit = attribute.get("unit_en" if english else "unit") or ""
    if not unit or attribute.get("kind") == "date" or unit.lower() == label.lower():  # not "Floors (floors)"
        return label
    return f"{label} ({unit})" if english else f"{label}（{unit}）"
