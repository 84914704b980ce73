"""The server-side tile cache (issue 21): vector and raster tiles kept on disk under the data folder, so a tile
asked for again costs a file read, not a PostGIS query or a raster read.

A tile's file is `TILE_CACHE_DIR/<layer id>/<key>/<variant>/<z>/<x>/<y>.<ext>`:

- the *key* names what the tile's bytes depend on besides its data: the layer's current version (re-import,
  restore), its tile attributes, minimum zoom and CRS, and for raster tiles its style (the colour ramp). A change of
  any of these gives new files; the old ones are removed by `invalidate(layer)`;
- the *variant* is the tile request's filter (`views.variant_of`: a filtered tile is another tile), `_` for none;
- an empty file is a tile with nothing to draw (served as 204).

The one invalidation function is `invalidate(layer, boxes=None, srid=None)`: without boxes every tile of the layer
goes (re-import, restore, restyle, metadata that changes tiles); with boxes (the editing app: a feature's box before
and after an edit, in the layer's CRS) only the tiles covering them, at every zoom, in every variant. It runs when
the change commits. Whether the caller may see the layer is checked before the cache is read (`views._tile`): a
cached tile is never served to someone who may not see its layer.

Low zooms are seeded after publishing (`seed`, the Celery task `layers.seed_tiles`). Hits, misses and what is
stored are counted in Redis and shown to administrators (`statistics`, in /api/health for staff).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
from pathlib import Path

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction

from geo import dbrouter
from geo.counters import client
from layers.models import Layer

log = logging.getLogger(__name__)
STATS_KEY = "civgis:tile-cache"  # a hash: hits, misses, stored, invalidated
EXTENSIONS = {"vector": "mvt", "raster": "png", "terrain": "png"}
MAX_ZOOM = 22


def root() -> Path:
    return Path(settings.TILE_CACHE_DIR)


def enabled() -> bool:
    return bool(settings.TILE_CACHE)


def layer_key(layer: Layer, kind: str) -> str:
    """What the layer's tiles of this kind depend on besides their data and their filter, as a short name."""
    # created_at: a database made again (ids start over) never finds an earlier one's tiles
    parts = [kind, layer.created_at.isoformat() if layer.created_at else "", layer.current_version_id or 0,
             layer.min_zoom, layer.srid, list(layer.tile_attributes or []),
             [a.get("name") for a in layer.attributes or []]]
    if kind != "vector":  # a raster's colours come from its style (a vector tile carries data only)
        style = getattr(layer, "style", None)
        parts.append(style.updated_at.isoformat() if style is not None and style.updated_at else "")
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]  # noqa: S324 - a name, not a secret


def folder_of(layer: Layer, kind: str, variant: str) -> Path:
    """The folder of the layer's tiles of this kind and variant as the layer is now (`z/x/y.ext` below it)."""
    return root() / str(layer.pk) / layer_key(layer, kind) / (variant or "_")


def path_of(layer: Layer, kind: str, variant: str, z: int, x: int, y: int) -> Path:
    return folder_of(layer, kind, variant) / str(z) / str(x) / f"{y}.{EXTENSIONS[kind]}"


def _count(field: str, n: int = 1) -> None:
    with contextlib.suppress(redis.RedisError):
        client().hincrby(STATS_KEY, field, n)


def get(layer: Layer, kind: str, variant: str, z: int, x: int, y: int) -> bytes | None:
    """The cached tile's bytes (b"": nothing to draw), or None when it is not cached."""
    if not enabled():
        return None
    try:
        data = path_of(layer, kind, variant, z, x, y).read_bytes()
    except OSError:
        _count("misses")
        return None
    _count("hits")
    return data


def put(layer: Layer, kind: str, variant: str, z: int, x: int, y: int, data: bytes) -> None:
    """Keep a tile (written to a temporary file and renamed: a reader never sees half a tile)."""
    if not enabled():
        return
    path = path_of(layer, kind, variant, z, x, y)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as exc:  # a full or read-only disk: served uncached
        log.warning("tile not cached (%s)", exc)
        return
    _count("stored")


