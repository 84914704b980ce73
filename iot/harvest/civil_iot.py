"""What remote SensorThings documents look like in practice (Civil IoT Taiwan's especially) turned into plain
values: booleans sent as strings, metadata packed into descriptions, Locations in GeoJSON (also the legacy
`application/vnd.geo+json`), as a Feature, or as an address, and times that may be intervals."""

import json
import re
from datetime import datetime

from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point

from .client import HarvestError

GEOJSON_TYPES = ("application/geo+json", "application/vnd.geo+json", "application/geojson", "application/json")
ADDRESS_TYPES = ("text/plain", "text/address", "application/address")
# `Datastream_id=66503e96-…, Datastream_FullName=褒忠鄉鎮安橋淹水深度(6330597119-2), Datastream_Category=淹水深度`
PACKED_ITEM = re.compile(r"\s*([A-Za-z_][\w.]*)\s*=\s*(.*?)\s*(?=,\s*[A-Za-z_][\w.]*\s*=|$)")


def plain_value(value):
    """'true'/'false' (any case) as booleans; nested objects and lists converted the same way."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    return value


def packed_metadata(text) -> dict:
    """`key=value, key=value` in a description as a dict ({} when the text is not written that way)."""
    if not isinstance(text, str) or "=" not in text:
        return {}
    items = PACKED_ITEM.findall(text.strip())
    rebuilt = ", ".join(f"{k}={v}" for k, v in items)
    squeeze = re.compile(r"\s*([=,])\s*")
    if not items or squeeze.sub(r"\1", rebuilt) != squeeze.sub(r"\1", text.strip()):
        return {}
    return {key: plain_value(value) for key, value in items}


def stamp(value, where: str) -> datetime | None:
    """A phenomenonTime: an instant, or the end of an interval `start/end`; it must carry its zone."""
    if value in (None, ""):
        return None
    text = str(value).split("/")[-1].strip()
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HarvestError(f"{where}: phenomenonTime {value!r} is not an ISO 8601 time") from None
    if found.tzinfo is None:
        raise HarvestError(f"{where}: phenomenonTime {value!r} has no time zone")
    return found


def number(value) -> float | None:
    """A result as a number (numbers sent as text too), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def location(entity: dict) -> tuple[Point | None, str]:
    """(a point in EPSG:4326, or None; the address to look up when the Location is one, else '')."""
    kind = str(entity.get("encodingType") or "").split(";")[0].strip().lower()
    value = entity.get("location")
    if isinstance(value, str) and kind not in GEOJSON_TYPES:
        return None, value.strip()
    if isinstance(value, dict) and isinstance(value.get("address"), str):
        return None, value["address"].strip()
    if kind in ADDRESS_TYPES:
        return None, str(value or "").strip()
    if not isinstance(value, dict):
        return None, ""
    if value.get("type") == "Feature":
        value = value.get("geometry") or {}
    try:
        geometry = GEOSGeometry(json.dumps(value), srid=4326)
    except (GEOSException, ValueError, TypeError):
        return None, ""
    if geometry.empty:
        return None, ""
    point = geometry if geometry.geom_type == "Point" else geometry.point_on_surface
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        return None, ""
    return Point(point.x, point.y, srid=4326), ""
