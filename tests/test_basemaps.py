"""Basemaps: NLSC's national maps as the real capabilities describe them, the tile templates of the WMTS/XYZ a
city adds, and the platform's own basemap drawn by MapServer with names (one per road name and tile)."""

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SHARED_DATA, committed_demo_city, tile_of
from django.db import connection
from django.test import Client
from PIL import Image

from layers.models import Layer
from layers.ogc import basemap
from web import viewer

pytestmark = pytest.mark.django_db
NLSC_CAPABILITIES = SHARED_DATA / "real" / "nlsc-wmts" / "nlsc_wmts_capabilities_2017.xml"
WMTS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    import mapscript

    with committed_demo_city(django_db_blocker, seed=7, size=0.3) as demo:
        yield demo
        mapscript.msConnPoolCloseUnreferenced()  # MapServer keeps its PostGIS connections open between draws


@pytest.fixture(scope="module")
def centre(city, django_db_blocker) -> tuple[float, float]:
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_Centroid(ST_Extent(geom)"
                    "::geometry), 3826), 4326) c FROM layerdata.roads) s")
        return cur.fetchone()


def everything() -> frozenset[str]:
    return frozenset(Layer.objects.values_list("slug", flat=True))


def names_in_tile(z: int, x: int, y: int) -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT name FROM layerdata.roads WHERE geom && ST_Transform(ST_MakeEnvelope(%s, %s, "
                    "%s, %s, 3857), 3826) AND name <> ''", basemap.tile_extent(z, x, y))
        return [row[0] for row in cur.fetchall()]


def labels_per_name(drawn_map, layer: str, item: str, names: list[str]) -> dict[str, int]:
    """How many labels the map draws for each name (the layer filtered to that name, drawn alone)."""
    counts = {}
    for name in names:
        one = drawn_map.clone()
        one.getLayerByName(layer).setFilter(f'("[{item}]" eq "{name}")')
        one.draw()
        counts[name] = one.labelcache.num_rendered_members
    return counts


def test_nlsc_entries_follow_the_real_capabilities(settings):
    """The layer ids, the GoogleMapsCompatible matrices (7–19) and the RESTful template of the default NLSC entries
    are those NLSC's own capabilities give (a 2017 capture, on the service's old host)."""
    if not NLSC_CAPABILITIES.exists():
        pytest.skip(f"{NLSC_CAPABILITIES} is absent")
    root = ET.parse(NLSC_CAPABILITIES).getroot()
    layers = {lyr.findtext("ows:Identifier", namespaces=WMTS): lyr for lyr in root.iter(f"{{{WMTS['w']}}}Layer")}
    [matrix_set] = [s for s in root.iter(f"{{{WMTS['w']}}}TileMatrixSet") if s.find("ows:Identifier", WMTS) is not None]
    assert matrix_set.findtext("ows:Identifier", namespaces=WMTS) == viewer.NLSC_MATRIX_SET
    zooms = [int(m.findtext("ows:Identifier", namespaces=WMTS)) for m in matrix_set.findall("w:TileMatrix", WMTS)]
    entries = viewer.nlsc_basemaps()
    assert [e["layer"] for e in entries] == ["EMAP", "PHOTO2", "EMAP2"]
    for entry in entries:
        layer = layers[entry["layer"]]
        assert layer.findtext("w:TileMatrixSetLink/w:TileMatrixSet", namespaces=WMTS) == viewer.NLSC_MATRIX_SET
        assert (entry["min_zoom"], entry["max_zoom"]) == (min(zooms), max(zooms))
        template = layer.find("w:ResourceURL", WMTS).get("template")
        template = (template.replace("http://wms.nlsc.gov.tw/wmts", settings.NLSC_WMTS_URL)
                    .replace("{Style}", "default").replace("{TileMatrixSet}", viewer.NLSC_MATRIX_SET))
        assert viewer.tile_template(entry) == viewer.tile_template({**entry, "url": template})
        if entry.get("overlay"):  # drawn over another basemap: it must be transparent
            assert layer.findtext("w:Format", namespaces=WMTS) == "image/png"
    assert viewer.tile_template(entries[0]) == \
        "https://wmts.nlsc.gov.tw/wmts/EMAP/default/GoogleMapsCompatible/{z}/{y}/{x}"


def test_tile_templates_of_the_wmts_and_xyz_a_city_adds():
    rest = {"type": "wmts", "layer": "L", "url": "https://a.example/wmts/L/default/GoogleMapsCompatible/"
            "{TileMatrix}/{TileRow}/{TileCol}.png"}
    assert viewer.tile_template(rest) == "https://a.example/wmts/L/default/GoogleMapsCompatible/{z}/{y}/{x}.png"
    kvp = {"type": "wmts", "layer": "B5000", "url": "https://b.example/wmts?token=1", "format": "image/jpeg"}
    assert viewer.tile_template(kvp) == (
        "https://b.example/wmts?token=1&SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=B5000&STYLE=default"
        "&TILEMATRIXSET=GoogleMapsCompatible&FORMAT=image%2Fjpeg&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}")
    xyz = {"type": "xyz", "url": "https://c.example/{z}/{x}/{y}.png"}
    assert viewer.tile_template(xyz) == xyz["url"]


def test_basemap_tile_is_drawn_from_the_layers_the_caller_may_see(city, centre, django_db_blocker):
    z = 15
    x, y = tile_of(*centre, z)
    answer = Client().get(f"/basemap/{z}/{x}/{y}.png")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.size == (256, 256) and len(image.getcolors(65536)) > 20  # lines and names, not a blank tile
    assert answer["Cache-Control"].startswith("public")
    # an internal layer is left out for an anonymous caller, exactly as if it did not exist
    with django_db_blocker.unblock():
        Layer.objects.filter(slug="roads").update(visibility=Layer.Visibility.INTERNAL)
    try:
        hidden = Client().get(f"/basemap/{z}/{x}/{y}.png").content
        assert hidden != answer.content
        assert hidden == basemap.tile_png(z, x, y, everything() - {"roads"})
    finally:
        with django_db_blocker.unblock():
            Layer.objects.filter(slug="roads").update(visibility=Layer.Visibility.PUBLIC)
    assert Client().get("/basemap/3/9/0.png").status_code == 400


def test_one_label_per_road_name_and_tile_along_the_road(city, centre):
    """Roads are stored a block at a time; the basemap names each road once per tile, on its longest piece."""
    for z in (15, 16, 17):
        x, y = tile_of(*centre, z)
        names = names_in_tile(z, x, y)
        drawn, _image = basemap.draw_tile(z, x, y, everything(), only=lambda layer: layer.name == "roads:labels")
        counts = labels_per_name(drawn, "roads:labels", "label", names)
        assert names and max(counts.values()) == 1, (z, counts)
        assert drawn.labelcache.num_rendered_members >= len(names) / 2, (z, len(names))  # most roads named
    # the same label drawn from the stored segments names a road once per block: what the merge prevents
    per_segment = drawn.clone()
    labels = per_segment.getLayerByName("roads:labels")
    labels.data = f"geom FROM layerdata.roads USING UNIQUE fid USING SRID={Layer.objects.get(slug='roads').srid}"
    labels.labelitem = "name"
    labels.getClass(0).getLabel(0).mindistance = -1
    per_segment.draw()
    assert per_segment.labelcache.num_rendered_members > len(names)


def test_names_at_sensible_zooms(city, centre):
    """District names when the city is small on screen, village names closer in, road names closest."""
    def labelled(z):
        x, y = tile_of(*centre, z)
        found = set()
        for layer in ("districts:labels", "villages:labels", "roads:labels"):
            drawn, _ = basemap.draw_tile(z, x, y, everything(), only=lambda lyr, name=layer: lyr.name == name)
            if drawn.labelcache.num_rendered_members:
                found.add(layer.split(":")[0])
        return found

    assert labelled(12) == {"districts"}
    assert labelled(16) == {"villages", "roads"}


def test_the_basemap_uses_a_cjk_font():
    font = Path(basemap.CJK_FONT)
    assert font.exists(), f"{font} is missing: the Makefile's APT_PACKAGES install fonts-noto-cjk"
    assert "FONTSET" in basemap.render([])
