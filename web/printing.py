"""Print and export (輸出): a map view as a one-page A4/A3 PDF for the record — title, the map at a chosen scale,
a legend naming each layer with the colours the viewer draws, scale bar and scale text, north arrow, date, extent
and sources, in the user's language — or as a PNG.

The map is drawn in TWD97 / TM2 (EPSG:3826) by the OGC engine (the same WMS other agencies read), layer by layer,
laid over each other with the view's opacities; markers are drawn on top. At scale 1:S the frame covers
S × its paper size on the ground, so the picture's metres per pixel are S × 0.0254 / PRINT_DPI exactly, and the
scale bar is measured in the same TWD97 metres (the TM2 scale factor, 0.9999 on the central meridian, is within
0.1 % over the city: below what a printed bar can show).
"""

import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from reportlab.lib.pagesizes import A3, A4, landscape, portrait
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from geo.crs import transformer
from layers.models import Layer
from layers.ogc import get_engine
from layers.ogc.publishing import SERVED_KINDS
from layers.ogc.sld import ClassRule, class_rules, classes_heading
from layers.serving import filters
from layers.serving.access import BadRequest
from layers.serving.tiles import WEB_MERCATOR_WIDTH
from layers.styles import ramp_colors

from .viewstate import ViewStateError

PAPERS = {"A4": A4, "A3": A3}
ORIENTATIONS = {"landscape": landscape, "portrait": portrait}
SCALES = (1_000, 2_500, 5_000, 10_000, 25_000, 50_000)  # the scales a print offers; None: fit the view
# A TrueType font with CJK and Latin (Debian fonts-wqy-zenhei), embedded as a subset with its Unicode map, so the
# PDF looks the same everywhere and its text can be searched and copied; without it, Adobe's built-in CID font for
# Traditional Chinese (shown by every reader, but its text cannot be extracted).
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT = "civgis-cjk"
PRINT_SRID = 3826  # TWD97 / TM2 zone 121: the metres a scale and a scale bar are measured in
_TO_PRINT = transformer(4326, PRINT_SRID)
_FROM_PRINT = transformer(PRINT_SRID, 4326)
WEB_MERCATOR_RES_Z0 = WEB_MERCATOR_WIDTH / 256  # metres per screen pixel at zoom 0 (on the equator)
SCREEN_DPI = 96
PRINT_DPI = 150
METRES_PER_INCH = 0.0254
MARGIN = 28
TITLE_H = 34
FOOTER_H = 30
SCALE_H = 30  # the strip under the map: scale bar and scale text
LEGEND_W = 190  # landscape: the legend column beside the map
LEGEND_MIN_H = 150  # portrait: the legend band under the map
PT_PER_INCH = 72


@dataclass
class PrintJob:
    state: dict
    title: str
    paper: str = "A4"
    orientation: str = "landscape"
    scale: int | None = None  # 1:scale; None = the scale of the view on screen
    language: str = "zh-hant"
    markers: list = field(default_factory=list)  # [{title, color, location: [lon, lat]}]


@dataclass(frozen=True)
class MapFrame:
    """Where the map goes on the page and what ground it shows (EPSG:3826)."""

    x: float
    y: float
    width_pt: float
    height_pt: float
    width_px: int
    height_px: int
    bbox: tuple[float, float, float, float]
    scale: int


class PrintError(ValueError):
    """The map engine could not draw the view (answered 502 with the reason)."""


def _font() -> str:
    if FONT_FILE.exists():
        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
        return FONT
    if "MSung-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("MSung-Light"))
    return "MSung-Light"


def view_scale(state: dict) -> int:
    """The scale the view has on screen (a screen pixel taken as 1/96 inch), to two significant figures:
    a print 'fitting the view' shows what the screen showed, at a scale that can be written down."""
    ground_per_px = WEB_MERCATOR_RES_Z0 / 2 ** state["zoom"] * math.cos(math.radians(state["center"][1]))
    exact = ground_per_px * SCREEN_DPI / METRES_PER_INCH
    step = 10 ** max(0, math.floor(math.log10(exact)) - 1)
    return max(100, int(round(exact / step) * step))


def metres_per_pixel(scale: int, dpi: int = PRINT_DPI) -> float:
    return scale * METRES_PER_INCH / dpi


