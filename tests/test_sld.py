"""SLD 1.0 documents from catalog styles. No SLD 1.0 XSD is available offline, so the structure is checked with
lxml: namespaces, one Rule per class titled like the class, filters with the classes' literals, colours, and the
element order the SLD 1.0 schema prescribes. MapServer (`mapserv`, when installed) then draws features with the
SLD, which shows that a real engine reads it and that its filters pick the right class."""

import os
import shutil
import subprocess
import urllib.parse
import warnings

import pytest
from django.db import connection
from lxml import etree
from psycopg2 import sql
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from layers.models import DATA_SCHEMA, Layer, Style
from layers.ogc.sld import OGC_NS, SLD_NS, class_rules, render_sld
from layers.styles import MAX_CATEGORIES, compute_classes

NS = {"sld": SLD_NS, "ogc": OGC_NS}
SYMBOLIZERS = {"PolygonSymbolizer", "LineSymbolizer", "PointSymbolizer", "TextSymbolizer", "RasterSymbolizer"}
# SLD 1.0 Rule content, in schema order
RULE_ORDER = ["Name", "Title", "Abstract", "LegendGraphic", "Filter", "ElseFilter", "MinScaleDenominator",
              "MaxScaleDenominator", "Symbolizer"]


def parse(doc: bytes):
    root = etree.fromstring(doc)
    assert etree.QName(root) == etree.QName(SLD_NS, "StyledLayerDescriptor")
    assert root.get("version") == "1.0.0"
    return root


def css(el, name: str) -> str:
    return el.find(f"sld:CssParameter[@name='{name}']", NS).text


def assert_rule_order(root):
    for rule in root.iterfind(".//sld:Rule", NS):
        tags = [etree.QName(c).localname for c in rule]
        positions = [RULE_ORDER.index("Symbolizer" if t in SYMBOLIZERS else t) for t in tags]
        assert positions == sorted(positions), tags
        assert any(t in SYMBOLIZERS for t in tags), "a rule draws nothing"


@pytest.fixture
def zones_table(db):
    """A polygon table with more categories than the palette has colours, and a numeric column."""
    table = "sld_zones"
    categories = [f"zone-{i:02d}" for i in range(MAX_CATEGORIES + 3)]
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {t} (id serial PRIMARY KEY, zone text, people integer, name text, "
                            "geom geometry(Polygon, 3826))").format(t=sql.Identifier(DATA_SCHEMA, table)))
        for i, zone in enumerate(categories):
            for j in range(i + 1):  # zone-00 once, zone-01 twice, …: counts order the categories
                cur.execute(sql.SQL("INSERT INTO {t} (zone, people, name, geom) VALUES (%s, %s, %s, "
                                    "ST_MakeEnvelope(%s, 0, %s, 10, 3826))").format(t=sql.Identifier(DATA_SCHEMA,
                                                                                                      table)),
                            [zone, (i * 37 + j * 11) % 500, f"區{i}", i * 10, i * 10 + 9])
    return Layer.objects.create(slug="zones", title_zh="分區", kind=Layer.Kind.VECTOR, geometry_type="Polygon",
                                table_name=table, attributes=[{"name": "zone", "type": "text"},
                                                              {"name": "people", "type": "integer"},
                                                              {"name": "name", "type": "text"}])


def test_categorized_polygons_from_computed_classes(zones_table):
    style = Style.objects.create(layer=zones_table, kind=Style.Kind.CATEGORIZED, attribute="zone", opacity=0.55)
    style.classes = compute_classes(style)
    root = parse(render_sld(zones_table, style))

    rules = root.findall("sld:NamedLayer/sld:UserStyle/sld:FeatureTypeStyle/sld:Rule", NS)
    assert root.findtext("sld:NamedLayer/sld:Name", namespaces=NS) == "zones"
    assert len(rules) == len(style.classes)
    assert [r.findtext("sld:Title", namespaces=NS) for r in rules] == [c["label"] for c in style.classes]
    for rule, cls in zip(rules, style.classes, strict=True):
        fill = rule.find("sld:PolygonSymbolizer/sld:Fill", NS)
        assert (css(fill, "fill"), float(css(fill, "fill-opacity"))) == (cls["color"], 0.55)
        if cls.get("other"):
            assert rule.find("sld:ElseFilter", NS) is not None and rule.find("ogc:Filter", NS) is None
        else:
            equal = rule.find("ogc:Filter/ogc:PropertyIsEqualTo", NS)
            assert equal.findtext("ogc:PropertyName", namespaces=NS) == "zone"
            assert equal.findtext("ogc:Literal", namespaces=NS) == cls["value"]
    assert style.classes[-1].get("other"), "the table has more categories than colours: an 'other' class"
    assert rules[-1].find("sld:ElseFilter", NS) is not None
    assert_rule_order(root)


