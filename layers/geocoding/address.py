"""Taiwanese door-number addresses (門牌) parsed into their parts, in one normal form for matching.

The normal form: half-width digits, 台 written 臺, Chinese numerals before 段/巷/弄/號/樓/鄰 and after 之 as digits
(二段 → 2段, 一百二十巷 → 120巷), 12-3號 and 12號之3 both as number 12, sub 3. Matching compares these parts,
never the raw text.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass, field

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = "[零〇一二兩三四五六七八九十百千]+"
# a numeral counts as a number only in front of these (三民路 and 五福路 keep their names)
COUNTED = "段巷弄號樓鄰"


def chinese_number(text: str) -> int:
    """一百二十 → 120, 十五 → 15, 二〇五 → 205 (read digit by digit when there is no unit)."""
    if not any(c in UNITS for c in text):
        return int("".join(str(DIGITS[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c in DIGITS:
            digit = DIGITS[c]
        else:
            total += (digit or 1) * UNITS[c]
            digit = 0
    return total + digit


@functools.lru_cache(maxsize=65536)  # an index build normalises the same district and village names thousands of times
def normalise(text: str) -> str:
    """Half-width (NFKC: １２ → 12, －→ -), no spaces, 台 → 臺, counted Chinese numerals → digits, 12-3號 → 12之3號."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"\s+", "", text).replace("台", "臺")
    text = re.sub(r"(\d)[Ff]\b", r"\1樓", text)
    text = re.sub(rf"({NUMERAL})(?=[{COUNTED}])", lambda m: str(chinese_number(m[1])), text)
    text = re.sub(rf"之({NUMERAL})", lambda m: "之" + str(chinese_number(m[1])), text)
    text = re.sub(r"(\d+)[-－~](\d+)(?=[號巷弄樓])", r"\1之\2", text)
    text = re.sub(r"^\d{3}(?:\d{2,3})?(?=[^\d巷弄號樓之段鄰])", "", text)  # the postal code
    # the neighbourhood (鄰) plays no part in matching; a place name may come with it (崁頂村中福3鄰中福73號)
    text = re.sub(r"(?<=[村里])[^\d]{0,4}?\d+鄰", "", text)
    return re.sub(r"^(?:中華民國|臺灣省|臺灣)", "", text)


PATTERN = re.compile(
    r"(?P<city>[^\d]{2}[縣市])?"
    r"(?P<district>[^\d]{1,3}區|[^\d]{1,3}?[鄉鎮市])?"
    r"(?P<village>[^\d]{1,3}?[村里])?"
    r"(?:(?P<neighbour>\d+)鄰)?"
    r"(?P<road>[^\d]+)?"
    r"(?:(?P<section>\d+)段)?"
    r"(?:(?P<lane>\d+(?:之\d+)?)巷)?"
    r"(?:(?P<alley>\d+(?:之\d+)?)弄)?"
    r"(?:(?P<number>\d+)(?:之(?P<sub>\d+))?號(?:之(?P<sub_after>\d+))?)?"
    r"(?:(?P<floor>\d+)樓(?:之\d+)?)?"
    r"(?P<rest>.*)")


@dataclass
class Address:
    city: str = ""
    district: str = ""
    village: str = ""
    road: str = ""  # 路/街/大道 or an area name (地區) that takes the road's place, without its section
    section: int = 0
    lane: str = ""  # "120" or "5之1"
    alley: str = ""
    number: int | None = None
    sub: int = 0  # 之 number: 12之3號 → 3
    floor: int | None = None
    rest: str = ""
    text: str = field(default="", compare=False)

    @property
    def road_key(self) -> str:
        """The road as matched: name and section ('復興路#3')."""
        return f"{self.road}#{self.section}" if self.road else ""

    def house(self) -> str:
        """The door number in the normal form, e.g. 武崙路120巷2之1號."""
        parts = [self.road, f"{self.section}段" if self.section else "", f"{self.lane}巷" if self.lane else "",
                 f"{self.alley}弄" if self.alley else ""]
        if self.number is not None:
            parts.append(f"{self.number}之{self.sub}號" if self.sub else f"{self.number}號")
        return "".join(parts)

    def label(self) -> str:
        return self.city + self.district + self.village + self.house()

    @property
    def is_empty(self) -> bool:
        return not (self.city or self.district or self.village or self.road)


def parse(text: str) -> Address:
    """Parts of an address; what cannot be read is left in `rest` (a house number without 號 is read too)."""
    normal = normalise(text)
    normal = re.sub(r"(\d+)$", r"\1號", normal) if re.search(r"[路街道巷弄段]\d+$", normal) else normal
    m = PATTERN.fullmatch(normal)
    parts = m.groupdict() if m else {"rest": normal}
    road = parts.get("road") or ""
    village = parts.get("village") or ""
    if village and road in ("路", "街", "大道"):  # 萬里街 read as the village 萬里 and a road 街
        village, road = "", village + road
    return Address(
        city=parts.get("city") or "", district=parts.get("district") or "", village=village,
        road=road, section=int(parts["section"]) if parts.get("section") else 0,
        lane=parts.get("lane") or "", alley=parts.get("alley") or "",
        number=int(parts["number"]) if parts.get("number") else None,
        sub=int(parts.get("sub") or parts.get("sub_after") or 0),
        floor=int(parts["floor"]) if parts.get("floor") else None, rest=parts.get("rest") or "", text=text)


def split_road(name: str) -> tuple[str, int]:
    """'復興路三段' or '復興路3段' → ('復興路', 3); '武崙路' → ('武崙路', 0)."""
    normal = normalise(name)
    m = re.fullmatch(r"(.+?)(\d+)段", normal)
    return (m[1], int(m[2])) if m else (normal, 0)


def parse_number(text: str) -> tuple[int | None, int]:
    """'３１之１３號' → (31, 13); '12號' → (12, 0); '' → (None, 0)."""
    m = re.search(r"(\d+)(?:之(\d+))?號?(?:之(\d+))?", normalise(text))
    if not m:
        return None, 0
    return int(m[1]), int(m[2] or m[3] or 0)


def strip_unit(text: str, unit: str) -> str:
    """'１２０巷' → '120' (lane and alley as kept in an address layer's columns)."""
    return normalise(text).removesuffix(unit)
