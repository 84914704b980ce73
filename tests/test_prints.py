"""PDF prints for the record (POST /api/v1/print/): a chosen scale that the picture, the scale text and the extent
agree on (in TWD97 metres), A4/A3 in both orientations on one page of the right size, a legend naming the layers
in the user's language, markers drawn. The PDF is read back with poppler (pdfinfo, pdftotext, pdfimages,
pdftoppm)."""

import re
import subprocess

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from rasterio.io import MemoryFile
from rest_framework.test import APIClient
from test_ows import layer_bbox, ows_url  # noqa: F401 - the published demo city

from layers.models import Layer
from web import printing
from web.models import Marker

pytestmark = pytest.mark.django_db
POINTS = {("A4", "portrait"): (595.28, 841.89), ("A4", "landscape"): (841.89, 595.28),
          ("A3", "portrait"): (841.89, 1190.55), ("A3", "landscape"): (1190.55, 841.89)}


@pytest.fixture(scope="module")
def view(ows_url):  # noqa: F811
    west, south, east, north = layer_bbox("buildings", 4326)
    return {"center": [(west + east) / 2, (south + north) / 2], "zoom": 15,
            "layers": [{"slug": "villages", "opacity": 0.5}, {"slug": "roads"}, {"slug": "buildings"}]}


def _print(tmp_path, body, language="zh-hant", client=None, name="map.pdf"):
    answer = (client or APIClient()).post("/api/v1/print/", body, format="json", HTTP_ACCEPT_LANGUAGE=language)
    assert answer.status_code == 200, answer.content[:300]
    pdf = tmp_path / name
    pdf.write_bytes(answer.content)
    return pdf


def _run(*command) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _map_image(pdf) -> dict:
    """The biggest picture on the page: the map (pdfimages -list: size in pixels and placement in ppi)."""
    rows = [line.split() for line in _run("pdfimages", "-list", str(pdf)).splitlines()[2:]]
    images = [{"width": int(r[3]), "height": int(r[4]), "x_ppi": int(r[12]), "y_ppi": int(r[13])}
              for r in rows if r[2] == "image"]
    return max(images, key=lambda i: i["width"] * i["height"])


@pytest.mark.parametrize("paper,orientation", sorted(POINTS))
def test_each_paper_and_orientation_is_one_page_at_the_chosen_scale(view, tmp_path, paper, orientation):
    pdf = _print(tmp_path, {"state": view, "title": "建物分布圖", "paper": paper, "orientation": orientation,
                            "scale": "5000"})
    info = _run("pdfinfo", str(pdf))
    assert re.search(r"^Pages:\s+1$", info, re.M)
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    assert (float(size.group(1)), float(size.group(2))) == pytest.approx(POINTS[(paper, orientation)], abs=0.01)
    text = _run("pdftotext", "-layout", str(pdf), "-")
    assert "比例尺 1:5,000" in text and "圖例" in text and "建物分布圖" in text
    for slug in ("villages", "roads", "buildings"):
        assert Layer.objects.get(slug=slug).title_zh in text
    # the map's metres per pixel: the extent printed under the map over the picture's pixels, and the scale over
    # the picture's placement (pixels per inch on paper)
    extent = re.search(r"X ([\d,]+)–([\d,]+)，Y ([\d,]+)–([\d,]+) 公尺", text)
    minx, maxx, miny, maxy = (float(v.replace(",", "")) for v in extent.groups())
    image = _map_image(pdf)
    assert image["x_ppi"] == image["y_ppi"] == printing.PRINT_DPI
    assert (maxx - minx) / image["width"] == pytest.approx(5000 * 0.0254 / image["x_ppi"], rel=2e-3)
    assert (maxy - miny) / image["height"] == pytest.approx(5000 * 0.0254 / image["y_ppi"], rel=2e-3)
    # the extent is centred on the view
    from geo.crs import transformer

    cx, cy = transformer(4326, 3826).transform(*view["center"])
    assert (minx + maxx) / 2 == pytest.approx(cx, abs=1) and (miny + maxy) / 2 == pytest.approx(cy, abs=1)


