"""The MapServer mapfile, generated from the catalog: one LAYER per published vector or raster layer, its
style as CLASSes (the same classes the viewer and the SLD draw), its theme as the WMS layer tree.

The file is rewritten whole and swapped in with a rename, so a reader (mapserv or the /ows process) never sees
half a file; writing it twice from the same catalog gives the same bytes.
"""

import math
import os
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from geo import media
from geo.crs import crs_from_epsg
from layers import integrity, timeaxis
from layers.models import DATA_SCHEMA, Layer
from layers.styles import ramp_colors

from .sld import ClassRule, class_rules

SRS_LIST = "EPSG:3826 EPSG:4326 EPSG:3857 EPSG:3828 EPSG:900913"
SERVICE_KEYWORDS = "civgis,城市空間資料,Taiwan,TWD97"
LINE_LABEL_MINDISTANCE = 400  # px, over a 256-px tile's diagonal (362 px)
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
MAPSERVER_TYPES = {"Point": "POINT", "MultiPoint": "POINT", "LineString": "LINE", "MultiLineString": "LINE",
                   "Polygon": "POLYGON", "MultiPolygon": "POLYGON"}
GML_TYPES = {"MultiPolygon": "multipolygon", "Polygon": "polygon", "MultiLineString": "multilinestring",
             "LineString": "line", "MultiPoint": "multipoint", "Point": "point"}


def _raster_file(layer) -> Path:
    """The raster's local file for MapServer (fetched from the media store on first use: geo.media)."""
    path = Path(settings.MEDIA_ROOT) / layer.raster_path
    media.local(path)
    return path


def _star() -> str:
    points = []
    for i in range(10):
        radius, angle = (0.5 if i % 2 == 0 else 0.2), math.pi * i / 5
        points.append(f"{0.5 + radius * math.sin(angle):.3f} {0.5 - radius * math.cos(angle):.3f}")
    return " ".join([*points, points[0]])


# the point symbols a style offers (layers.models.Style.PointSymbol); vector symbols' y axis points down
SYMBOLS = [
    '  SYMBOL NAME "circle" TYPE ELLIPSE FILLED TRUE POINTS 1 1 END END',
    '  SYMBOL NAME "square" TYPE VECTOR FILLED TRUE POINTS 0 0 1 0 1 1 0 1 0 0 END END',
    '  SYMBOL NAME "triangle" TYPE VECTOR FILLED TRUE POINTS 0 1 0.5 0 1 1 0 1 END END',
    f'  SYMBOL NAME "star" TYPE VECTOR FILLED TRUE POINTS {_star()} END END',
    # a pin whose tip is the point
    '  SYMBOL NAME "marker" TYPE VECTOR FILLED TRUE ANCHORPOINT 0.5 1 POINTS 0.5 1 0.15 0.5 0.1 0.3 0.2 0.1 '
    '0.5 0 0.8 0.1 0.9 0.3 0.85 0.5 0.5 1 END END',
]
DASH_PATTERNS = {"dashed": "PATTERN 6 4 END", "dotted": "PATTERN 1 3 END LINECAP ROUND"}


def path() -> Path:
    return Path(settings.DATA_DIR) / "ows" / "civgis.map"


def quote(value) -> str:
    """A mapfile string literal (MapServer reads backslash escapes inside double quotes)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def connection_string(alias: str = "default") -> str:
    """libpq keywords for the layer CONNECTION, from DATABASE_URL (a Unix socket dir is a `host` too); for
    `alias` "replica", DATABASE_REPLICA_URL's (what a request allowed to read there is served from)."""
    db = settings.DATABASES[alias]
    parts = {"dbname": db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD"), "host": db.get("HOST"),
             "port": db.get("PORT")}
    return " ".join("{}='{}'".format(k, str(v).replace("\\", "\\\\").replace("'", "\\'"))
                    for k, v in parts.items() if v)


def published_layers():
    return (Layer.objects.filter(kind__in=[Layer.Kind.VECTOR, Layer.Kind.RASTER])
            .exclude(ogc_status=Layer.OgcStatus.WITHDRAWN)
            .select_related("style", "theme__parent__parent").order_by("theme__order", "slug"))


