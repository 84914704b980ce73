"""Units of length and area, and geodesic measurement on the GRS80 ellipsoid (TWD97's).

Taiwanese land is traded in 坪 (ping): 1 坪 = (6 尺)² with 1 尺 = 10/33 m, i.e. 400/121 m² ≈ 3.3058 m².
"""

from pyproj import Geod

PING_M2 = 400 / 121

LENGTH_UNITS = {"m": 1.0, "km": 1000.0}
AREA_UNITS = {"m2": 1.0, "ha": 10_000.0, "km2": 1_000_000.0, "ping": PING_M2}

GRS80 = Geod(ellps="GRS80")


class UnknownUnitError(ValueError):
    pass


def convert_length(metres: float, unit: str) -> float:
    try:
        return metres / LENGTH_UNITS[unit]
    except KeyError:
        raise UnknownUnitError(f"unknown length unit {unit!r}; use one of {', '.join(LENGTH_UNITS)}") from None


def convert_area(square_metres: float, unit: str) -> float:
    try:
        return square_metres / AREA_UNITS[unit]
    except KeyError:
        raise UnknownUnitError(f"unknown area unit {unit!r}; use one of {', '.join(AREA_UNITS)}") from None


def all_areas(square_metres: float) -> dict[str, float]:
    return {unit: convert_area(square_metres, unit) for unit in AREA_UNITS}


def geodesic_length(lonlat_geom) -> float:
    """Length in metres of a lon/lat (EPSG:4326) shapely geometry along the GRS80 ellipsoid."""
    return GRS80.geometry_length(lonlat_geom)


def geodesic_area(lonlat_geom) -> float:
    """Unsigned area in m² of a lon/lat (EPSG:4326) shapely geometry on the GRS80 ellipsoid."""
    area, _perimeter = GRS80.geometry_area_perimeter(lonlat_geom)
    return abs(area)