def test_english_print_names_layers_and_scale_in_english(view, tmp_path):
    pdf = _print(tmp_path, {"state": view, "title": "Buildings", "scale": "25000", "orientation": "portrait"},
                 language="en")
    text = _run("pdftotext", "-layout", str(pdf), "-")
    assert "Scale 1:25,000" in text and "Legend" in text and "Printed" in text
    for slug in ("villages", "roads", "buildings"):
        assert Layer.objects.get(slug=slug).title_en in text
    # one language at a time: no Chinese apart from proper nouns the data carries (sources)
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("Sources"))
    assert not re.search(r"[\u3400-\u9fff]", body), body


def test_fit_the_view_prints_the_scale_the_screen_had(view, tmp_path):
    pdf = _print(tmp_path, {"state": view, "title": "t", "paper": "A4"})
    scale = printing.view_scale(view)
    assert 15_000 < scale < 17_500  # zoom 15 at 25° N: 4.3 m a screen pixel, about 1:16,000 at 96 dpi
    text = _run("pdftotext", "-layout", str(pdf), "-")
    assert f"比例尺 1:{scale:,}" in text
    extent = re.search(r"X ([\d,]+)–([\d,]+)，", text)
    image = _map_image(pdf)
    width_m = float(extent.group(2).replace(",", "")) - float(extent.group(1).replace(",", ""))
    assert width_m / image["width"] == pytest.approx(scale * 0.0254 / printing.PRINT_DPI, rel=2e-3)


def test_an_unknown_scale_is_refused_by_name(view):
    answer = APIClient().post("/api/v1/print/", {"state": view, "scale": "3000"}, format="json")
    assert answer.status_code == 400 and "scale" in answer.json()


def test_a_marker_is_drawn_where_it_is_with_its_title(view, tmp_path):
    user = User.objects.create_user("print-clerk", password="pw")
    lon, lat = view["center"][0] + 0.002, view["center"][1] + 0.001
    marker = Marker.objects.create(owner=user, title="會勘點", color="#ff0000", location=Point(lon, lat, srid=4326))
    client = APIClient()
    client.force_authenticate(user)
    pdf = _print(tmp_path, {"state": view, "title": "t", "scale": "2500", "markers": [marker.pk]}, client=client)
    assert "會勘點" in _run("pdftotext", str(pdf), "-")
    # the pin is red just above its spot: find the spot from the extent and the picture's placement
    _run("pdftoppm", "-r", "72", "-png", "-singlefile", str(pdf), str(tmp_path / "page"))
    with MemoryFile((tmp_path / "page.png").read_bytes()) as mem, mem.open() as img:
        page = img.read()
    red = (page[0] > 200) & (page[1] < 60) & (page[2] < 60)
    rows, cols = np.nonzero(red)
    assert len(rows) > 10, "no red pin on the page"
    frame = printing.map_frame(view, 2500, *printing._layout(printing.PrintJob(view, "t"), 841.89, 595.28)[0])
    from geo.crs import transformer

    mx, my = transformer(4326, 3826).transform(lon, lat)
    px = frame.x + (mx - frame.bbox[0]) / (frame.bbox[2] - frame.bbox[0]) * frame.width_pt
    py = 595.28 - (frame.y + (my - frame.bbox[1]) / (frame.bbox[3] - frame.bbox[1]) * frame.height_pt)
    assert abs(np.median(cols) - px) < 4 and 0 < py - np.median(rows) < 14  # the pin stands on its point


def test_the_legend_shows_each_class_in_the_colour_the_view_draws_it(view):
    from django.utils import translation

    from layers.ogc.sld import class_rules

    layers = printing.printable_layers(view, None)
    with translation.override("en"):
        entries = printing.legend_entries(layers, view)
    topmost_first = ("buildings", "roads", "villages")
    assert [e.title for e in entries] == [Layer.objects.get(slug=s).title_en for s in topmost_first]
    villages = Layer.objects.get(slug="villages")
    alpha = 0.5 * villages.style.opacity  # the view's opacity times the style's, over white paper
    first = class_rules(villages.style)[0].color.lstrip("#")
    expected = tuple(int(first[i:i + 2], 16) / 255 * alpha + 1 - alpha for i in (0, 2, 4))
    assert entries[-1].rows[0][0] == pytest.approx(expected)
    assert entries[-1].subtitle.startswith("Population density (people/km²) · ")
    assert entries[-1].rows[0][1].endswith("people/km²")  # class labels carry the unit in the print's language