def map_frame(state: dict, scale: int, x: float, y: float, width_pt: float, height_pt: float,
              dpi: int = PRINT_DPI) -> MapFrame:
    """The frame fitted to whole pixels, and the TWD97 box around the view's centre it shows at 1:scale."""
    width_px, height_px = int(width_pt / PT_PER_INCH * dpi), int(height_pt / PT_PER_INCH * dpi)
    res = metres_per_pixel(scale, dpi)
    cx, cy = _TO_PRINT.transform(*state["center"])
    half_w, half_h = width_px * res / 2, height_px * res / 2
    return MapFrame(x, y, width_px / dpi * PT_PER_INCH, height_px / dpi * PT_PER_INCH, width_px, height_px,
                    (cx - half_w, cy - half_h, cx + half_w, cy + half_h), scale)


def printable_layers(state: dict, user) -> list[Layer]:
    """The view's visible layers (drawing order: first is the bottom) that the user may see and the engine
    serves."""
    wanted = [e["slug"] for e in state["layers"] if e.get("visible", True)]
    found = {layer.slug: layer for layer in Layer.objects.visible_to(user).filter(slug__in=wanted,
                                                                                  kind__in=SERVED_KINDS)
             .select_related("style")}
    return [found[slug] for slug in wanted if slug in found]


def _engine_png(params: dict, visible: frozenset[str], filters: dict[str, str] | None = None) -> bytes:
    answer = get_engine().ows({"SERVICE": "WMS", "VERSION": "1.3.0", "FORMAT": "image/png", **params}, None, visible,
                              filters=filters)
    if answer.status != 200 or not answer.body.startswith(b"\x89PNG"):
        raise PrintError(f"the map engine did not draw the view: {answer.body[:300].decode('utf-8', 'replace')}")
    return answer.body


def _filter_of(state: dict, layer: Layer) -> dict[str, str]:
    """The view's filter of a layer for the engine (the map printed shows what the filtered map showed)."""
    spec = next((e.get("filter") for e in state["layers"] if e["slug"] == layer.slug), None)
    if not spec or layer.kind != Layer.Kind.VECTOR:
        return {}
    try:
        condition = filters.engine_sql(layer, spec, f"{layer.slug}.filter")
    except BadRequest as exc:
        raise ViewStateError(str(exc)) from None
    return {layer.slug: condition} if condition else {}


def map_png(state: dict, layers: list[Layer], width_px: int, height_px: int, bbox, srid: int = PRINT_SRID) -> bytes:
    """The layers drawn one by one by the engine and laid over each other with the view's opacities."""
    if not layers:
        raise ViewStateError("state.layers: none of the view's layers can be printed (none visible to you, or only "
                             "external services and tables)")
    opacity = {e["slug"]: e.get("opacity", 1.0) for e in state["layers"]}
    canvas_rgba = np.zeros((4, height_px, width_px), dtype=np.float32)
    for layer in layers:
        drawn = _engine_png({"REQUEST": "GetMap", "LAYERS": layer.slug, "STYLES": "", "CRS": f"EPSG:{srid}",
                             "BBOX": ",".join(f"{v:.3f}" for v in bbox), "WIDTH": str(width_px),
                             "HEIGHT": str(height_px), "TRANSPARENT": "TRUE"}, frozenset([layer.slug]),
                            _filter_of(state, layer))
        with warnings.catch_warnings(), MemoryFile(drawn) as mem, mem.open() as img:
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a map picture, not a raster dataset
            rgba = img.read().astype(np.float32) / 255
        alpha = rgba[3] * opacity.get(layer.slug, 1.0)
        canvas_rgba[:3] = rgba[:3] * alpha + canvas_rgba[:3] * (1 - alpha)  # "over", colours premultiplied
        canvas_rgba[3] = alpha + canvas_rgba[3] * (1 - alpha)
    covered = canvas_rgba[3] > 0
    canvas_rgba[:3, covered] /= canvas_rgba[3, covered]
    out = (np.clip(canvas_rgba, 0, 1) * 255).round().astype(np.uint8)
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with mem.open(driver="PNG", width=width_px, height=height_px, count=4, dtype="uint8") as png:
            png.write(out)
        return mem.read()


def nice_length(max_metres: float) -> float:
    """The longest 1, 2 or 5 × 10ⁿ metres not over `max_metres` (a scale bar's length)."""
    power = 10 ** math.floor(math.log10(max_metres))
    return max(step * power for step in (1, 2, 5) if step * power <= max_metres)


def scale_text(scale: int) -> str:
    return _("比例尺 1:{scale}").format(scale=f"{scale:,}")


def layer_title(layer: Layer) -> str:
    return layer.title_en if translation.get_language() == "en" and layer.title_en else layer.title_zh


def render_pdf(job: PrintJob, user) -> bytes:
    with translation.override(job.language):
        return _render_pdf(job, user)


