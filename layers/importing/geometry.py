"""Geometry clean-up on import: drop empty, flatten Z, repair invalid, unify single/multi, reproject."""

from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.crs import apply
from geo.messages import text as note

# shapely type id → family; 7 (GeometryCollection) has none
FAMILY_OF_TYPE = {0: "Point", 4: "Point", 1: "LineString", 2: "LineString", 5: "LineString", 3: "Polygon",
                  6: "Polygon"}
SINGLE_ID = {"Point": 0, "LineString": 1, "Polygon": 3}
MULTI = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings, "Polygon": shapely.multipolygons}


@dataclass
class CleanReport:
    dropped_empty: int = 0
    repaired: int = 0
    promoted_to_multi: int = 0
    flattened_z: bool = False
    messages: list[str] = field(default_factory=list)

    @property
    def changed_geometries(self) -> bool:
        """Whether any kept geometry differs from the file's (so the file's own WKB cannot be reused)."""
        return bool(self.repaired or self.promoted_to_multi or self.flattened_z)


def clean(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, str, CleanReport]:
    """(kept geometries, mask of the input rows kept, PostGIS geometry type, report of what was changed)."""
    report = CleanReport()
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
        report.flattened_z = True
        report.messages.append(note("已去除 Z 坐標（圖層以 2D 儲存）"))

    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        geoms = geoms.copy()
        families = [FAMILY_OF_TYPE.get(t) for t in shapely.get_type_id(geoms[invalid])]
        repaired = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        geoms[invalid] = [_only(g, f) for g, f in zip(repaired, families, strict=True)]
        report.repaired = int(invalid.sum())
        report.messages.append(note("已修復 {n} 個無效的圖形", n=report.repaired) if report.repaired > 1
                               else note("已修復 1 個無效的圖形"))

    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    report.dropped_empty = int((~keep).sum())
    if report.dropped_empty:
        report.messages.append(note("略過 {n} 筆沒有圖形（或修復後沒有剩下圖形）的圖徵", n=f"{report.dropped_empty:,}"))
    geoms = geoms[keep]

    type_ids = shapely.get_type_id(geoms)
    families = {FAMILY_OF_TYPE.get(int(t)) for t in np.unique(type_ids)}
    if len(families) != 1 or None in families:
        # Points, lines and polygons together (common in KML): keep them all in a generic geometry column.
        report.messages.append(note("圖層混合了點、線與面；以通用圖形儲存"))
        return geoms, keep, "Geometry", report
    family = families.pop()
    single = type_ids == SINGLE_ID[family]
    if single.all():
        return geoms, keep, family, report
    if single.any():
        report.promoted_to_multi = int(single.sum())
        report.messages.append(note("{n} 個單一圖形轉為 Multi{family}", n=f"{report.promoted_to_multi:,}",
                                    family=family))
        parts, index = shapely.get_parts(geoms, return_index=True)
        geoms = MULTI[family](parts, indices=index)
    return geoms, keep, f"Multi{family}", report


def _only(geom, family: str | None):
    """A repaired geometry reduced to the kind it was: make_valid can return a collection with stray parts."""
    if family is None or shapely.get_type_id(geom) != 7:
        return geom
    wanted = (SINGLE_ID[family], SINGLE_ID[family] + 3)
    parts = [p for p in shapely.get_parts(shapely.get_parts(geom)) if shapely.get_type_id(p) in wanted]
    return MULTI[family](parts) if parts else None


def reproject(geoms: np.ndarray, source: CRS, target_srid: int) -> np.ndarray:
    target = CRS.from_epsg(target_srid)
    if source == target:
        return geoms
    return apply(geoms, Transformer.from_crs(source, target, always_xy=True))
