"""Print and export (輸出): a map view as a one-page A4/A3 PDF with title, legend, scale bar, north arrow, date and
sources, or as a PNG. The map and the legends are drawn by the OGC engine (the same WMS other agencies read), so
the print matches the services; markers are drawn on top.
"""

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.utils import timezone
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from reportlab.lib.pagesizes import A3, A4, landscape, portrait
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from geo.crs import WEB_MERCATOR, transformer
from layers.models import Layer
from layers.ogc import get_engine
from layers.ogc.publishing import SERVED_KINDS
from layers.serving.tiles import WEB_MERCATOR_WIDTH

from .viewstate import ViewStateError

PAPERS = {"A4": A4, "A3": A3}
ORIENTATIONS = {"landscape": landscape, "portrait": portrait}
# A TrueType font with CJK and Latin (Debian fonts-wqy-zenhei), embedded as a subset with its Unicode map, so the
# PDF looks the same everywhere and its text can be searched and copied; without it, Adobe's built-in CID font for
# Traditional Chinese (shown by every reader, but its text cannot be extracted).
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT = "civgis-cjk"
_MERCATOR = transformer(4326, WEB_MERCATOR)
WEB_MERCATOR_RES_Z0 = WEB_MERCATOR_WIDTH / 256  # metres per screen pixel at zoom 0
SCREEN_DPI = 96
PRINT_DPI = 150
MARGIN = 28
LEGEND_WIDTH = 170


@dataclass
class PrintJob:
    state: dict
    title: str
    paper: str = "A4"
    orientation: str = "landscape"


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


def map_bbox(state: dict, width_pt: float, height_pt: float) -> tuple[float, float, float, float]:
    """The EPSG:3857 box the view shows on a frame of this size: the screen's ground resolution at its zoom,
    with a screen pixel taken as 1/96 inch, so the print covers what the screen would at that size."""
    res = WEB_MERCATOR_RES_Z0 / 2 ** state["zoom"]
    x, y = _MERCATOR.transform(*state["center"])
    half_w = width_pt / 72 * SCREEN_DPI * res / 2
    half_h = height_pt / 72 * SCREEN_DPI * res / 2
    return x - half_w, y - half_h, x + half_w, y + half_h


def printable_layers(state: dict, user) -> list[Layer]:
    """The view's visible layers (drawing order: first is the bottom) that the user may see and the engine
    serves."""
    wanted = [e["slug"] for e in state["layers"] if e.get("visible", True)]
    found = {layer.slug: layer for layer in Layer.objects.visible_to(user).filter(slug__in=wanted,
                                                                                  kind__in=SERVED_KINDS)}
    return [found[slug] for slug in wanted if slug in found]


def _engine_png(params: dict, visible: frozenset[str]) -> bytes:
    answer = get_engine().ows({"SERVICE": "WMS", "VERSION": "1.3.0", "FORMAT": "image/png", **params}, None, visible)
    if answer.status != 200 or not answer.body.startswith(b"\x89PNG"):
        raise PrintError(f"the map engine did not draw the view: {answer.body[:300].decode('utf-8', 'replace')}")
    return answer.body


def map_png(state: dict, layers: list[Layer], width_px: int, height_px: int, bbox) -> bytes:
    """The layers drawn one by one by the engine and laid over each other with the view's opacities."""
    if not layers:
        raise ViewStateError("state.layers: none of the view's layers can be printed (none visible to you, or only "
                             "external services and tables)")
    opacity = {e["slug"]: e.get("opacity", 1.0) for e in state["layers"]}
    canvas_rgba = np.zeros((4, height_px, width_px), dtype=np.float32)
    for layer in layers:
        drawn = _engine_png({"REQUEST": "GetMap", "LAYERS": layer.slug, "STYLES": "", "CRS": "EPSG:3857",
                             "BBOX": ",".join(f"{v:.2f}" for v in bbox), "WIDTH": str(width_px),
                             "HEIGHT": str(height_px), "TRANSPARENT": "TRUE"}, frozenset([layer.slug]))
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