def _layout(job: PrintJob, page_w: float, page_h: float) -> tuple[tuple, tuple]:
    """(map box, legend box) as (x, y, width, height): landscape puts the legend beside the map, portrait under."""
    top = page_h - MARGIN - TITLE_H
    bottom = MARGIN + FOOTER_H + SCALE_H
    if job.orientation == "landscape":
        map_box = (MARGIN, bottom, page_w - 2 * MARGIN - LEGEND_W - 12, top - bottom)
        legend_box = (page_w - MARGIN - LEGEND_W, bottom, LEGEND_W, top - bottom)
    else:
        legend_h = max(LEGEND_MIN_H, (top - bottom) * 0.25)
        map_box = (MARGIN, bottom + legend_h + 8, page_w - 2 * MARGIN, top - bottom - legend_h - 8)
        legend_box = (MARGIN, MARGIN + FOOTER_H, page_w - 2 * MARGIN, legend_h)  # under the scale strip
    return map_box, legend_box


def _render_pdf(job: PrintJob, user) -> bytes:
    font = _font()
    page_w, page_h = ORIENTATIONS[job.orientation](PAPERS[job.paper])
    map_box, legend_box = _layout(job, page_w, page_h)
    scale = job.scale or view_scale(job.state)
    frame = map_frame(job.state, scale, *map_box)
    layers = printable_layers(job.state, user)
    image = map_png(job.state, layers, frame.width_px, frame.height_px, frame.bbox)

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(page_w, page_h))
    pdf.setTitle(job.title)
    pdf.setAuthor("civgis")
    pdf.setSubject(scale_text(scale))
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 18)
    pdf.drawString(MARGIN, page_h - MARGIN - 18, _fit(job.title, font, 18, page_w - 2 * MARGIN))
    pdf.setFillColorRGB(0.97, 0.97, 0.96)
    pdf.rect(frame.x, frame.y, frame.width_pt, frame.height_pt, stroke=0, fill=1)
    pdf.drawImage(ImageReader(io.BytesIO(image)), frame.x, frame.y, frame.width_pt, frame.height_pt, mask="auto")
    _markers(pdf, font, job.markers, frame)
    pdf.setStrokeColorRGB(0.2, 0.2, 0.2)
    pdf.rect(frame.x, frame.y, frame.width_pt, frame.height_pt, stroke=1, fill=0)
    _north_arrow(pdf, font, frame.x + frame.width_pt - 24, frame.y + frame.height_pt - 46)
    _scale_bar(pdf, font, frame, frame.x, frame.y - SCALE_H + 8)
    _legend(pdf, font, layers, job.state, legend_box)
    _footer(pdf, font, layers, frame, page_w)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def render_png(job: PrintJob, user, width_px: int = 1600, height_px: int = 1000) -> bytes:
    """The map alone at the chosen scale (the view's by default) on a screen of width_px × height_px at 96 dpi."""
    layers = printable_layers(job.state, user)
    scale = job.scale or view_scale(job.state)
    frame = map_frame(job.state, scale, 0, 0, width_px * PT_PER_INCH / SCREEN_DPI,
                      height_px * PT_PER_INCH / SCREEN_DPI, SCREEN_DPI)
    return map_png(job.state, layers, frame.width_px, frame.height_px, frame.bbox)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut (with …) to fit `width` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most `width` points, broken anywhere (Chinese has no spaces to break at)."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, font, size) > width:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return [*lines, line] if line else lines


def _rgb(colour: str) -> tuple[float, float, float]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)) if len(colour) >= 6 else (0.5, 0.5, 0.5)


def _on_white(colour: str, alpha: float) -> tuple[float, float, float]:
    """The colour as it looks drawn at `alpha` over white paper: the legend shows what the map shows."""
    return tuple(c * alpha + (1 - alpha) for c in _rgb(colour))


def _markers(pdf, font, markers, frame: MapFrame):
    minx, miny, maxx, maxy = frame.bbox
    for mark in markers:
        mx, my = _TO_PRINT.transform(*mark["location"])
        if not (minx <= mx <= maxx and miny <= my <= maxy):
            continue
        px = frame.x + (mx - minx) / (maxx - minx) * frame.width_pt
        py = frame.y + (my - miny) / (maxy - miny) * frame.height_pt
        pdf.setFillColorRGB(*_rgb(mark.get("color") or "#e4572e"))
        pdf.setStrokeColorRGB(1, 1, 1)
        pdf.setLineWidth(1.2)
        path = pdf.beginPath()  # a pin: its point on the spot
        path.moveTo(px, py)
        path.lineTo(px - 5, py + 9)
        path.arcTo(px - 5, py + 4, px + 5, py + 14, startAng=180, extent=-180)
        path.close()
        pdf.drawPath(path, stroke=1, fill=1)
        title = mark.get("title", "")[:40]
        if title:
            pdf.setFont(font, 8)
            pdf.setFillColorRGB(1, 1, 1)
            pdf.rect(px + 6, py + 5, pdfmetrics.stringWidth(title, font, 8) + 3, 10, stroke=0, fill=1)
            pdf.setFillColorRGB(0.1, 0.1, 0.1)
            pdf.drawString(px + 7.5, py + 7.5, title)
    pdf.setLineWidth(1)