def render(layers) -> str:
    layers = [layer for layer in layers if integrity.servable(layer)]  # one broken extent would fail the map
    extent = _union_extent(layers)
    out = [
        "MAP",
        '  NAME "civgis"',
        f"  EXTENT {extent_text(extent, settings.WORKING_SRID)}",
        "  SIZE 256 256",
        f"  MAXSIZE {settings.OGC_MAX_IMAGE_SIZE}",
        "  UNITS METERS",
        "  IMAGECOLOR 255 255 255",
        f'  PROJECTION "init=epsg:{settings.WORKING_SRID}" END',
        *([f"  FONTSET {quote(fontset_path())}"] if CJK_FONT.exists() else []),
        *SYMBOLS,
        '  OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGBA TRANSPARENT ON '
        'EXTENSION "png" FORMATOPTION "GAMMA=0.75" END',
        '  OUTPUTFORMAT NAME "jpeg" DRIVER "AGG/JPEG" MIMETYPE "image/jpeg" IMAGEMODE RGB EXTENSION "jpg" '
        'FORMATOPTION "QUALITY=85" END',
        '  OUTPUTFORMAT NAME "geojson" DRIVER "OGR/GEOJSON" MIMETYPE "application/json; subtype=geojson" '
        'FORMATOPTION "STORAGE=stream" FORMATOPTION "FORM=SIMPLE" FORMATOPTION "LCO:RFC7946=NO" END',
        '  OUTPUTFORMAT NAME "GTiff" DRIVER "GDAL/GTiff" MIMETYPE "image/tiff" IMAGEMODE FLOAT32 '
        'EXTENSION "tif" END',
        "  LEGEND KEYSIZE 18 12 LABEL TYPE TRUETYPE FONT \"cjk\" SIZE 9 COLOR 0 0 0 END END"
        if CJK_FONT.exists() else "  LEGEND KEYSIZE 18 12 END",
        "  WEB",
        "    METADATA",
        *_metadata({
            "ows_title": settings.OGC_SERVICE_TITLE,
            "ows_abstract": settings.OGC_SERVICE_ABSTRACT,
            "ows_keywordlist": SERVICE_KEYWORDS,
            "ows_srs": SRS_LIST,
            "ows_enable_request": "*",
            "ows_encoding": "UTF-8",
            "ows_contactorganization": settings.OGC_CONTACT_ORGANIZATION,
            "ows_fees": "none",
            "ows_accessconstraints": "none",
            "wms_bbox_extended": "true",
            # text/html is written by the front (feature_info_html), with labels and units in the request's language
            "wms_feature_info_mime_type": "application/vnd.ogc.gml,text/plain,geojson,text/html",
            "wms_getfeatureinfo_formatlist": "geojson",
            "wfs_getfeature_formatlist": "geojson",
            "wfs_maxfeatures": str(settings.OGC_MAX_FEATURES),
            "wfs_namespace_prefix": "civgis",
            "wfs_namespace_uri": "https://civgis.example.gov.tw/ows",
            "wfs_compute_number_matched": "true",
            "wcs_label": settings.OGC_SERVICE_TITLE,
        }, 6),
        "    END",
        "  END",
    ]
    for layer in layers:
        try:
            out += _raster_layer(layer) if layer.kind == Layer.Kind.RASTER else _vector_layer(layer)
        except Exception:  # noqa: BLE001 - e.g. a style that cannot be drawn: the other layers are still served
            integrity.log.exception("layer %s: not written to the mapfile", layer.slug)
    out.append("END")
    return "\n".join(out) + "\n"