def test_graduated_lines_take_their_upper_break_like_mapclassify(zones_table):
    zones_table.geometry_type = "MultiLineString"
    style = Style.objects.create(layer=zones_table, kind=Style.Kind.GRADUATED, attribute="people",
                                 method=Style.Method.QUANTILES, class_count=4, stroke_width=2.5)
    style.classes = compute_classes(style)
    root = parse(render_sld(zones_table, style))

    rules = root.findall(".//sld:Rule", NS)
    assert len(rules) == len(style.classes) >= 2
    for i, (rule, cls) in enumerate(zip(rules, style.classes, strict=True)):
        both = rule.find("ogc:Filter/ogc:And", NS)
        low, high = list(both)
        first = i == 0
        assert etree.QName(low).localname == ("PropertyIsGreaterThanOrEqualTo" if first else "PropertyIsGreaterThan")
        assert etree.QName(high).localname == "PropertyIsLessThanOrEqualTo"
        assert float(low.findtext("ogc:Literal", namespaces=NS)) == cls["min"]
        assert float(high.findtext("ogc:Literal", namespaces=NS)) == cls["max"]
        stroke = rule.find("sld:LineSymbolizer/sld:Stroke", NS)
        assert (css(stroke, "stroke"), float(css(stroke, "stroke-width"))) == (cls["color"], 2.5)
    assert rule.find("sld:PolygonSymbolizer", NS) is None
    assert_rule_order(root)


def test_single_symbol_points_with_labels():
    layer = Layer(slug="sensors", title_zh="空品感測器", kind=Layer.Kind.VECTOR, geometry_type="MultiPoint")
    style = Style(layer=layer, fill_color="#33a02c", stroke_color="#000000", point_size=9, label_attribute="name",
                  label_size=12, label_color="#444444")
    root = parse(render_sld(layer, style))

    (rule,) = root.findall(".//sld:Rule", NS)
    assert rule.findtext("sld:Title", namespaces=NS) == layer.title_zh
    assert rule.find("ogc:Filter", NS) is None
    graphic = rule.find("sld:PointSymbolizer/sld:Graphic", NS)
    assert graphic.findtext("sld:Mark/sld:WellKnownName", namespaces=NS) == "circle"
    assert css(graphic.find("sld:Mark/sld:Fill", NS), "fill") == "#33a02c"
    assert float(graphic.findtext("sld:Size", namespaces=NS)) == 9
    text = rule.find("sld:TextSymbolizer", NS)
    assert text.findtext("sld:Label/ogc:PropertyName", namespaces=NS) == "name"
    assert float(css(text.find("sld:Font", NS), "font-size")) == 12
    assert css(text.find("sld:Fill", NS), "fill") == "#444444"
    assert_rule_order(root)


def test_raster_color_map_carries_the_classes():
    layer = Layer(slug="dem", title_zh="地形", kind=Layer.Kind.RASTER)
    classes = [{"min": 0.0, "max": 20.5, "label": "0 – 20.5", "color": "#ffffb2"},
               {"min": 20.5, "max": 80.0, "label": "20.5 – 80", "color": "#fd8d3c"},
               {"min": 80.0, "max": 400.0, "label": "80 – 400", "color": "#bd0026"}]
    root = parse(render_sld(layer, Style(layer=layer, opacity=0.8, classes=classes)))

    (rule,) = root.findall(".//sld:Rule", NS)  # one RasterSymbolizer: more would paint the raster again
    raster = rule.find("sld:RasterSymbolizer", NS)
    assert float(raster.findtext("sld:Opacity", namespaces=NS)) == 0.8
    entries = raster.findall("sld:ColorMap/sld:ColorMapEntry", NS)
    assert [(e.get("color"), float(e.get("quantity")), e.get("label")) for e in entries] == [
        (c["color"], c["max"], c["label"]) for c in classes]
    assert_rule_order(root)


def test_single_symbol_raster_keeps_its_own_colours():
    layer = Layer(slug="ortho", title_zh="正射影像", kind=Layer.Kind.RASTER)
    root = parse(render_sld(layer, Style(layer=layer, classes=[{"label": "正射影像", "color": "#3388ff"}])))
    assert root.find(".//sld:RasterSymbolizer", NS) is not None
    assert root.find(".//sld:ColorMap", NS) is None


def test_class_rules_are_the_engine_neutral_reading_of_classes():
    layer = Layer(slug="x", title_zh="x")
    style = Style(layer=layer, attribute="kind", classes=[{"value": "a", "label": "A", "color": "#111111"},
                                                          {"value": None, "label": "其他", "color": "#222222",
                                                           "other": True}])
    assert [(r.test, r.value) for r in class_rules(style)] == [("equals", "a"), ("else", "")]
    empty = Style(layer=layer, fill_color="#abcdef")
    assert [(r.test, r.color, r.label) for r in class_rules(empty)] == [("all", "#abcdef", "x")]