def _north_arrow(pdf, font, x, y):
    # the map is TWD97 grid north; true north differs by under 0.2° over a TM2 city
    pdf.setFillColorRGB(1, 1, 1)
    pdf.circle(x, y + 16, 17, stroke=0, fill=1)
    pdf.setFillColorRGB(0.15, 0.15, 0.15)
    path = pdf.beginPath()
    path.moveTo(x, y + 26)
    path.lineTo(x - 8, y)
    path.lineTo(x, y + 6)
    path.lineTo(x + 8, y)
    path.close()
    pdf.drawPath(path, stroke=0, fill=1)
    pdf.setFont(font, 10)
    pdf.drawCentredString(x, y + 29, _("北"))


def _distance(metres: float) -> str:
    return _("{n} 公里").format(n=f"{metres / 1000:g}") if metres >= 1000 else _("{n} 公尺").format(n=f"{metres:g}")


def _scale_bar(pdf, font, frame: MapFrame, x, y):
    """A bar a quarter of the frame wide at most, of a round length in TWD97 metres, and the scale in words."""
    ground_per_pt = (frame.bbox[2] - frame.bbox[0]) / frame.width_pt
    metres = nice_length(frame.width_pt * 0.25 * ground_per_pt)
    length = metres / ground_per_pt
    pdf.setStrokeColorRGB(0.1, 0.1, 0.1)
    pdf.setLineWidth(0.5)
    for i in range(4):
        pdf.setFillColorRGB(*((0.1,) * 3 if i % 2 == 0 else (1,) * 3))
        pdf.rect(x + i * length / 4, y, length / 4, 5, stroke=1, fill=1)
    pdf.setLineWidth(1)
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 8)
    pdf.drawCentredString(x, y - 9, "0")
    pdf.drawString(x + length + 6, y, _distance(metres))
    pdf.setFont(font, 10)
    pdf.drawString(x + length + 70, y, scale_text(frame.scale))


def _footer(pdf, font, layers, frame: MapFrame, page_w: float):
    pdf.setFillColorRGB(0.25, 0.25, 0.25)
    pdf.setFont(font, 8)
    sources = _("；").join(dict.fromkeys(layer.source for layer in layers if layer.source)) or "civgis"
    width = page_w - 2 * MARGIN
    pdf.drawString(MARGIN, MARGIN + 14, _fit(_("資料來源：{sources}").format(sources=sources), font, 8, width))
    minx, miny, maxx, maxy = frame.bbox
    date = formats.date_format(timezone.localdate(), "Y-m-d")
    line = _("列印日期 {date} · 坐標系統 TWD97 / TM2（EPSG:3826）· 範圍 X {minx:,.0f}–{maxx:,.0f}，"
             "Y {miny:,.0f}–{maxy:,.0f} 公尺 · civgis").format(date=date, minx=minx, maxx=maxx, miny=miny, maxy=maxy)
    pdf.drawString(MARGIN, MARGIN + 2, _fit(line, font, 8, width))


@dataclass(frozen=True)
class LegendEntry:
    title: str
    subtitle: str
    shape: str  # "area", "line", "point"
    rows: list[tuple[tuple[float, float, float], str]]  # (colour on paper, label)
    stroke: tuple[float, float, float]


