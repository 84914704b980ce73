"""Coordinates must lie where their CRS is defined: a file in the wrong CRS (TWD97 metres read as degrees,
lon/lat read as TM2, swapped axes, 1e20 or NaN placeholders) is refused with the rows that are off, before a
layer with a useless extent reaches the catalog, the viewer or the OGC capabilities of every user.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo import messages

from .errors import ImportProblem, row_list

# Beyond a CRS's area of use, by this many degrees, is still accepted: transverse Mercator stays usable about
# 1,000 km off its zone, which takes in Taiwan's outlying islands (Kinmen, Matsu, Pratas, Taiping) in TWD97 TM2;
# coordinates in a wrong CRS are thousands of kilometres (or 1e20) off.
MARGIN_DEGREES = 10.0


@dataclass(frozen=True)
class Area:
    """A CRS's area of use (plus the margin) as a box in the CRS's own units, and in words for messages."""

    crs_name: str
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in the CRS's units
    lonlat: tuple[float, float, float, float]  # the area of use itself, in degrees

    def describe(self) -> str:
        west, south, east, north = self.lonlat
        return f"{self.crs_name} (lon {west:g}…{east:g}, lat {south:g}…{north:g})"


def area_of(crs: CRS) -> Area | None:
    """The usable area of a CRS; None when PROJ does not know one (a custom WKT): nothing is checked then."""
    return _area(crs.to_wkt())


@lru_cache(maxsize=32)
def _area(wkt: str) -> Area | None:
    crs = CRS.from_wkt(wkt)
    code = crs.to_epsg(min_confidence=70) if crs.area_of_use is None else None
    if code:  # a WKT1 from GDAL names the CRS but not its area: EPSG's definition knows it
        crs = CRS.from_epsg(code)
    use = crs.area_of_use
    if use is None:
        return None
    lonlat = (use.west, use.south, use.east, use.north)
    to_crs = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    # the margin widens the box, unless the CRS cannot express it (Web Mercator ends at 85.06°)
    for margin in (MARGIN_DEGREES, 0.0):
        west, south = max(use.west - margin, -180.0), max(use.south - margin, -90.0)
        east, north = min(use.east + margin, 180.0), min(use.north + margin, 90.0)
        box = to_crs.transform_bounds(west, south, east, north, densify_pts=21)
        if np.all(np.isfinite(box)):
            return Area(crs.name, tuple(float(v) for v in box), lonlat)
    return None


def outside(bounds: np.ndarray, area: Area) -> np.ndarray:
    """Which rows of an (n, 4) array of xmin, ymin, xmax, ymax are not wholly inside the area (NaN counts)."""
    xmin, ymin, xmax, ymax = area.box
    with np.errstate(invalid="ignore"):
        inside = ((bounds[:, 0] >= xmin) & (bounds[:, 1] >= ymin) & (bounds[:, 2] <= xmax) & (bounds[:, 3] <= ymax))
    return ~inside


def total_inside(bounds, crs: CRS) -> bool:
    """Whether an extent (xmin, ymin, xmax, ymax) lies in the CRS's area: the cheap check before the per-row one."""
    area = area_of(crs)
    if area is None:
        return bool(np.all(np.isfinite(bounds)))
    return not outside(np.asarray([bounds], dtype=float), area)[0]


def check(geoms: np.ndarray, crs: CRS, file: str, rows: list[int] | None = None, noun: str = "feature",
          working: bool = False) -> None:
    """Refuse geometries whose coordinates are not finite or lie outside the CRS's area of use.

    `rows` numbers the geometries as the user knows them (CSV line numbers, noun "row"); features are numbered
    from 1.
    `working` says the CRS is the platform's storage CRS (the data was reprojected into it).
    """
    area = area_of(crs)
    with np.errstate(invalid="ignore"):
        bounds = shapely.bounds(geoms)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    not_numbers = ~np.all(np.isfinite(bounds), axis=1) & present
    numbers = rows if rows is not None else list(range(1, len(geoms) + 1))
    hint = messages.text("；這些坐標是否屬於另一個坐標系統？匯入時請以 crs= 指定（如 TWD97 TM2 公尺用 crs=3826，"
                         "經緯度用 crs=4326）")
    if not_numbers.any():
        bad = [numbers[i] for i in np.flatnonzero(not_numbers)]
        raise ImportProblem("{where}的坐標不是數字（NaN 或無限大）", where=row_list(bad, noun=noun),
                            file=file, rows=bad[:100])
    if area is None:
        return
    off = outside(bounds, area) & present
    if off.any():
        bad = [numbers[i] for i in np.flatnonzero(off)]
        where = (messages.text("平台儲存坐標系統 {crs} 的範圍（重投影後）", crs=area.describe()) if working
                 else messages.text("讀取時所用坐標系統 {crs} 的適用範圍", crs=area.describe()))
        raise ImportProblem("{which}：坐標在{where}之外{hint}", which=row_list(bad, noun=noun), where=where,
                            hint=hint, file=file, rows=bad[:100])
