"""Coordinate reference systems the city works in, and transforms between them.

Layers are stored in the working CRS (settings.WORKING_SRID, default EPSG:3826, TWD97 / TM2 zone 121). Input
arrives in WGS84 lon/lat (EPSG:4326, what maps and GPS give), Web Mercator (3857), TWD97 TM2 (3826, 3825 for
Penghu/Kinmen), TWD97 geographic (3824) or the older TWD67 TM2 (3828), or any CRS a .prj/WKT describes.
"""

from functools import lru_cache

import numpy as np
import shapely
from django.conf import settings
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

WGS84 = 4326
WEB_MERCATOR = 3857
TWD97_GEOGRAPHIC = 3824
TWD97_TM2_119 = 3825
TWD97_TM2_121 = 3826
TWD67_TM2_121 = 3828

NAMED_CRS = {
    WGS84: "WGS 84 經緯度",
    WEB_MERCATOR: "Web Mercator",
    TWD97_GEOGRAPHIC: "TWD97 經緯度",
    TWD97_TM2_119: "TWD97 / TM2 119 (澎湖、金門、馬祖)",
    TWD97_TM2_121: "TWD97 / TM2 121 (臺灣本島)",
    TWD67_TM2_121: "TWD67 / TM2 121",
}

# Lon/lat box around the territory Taiwan administers (Kinmen, Matsu, Penghu, Pratas, Taiping Island in the
# south, Pengjia in the north-east); coordinates outside it are a wrong CRS or swapped axes.
TAIWAN_LONLAT_BOUNDS = (114.0, 10.0, 124.8, 26.6)


class UnknownCRSError(ValueError):
    """A CRS given by code or WKT that PROJ does not know."""


def working_srid() -> int:
    return settings.WORKING_SRID


@lru_cache(maxsize=64)
def crs_from_epsg(code: int) -> CRS:
    try:
        return CRS.from_epsg(int(code))
    except (CRSError, ValueError) as exc:
        raise UnknownCRSError(f"EPSG:{code} is not a coordinate reference system PROJ knows") from exc


def epsg_of(crs_text: str) -> int | None:
    """The EPSG code of a WKT / PROJ string / 'EPSG:n' text, or None when it has no confident match."""
    try:
        crs = CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise UnknownCRSError(f"cannot read this CRS definition: {crs_text[:80]!r}") from exc
    return crs.to_epsg(min_confidence=70)


@lru_cache(maxsize=64)
def transformer(src_srid: int, dst_srid: int) -> Transformer:
    """A cached lon/lat-ordered (x, y) transformer between two EPSG codes."""
    return Transformer.from_crs(crs_from_epsg(src_srid), crs_from_epsg(dst_srid), always_xy=True)


def transform(geom, src_srid: int, dst_srid: int):
    """Reproject a shapely geometry (or an array of them) between EPSG codes."""
    if src_srid == dst_srid:
        return geom
    tf = transformer(src_srid, dst_srid)
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


def to_working(geom, src_srid: int):
    return transform(geom, src_srid, working_srid())


def is_in_taiwan(lon: float, lat: float) -> bool:
    west, south, east, north = TAIWAN_LONLAT_BOUNDS
    return west <= lon <= east and south <= lat <= north