def write(layers=None, check=None) -> Path:
    """Render the mapfile for `layers` (default: every published layer) and swap it in atomically, after
    `check(path)` (e.g. parsing it with mapscript) accepted the new file."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render(published_layers() if layers is None else layers)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return target  # unchanged: keep the mtime, so serving processes keep their parsed map
    tmp = target.with_name(f".{target.stem}-{os.getpid()}.map")  # MapServer loads only *.map files
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the database password
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        if check:
            check(tmp)
    except Exception:
        tmp.unlink()
        raise
    os.replace(tmp, target)
    return target


def fontset_path() -> Path:
    """MapServer's font list, written once and swapped in whole: a map being parsed elsewhere (a worker, another
    web process) must never read it half written."""
    fontset = path().parent / "fonts.txt"
    text = f"cjk {CJK_FONT}\n"
    if not fontset.exists() or fontset.read_text(encoding="utf-8") != text:
        fontset.parent.mkdir(parents=True, exist_ok=True)
        tmp = fontset.with_name(f".fonts-{os.getpid()}.txt")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, fontset)
    return fontset


def _metadata(items: dict, indent: int) -> list[str]:
    return [f"{' ' * indent}{quote(k)} {quote(v)}" for k, v in items.items() if v not in (None, "")]


def extent_text(extent, srid: int) -> str:
    """minx miny maxx maxy rounded outward (to a mm, or 1e-8 degree): MapServer answers WFS GetFeature and hits
    with the features inside the EXTENT, so a box rounded to the nearest value drops the features on its edges.
    Decimal, because the exact binary value must be rounded, not its shortest decimal spelling."""
    step = Decimal("1e-8") if crs_from_epsg(srid).is_geographic else Decimal("0.001")
    low, high = extent[:2], extent[2:]
    return " ".join([*(str(Decimal(v).quantize(step, ROUND_FLOOR)) for v in low),
                     *(str(Decimal(v).quantize(step, ROUND_CEILING)) for v in high)])


def _union_extent(layers) -> tuple[float, float, float, float]:
    return union_extent([lyr.native_extent for lyr in layers if lyr.native_extent])


def union_extent(extents) -> tuple[float, float, float, float]:
    """The box around (minx, miny, maxx, maxy) extents in the working CRS; Taiwan's when there are none."""
    if not extents:
        return (147000.0, 2400000.0, 353000.0, 2800000.0)  # Taiwan's main island in TWD97
    return (min(e[0] for e in extents), min(e[1] for e in extents),
            max(e[2] for e in extents), max(e[3] for e in extents))


def theme_path(layer: Layer) -> str:
    """The WMS layer tree position, e.g. "/交通/道路" (MapServer nests capabilities by `wms_layer_group`)."""
    if layer.theme is None:
        return ""
    return "/" + "/".join(t.name_zh.replace("/", "／") for t in layer.theme.ancestry())


def _common_metadata(layer: Layer) -> dict:
    extent = layer.native_extent or _union_extent([])
    return {
        "ows_title": layer.title_zh,
        "ows_abstract": layer.abstract or layer.title_en,
        "ows_keywordlist": ",".join([*layer.keywords, *( [layer.theme.name_zh] if layer.theme else [])]),
        "ows_extent": extent_text(extent, layer.srid),
        "ows_srs": SRS_LIST,
        # MapServer's own WMS capabilities (no longer served: the front writes them, wms_capabilities; kept as the
        # reference the tests and bench/capabilities_cold.py compare with) list a layer's box in its own CRS only:
        # reprojecting one per offered CRS on every layer was most of its cold build (issue 21)
        "wms_bbox_extended": "false",
        "wms_layer_group": theme_path(layer),
        "ows_attribution_title": layer.source,
    }


def postgis_layer_head(layer: Layer, name: str, kind: str, data: str) -> list[str]:
    """The opening of a MapServer LAYER drawn from the catalog's PostGIS table (WMS and the offline basemap)."""
    return [
        "  LAYER",
        f"    NAME {quote(name)}",
        f"    TYPE {kind}",
        "    STATUS ON",
        "    CONNECTIONTYPE POSTGIS",
        f"    CONNECTION {quote(connection_string())}",
        '    PROCESSING "CLOSE_CONNECTION=DEFER"',
        f"    DATA {quote(data)}",
        f'    PROJECTION "init=epsg:{layer.srid}" END',
    ]


def _vector_layer(layer: Layer) -> list[str]:
    kind = MAPSERVER_TYPES.get(layer.geometry_type, "POLYGON")
    style = getattr(layer, "style", None)
    data = f"geom FROM {DATA_SCHEMA}.{layer.table_name} USING UNIQUE fid USING SRID={layer.srid}"
    metadata = {
        **_common_metadata(layer),
        "gml_include_items": "all",
        "wms_include_items": "all",
        "gml_exclude_items": "geom",
        "gml_types": "auto",
        "gml_featureid": "fid",
        "gml_geometries": "geom",
        "gml_geom_type": GML_TYPES.get(layer.geometry_type, "multipolygon"),
        "wfs_getfeature_formatlist": "geojson",
        **_time_metadata(layer),
    }
    lines = [
        *postgis_layer_head(layer, layer.slug, kind, data),
        f"    EXTENT {metadata['ows_extent']}",
        '    TEMPLATE "query"',  # makes the layer queryable (GetFeatureInfo); the GML/GeoJSON output ignores it
        "    TOLERANCE 4 TOLERANCEUNITS PIXELS",
        *(_scale_range(style.min_scale, style.max_scale, 4) if style else []),
        "    METADATA",
        *_metadata(metadata, 6),
        "    END",
    ]
    if style and style.label_attribute and CJK_FONT.exists():
        lines.append(f"    LABELITEM {quote(style.label_attribute)}")
    for rule in _vector_rules(layer):
        lines += _vector_class(rule, kind, style, layer)
    lines.append("  END")
    return lines


