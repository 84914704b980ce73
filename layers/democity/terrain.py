"""Terrain of the demo city: a DEM, the rivers that cut it, and the flood-prone zones along them.

Shaped like the Taoyuan tableland: land rising from the coast in the north-west towards the hills in the
south-east, cut by meandering rivers, with a few low-lying depressions where water collects.
"""

from dataclasses import dataclass

import numpy as np
import rasterio
import rasterio.features
import shapely
from rasterio.transform import from_origin
from scipy.ndimage import distance_transform_edt

DEM_PIXEL_M = 20.0
DEM_NODATA = -9999.0

# Flood depth classes (m), as in 經濟部水利署 淹水潛勢圖 legends.
FLOOD_CLASSES = [(0.3, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 3.0)]


@dataclass
class Terrain:
    elevation: np.ndarray  # float32 (rows, cols), north-up
    transform: rasterio.Affine
    rivers: list  # shapely LineStrings
    river_names: list[str]
    flood_zones: list  # shapely Polygons
    flood_class: list[int]  # index into FLOOD_CLASSES


def build_terrain(rng: np.random.Generator, bounds: tuple[float, float, float, float],
                  river_names: list[str]) -> Terrain:
    west, south, east, north = bounds
    margin = 400.0
    west, south, east, north = west - margin, south - margin, east + margin, north + margin
    cols = int(np.ceil((east - west) / DEM_PIXEL_M))
    rows = int(np.ceil((north - south) / DEM_PIXEL_M))
    transform = from_origin(west, north, DEM_PIXEL_M, DEM_PIXEL_M)
    xs = west + (np.arange(cols) + 0.5) * DEM_PIXEL_M
    ys = north - (np.arange(rows) + 0.5) * DEM_PIXEL_M
    X, Y = np.meshgrid(xs, ys)

    # Regional trend: rising to the south-east at ~6 m/km.
    u = ((X - west) - (Y - north)) / np.hypot(east - west, north - south)
    elevation = 8.0 + 6.0 * u * np.hypot(east - west, north - south) / 1000.0
    for _ in range(6):  # rolling surface
        k = rng.uniform(1 / 4000, 1 / 900, 2) * 2 * np.pi
        phase = rng.uniform(0, 6.3, 2)
        elevation += rng.uniform(1.0, 4.0) * np.sin(k[0] * X + phase[0]) * np.cos(k[1] * Y + phase[1])
    n_hills = max(2, int((east - west) * (north - south) / 8e6))
    for _ in range(n_hills):
        hx, hy = rng.uniform(west, east), rng.uniform(south, north)
        r = rng.uniform(300, 1200)
        elevation += rng.uniform(5, 25) * np.exp(-((X - hx) ** 2 + (Y - hy) ** 2) / (2 * r * r))

    rivers, valley = _rivers(rng, (west, south, east, north), transform, X.shape, len(river_names))
    elevation -= 7.0 * valley
    pits = np.zeros_like(X)
    for _ in range(max(2, n_hills // 2)):
        px, py = rng.uniform(west, east), rng.uniform(south, north)
        r = rng.uniform(150, 450)
        pits = np.maximum(pits, np.exp(-((X - px) ** 2 + (Y - py) ** 2) / (2 * r * r)))
    elevation -= 3.0 * pits

    # Flood potential: how deep water stands in a valley floor or a depression, in metres.
    depth = np.maximum(3.2 * (valley - 0.35) / 0.65, 2.6 * (pits - 0.3) / 0.7)
    klass = np.zeros(depth.shape, dtype=np.uint8)
    for i, (low, _high) in enumerate(FLOOD_CLASSES):
        klass[depth >= low] = i + 1
    zones, zone_class = [], []
    for geom, value in rasterio.features.shapes(klass, mask=klass > 0, transform=transform, connectivity=4):
        poly = shapely.geometry.shape(geom).simplify(DEM_PIXEL_M * 0.75, preserve_topology=True)
        if poly.area < 20_000 or not poly.is_valid:
            continue
        zones.append(poly)
        zone_class.append(int(value) - 1)
    return Terrain(elevation.astype(np.float32), transform, rivers, river_names[: len(rivers)], zones,
                   zone_class)


def _rivers(rng, bounds, transform, shape, count):
    """Meandering rivers flowing from the south-east edge to the north-west, and their valley profile 0..1."""
    west, south, east, north = bounds
    lines = []
    valley = np.zeros(shape)
    for i in range(count):
        start = np.array([east, south + (i + 0.5) / count * (north - south) * 0.8])
        end = np.array([west, south + (i + 0.9) / count * (north - south) * 0.9])
        t = np.linspace(0, 1, 200)
        along = start + np.outer(t, end - start)
        normal = np.array([-(end - start)[1], (end - start)[0]]) / np.linalg.norm(end - start)
        wiggle = (rng.uniform(150, 400) * np.sin(2 * np.pi * t * rng.uniform(2, 5) + rng.uniform(0, 6.3))
                  + rng.uniform(50, 150) * np.sin(2 * np.pi * t * rng.uniform(7, 11)))
        pts = along + np.outer(wiggle, normal)
        line = shapely.LineString(pts)
        lines.append(line)
        # distance to the river: rasterise it, then a Euclidean distance transform (pixel-exact, fast)
        on_river = rasterio.features.rasterize([line], out_shape=shape, transform=transform, all_touched=True)
        dist = distance_transform_edt(on_river == 0) * DEM_PIXEL_M
        width = rng.uniform(180, 320)
        valley = np.maximum(valley, np.exp(-(dist**2) / (2 * width * width)))
    return lines, valley


def write_dem(path, terrain: Terrain, srid: int) -> None:
    """A tiled, compressed GeoTIFF with internal overviews (readable as a Cloud-Optimized GeoTIFF)."""
    rows, cols = terrain.elevation.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": f"EPSG:{srid}", "transform": terrain.transform, "nodata": DEM_NODATA,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 3,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(terrain.elevation, 1)
        dst.update_tags(1, UNITS="metre", DESCRIPTION="civgis demo city elevation")
        dst.build_overviews([2, 4, 8, 16], rasterio.enums.Resampling.average)