def tile_range(z: int, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the tiles at zoom z covering a lon/lat box, one more on each side (a tile carries a
    buffer of its neighbours' features, and a feature's symbol reaches past its geometry)."""
    n = 2**z

    def xy(lon: float, lat: float) -> tuple[int, int]:
        lat = max(min(lat, 85.0511), -85.0511)
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return min(max(x, 0), n - 1), min(max(y, 0), n - 1)

    x0, y0 = xy(box[0], box[3])
    x1, y1 = xy(box[2], box[1])
    return max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, n - 1), min(y1 + 1, n - 1)


def _lonlat(box, srid: int | None) -> tuple[float, float, float, float]:
    if srid in (None, 4326):
        return tuple(box)
    from geo.crs import transformer

    xs, ys = transformer(srid, 4326).transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
    return min(xs), min(ys), max(xs), max(ys)


def _remove_boxes(folder: Path, boxes: list[tuple[float, float, float, float]]) -> int:
    """Remove the tiles under one key folder (every variant) that cover any of the lon/lat boxes."""
    removed = 0
    for variant in _subfolders(folder):
        for zoom in _subfolders(variant):
            if not zoom.name.isdigit():
                continue
            z = int(zoom.name)
            ranges = [tile_range(z, box) for box in boxes]
            for column in _subfolders(zoom):
                if not column.name.isdigit():
                    continue
                x = int(column.name)
                rows = [(y0, y1) for x0, y0, x1, y1 in ranges if x0 <= x <= x1]
                if not rows:
                    continue
                for tile in column.iterdir():
                    stem = tile.name.split(".", 1)[0]
                    if stem.isdigit() and any(y0 <= int(stem) <= y1 for y0, y1 in rows):
                        with contextlib.suppress(FileNotFoundError):
                            tile.unlink()
                            removed += 1
    return removed


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [entry for entry in folder.iterdir() if entry.is_dir()]
    except FileNotFoundError:
        return []


def invalidate_now(layer: Layer | int, boxes=None, srid: int | None = None) -> int:
    """Remove the layer's cached tiles now (all of them, or those covering `boxes` in `srid`); returns how many
    tiles went (-1: all of them, uncounted)."""
    from .tile_fastpath import note_change

    note_change()  # the fast path's ETags and folders of the layer (an edit's new updated_at) are asked again
    pk = layer if isinstance(layer, int) else layer.pk
    dbrouter.pin_layer(pk)  # a replica that has not replayed the change must not draw these tiles again
    folder = root() / str(pk)
    if boxes is None:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        _count("invalidated_layers")
        return -1
    lonlat = [_lonlat(box, srid) for box in boxes if box is not None]
    removed = sum(_remove_boxes(key, lonlat) for key in _subfolders(folder))
    _count("invalidated_tiles", removed)
    return removed


def invalidate(layer: Layer | int, boxes=None, srid: int | None = None) -> None:
    """The one invalidation function: once the change commits (or now, outside a transaction), the layer's
    cached tiles go — all of them, or with `boxes` ((minx, miny, maxx, maxy) in `srid`, None: lon/lat) only those
    covering them at every zoom. Call it on re-import, restore, restyle and feature edits."""
    transaction.on_commit(lambda: invalidate_now(layer, boxes, srid))


def statistics() -> dict:
    """Hits, misses and the hit rate since the counters started, what is stored now (tiles, bytes, layers)."""
    try:
        counted = {k.decode(): int(v) for k, v in client().hgetall(STATS_KEY).items()}
    except redis.RedisError:
        counted = {}
    tiles = size = 0
    layers = _subfolders(root())
    for base, _dirs, files in os.walk(root()):
        for name in files:
            tiles += 1
            with contextlib.suppress(OSError):
                size += os.stat(os.path.join(base, name)).st_size
    hits, misses = counted.get("hits", 0), counted.get("misses", 0)
    return {"enabled": enabled(), "hits": hits, "misses": misses,
            "hit_rate": round(hits / (hits + misses), 3) if hits + misses else None,
            "stored_since_start": counted.get("stored", 0), "tiles": tiles, "bytes": size, "layers": len(layers),
            "invalidated_layers": counted.get("invalidated_layers", 0),
            "invalidated_tiles": counted.get("invalidated_tiles", 0)}


def seed_tiles(layer: Layer, max_zoom: int | None = None, limit: int = 500) -> int:
    """Render and keep the layer's tiles from its minimum zoom up to `max_zoom` (TILE_CACHE_SEED_MAX_ZOOM) over its
    extent, at most `limit` tiles; returns how many were rendered."""
    from django.http import QueryDict

    from . import rasters, tiles

    if not enabled() or layer.extent is None or layer.kind not in (Layer.Kind.VECTOR, Layer.Kind.RASTER):
        return 0
    top = settings.TILE_CACHE_SEED_MAX_ZOOM if max_zoom is None else max_zoom
    kind = "vector" if layer.kind == Layer.Kind.VECTOR else "raster"
    box = layer.extent.extent
    done = 0
    for z in range(max(layer.min_zoom, 0), top + 1):
        x0, y0, x1, y1 = tile_range(z, box)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                if done >= limit:
                    return done
                if path_of(layer, kind, "", z, x, y).exists():
                    continue
                data = (tiles.tile(layer, z, x, y, QueryDict()) if kind == "vector"
                        else rasters.png_tile(layer, z, x, y))
                put(layer, kind, "", z, x, y, data or b"")
                done += 1
    return done


@shared_task(name="layers.seed_tiles")
def seed_layer_tiles(slug: str) -> int:
    """After publishing: the layer's low zooms rendered into the tile cache (TILE_CACHE_SEED_MAX_ZOOM)."""
    layer = Layer.objects.filter(slug=slug).select_related("style").first()
    if layer is None or settings.TILE_CACHE_SEED_MAX_ZOOM < 0:
        return 0
    return seed_tiles(layer)