def _vector_rules(layer: Layer) -> list[ClassRule]:
    style = getattr(layer, "style", None)
    return class_rules(style) if style else [ClassRule(label=layer.title_zh, color="#3388ff", test="all")]


def _ramp_steps(layer: Layer) -> list[tuple[float, float, str, str]]:
    """A raster without graduated classes: the ramp over its band's range as (from, to, colour, colour) steps."""
    style = getattr(layer, "style", None)
    band = next((b for b in layer.attributes if b.get("name") == "band_1"), {})
    if (style and style.kind == "graduated" and style.classes) or not ("min" in band and "max" in band):
        return []
    stops = ramp_colors(style.ramp if style else "Viridis", 5)
    low, high = float(band["min"]), float(band["max"])
    step = (high - low) / (len(stops) - 1) or 1.0
    return [(low + i * step, low + (i + 1) * step, stops[i], stops[i + 1]) for i in range(len(stops) - 1)]


def _ramp_label(low: float, high: float) -> str:
    return f"{low:,.0f} – {high:,.0f}"


def legend_labels(layer: Layer) -> list[str]:
    """The NAMEs of the layer's CLASSes in drawing order: what GetLegendGraphic draws (the WMS capabilities size
    the LegendURL from them)."""
    if layer.kind != Layer.Kind.RASTER:
        return [rule.label or layer.title_zh for rule in _vector_rules(layer)]
    style = getattr(layer, "style", None)
    if style and style.kind == "graduated" and style.classes:
        return [rule.label for rule in class_rules(style)]
    return [_ramp_label(low, high) for low, high, _a, _b in _ramp_steps(layer)]


def scale_range(layer: Layer) -> tuple[float | None, float | None]:
    """(MINSCALEDENOM, MAXSCALEDENOM) of a vector layer: drawn from 1:low to 1:high; None where unbounded."""
    style = getattr(layer, "style", None)
    if layer.kind == Layer.Kind.RASTER or style is None:
        return None, None
    return style.min_scale or None, style.max_scale or None


def served_slugs() -> frozenset[str]:
    """The layers the current mapfile holds (a layer whose LAYER could not be written is not among them)."""
    target = path()
    try:
        return _served_slugs(str(target), target.stat().st_mtime_ns)
    except FileNotFoundError:
        return frozenset()


LAYER_NAME = re.compile(r'^  LAYER\n    NAME "((?:[^"\\]|\\.)*)"$', re.MULTILINE)


@lru_cache(maxsize=2)
def _served_slugs(target: str, mtime_ns: int) -> frozenset[str]:
    text = Path(target).read_text(encoding="utf-8")
    return frozenset(re.sub(r"\\(.)", r"\1", name) for name in LAYER_NAME.findall(text))


def _time_metadata(layer: Layer) -> dict:
    """A time-enabled layer's WMS TIME dimension for the capabilities: the extent its data covers, defaulting to
    all of it. No wms_timeitem: MapServer does not filter by itself; the /ows front turns TIME into the layer's
    filter (layers.serving.filters, the same SQL as every other path) and passes it as NATIVE_FILTER."""
    whole = time_extent(layer)
    return {"wms_timeextent": whole, "wms_timedefault": whole} if whole else {}


def time_extent(layer: Layer) -> str | None:
    """A time-enabled layer's first and last time as an ISO 8601 interval, None for other layers."""
    found = timeaxis.extent(layer)
    return None if found is None else f"{timeaxis.iso(found[0])}/{timeaxis.iso(found[1])}"


def expression(rule: ClassRule, item: str) -> str | None:
    """The MapServer EXPRESSION of a class (None: it takes every feature left, e.g. the "other" class)."""
    if rule.test == "equals":
        return f'("[{item}]" eq {quote(rule.value)})'
    if rule.test == "null":
        return f'("[{item}]" eq "")'  # MapServer reads a NULL as an empty string
    if rule.test == "range":
        low = ">=" if rule.low_inclusive else ">"
        return f"([{item}] {low} {rule.low!r} AND [{item}] <= {rule.high!r})"
    return None