def legend_entries(layers: list[Layer], state: dict) -> list[LegendEntry]:
    """What the legend shows, topmost layer first as in the layer panel: each layer's title in the current
    language, what its classes are of (attribute label, unit, method) and its classes in the colours the viewer
    draws them (the style's fill at the style's opacity × the view's opacity, on white paper)."""
    english = translation.get_language() == "en"
    view_opacity = {e["slug"]: e.get("opacity", 1.0) for e in state["layers"]}
    entries = []
    for layer in reversed(layers):
        style = getattr(layer, "style", None)
        shape = "area" if "Polygon" in layer.geometry_type or layer.kind == Layer.Kind.RASTER else \
            "line" if "LineString" in layer.geometry_type else "point"
        alpha = view_opacity.get(layer.slug, 1.0) * (style.opacity if style and shape == "area" else 1.0)
        if layer.kind == Layer.Kind.RASTER and not (style and style.classes):
            rules = _raster_ramp(layer, style)
        else:
            rules = class_rules(style, english) if style else [ClassRule(layer.title_zh, "#3388ff", "all")]
        rows = [(_on_white(rule.color, alpha), _class_label(rule, layer)) for rule in rules]
        stroke = _on_white(style.stroke_color if style else "#1f4e79", view_opacity.get(layer.slug, 1.0))
        entries.append(LegendEntry(layer_title(layer), classes_heading(layer, style, english), shape, rows,
                                   stroke))
    return entries


def _class_label(rule: ClassRule, layer: Layer) -> str:
    if rule.test == "null":
        return _("無資料")
    if rule.test == "else":
        return _("其他")
    if rule.test == "all" and rule.label in (layer.title_zh, ""):
        return layer_title(layer)  # a single symbol is the layer itself
    return rule.label


def _raster_ramp(layer: Layer, style) -> list[ClassRule]:
    band = next((b for b in layer.attributes if b.get("name") == "band_1"), {})
    stops = ramp_colors(style.ramp if style else "Viridis", 5)
    if "min" not in band or "max" not in band:
        return [ClassRule(layer.title_zh, stops[-1], "all")]
    low, high = float(band["min"]), float(band["max"])
    unit = band.get("unit_en" if translation.get_language() == "en" else "unit") or ""
    step = (high - low) / (len(stops) - 1)
    return [ClassRule(f"{low + i * step:,.0f} {unit}".strip(), colour, "all") for i, colour in enumerate(stops)]


def _legend(pdf, font, layers, state, box):
    """The legend in its box, flowing into columns (portrait: a wide band) and saying what did not fit."""
    x0, y0, width, height = box
    entries = legend_entries(layers, state)
    columns = max(1, int(width // LEGEND_W))
    col_w = width / columns
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 12)
    pdf.drawString(x0, y0 + height - 12, _("圖例"))
    top = y0 + height - 28
    column, y = 0, top
    for index, entry in enumerate(entries):
        needed = 14 * len(_wrap(entry.title, font, 9.5, col_w - 6)) + (12 if entry.subtitle else 0) + \
            13 * len(entry.rows) + 6
        if y - needed < y0 + 14 and y != top:  # the next column (an entry taller than a column is cut below)
            column, y = column + 1, top
        if column >= columns:
            pdf.setFillColorRGB(0.3, 0.3, 0.3)
            pdf.setFont(font, 8)
            pdf.drawString(x0 + min(column, columns - 1) * col_w, y0 + 2,
                           _("（另有 {n} 個圖層未列出）").format(n=len(entries) - index))
            return
        x = x0 + column * col_w
        pdf.setFillColorRGB(0.1, 0.1, 0.1)
        pdf.setFont(font, 9.5)
        for line in _wrap(entry.title, font, 9.5, col_w - 6):
            pdf.drawString(x, y - 9, line)
            y -= 14
        if entry.subtitle:
            pdf.setFillColorRGB(0.35, 0.35, 0.35)
            pdf.setFont(font, 7.5)
            pdf.drawString(x, y - 7, _fit(entry.subtitle, font, 7.5, col_w - 6))
            y -= 12
        pdf.setFont(font, 8)
        for colour, label in entry.rows:
            if y - 13 < y0:
                break
            _swatch(pdf, entry, colour, x + 2, y - 10)
            pdf.setFillColorRGB(0.1, 0.1, 0.1)
            pdf.drawString(x + 24, y - 8.5, _fit(label, font, 8, col_w - 30))
            y -= 13
        y -= 6


def _swatch(pdf, entry: LegendEntry, colour, x, y):
    pdf.setFillColorRGB(*colour)
    pdf.setStrokeColorRGB(*entry.stroke)
    if entry.shape == "area":
        pdf.setLineWidth(0.6)
        pdf.rect(x, y, 16, 9, stroke=1, fill=1)
    elif entry.shape == "line":
        pdf.setStrokeColorRGB(*colour)
        pdf.setLineWidth(2.5)
        pdf.line(x, y + 4.5, x + 16, y + 4.5)
    else:
        pdf.setLineWidth(0.6)
        pdf.circle(x + 8, y + 4.5, 3.5, stroke=1, fill=1)
    pdf.setLineWidth(1)
