"""Mapbox vector tiles from ST_AsMVT, filtered through the layer's GiST index in its own CRS.

Keeping tiles small enough for a browser is part of serving: a layer has a minimum zoom (set from its density
on import), carries only its chosen attributes below zoom 14, and below zoom 14 its lines and polygons are
simplified to a tile pixel and those smaller than a pixel are left out.
"""

import math

from psycopg2 import sql

from geo.crs import WEB_MERCATOR, transformer
from geo.dbrouter import reading
from layers.models import DATA_SCHEMA, Layer

from . import query
from .access import BadRequest

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
DETAIL_ZOOM = 14  # from here on: every attribute, no simplification
WEB_MERCATOR_WIDTH = 2 * math.pi * 6378137
MAX_FEATURES_PER_TILE = 8000


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise BadRequest("縮放層級 {z} 不在 0–{maximum} 之間", z=z, maximum=MAX_ZOOM)
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise BadRequest("圖磚 {z}/{x}/{y} 不存在：縮放層級 {z} 的 x 與 y 必須在 0–{top} 之間", z=z, x=x, y=y,
                         top=2**z - 1)


def pixel_m(z: int) -> float:
    """Size of one tile-grid unit (1/4096 of a tile) in metres at zoom z, roughly (Web Mercator at the equator;
    TWD97 metres near Taiwan are within 10 % of it, which is plenty for simplification)."""
    return WEB_MERCATOR_WIDTH / 2**z / EXTENT * math.cos(math.radians(24))


def tile_sql(layer: Layer, z: int, x: int, y: int, params) -> sql.Composable:
    names = [a["name"] for a in layer.attributes]
    if z < DETAIL_ZOOM:
        names = [n for n in layer.tile_attributes if n in names]
    geom = sql.SQL("t.geom")
    keep = []
    if z < DETAIL_ZOOM and layer.geometry_type not in ("Point", "MultiPoint"):
        tolerance = pixel_m(z)
        geom = sql.SQL("ST_Simplify(t.geom, {}, true)").format(sql.Literal(tolerance))
        # smaller than a pixel both ways: invisible, so not sent
        keep.append(sql.SQL("(ST_XMax(t.geom) - ST_XMin(t.geom) > {p} OR ST_YMax(t.geom) - ST_YMin(t.geom) > {p})")
                    .format(p=sql.Literal(tolerance)))
    conditions = [sql.SQL("t.geom && {}").format(_search_box(layer, z)), *keep, *query.where(layer, params)]
    columns = sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier("t", n)) for n in names)
    return sql.SQL(
        "WITH b AS (SELECT ST_TileEnvelope({z}, {x}, {y}) AS e) "
        "SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM ("
        "SELECT t.fid{columns}, ST_AsMVTGeom(ST_Transform({geom}, 3857), b.e, {extent}, {buffer}, true) AS geom "
        "FROM {table} t, b WHERE {where}) q WHERE q.geom IS NOT NULL"
    ).format(z=sql.Literal(z), x=sql.Literal(x), y=sql.Literal(y), name=sql.Literal(layer.slug),
             extent=sql.Literal(EXTENT), buffer=sql.Literal(BUFFER), columns=columns, geom=geom,
             table=sql.Identifier(DATA_SCHEMA, layer.table_name), where=sql.SQL(" AND ").join(conditions))


def _search_box(layer: Layer, z: int) -> sql.Composable:
    """The tile (with its buffer) as a box in the layer's CRS, for the GiST index. Only the part of the tile over
    the layer's own extent is transformed, with its edges densified: a world-sized tile pushed through a local
    projection such as TM2 as four corners comes out as nonsense (zoom 0 and 1 tiles were empty)."""
    margin = WEB_MERCATOR_WIDTH / 2**z * BUFFER / EXTENT
    tile = sql.SQL("ST_Expand(b.e, {})").format(sql.Literal(margin))
    if layer.extent is None:
        return sql.SQL("ST_Transform({}, {})").format(tile, sql.Literal(layer.srid))
    w, s_, e, n = layer.extent.extent  # a lon/lat box is a box in Web Mercator too
    (x0, x1), (y0, y1) = transformer(4326, WEB_MERCATOR).transform([w, e], [s_, n])
    over_layer = sql.SQL("ST_Intersection({}, ST_MakeEnvelope({}, {}, {}, {}, 3857))").format(
        tile, *(sql.Literal(v) for v in (x0 - margin, y0 - margin, x1 + margin, y1 + margin)))
    step = WEB_MERCATOR_WIDTH / 2**z / 16
    return sql.SQL("ST_Transform(ST_Segmentize({}, {}), {})").format(over_layer, sql.Literal(step),
                                                                    sql.Literal(layer.srid))


def tile(layer: Layer, z: int, x: int, y: int, params) -> bytes:
    check_tile(z, x, y)
    if layer.kind != Layer.Kind.VECTOR:
        raise BadRequest("圖層 {slug} 是 {kind} 圖層：沒有向量圖磚", slug=repr(layer.slug), kind=layer.kind)
    if z < layer.min_zoom:
        return b""
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(tile_sql(layer, z, x, y, params))
        return bytes(cur.fetchone()[0] or b"")


def min_zoom_for(feature_count: int, native_extent: list[float] | None) -> int:
    """The lowest zoom whose tiles carry at most ~MAX_FEATURES_PER_TILE features at the layer's mean density."""
    if not native_extent or feature_count <= MAX_FEATURES_PER_TILE:
        return 0
    west, south, east, north = native_extent
    area = max((east - west) * (north - south), 1.0)
    density = feature_count / area
    for z in range(0, MAX_ZOOM + 1):
        tile_side = WEB_MERCATOR_WIDTH / 2**z * math.cos(math.radians(24))
        # the densest tiles hold more than the mean: 1.5× covers the demo city (densest z14 parcel tile: 2,868
        # features against a mean of ~2,000); tiles are also trimmed and simplified below zoom 14
        if 1.5 * density * tile_side**2 <= MAX_FEATURES_PER_TILE:
            return z
    return MAX_ZOOM
