"""The platform's own basemap, drawn by MapServer from the catalog so that it works without internet: the layers
of VIEWER_BASEMAP_LAYERS in quiet colours, with labels — area names (districts, then villages) at their centres
and line names (roads, rivers) along the lines, each at sensible zooms.

A line layer is split into many features (a road is one feature per block), so labelling each feature would
repeat a name along every block. Line labels come from a view of the line layer merged by name within the tile
(`!BOX!`), of which only the longest piece is labelled: one label per name and tile.

The map is generated in memory from the catalog and parsed once per catalog state; each tile draws a clone of it
reduced to the layers the user may see. The viewer shows it as XYZ tiles at /basemap/{z}/{x}/{y}.png.
"""

import threading
from functools import lru_cache

from django.conf import settings
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

from .mapfile import CJK_FONT, fontset_path, postgis_layer_head, quote

WEB_MERCATOR_HALF = 20037508.342789244
TILE_SIZE = 256
INCHES_PER_METRE = 39.3701
MAPSERVER_DPI = 72  # MapServer's default RESOLUTION: its scale denominators are reckoned with it
BACKGROUND = "#f4f1ea"
AREA_FILL, AREA_LINE, SUBAREA_LINE = "#f1eee8", "#b9b2a6", "#d8d1c5"
ROAD_CASING, ROAD_FILL, WATER = "#c9c3b8", "#ffffff", "#a9c8e8"
# (first zoom, last zoom) at which names are drawn: the first polygon layer names the large areas (districts),
# the next ones the small areas (villages); lines are named once they are long enough on screen
AREA_LABEL_ZOOMS, SUBAREA_LABEL_ZOOMS, LINE_LABEL_ZOOMS = (10, 14), (14, 22), (15, 22)
NAME_ATTRIBUTES = ("name", "名稱", "NAME")


def scale_denominator(z: float) -> float:
    """MapServer's scale denominator of a 256-px Web Mercator tile at zoom z."""
    return 2 * WEB_MERCATOR_HALF / 2**z / TILE_SIZE * MAPSERVER_DPI * INCHES_PER_METRE


def zoom_range(first: int, last: int) -> list[str]:
    return [f"    MAXSCALEDENOM {scale_denominator(first - 0.5):.0f}",
            f"    MINSCALEDENOM {scale_denominator(last + 0.5):.0f}"]


