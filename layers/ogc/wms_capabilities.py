"""The WMS GetCapabilities document (1.3.0 and 1.1.1), written by the front from the catalog in one pass (issue 21).

MapServer's own document grew faster than the catalog (34 s at 3,000 layers, 53–86 s at 5,000: for each layer with a
named class, mapwms.c walks every layer of the map to size its LegendURL), so for the MapServer engine /ows writes
it here, element for element as MapServer wrote it (docs/benchmarks.md), and MapServer answers GetMap,
GetFeatureInfo and GetLegendGraphic only. What it lists:

- the layers the caller may see (views._visible) that the engine serves (the mapfile's LAYERs: one whose LAYER could
  not be written is left out, as MapServer left it out), in the mapfile's order, nested by theme (MapServer's
  `wms_layer_group`): a theme is an unnamed category layer (a request naming it is refused like any unknown name),
  the root too;
- each layer's title, abstract and keywords in the request's language (as capabilities_language does for the
  engines' documents), its EX_GeographicBoundingBox and BoundingBox in its own CRS and, with
  OGC_WMS_LAYER_BBOX_ALL_CRS, in every offered CRS (capabilities_boxes, all layers at once); the root's boxes are
  the union of the layers' (a theme has a title only, as in MapServer's);
- the default style with its LegendURL (our GetLegendGraphic, sized from the classes' names as MapServer sizes
  its legend), queryable, the time dimension of time-enabled layers, scale limits, attribution and a MetadataURL
  to the layer's ISO 19139 record.

The capabilities cache (capabilities_cache) keeps the answer as it kept MapServer's.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote as url_quote
from urllib.parse import urljoin
from xml.sax.saxutils import escape

from django.conf import settings

from layers.models import Layer, Theme

from . import capabilities_boxes, mapfile
from .capabilities_boxes import Box

GEOGRAPHIC = "EPSG:4326"
ALIASES = {"EPSG:900913": "EPSG:3857"}  # one CRS under two codes: its boxes reprojected once
CJK = re.compile(r"[\u3400-\u9fff]")
# MapServer's legend (mapfile LEGEND: KEYSIZE 18 12; the key spacing and margins are its defaults); its label's
# SIZE 9 is points at 96 dpi: 12 px (measured against MapServer's own LegendURL sizes: tests/test_ows.py compares
# every layer's)
KEY_SIZE, KEY_SPACING, LEGEND_MARGIN = (18, 12), (5, 5), 5
LEGEND_FONT_PX = 12


def wanted(params: dict[str, str], body: bytes | None) -> bool:
    """A KVP WMS GetCapabilities request."""
    return (body is None and params.get("SERVICE", "").upper() == "WMS"
            and params.get("REQUEST", "").lower() == "getcapabilities")


def version(params: dict[str, str]) -> str:
    """The version answered (WMS version negotiation): 1.3.0 unless an older one is asked for, then 1.1.1."""
    asked = params.get("VERSION") or params.get("WMTVER") or ""
    try:
        numbers = tuple(int(part) for part in asked.split("."))
    except ValueError:
        return "1.3.0"
    return "1.1.1" if asked and numbers < (1, 3, 0) else "1.3.0"


@dataclass
class Entry:
    """One layer as the document lists it."""
    slug: str
    title: str
    abstract: str
    keywords: list[str]
    groups: tuple[str, ...]  # the titles of its themes, outermost first
    crs: str
    box: Box  # in its own CRS, x east
    time: str = ""
    scales: tuple[float | None, float | None] = (None, None)
    legend: tuple[int, int] | None = None
    attribution: str = ""
    boxes: dict[str, Box] = field(default_factory=dict)  # CRS → box (x east), its own CRS's and EPSG:4326 included


@dataclass
class Group:
    title: str
    members: list = field(default_factory=list)  # Entry and Group, in order
    boxes: dict[str, Box] = field(default_factory=dict)  # the root's: the union of every layer's


def document(params: dict[str, str], slugs: Iterable[str], url: str, lang: str) -> bytes:
    """The document for the layers named `slugs` (those the caller may see that the engine serves)."""
    english = lang == "en"
    layers = (Layer.objects.filter(slug__in=list(slugs)).select_related("style")
              .order_by("theme__order", "slug"))  # the mapfile's order (mapfile.published_layers)
    themes = {theme.pk: theme for theme in Theme.objects.all()}
    return write([entry(layer, themes, english) for layer in layers], version(params), url, english)


def entry(layer: Layer, themes: dict[int, Theme], english: bool) -> Entry:
    """A catalog layer as the document lists it, in English or zh-Hant (capabilities_language's choices)."""
    chain, node = [], themes.get(layer.theme_id)
    while node is not None:
        chain.append(node)
        node = themes.get(node.parent_id)
    chain.reverse()
    abstract = layer.abstract or layer.title_en
    title = layer.title_zh
    if english:
        title = layer.title_en or title
        abstract = (layer.abstract if layer.abstract and not CJK.search(layer.abstract) else layer.title_en) or abstract
    keywords = [*layer.keywords, *([chain[-1].name_zh] if chain else [])]
    minx, miny, maxx, maxy = (float(v) for v in mapfile.extent_text(
        layer.native_extent or mapfile.union_extent([]), layer.srid).split())
    time = mapfile.time_extent(layer)
    return Entry(
        slug=layer.slug, title=title, abstract=abstract,
        keywords=[k for k in ",".join(keywords).split(",") if k],  # MapServer splits ows_keywordlist at commas
        groups=tuple(((t.name_en or t.name_zh) if english else t.name_zh).replace("/", "／") for t in chain),
        crs=f"EPSG:{layer.srid}", box=(minx, miny, maxx, maxy), time=time or "",
        scales=mapfile.scale_range(layer), legend=legend_size(tuple(mapfile.legend_labels(layer))),
        attribution=layer.source)


def write(entries: list[Entry], version_: str, url: str, english: bool) -> bytes:
    """The document for `entries` (in the mapfile's order)."""
    offered = mapfile.SRS_LIST.split()
    _add_boxes(entries, offered)
    root = _tree(entries)
    root.boxes = {crs: capabilities_boxes.union(item.boxes.get(crs) for item in entries) for crs in offered}
    title = settings.OGC_SERVICE_TITLE_EN if english else settings.OGC_SERVICE_TITLE
    abstract = settings.OGC_SERVICE_ABSTRACT_EN if english else settings.OGC_SERVICE_ABSTRACT
    writer = _Writer(version_, url, offered)
    writer.head(title, abstract)
    writer.root_layer(root, title, abstract)
    writer.out.append("</Capability>\n</WMS_Capabilities>\n" if version_ == "1.3.0" else
                      "</Capability>\n</WMT_MS_Capabilities>\n")
    return "".join(writer.out).encode()


def _add_boxes(entries: list[Entry], offered: list[str]) -> None:
    """Each entry's boxes: its own CRS's, EPSG:4326 (the geographic box) and every offered CRS (those of the root's
    union, whether or not the layer lists them), one numpy pass per CRS pair."""
    wanted_pairs: dict[tuple[str, str], list[Entry]] = {}
    targets = {GEOGRAPHIC, *(c for c in offered if c not in ALIASES)}
    for item in entries:
        item.boxes = {item.crs: item.box}
        for target in targets:
            if target != item.crs and target.upper().startswith("EPSG:"):
                wanted_pairs.setdefault((item.crs, target), []).append(item)
    for (source, target), items in wanted_pairs.items():
        for item, box in zip(items, capabilities_boxes.reprojected(source, target, [i.box for i in items]),
                             strict=True):
            if box is not None:
                item.boxes[target] = box
    for alias, same in ALIASES.items():
        for item in entries:
            if same in item.boxes:
                item.boxes[alias] = item.boxes[same]


def _tree(entries: list[Entry]) -> Group:
    """The layers nested by theme, a theme placed where its first layer is (as MapServer nests wms_layer_group)."""
    root = Group("")
    groups: dict[tuple[str, ...], Group] = {(): root}
    for item in entries:
        for depth in range(1, len(item.groups) + 1):
            path = item.groups[:depth]
            if path not in groups:
                groups[path] = Group(path[-1])
                groups[path[:-1]].members.append(groups[path])
        groups[item.groups].members.append(item)
    return root


@lru_cache(maxsize=4096)
def legend_size(labels: tuple[str, ...]) -> tuple[int, int] | None:
    """The size MapServer gives the layer's legend (maplegend.c msLegendCalcSize: a key and its label per class,
    margins and spacing), None without classes (no legend)."""
    if not labels:
        return None
    heights, widest = [], 0
    for label in labels:
        width, height = _text_size(label) if label else (0, 0)
        widest = max(widest, width)
        heights.append(max(height, KEY_SIZE[1]))
    return (2 * LEGEND_MARGIN + widest + KEY_SPACING[0] + KEY_SIZE[0],
            sum(heights) + 2 * LEGEND_MARGIN + (len(labels) - 1) * KEY_SPACING[1])


@lru_cache(maxsize=1)
def _font():
    from PIL import ImageFont, features

    if not mapfile.CJK_FONT.exists():
        return None
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC  # shaped, as MapServer
    return ImageFont.truetype(str(mapfile.CJK_FONT), LEGEND_FONT_PX, layout_engine=engine)


@lru_cache(maxsize=65536)
def _text_size(text: str) -> tuple[int, int]:
    font = _font()
    if font is None:  # MapServer's built-in bitmap font (the legend has no TrueType label without the CJK font)
        return 7 * len(text), 13
    return math.floor(font.getlength(text) + 0.5), LEGEND_FONT_PX  # the advance, rounded as MS_NINT does


def _number(value: float, geographic: bool) -> str:
    return f"{value:.6f}" if geographic else f"{value:.10g}"


def _text(value: str) -> str:
    return escape(value)


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
SCHEMAS = "http://schemas.opengis.net"
# what MapServer offers with the mapfile's output formats and feature-info settings (mapfile.render)
GETMAP_FORMATS = ("image/png", "image/jpeg", "image/tiff", "image/png; mode=8bit", "image/vnd.jpeg-png",
                  "image/vnd.jpeg-png8", "application/x-pdf", "image/svg+xml", "application/vnd.google-earth.kml+xml",
                  "application/vnd.google-earth.kmz", "application/vnd.mapbox-vector-tile", "application/x-protobuf",
                  "application/json")
# MapServer's three, and the HTML the front writes (feature_info_html)
FEATURE_INFO_FORMATS = ("geojson", "application/vnd.ogc.gml", "text/plain", "text/html")
LEGEND_FORMATS = ("image/png", "image/jpeg", "image/png; mode=8bit", "image/vnd.jpeg-png", "image/vnd.jpeg-png8")


class _Writer:
    """The document as text, in one pass over the tree (the schema's element order, MapServer's indentation)."""

    def __init__(self, version_: str, url: str, offered: list[str]):
        self.version, self.new = version_, version_ == "1.3.0"
        self.url, self.offered = _attr(url), offered
        self.records = _attr(urljoin(url, "/api/v1/layers/"))
        self.crs_tag = "CRS" if self.new else "SRS"
        # a layer's boxes in every offered CRS, else in its own only (MapServer's wms_bbox_extended)
        self.every_crs = offered if settings.OGC_WMS_LAYER_BBOX_ALL_CRS else []
        self.out: list[str] = []

    def head(self, title: str, abstract: str) -> None:
        out, url = self.out, self.url
        out.append("<?xml version='1.0' encoding=\"UTF-8\" standalone=\"no\" ?>\n")
        if self.new:
            out.append(f'<WMS_Capabilities version="1.3.0"  xmlns="http://www.opengis.net/wms"   '
                       f'xmlns:sld="http://www.opengis.net/sld"   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                       f'   xmlns:ms="http://mapserver.gis.umn.edu/mapserver"   xsi:schemaLocation="'
                       f'http://www.opengis.net/wms {SCHEMAS}/wms/1.3.0/capabilities_1_3_0.xsd  '
                       f'http://www.opengis.net/sld {SCHEMAS}/sld/1.1.0/sld_capabilities.xsd  '
                       f'http://mapserver.gis.umn.edu/mapserver {url}service=WMS&amp;version=1.3.0&amp;'
                       f'request=GetSchemaExtension">\n\n')
        else:
            out.append(f'<!DOCTYPE WMT_MS_Capabilities SYSTEM "{SCHEMAS}/wms/1.1.1/WMS_MS_Capabilities.dtd"\n [\n'
                       ' <!ELEMENT VendorSpecificCapabilities EMPTY>\n ]>  <!-- end of DOCTYPE declaration -->\n\n'
                       '<WMT_MS_Capabilities version="1.1.1">\n\n')
        out.append(f"<Service>\n  <Name>{'WMS' if self.new else 'OGC:WMS'}</Name>\n  <Title>{_text(title)}</Title>\n")
        if abstract:
            out.append(f"  <Abstract>{_text(abstract)}</Abstract>\n")
        self.keywords(settings_keywords(), "  ")
        out.append(f'  <OnlineResource {XLINK} xlink:href="{url}"/>\n')
        organization = settings.OGC_CONTACT_ORGANIZATION
        if organization:
            out.append(f"  <ContactInformation>\n    <ContactPersonPrimary>\n"
                       f"      <ContactOrganization>{_text(organization)}</ContactOrganization>\n"
                       f"    </ContactPersonPrimary>\n  </ContactInformation>\n")
        out.append("  <Fees>none</Fees>\n  <AccessConstraints>none</AccessConstraints>\n")
        if self.new:
            size = settings.OGC_MAX_IMAGE_SIZE
            out.append(f"  <MaxWidth>{size}</MaxWidth>\n  <MaxHeight>{size}</MaxHeight>\n")
        out.append("</Service>\n\n<Capability>\n  <Request>\n")
        self.request("GetCapabilities", ("text/xml",) if self.new else ("application/vnd.ogc.wms_xml",))
        self.request("GetMap", GETMAP_FORMATS)
        self.request("GetFeatureInfo", FEATURE_INFO_FORMATS)
        self.request("sld:DescribeLayer" if self.new else "DescribeLayer", ("text/xml",))
        self.request("sld:GetLegendGraphic" if self.new else "GetLegendGraphic", LEGEND_FORMATS)
        self.request("ms:GetStyles" if self.new else "GetStyles", ("text/xml",))
        out.append("  </Request>\n  <Exception>\n")
        formats = ("XML", "INIMAGE", "BLANK") if self.new else (
            "application/vnd.ogc.se_xml", "application/vnd.ogc.se_inimage", "application/vnd.ogc.se_blank")
        out.extend(f"    <Format>{f}</Format>\n" for f in formats)
        out.append("  </Exception>\n")
        if self.new:
            out.append('  <sld:UserDefinedSymbolization SupportSLD="1" UserLayer="0" UserStyle="1" RemoteWFS="0" '
                       'InlineFeature="0" RemoteWCS="0"/>\n')
        else:
            out.append('  <VendorSpecificCapabilities />\n  <UserDefinedSymbolization SupportSLD="1" UserLayer="0" '
                       'UserStyle="1" RemoteWFS="0"/>\n')

    def request(self, name: str, formats: Iterable[str]) -> None:
        resource = f'<OnlineResource {XLINK} xlink:href="{self.url}"/>'
        self.out.append(f"    <{name}>\n" + "".join(f"      <Format>{_text(f)}</Format>\n" for f in formats)
                        + f"      <DCPType>\n        <HTTP>\n          <Get>{resource}</Get>\n"
                        f"          <Post>{resource}</Post>\n        </HTTP>\n      </DCPType>\n    </{name}>\n")

    def keywords(self, words: list[str], indent: str) -> None:
        if not words:
            return
        self.out.append(f"{indent}<KeywordList>\n" + "".join(
            f"{indent}    <Keyword>{_text(w)}</Keyword>\n" for w in words) + f"{indent}</KeywordList>\n")

    def root_layer(self, root: Group, title: str, abstract: str) -> None:
        out = self.out
        out.append('  <Layer queryable="1">\n' if root.members else "  <Layer>\n")
        out.append(f"    <Title>{_text(title)}</Title>\n")
        if abstract:
            out.append(f"    <Abstract>{_text(abstract)}</Abstract>\n")
        self.keywords(settings_keywords(), "    ")
        out.extend(f"    <{self.crs_tag}>{crs}</{self.crs_tag}>\n" for crs in self.offered)
        self.boxes(root.boxes, self.offered, "    ")
        for member in root.members:
            self.member(member, "")
        out.append("  </Layer>\n")

    def boxes(self, boxes: dict[str, Box], order: list[str], indent: str) -> None:
        geographic = boxes.get(GEOGRAPHIC)
        if geographic is not None:
            west, south, east, north = (_number(v, True) for v in geographic)
            if self.new:
                self.out.append(f"{indent}<EX_GeographicBoundingBox>\n"
                                f"{indent}    <westBoundLongitude>{west}</westBoundLongitude>\n"
                                f"{indent}    <eastBoundLongitude>{east}</eastBoundLongitude>\n"
                                f"{indent}    <southBoundLatitude>{south}</southBoundLatitude>\n"
                                f"{indent}    <northBoundLatitude>{north}</northBoundLatitude>\n"
                                f"{indent}</EX_GeographicBoundingBox>\n")
            else:
                self.out.append(f'{indent}<LatLonBoundingBox minx="{west}" miny="{south}" maxx="{east}" '
                                f'maxy="{north}" />\n')
        for crs in order:
            box = boxes.get(crs)
            if box is None:
                continue
            geographic_crs = capabilities_boxes.is_geographic(crs)
            if self.new and capabilities_boxes.lat_first(crs):
                box = (box[1], box[0], box[3], box[2])
            minx, miny, maxx, maxy = (_number(v, geographic_crs) for v in box)
            self.out.append(f'{indent}<BoundingBox {self.crs_tag}="{crs}"\n{indent}            minx="{minx}" '
                            f'miny="{miny}" maxx="{maxx}" maxy="{maxy}" />\n')

    def member(self, member, indent: str) -> None:
        if isinstance(member, Group):
            self.out.append(f'{indent}    <Layer queryable="1">\n{indent}      <Title>{_text(member.title)}</Title>\n')
            for inner in member.members:
                self.member(inner, indent + "  ")
            self.out.append(f"{indent}    </Layer>\n")
            return
        self.layer(member, indent)

    def layer(self, item: Entry, indent: str) -> None:
        out, tag = self.out, self.crs_tag
        out.append(f'{indent}    <Layer queryable="1" opaque="0" cascaded="0">\n'
                   f"        <Name>{_text(item.slug)}</Name>\n        <Title>{_text(item.title)}</Title>\n")
        if item.abstract:
            out.append(f"        <Abstract>{_text(item.abstract)}</Abstract>\n")
        self.keywords(item.keywords, "        ")
        out.append("".join(f"        <{tag}>{crs}</{tag}>\n" for crs in self.offered))
        self.boxes(item.boxes, [item.crs, *(c for c in self.every_crs if c != item.crs)], "        ")
        if item.time:
            if self.new:
                out.append(f'        <Dimension name="time" units="ISO8601" default="{item.time}" nearestValue="0">'
                           f"{item.time}</Dimension>\n")
            else:
                out.append(f'        <Dimension name="time" units="ISO8601"/>\n        <Extent name="time" '
                           f'default="{item.time}" nearestValue="0">{item.time}</Extent>\n')
        if item.attribution:
            out.append(f"    <Attribution>\n        <Title>{_text(item.attribution)}</Title>\n"
                       "    </Attribution>\n")
        # the layer's ISO 19139 record (MapServer pointed at its own GetMetadata, which /ows does not offer)
        record = f"{self.records}{url_quote(item.slug)}/metadata.xml"
        out.append(f'        <MetadataURL type="{"ISO19115:2003" if self.new else "TC211"}">\n'
                   f"          <Format>text/xml</Format>\n"
                   f'          <OnlineResource {XLINK} xlink:type="simple" xlink:href="{record}"/>\n'
                   f"        </MetadataURL>\n")
        if item.legend:
            width, height = item.legend
            legend = (f"{self.url}version={self.version}&amp;service=WMS&amp;request=GetLegendGraphic&amp;"
                      f"{'sld_version=1.1.0&amp;' if self.new else ''}layer={_attr(url_quote(item.slug))}"
                      "&amp;format=image/png&amp;STYLE=default")
            out.append(f'        <Style>\n          <Name>default</Name>\n          <Title>default</Title>\n'
                       f'          <LegendURL width="{width}" height="{height}">\n'
                       f"             <Format>image/png</Format>\n"
                       f'             <OnlineResource {XLINK} xlink:type="simple" xlink:href="{legend}"/>\n'
                       f"          </LegendURL>\n        </Style>\n")
        low, high = item.scales
        if self.new:
            if low:
                out.append(f"        <MinScaleDenominator>{low:g}</MinScaleDenominator>\n")
            if high:
                out.append(f"        <MaxScaleDenominator>{high:g}</MaxScaleDenominator>\n")
        elif low or high:
            out.append(f'        <ScaleHint min="{_scale_hint(low)}" max="{_scale_hint(high)}" />\n')
        out.append(f"{indent}    </Layer>\n")


def settings_keywords() -> list[str]:
    return [k for k in mapfile.SERVICE_KEYWORDS.split(",") if k]


def _scale_hint(denominator: float | None) -> str:
    """WMS 1.1.1's ScaleHint: a pixel's diagonal in metres at that scale (MapServer's: 72 dpi pixels)."""
    if not denominator:
        return "0"
    return f"{denominator / 72 / 39.3701 * 2 ** 0.5:.15g}"  # MapServer's inches per metre
