"""Coordinate reference systems the city works in, and transforms between them.

Layers are stored in the working CRS (settings.WORKING_SRID, default EPSG:3826, TWD97 / TM2 zone 121). Input
arrives in WGS84 lon/lat (EPSG:4326, what maps and GPS give), Web Mercator (3857), TWD97 TM2 (3826, 3825 for
Penghu/Kinmen), TWD97 geographic (3824) or the older TWD67 TM2 (3828), or any CRS a .prj/WKT describes.
"""

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

WGS84 = 4326
WEB_MERCATOR = 3857
TWD97_GEOGRAPHIC = 3824
TWD97_TM2_119 = 3825
TWD97_TM2_121 = 3826
TWD67_TM2_121 = 3828

# Lon/lat box around the territory Taiwan administers (Kinmen, Matsu, Penghu, Pratas, Taiping Island in the
# south, Pengjia in the north-east); coordinates outside it are a wrong CRS or swapped axes.
TAIWAN_LONLAT_BOUNDS = (114.0, 10.0, 124.8, 26.6)


class UnknownCRSError(ValueError):
    """A CRS given by code or WKT that PROJ does not know."""


@lru_cache(maxsize=64)
def crs_from_epsg(code: int) -> CRS:
    try:
        return CRS.from_epsg(int(code))
    except (CRSError, ValueError) as exc:
        raise UnknownCRSError(f"EPSG:{code} is not a coordinate reference system PROJ knows") from exc


@lru_cache(maxsize=64)
def transformer(src_srid: int, dst_srid: int) -> Transformer:
    """A cached lon/lat-ordered (x, y) transformer between two EPSG codes."""
    return Transformer.from_crs(crs_from_epsg(src_srid), crs_from_epsg(dst_srid), always_xy=True)


def transform(geom, src_srid: int, dst_srid: int):
    """Reproject a shapely geometry (or an array of them) between EPSG codes."""
    if src_srid == dst_srid:
        return geom
    return apply(geom, transformer(src_srid, dst_srid))


def apply(geom, tf: Transformer):
    """A shapely geometry (or array of them) through a pyproj transformer, all coordinates in one call."""
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))
