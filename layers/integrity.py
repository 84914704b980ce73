"""One broken layer never breaks what lists it: checks that a layer's stored metadata can be served.

Imports refuse coordinates outside their CRS's area, but a catalog row can still go bad (an old import, a
hand edit, a restore of a damaged table). Whatever lists many layers — the catalog API, the viewer's config,
the OGC capabilities — asks here first and leaves out (or blanks) what is broken, logging it for the
administrators, instead of failing for every user.
"""

import json
import logging
import math

log = logging.getLogger("civgis.integrity")


def lonlat_bbox(layer, digits: int) -> list[float] | None:
    """The layer's lon/lat bounding box rounded, or None (logged) if it is not a box on the globe."""
    if layer.extent is None:
        return None
    box = [round(v, digits) for v in layer.extent.extent]
    if not (_on_globe(box) and _finite_polygon(layer.extent)):
        log.error("layer %s: its extent %s is not a lon/lat box; left out until it is re-imported", layer.slug, box)
        return None
    return box


def finite(values) -> list[float] | None:
    """A list of numbers, or None if any is NaN or infinite (JSON has no such numbers)."""
    if values is None or not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        return None
    return list(values)


def servable(layer) -> bool:
    """Whether a layer's extents are usable by the OGC engine (finite native extent, lon/lat box on the globe)."""
    native_ok = layer.native_extent is None or finite(layer.native_extent) is not None
    lonlat_ok = layer.extent is None or (_on_globe(layer.extent.extent) and _finite_polygon(layer.extent))
    if not (native_ok and lonlat_ok):
        log.error("layer %s: broken extent (native %s); not served over OGC until it is re-imported", layer.slug,
                  layer.native_extent)
    return native_ok and lonlat_ok


def json_safe(entry: dict, slug: str) -> dict | None:
    """The entry if it is valid JSON (no NaN or Infinity anywhere), else None (logged)."""
    try:
        json.dumps(entry, allow_nan=False, default=str)
    except ValueError:
        log.error("layer %s: its entry holds numbers JSON cannot carry (NaN or infinite); left out", slug)
        return None
    return entry


def _on_globe(box) -> bool:
    if finite(box) is None:
        return False
    west, south, east, north = box
    return -180 <= west <= east <= 180 and -90 <= south <= north <= 90


def _finite_polygon(polygon) -> bool:
    """GEOS leaves NaN corners out of an extent, so the polygon's own coordinates are checked."""
    return all(math.isfinite(v) for ring in polygon.coords for point in ring for v in point)