def tile_extent(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * WEB_MERCATOR_HALF / 2**z
    west, north = -WEB_MERCATOR_HALF + x * size, WEB_MERCATOR_HALF - y * size
    return west, north - size, west + size, north


def label_attribute(layer: Layer) -> str | None:
    """The attribute naming a feature: the style's label attribute, else a name column."""
    names = {a["name"] for a in layer.attributes}
    style = getattr(layer, "style", None)
    if style is not None and style.label_attribute in names:
        return style.label_attribute
    return next((n for n in NAME_ATTRIBUTES if n in names), None)


def is_water(layer: Layer) -> bool:
    return layer.slug == "rivers" or "water" in (layer.theme.slug if layer.theme else "")


def basemap_layers() -> list[Layer]:
    """The catalog's vector layers named in VIEWER_BASEMAP_LAYERS, in that order (missing ones skipped)."""
    found = Layer.objects.filter(slug__in=settings.VIEWER_BASEMAP_LAYERS, kind=Layer.Kind.VECTOR).select_related(
        "style", "theme")
    by_slug = {layer.slug: layer for layer in found if layer.geometry_type and "Point" not in layer.geometry_type}
    return [by_slug[s] for s in settings.VIEWER_BASEMAP_LAYERS if s in by_slug]


def render(layers: list[Layer]) -> str:
    labels = CJK_FONT.exists()
    out = [
        "MAP",
        '  NAME "civgis-basemap"',
        f"  SIZE {TILE_SIZE} {TILE_SIZE}",
        f"  EXTENT {-WEB_MERCATOR_HALF} {-WEB_MERCATOR_HALF} {WEB_MERCATOR_HALF} {WEB_MERCATOR_HALF}",
        "  UNITS METERS",
        f'  IMAGECOLOR "{BACKGROUND}"',
        '  PROJECTION "init=epsg:3857" END',
        *([f"  FONTSET {quote(fontset_path())}"] if labels else []),
        '  OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGB EXTENSION "png" END',
    ]
    polygons = [layer for layer in layers if "Polygon" in layer.geometry_type]
    lines = [layer for layer in layers if "LineString" in layer.geometry_type]
    for i, layer in enumerate(polygons):
        out += _polygon_layer(layer, filled=i == 0)
    for layer in lines:
        out += _line_layer(layer)
    if labels:
        # drawn last, so names sit over every line; the label cache drops those that would collide (lines first:
        # a road name placed along its road is worth more than a village name that could move)
        for layer in lines:
            if label_attribute(layer):
                out += _line_labels(layer)
        for i, layer in enumerate(polygons):
            if label_attribute(layer):
                out += _area_labels(layer, AREA_LABEL_ZOOMS if i == 0 else SUBAREA_LABEL_ZOOMS, large=i == 0)
    out.append("END")
    return "\n".join(out) + "\n"


def _layer_head(layer: Layer, name: str, kind: str, data: str) -> list[str]:
    return [*postgis_layer_head(layer, name, kind, data),
            f"    METADATA \"civgis_layer\" {quote(layer.slug)} END"]  # which catalog layer it shows (permissions)


def _table(layer: Layer) -> str:
    return sql.Identifier(DATA_SCHEMA, layer.table_name).as_string(_quoting())


def _plain_data(layer: Layer) -> str:
    return f"geom FROM {_table(layer)} USING UNIQUE fid USING SRID={layer.srid}"


def _polygon_layer(layer: Layer, filled: bool) -> list[str]:
    """The first polygon layer (districts) fills the land; the others (villages) add dashed borders from the
    zoom their names appear at."""
    if is_water(layer):
        styles = f'STYLE COLOR "{WATER}" END'
    elif filled:
        styles = f'STYLE COLOR "{AREA_FILL}" END STYLE OUTLINECOLOR "{AREA_LINE}" WIDTH 1.2 END'
    else:
        styles = f'STYLE OUTLINECOLOR "{SUBAREA_LINE}" WIDTH 0.8 PATTERN 4 3 END END'
    return [*_layer_head(layer, layer.slug, "POLYGON", _plain_data(layer)),
            *([] if filled else zoom_range(SUBAREA_LABEL_ZOOMS[0] - 1, 22)), f"    CLASS {styles} END", "  END"]


def _line_layer(layer: Layer) -> list[str]:
    if is_water(layer):
        styles = f'STYLE COLOR "{WATER}" WIDTH 3 END'
    else:
        # thin grey lines while the blocks are small on screen, cased white roads from the zoom names appear
        near, far = zoom_range(LINE_LABEL_ZOOMS[0] - 1, 22), zoom_range(0, LINE_LABEL_ZOOMS[0] - 2)
        return [*_layer_head(layer, layer.slug, "LINE", _plain_data(layer)),
                f'    CLASS {" ".join(far)} STYLE COLOR "{ROAD_CASING}" WIDTH 0.8 END END',
                f'    CLASS {" ".join(near)} STYLE COLOR "{ROAD_CASING}" WIDTH 3.2 END '
                f'STYLE COLOR "{ROAD_FILL}" WIDTH 1.8 END END', "  END"]
    return [*_layer_head(layer, layer.slug, "LINE", _plain_data(layer)), f"    CLASS {styles} END", "  END"]


def _line_labels(layer: Layer) -> list[str]:
    """Names along the lines: the layer's lines inside the tile merged by name, the longest piece of each."""
    merged = sql.SQL(
        "SELECT DISTINCT ON (label) fid, label, geom FROM ("
        "SELECT min(fid) AS fid, {name}::text AS label, "
        "(ST_Dump(ST_LineMerge(ST_Collect(ST_Intersection(geom, !BOX!))))).geom AS geom "
        "FROM {table} WHERE geom && !BOX! AND coalesce({name}::text, '') <> '' "
        "GROUP BY {name}) AS pieces ORDER BY label, ST_Length(geom) DESC",
    ).format(name=sql.Identifier(label_attribute(layer)),
             table=sql.Identifier(DATA_SCHEMA, layer.table_name)).as_string(_quoting())
    data = f"geom FROM ({merged}) AS named USING UNIQUE fid USING SRID={layer.srid}"
    colour = "#2f5f8a" if is_water(layer) else "#4a4640"
    return [*_layer_head(layer, f"{layer.slug}:labels", "LINE", data), '    LABELITEM "label"',
            *zoom_range(*LINE_LABEL_ZOOMS),
            f'    CLASS LABEL TYPE TRUETYPE FONT "cjk" SIZE 8 COLOR "{colour}" OUTLINECOLOR 255 255 255 '
            "OUTLINEWIDTH 2 ANGLE FOLLOW POSITION CC PARTIALS FALSE MINDISTANCE 100 "
            "PRIORITY 6 END END", "  END"]


def _area_labels(layer: Layer, zooms: tuple[int, int], large: bool) -> list[str]:
    """Each area's name once, at a point inside it, in the one tile holding that point (a polygon labelled per tile
    repeats its name in every tile it touches). Near the tile's edge the label moves to the point's inner side
    (POSITION AUTO with PARTIALS FALSE) rather than being cut."""
    size, colour, priority = (11, "#5b5149", 8) if large else (8.5, "#7a6f63", 4)
    points = sql.SQL(
        "SELECT fid, {name}::text AS label, ST_PointOnSurface(geom) AS geom FROM {table} "
        "WHERE geom && !BOX! AND coalesce({name}::text, '') <> ''",
    ).format(name=sql.Identifier(label_attribute(layer)),
             table=sql.Identifier(DATA_SCHEMA, layer.table_name)).as_string(_quoting())
    data = f"geom FROM ({points}) AS named USING UNIQUE fid USING SRID={layer.srid}"
    return [*_layer_head(layer, f"{layer.slug}:labels", "POINT", data), '    LABELITEM "label"',
            *zoom_range(*zooms),
            f'    CLASS LABEL TYPE TRUETYPE FONT "cjk" SIZE {size:g} COLOR "{colour}" OUTLINECOLOR 255 255 255 '
            f"OUTLINEWIDTH 2 POSITION AUTO PARTIALS FALSE PRIORITY {priority} END END", "  END"]


def _quoting():
    """A connection for psycopg2.sql's identifier quoting (it needs one to know the encoding)."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection


_draw_lock = threading.Lock()


@lru_cache(maxsize=4)
def _parsed(text: str):
    import mapscript

    return mapscript.fromstring(text)


def draw_tile(z: int, x: int, y: int, visible: frozenset[str], only=None, text: str | None = None):
    """(map, image) of tile z/x/y drawn from the basemap layers in `visible` (and, given `only`, the MapServer
    layers it accepts, e.g. the label layers alone); the map's label cache tells what was labelled."""
    import mapscript

    text = text or render(basemap_layers())
    with _draw_lock:
        served = _parsed(text).clone()
        for index in reversed(range(served.numlayers)):
            layer = served.getLayer(index)
            if layer.metadata.get("civgis_layer") not in visible or (only and not only(layer)):
                served.removeLayer(index)
        served.setExtent(*tile_extent(z, x, y))
        mapscript.msResetErrorList()
        return served, served.draw()


def tile_png(z: int, x: int, y: int, visible: frozenset[str]) -> bytes:
    """Tile z/x/y of the basemap as a PNG, drawn from the basemap layers in `visible` only. Tiles are kept while
    the layers' data and the map stay the same: a map opened again is drawn from memory."""
    layers = basemap_layers()
    drawn = frozenset(layer.slug for layer in layers) & visible
    versions = tuple((layer.slug, layer.current_version_id, layer.updated_at) for layer in layers)
    return _cached_png(render(layers), versions, z, x, y, drawn)


@lru_cache(maxsize=1024)  # ~20 KB a tile
def _cached_png(text: str, versions: tuple, z: int, x: int, y: int, visible: frozenset[str]) -> bytes:
    return draw_tile(z, x, y, visible, text=text)[1].getBytes()
