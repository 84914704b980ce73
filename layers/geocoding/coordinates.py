"""Coordinates typed in the search box: TWD97 TM2 X,Y in metres, lon/lat in degrees in either order, and
degrees-minutes-seconds (25°02'30"N 121°33'54"E, 25度2分30秒, full-width characters too).

Text that looks like coordinates (digits, separators, degree marks, N/S/E/W) is read as coordinates or refused
with what was expected; anything else is not a coordinate and `read` answers None.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings

from geo.crs import TAIWAN_LONLAT_BOUNDS, transformer
from geo.messages import text as note
from layers.serving.access import BadRequest

EXPECTED = "TWD97 X,Y（例如 250000 2770000）、經緯度（例如 121.5,25.04）或度分秒（例如 25°02'30\"N 121°33'54\"E）"
LOOKS_LIKE = re.compile(r"[\d\s.,;:°'\"+\-/NSEWnsew度分秒]+")
# marks that NFKC leaves alone: primes and curly quotes as minutes and seconds
MARKS = str.maketrans({"′": "'", "’": "'", "‘": "'", "″": '"', "”": '"', "“": '"', "º": "°", "˚": "°", "，": ",",
                       "、": ","})
DMS = re.compile(r"(?P<deg>\d+(?:\.\d+)?)\s*(?P<mark>°|度)?\s*(?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|分)\s*)?"
                 r"(?:(?P<sec>\d+(?:\.\d+)?)\s*(?:\"|''|秒)\s*)?(?P<hem>[NSEW])?", re.I)


class CoordinateProblem(BadRequest):
    """Text read as coordinates that cannot be used: the message says what was expected."""


@dataclass
class Position:
    lon: float
    lat: float
    x: float  # working CRS
    y: float
    read_as: str  # "twd97", "lonlat", "dms"

    def as_dict(self) -> dict:
        return {"lon": round(self.lon, 7), "lat": round(self.lat, 7), "x": round(self.x, 2), "y": round(self.y, 2),
                "read_as": self.read_as}


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(MARKS).strip()


def looks_like_coordinates(text: str) -> bool:
    cleaned = _clean(text)
    # one bare number (a parcel number, an id) is something to find, not a position
    several = len(re.findall(r"\d+(?:\.\d+)?", cleaned)) > 1 or re.search(r"[°度NSEWnsew]", cleaned)
    return bool(several) and bool(LOOKS_LIKE.fullmatch(cleaned))


def _inside(lon: float, lat: float) -> bool:
    west, south, east, north = TAIWAN_LONLAT_BOUNDS
    return west <= lon <= east and south <= lat <= north


def _position(lon: float, lat: float, read_as: str, text: str) -> Position:
    if not _inside(lon, lat):
        west, south, east, north = TAIWAN_LONLAT_BOUNDS
        raise CoordinateProblem("「{text}」讀作經度 {lon}、緯度 {lat}，不在臺灣範圍內（經度 {west}–{east}、緯度 "
                                "{south}–{north}）；請輸入 {expected}", text=text, lon=f"{lon:.6f}", lat=f"{lat:.6f}",
                                west=west, east=east, south=south, north=north, expected=note(EXPECTED))
    x, y = transformer(4326, settings.WORKING_SRID).transform(lon, lat)
    return Position(lon, lat, x, y, read_as)


def _dms_value(m: re.Match) -> float:
    value = float(m["deg"]) + float(m["min"] or 0) / 60 + float(m["sec"] or 0) / 3600
    return -value if (m["hem"] or "").upper() in ("S", "W") else value


def _read_dms(cleaned: str, text: str) -> Position | None:
    parts = [m for m in DMS.finditer(cleaned) if m.group(0).strip()]
    if len(parts) != 2 or not all(m["mark"] or m["min"] is not None or m["hem"] for m in parts):
        return None
    if any(m["min"] and float(m["min"]) >= 60 or m["sec"] and float(m["sec"]) >= 60 for m in parts):
        raise CoordinateProblem("「{text}」的分或秒不能大於 60；請輸入 {expected}", text=text, expected=note(EXPECTED))
    first, second = parts
    hems = ((first["hem"] or "").upper(), (second["hem"] or "").upper())
    a, b = _dms_value(first), _dms_value(second)
    if hems[0] in ("N", "S") or hems[1] in ("E", "W"):
        a, b = b, a  # written lat first
    elif not any(hems) and abs(a) < abs(b):
        a, b = b, a
    return _position(a, b, "dms", text)


def read(text: str) -> Position | None:
    """The position `text` names, None when it is no coordinate at all; CoordinateProblem when it looks like one
    but cannot be used (unreadable, or outside Taiwan)."""
    if not looks_like_coordinates(text):
        return None
    cleaned = _clean(text)
    if re.search(r"[°'\"度分秒NSEWnsew]", cleaned):
        found = _read_dms(cleaned, text)
        if found:
            return found
        raise CoordinateProblem("「{text}」不是可讀的坐標；請輸入 {expected}", text=text, expected=note(EXPECTED))
    numbers = [n for n in re.split(r"[\s,;/]+", cleaned) if n]
    try:
        a, b = (float(n) for n in numbers)
    except ValueError:
        raise CoordinateProblem("「{text}」不是可讀的坐標；請輸入 {expected}", text=text,
                                expected=note(EXPECTED)) from None
    if abs(a) > 1000 and abs(b) > 1000:  # metres: TWD97 TM2 X, Y (or Y, X)
        if a > b:
            a, b = b, a
        lon, lat = transformer(3826, 4326).transform(a, b)
        return _position(lon, lat, "twd97", text)
    if abs(a) > 1000 or abs(b) > 1000:
        raise CoordinateProblem("「{text}」混合了公尺與度數；請輸入 {expected}", text=text, expected=note(EXPECTED))
    if abs(a) <= 90 < abs(b):  # lat, lon
        a, b = b, a
    return _position(a, b, "lonlat", text)