def render_pdf(job: PrintJob, user) -> bytes:
    font = _font()
    page_w, page_h = ORIENTATIONS[job.orientation](PAPERS[job.paper])
    frame_x, frame_y = MARGIN, MARGIN + 34
    frame_w, frame_h = page_w - 2 * MARGIN - LEGEND_WIDTH - 12, page_h - frame_y - MARGIN - 34
    layers = printable_layers(job.state, user)
    bbox = map_bbox(job.state, frame_w, frame_h)
    image = map_png(job.state, layers, round(frame_w / 72 * PRINT_DPI), round(frame_h / 72 * PRINT_DPI), bbox)

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(page_w, page_h))
    pdf.setTitle(job.title)
    pdf.setAuthor("civgis")
    pdf.setFont(font, 18)
    pdf.drawString(MARGIN, page_h - MARGIN - 16, job.title)
    pdf.setFillColorRGB(0.97, 0.97, 0.96)
    pdf.rect(frame_x, frame_y, frame_w, frame_h, stroke=0, fill=1)
    pdf.drawImage(ImageReader(io.BytesIO(image)), frame_x, frame_y, frame_w, frame_h, mask="auto")
    _markers(pdf, font, job.state.get("markers", []), bbox, frame_x, frame_y, frame_w, frame_h)
    pdf.setStrokeColorRGB(0.2, 0.2, 0.2)
    pdf.rect(frame_x, frame_y, frame_w, frame_h, stroke=1, fill=0)
    _north_arrow(pdf, font, frame_x + frame_w - 26, frame_y + frame_h - 44)
    _scale_bar(pdf, font, job.state, bbox, frame_w, frame_x + 10, frame_y + 10)
    _legend(pdf, font, layers, frame_x + frame_w + 12, frame_y + frame_h)
    pdf.setFillColorRGB(0.25, 0.25, 0.25)
    pdf.setFont(font, 8)
    sources = "；".join(dict.fromkeys(layer.source for layer in layers if layer.source))
    pdf.drawString(MARGIN, MARGIN + 14, f"資料來源：{sources or 'civgis'}"[:160])
    pdf.drawString(MARGIN, MARGIN + 2, f"列印日期 {timezone.localdate().isoformat()} · 坐標系統 EPSG:3857 "
                                      f"(中心 {job.state['center'][0]:.5f}, {job.state['center'][1]:.5f}) · civgis")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def render_png(job: PrintJob, user, width_px: int = 1600, height_px: int = 1000) -> bytes:
    layers = printable_layers(job.state, user)
    bbox = map_bbox(job.state, width_px * 72 / SCREEN_DPI, height_px * 72 / SCREEN_DPI)
    return map_png(job.state, layers, width_px, height_px, bbox)


def _markers(pdf, font, markers, bbox, x0, y0, w, h):
    minx, miny, maxx, maxy = bbox
    for mark in markers:
        mx, my = _MERCATOR.transform(*mark["location"])
        if not (minx <= mx <= maxx and miny <= my <= maxy):
            continue
        px, py = x0 + (mx - minx) / (maxx - minx) * w, y0 + (my - miny) / (maxy - miny) * h
        colour = mark.get("color", "#e4572e")
        pdf.setFillColorRGB(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))
        pdf.setStrokeColorRGB(1, 1, 1)
        pdf.circle(px, py, 4.5, stroke=1, fill=1)
        pdf.setFillColorRGB(0.1, 0.1, 0.1)
        pdf.setFont(font, 8)
        pdf.drawString(px + 7, py - 3, mark.get("title", "")[:40])


def _north_arrow(pdf, font, x, y):
    pdf.setFillColorRGB(0.15, 0.15, 0.15)
    path = pdf.beginPath()
    path.moveTo(x, y + 26)
    path.lineTo(x - 8, y)
    path.lineTo(x, y + 6)
    path.lineTo(x + 8, y)
    path.close()
    pdf.drawPath(path, stroke=0, fill=1)
    pdf.setFont(font, 10)
    pdf.drawCentredString(x, y + 29, "N")


def _scale_bar(pdf, font, state, bbox, frame_w, x, y):
    # web-mercator metres shrink by cos(latitude) on the ground
    ground_per_pt = (bbox[2] - bbox[0]) / frame_w * math.cos(math.radians(state["center"][1]))
    metres = nice_length(frame_w * 0.25 * ground_per_pt)
    length = metres / ground_per_pt
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(x - 4, y - 4, length + 60, 24, stroke=0, fill=1)
    for i in range(4):
        pdf.setFillColorRGB(*((0.1,) * 3 if i % 2 == 0 else (1,) * 3))
        pdf.rect(x + i * length / 4, y, length / 4, 5, stroke=1, fill=1)
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 8)
    label = f"{metres / 1000:g} 公里" if metres >= 1000 else f"{metres:g} 公尺"
    pdf.drawString(x, y + 8, "0")
    pdf.drawString(x + length + 4, y, label)


def _legend(pdf, font, layers, x, top):
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 11)
    pdf.drawString(x, top - 12, "圖例")
    y = top - 24
    for layer in reversed(layers):  # topmost layer first, as in the layer panel
        legend = _engine_png({"REQUEST": "GetLegendGraphic", "LAYER": layer.slug, "SLD_VERSION": "1.1.0"},
                             frozenset([layer.slug]))
        reader = ImageReader(io.BytesIO(legend))
        w, h = reader.getSize()
        scale = min(1.0, (LEGEND_WIDTH - 4) / w) * 0.75  # the legend PNG is at 96 dpi
        if y - h * scale < MARGIN + 40:
            pdf.setFont(font, 8)
            pdf.drawString(x, y - 8, "…")
            break
        pdf.drawImage(reader, x, y - h * scale, w * scale, h * scale, mask="auto")
        y -= h * scale + 6