MAPSERV = os.environ.get("MAPSERV_BIN", "/usr/bin/mapserv")
needs_mapserv = pytest.mark.skipif(not shutil.which(MAPSERV), reason=f"{MAPSERV} not installed")


def mapserv_draw(folder, attribute: str, values: list[str], sld: bytes):
    """Squares 10 units wide side by side, one per value of `attribute`, drawn by `mapserv` with `sld`; the RGB
    colour at each square's centre."""
    features = "\n".join(f'FEATURE POINTS {i * 10} 0 {i * 10} 10 {i * 10 + 10} 10 {i * 10 + 10} 0 {i * 10} 0 END '
                         f'ITEMS "{v}" END' for i, v in enumerate(values))
    width = 10 * len(values)
    mapfile = folder / "sld.map"
    mapfile.write_text(f"""MAP
  EXTENT 0 0 {width} 10
  SIZE {width * 10} 100
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:3826" END
  WEB METADATA "wms_enable_request" "*" "wms_srs" "EPSG:3826" "wms_title" "sld" END END
  OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGB EXTENSION "png" END
  LAYER
    NAME "zones" TYPE POLYGON STATUS ON
    PROJECTION "init=epsg:3826" END
    METADATA "wms_title" "zones" END
    PROCESSING "ITEMS={attribute}"
    {features}
    CLASS STYLE COLOR 0 0 0 END END
  END
END
""")
    config = folder / "mapserver.conf"
    config.write_text(f'CONFIG ENV MS_MAP_PATTERN "^{folder}/.*\\.map$" END END\n')
    query = urllib.parse.urlencode({
        "map": str(mapfile), "SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "zones",
        "STYLES": "", "SRS": "EPSG:3826", "BBOX": f"0,0,{width},10", "WIDTH": str(width * 10), "HEIGHT": "100",
        "FORMAT": "image/png", "SLD_BODY": sld.decode()})
    env = dict(os.environ, QUERY_STRING=query, REQUEST_METHOD="GET", MAPSERVER_CONFIG_FILE=str(config),
               SERVER_NAME="localhost", SERVER_PORT="80", SCRIPT_NAME="/ows")
    out = subprocess.run([MAPSERV], env=env, capture_output=True, timeout=30).stdout
    head, _, png = out.partition(b"\r\n\r\n")
    assert head.startswith(b"Content-Type: image/png"), out[:600]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a plain PNG
        with MemoryFile(png) as mem, mem.open() as img:
            pixels = img.read()
    return ["#" + "".join(f"{int(b):02x}" for b in pixels[:, 50, i * 100 + 50]) for i in range(len(values))]


@needs_mapserv
def test_mapserver_draws_categories_and_the_other_class(tmp_path):
    layer = Layer(slug="zones", title_zh="分區", kind=Layer.Kind.VECTOR, geometry_type="Polygon")
    style = Style(layer=layer, kind=Style.Kind.CATEGORIZED, attribute="zone", opacity=1.0, classes=[
        {"value": "住宅區", "label": "住宅區", "color": "#e31a1c"},
        {"value": "商業區", "label": "商業區", "color": "#1f78b4"},
        {"value": None, "label": "其他 (other)", "color": "#bdbdbd", "other": True}])
    drawn = mapserv_draw(tmp_path, "zone", ["商業區", "住宅區", "工業區"], render_sld(layer, style))
    assert drawn == ["#1f78b4", "#e31a1c", "#bdbdbd"]


@needs_mapserv
def test_mapserver_draws_graduated_ranges_with_each_break_in_the_class_below(tmp_path):
    layer = Layer(slug="zones", title_zh="人口", kind=Layer.Kind.VECTOR, geometry_type="Polygon")
    classes = [{"min": 0.0, "max": 10.0, "label": "0 – 10", "color": "#ffffb2"},
               {"min": 10.0, "max": 20.0, "label": "10 – 20", "color": "#fd8d3c"},
               {"min": 20.0, "max": 30.0, "label": "20 – 30", "color": "#bd0026"}]
    style = Style(layer=layer, kind=Style.Kind.GRADUATED, attribute="people", opacity=1.0, classes=classes)
    values = ["0", "9.5", "10", "10.5", "20", "30"]  # as mapclassify: a break belongs to the class it closes
    drawn = mapserv_draw(tmp_path, "people", values, render_sld(layer, style))
    assert drawn == ["#ffffb2", "#ffffb2", "#ffffb2", "#fd8d3c", "#fd8d3c", "#bd0026"]