def _scale_range(low, high, indent: int) -> list[str]:
    """MINSCALEDENOM/MAXSCALEDENOM: drawn only from 1:low (zoomed in) to 1:high (zoomed out)."""
    return [f"{' ' * indent}{key} {value}" for key, value in (("MINSCALEDENOM", low), ("MAXSCALEDENOM", high))
            if value]


def _vector_class(rule: ClassRule, kind: str, style, layer: Layer) -> list[str]:
    expr = expression(rule, rule.attribute)
    opacity = round(100 * (style.opacity if style else 0.7))
    stroke = style.stroke_color if style else "#1f4e79"
    width = rule.width or (style.stroke_width if style else 1.0)
    dash = f" {DASH_PATTERNS[style.line_dash]}" if style and style.line_dash in DASH_PATTERNS else ""
    lines = ["    CLASS", f"      NAME {quote(rule.label or layer.title_zh)}"]
    if expr:
        lines.append(f"      EXPRESSION {expr}")
    if kind == "POLYGON":
        lines.append(f'      STYLE COLOR "{rule.color}" OPACITY {opacity} END')
        lines.append(f'      STYLE OUTLINECOLOR "{stroke}" WIDTH {width:g}{dash} END')
    elif kind == "LINE":
        lines.append(f'      STYLE COLOR "{rule.color}" WIDTH {max(width, 1.5):g}{dash} END')
    else:
        size = style.point_size if style else 6
        symbol = style.point_symbol if style else "circle"
        lines.append(f'      STYLE SYMBOL "{symbol}" SIZE {size:g} COLOR "{rule.color}" OUTLINECOLOR "{stroke}" '
                     f"OPACITY {max(opacity, 80)} END")
    if style and style.label_attribute and CJK_FONT.exists():
        # a line layer holds a road as many segments: the same name further apart than a tile's diagonal is
        # still one name per tile (MapServer's label cache drops a repeat closer than MINDISTANCE)
        spacing = LINE_LABEL_MINDISTANCE if kind == "LINE" else 200
        scales = " ".join(_scale_range(style.label_min_scale, style.label_max_scale, 0))
        lines.append(f'      LABEL TYPE TRUETYPE FONT "cjk" SIZE {style.label_size:g} COLOR "{style.label_color}" '
                     f'OUTLINECOLOR "{style.label_halo_color}" OUTLINEWIDTH {style.label_halo_width:g} '
                     f'MINDISTANCE {spacing} PARTIALS FALSE {scales + " " if scales else ""}'
                     f'POSITION AUTO {"ANGLE FOLLOW " if kind == "LINE" else ""}END')
    lines.append("    END")
    return lines


def _raster_layer(layer: Layer) -> list[str]:
    """A raster coloured like its PNG tiles: the style's graduated classes, else the ramp over the band's range."""
    style = getattr(layer, "style", None)
    band = next((b for b in layer.attributes if b.get("name") == "band_1"), {})
    metadata = {**_common_metadata(layer), "wcs_label": layer.title_zh, "wcs_rangeset_name": "band_1",
                "wcs_rangeset_label": band.get("label", "value"), "wcs_bandcount": str(len(layer.attributes) or 1),
                "wcs_formats": "GTiff", "wcs_nativeformat": "GTiff", "wms_include_items": "all"}
    lines = [
        "  LAYER",
        f"    NAME {quote(layer.slug)}",
        "    TYPE RASTER",
        "    STATUS ON",
        f"    DATA {quote(_raster_file(layer))}",
        f'    PROJECTION "init=epsg:{layer.srid}" END',
        f"    EXTENT {metadata['ows_extent']}",
        '    PROCESSING "RESAMPLE=BILINEAR"',
        '    TEMPLATE "query"',
        "    METADATA",
        *_metadata(metadata, 6),
        "    END",
    ]
    if style and style.kind == "graduated" and style.classes:
        for rule in class_rules(style):
            lines += ["    CLASS", f"      NAME {quote(rule.label)}", f"      EXPRESSION {expression(rule, 'pixel')}",
                      f'      STYLE COLOR "{rule.color}" END', "    END"]
    for a, b, start, end in _ramp_steps(layer):
        lines += ["    CLASS", f"      NAME {quote(_ramp_label(a, b))}",
                  f"      EXPRESSION ([pixel] >= {a!r} AND [pixel] <= {b!r})",
                  f'      STYLE COLORRANGE "{start}" "{end}" DATARANGE {a!r} {b!r} END', "    END"]
    lines.append("  END")
    return lines
