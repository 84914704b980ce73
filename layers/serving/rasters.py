"""Raster layers: XYZ PNG tiles from the stored Cloud-Optimized GeoTIFF, coloured with the layer's ramp, and
the value at a point. Overviews in the COG make low-zoom tiles cheap (rasterio reads the right level)."""

import warnings
from pathlib import Path

import numpy as np
import rasterio
from django.conf import settings
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from geo import media
from layers.models import Layer
from layers.styles import ramp_colors

from .access import BadRequest
from .tiles import WEB_MERCATOR_WIDTH, check_tile

TILE_SIZE = 256


def raster_path(layer: Layer) -> Path:
    if layer.kind != Layer.Kind.RASTER or not layer.raster_path:
        raise BadRequest("圖層 {slug} 是 {kind} 圖層，不是網格", slug=repr(layer.slug), kind=layer.kind)
    path = Path(settings.MEDIA_ROOT) / layer.raster_path
    media.local(path)  # GDAL reads a local file: fetched from the media store on first use (geo.media)
    return path


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = WEB_MERCATOR_WIDTH / 2**z
    west = -WEB_MERCATOR_WIDTH / 2 + x * size
    north = WEB_MERCATOR_WIDTH / 2 - y * size
    return west, north - size, west + size, north


def value_range(layer: Layer, dataset) -> tuple[float, float]:
    """The colour ramp's span: the style's graduated classes if any, else the band's statistics."""
    style = getattr(layer, "style", None)
    if style is not None and style.kind == "graduated" and style.classes:
        return style.classes[0]["min"], style.classes[-1]["max"]
    band = next((b for b in layer.attributes if b.get("name") == "band_1"), {})
    if "min" in band and "max" in band:
        return band["min"], band["max"]
    [stats] = dataset.stats(indexes=[1], approx=True)
    return stats.min, stats.max


def _read_tile(layer: Layer, z: int, x: int, y: int):
    """The raster's first band warped onto tile z/x/y (Web Mercator, 256²) as a masked float array, or None when
    the tile lies outside the raster."""
    check_tile(z, x, y)
    path = raster_path(layer)
    bounds = tile_bounds(z, x, y)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path) as src:  # stats must not write .aux.xml
        raster_box = transform_bounds(src.crs, "EPSG:3857", *src.bounds)
        if bounds[0] > raster_box[2] or bounds[2] < raster_box[0] or bounds[1] > raster_box[3] or \
                bounds[3] < raster_box[1]:
            return None, None
        transform = rasterio.transform.from_bounds(*bounds, TILE_SIZE, TILE_SIZE)
        with WarpedVRT(src, crs="EPSG:3857", transform=transform, width=TILE_SIZE, height=TILE_SIZE,
                       resampling=Resampling.bilinear) as vrt:
            data = vrt.read(1, masked=True).astype("float64")
        return data, value_range(layer, src)


def _valid(data) -> np.ndarray:
    return ~np.ma.getmaskarray(data) & np.isfinite(data.filled(np.nan))


def _png(rgba: np.ndarray) -> bytes:
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a map tile's PNG carries no georeference
        with memory.open(driver="PNG", width=TILE_SIZE, height=TILE_SIZE, count=rgba.shape[0], dtype="uint8") as png:
            png.write(rgba)
        return memory.read()


def png_tile(layer: Layer, z: int, x: int, y: int) -> bytes | None:
    """A 256² RGBA PNG coloured with the layer's ramp, or None when the tile lies outside the raster."""
    data, span = _read_tile(layer, z, x, y)
    if data is None:
        return None
    low, high = span
    ramp = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)]
                     for c in ramp_colors(getattr(getattr(layer, "style", None), "ramp", "Viridis"), 256)],
                    dtype=np.uint8)
    scaled = np.clip((data.filled(low) - low) / max(high - low, 1e-12) * 255, 0, 255).astype(np.uint8)
    rgba = np.zeros((4, TILE_SIZE, TILE_SIZE), dtype=np.uint8)
    rgba[:3] = ramp[scaled].transpose(2, 0, 1)
    valid = _valid(data)
    rgba[3] = np.where(valid, 255, 0)
    return _png(rgba) if valid.any() else None


def encode_terrain_rgb(elevation_m: np.ndarray) -> np.ndarray:
    """Mapbox terrain-RGB: height = -10000 + (R·65536 + G·256 + B) · 0.1 m; returns a (3, h, w) uint8 array."""
    code = np.clip(np.round((elevation_m + 10000.0) * 10.0), 0, 2**24 - 1).astype(np.uint32)
    return np.stack([(code >> 16) & 255, (code >> 8) & 255, code & 255]).astype(np.uint8)


def terrain_rgb_tile(layer: Layer, z: int, x: int, y: int) -> bytes | None:
    """The raster's values as elevations in a terrain-RGB PNG (for MapLibre's raster-dem); nodata is sea level so
    the 3D view has no holes."""
    data, _span = _read_tile(layer, z, x, y)
    if data is None or not _valid(data).any():
        return None
    return _png(encode_terrain_rgb(np.where(_valid(data), data.filled(0.0), 0.0)))


def value_at(layer: Layer, lon: float, lat: float) -> dict:
    path = raster_path(layer)
    with rasterio.open(path) as src:
        x, y = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True).transform(lon, lat)
        row, col = src.index(x, y)
        inside = 0 <= row < src.height and 0 <= col < src.width
        value = None
        if inside:
            sample = src.read(1, window=((row, row + 1), (col, col + 1)), masked=True)
            if not np.ma.getmaskarray(sample)[0, 0] and np.isfinite(sample[0, 0]):
                value = float(sample[0, 0])
    return {"layer": layer.slug, "lon": lon, "lat": lat, "x": x, "y": y, "crs": f"EPSG:{layer.srid}",
            "value": value, "inside": inside}
