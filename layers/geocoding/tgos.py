"""TGOS 門牌位置比對服務 (WSQueryAddr v4.0) as an optional provider, used only when its keys are set.

The service answers a GET of QueryAddr (oAPPId, oAPIKey, oAddress, oSRS, oFuzzyType, oResultDataType=JSON …)
with XML whose one <string> element holds JSON: `Info[0]` (IsSuccess, OutTotal, OutMatchType such as 完全比對)
and `AddressList` (FULL_ADDR, COUNTY, TOWN, VILLAGE, ROAD, SECTION, LANE, ALLEY, NUMBER, X, Y). This client is
written against that documented shape and tested against a local stand-in server; it has not been run against
the real TGOS service from here (no keys, no internet).
"""

import json
import logging
import re

import requests
from django.conf import settings

from geo.crs import transformer

from . import address
from .geocoder import Match

log = logging.getLogger(__name__)
# TGOS match types → our levels; anything else it reports counts as a road-level match
LEVEL_OF = {"完全比對": ("exact", 0.95), "門牌比對": ("exact", 0.95), "最近門牌比對": ("nearest_number", 0.8),
            "最近門牌號": ("nearest_number", 0.8), "單雙號比對": ("nearest_number", 0.8)}


def configured() -> bool:
    return bool(settings.TGOS_APP_ID and settings.TGOS_API_KEY)


def _payload(xml: str) -> dict:
    m = re.search(r"<string[^>]*>(.*)</string>", xml, re.S)
    return json.loads((m[1] if m else xml).replace("\t", " "))


def geocode(text: str) -> Match | None:
    """The best TGOS match for `text`, or None (also when TGOS cannot be reached: the local answer stands)."""
    if not configured():
        return None
    params = {"oAPPId": settings.TGOS_APP_ID, "oAPIKey": settings.TGOS_API_KEY, "oAddress": text,
              "oSRS": "EPSG:4326", "oFuzzyType": 2, "oResultDataType": "JSON", "oFuzzyBuffer": 0,
              "oIsOnlyFullMatch": "false", "oIsSupportPast": "true", "oIsShowCodeBase": "false",
              "oIsLockCounty": "true", "oIsLockTown": "false", "oIsLockVillage": "false",
              "oIsLockRoadSection": "false", "oIsLockLane": "false", "oIsLockAlley": "false",
              "oIsLockArea": "false", "oIsSameNumber_SubNumber": "true", "oCanIgnoreVillage": "true",
              "oCanIgnoreNeighborhood": "true", "oReturnMaxCount": 1}
    try:
        response = requests.get(settings.TGOS_URL, params=params, timeout=settings.TGOS_TIMEOUT_S)
        response.raise_for_status()
        data = _payload(response.text)
        info = (data.get("Info") or [{}])[0]
        found = data.get("AddressList") or []
    except (requests.RequestException, ValueError) as exc:
        log.warning("TGOS address query failed: %s", exc)
        return None
    if str(info.get("IsSuccess", "")).lower() != "true" or not found:
        return None
    best = found[0]
    level, score = LEVEL_OF.get(info.get("OutMatchType", ""), ("road", 0.6))
    lon, lat = float(best["X"]), float(best["Y"])
    x, y = transformer(4326, settings.WORKING_SRID).transform(lon, lat)
    return Match(level, score, address.parse(best.get("FULL_ADDR") or text).label() or best.get("FULL_ADDR", ""),
                 lon, lat, x, y, 0, None, address.parse(text).label())
