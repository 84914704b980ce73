"""What the map page needs to know, in one JSON document embedded in the page (no extra request before the
first map): the theme tree with how many layers each holds for this user, the entries (styles, fields) of the layers
switched on at first only, basemaps, URLs and strings — a document whose size does not grow with the catalog. The
other layers' entries come on demand from /viewer/layers.json (a theme's when it is opened, a search's matches, the
layers a share link or a tool names); the decision pages still embed every entry (their pickers list them all)."""

import math
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.db.models import Count, Q
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts import rights
from layers import attribute_kinds, integrity, timeaxis
from layers.models import Layer, Style, Theme
from layers.ogc import external
from layers.styles import RAMPS, compute_classes

from .edit_strings import edit_strings
from .layer_dialog_strings import layer_dialog_strings
from .strings import viewer_strings
from .style_strings import style_strings
from .table_strings import table_strings
from .tool_strings import tool_strings

HEIGHT_ATTRIBUTES = ("height_m", "height", "building_height")
STYLE_FIELDS = ("kind", "attribute", "method", "classes", "fill_color", "stroke_color", "stroke_width", "opacity",
                "point_size", "point_symbol", "line_dash", "min_scale", "max_scale", "label_attribute")
# the offline basemap: the platform's own layers in quiet colours
BASEMAP_COLORS = {"Polygon": ("#f1eee8", "#b9b2a6"), "LineString": ("#c9c3b8", "#c9c3b8")}
BASEMAP_WATER = "#a9c8e8"


def style_of(layer: Layer) -> dict:
    style = getattr(layer, "style", None) or Style(layer=layer)
    out = {field: getattr(style, field) for field in STYLE_FIELDS}
    if not out["classes"] and style.kind == Style.Kind.SINGLE:
        out["classes"] = compute_classes(style)
    return out


def style_editor_config(user, layers: list[Layer]) -> dict:
    """What the style editor needs: the ramps it offers, the layers this user may restyle, the style API."""
    vector = [layer.pk for layer in layers if layer.kind == Layer.Kind.VECTOR]
    editable = sorted(rights.layers_where(user, "publish", Layer.objects.filter(pk__in=vector))
                      .values_list("slug", flat=True)) if user.is_authenticated and vector else []
    return {"style_ramps": RAMPS, "style_editable": editable,
            "style_url": reverse("layer-style", args=["xslugx"]).replace("xslugx", "{slug}")}


def editable_layers(user) -> list[str]:
    """The vector layers (the whole catalog's, not only those the page holds) whose features this user may add to
    or change: the edit tool's list, in one query per kind of change."""
    if not user.is_authenticated:
        return []
    vector = Layer.objects.filter(kind=Layer.Kind.VECTOR).exclude(table_name="")
    return sorted({slug for right in ("add", "edit_all", "edit_own")
                   for slug in rights.layers_where(user, right, vector).values_list("slug", flat=True)})


def height_attribute(layer: Layer) -> str | None:
    if "Polygon" not in layer.geometry_type:
        return None
    names = {a["name"] for a in layer.attributes}
    return next((h for h in HEIGHT_ATTRIBUTES if h in names), None)


def attribute_entry(attribute: dict) -> dict:
    """What a page needs to show an attribute's values: its labels, unit, kind and decimals in both languages."""
    described = attribute_kinds.described(attribute)
    entry = {k: described.get(k) for k in ("name", "label", "label_en", "unit", "unit_en", "kind", "decimals")}
    if described.get("values"):
        entry["values"] = described["values"]  # category values' labels, for legends and identify
    return entry


def layer_entry(layer: Layer) -> dict:
    return {
        "slug": layer.slug, "title_zh": layer.title_zh, "title_en": layer.title_en, "kind": layer.kind,
        "geometry_type": layer.geometry_type, "theme": layer.theme.slug if layer.theme else None,
        "bbox": integrity.lonlat_bbox(layer, 6), "min_zoom": layer.min_zoom,
        "visibility": layer.visibility, "attributes": [attribute_entry(a) for a in layer.attributes],
        "style": style_of(layer), "height_attribute": height_attribute(layer),
        "service": layer.service if layer.kind == Layer.Kind.SERVICE else None, "source": layer.source,
        "time": time_entry(layer),
    }


def time_entry(layer: Layer) -> dict | None:
    """A time-enabled layer's time attribute and the extent its data covers, for the time slider."""
    found = timeaxis.extent(layer) if layer.kind == Layer.Kind.VECTOR else None
    if found is None:
        return None
    return {"attribute": layer.time_attribute, "extent": [timeaxis.iso(found[0]), timeaxis.iso(found[1])]}


def layer_entries(layers: list[Layer], user) -> list[dict]:
    """The entries of the layers that can be drawn; a layer whose stored metadata is broken is left out (and
    logged) rather than breaking the page for everyone. `animation`: what the time slider plays on the map for
    the layer (its sensors' readings, its Wi-Fi hotspots' use: iot.timeline), or None."""
    from iot.timeline import animations

    animated = animations(layers, user)
    entries = []
    for layer in layers:
        if layer.kind == Layer.Kind.SERVICE and (layer.service or {}).get("type") not in external.DRAWABLE:
            continue  # a harvested WFS feature type, ArcGIS FeatureServer layer or bare record: in the catalog only
        try:
            entry = integrity.json_safe({**layer_entry(layer), "animation": animated.get(layer.slug)}, layer.slug)
        except Exception:  # noqa: BLE001 - e.g. a style that cannot be drawn
            integrity.log.exception("layer %s: no viewer entry; left out", layer.slug)
            entry = None
        if entry is not None and not (layer.extent is not None and entry["bbox"] is None):  # a broken extent
            entries.append(entry)
    return entries


def basemap_layer(layer: Layer) -> dict:
    kind = "LineString" if "LineString" in layer.geometry_type else "Polygon"
    fill, stroke = BASEMAP_COLORS[kind]
    if layer.slug in ("rivers",) or "water" in (layer.theme.slug if layer.theme else ""):
        fill = stroke = BASEMAP_WATER
    return {"slug": layer.slug, "geometry_type": layer.geometry_type, "min_zoom": layer.min_zoom, "kind": "vector",
            "bbox": integrity.lonlat_bbox(layer, 6), "height_attribute": None,
            "style": {"kind": "single", "classes": [], "fill_color": fill, "stroke_color": stroke,
                      "stroke_width": 1.0 if kind == "Polygon" else 1.5, "opacity": 1, "point_size": 4}}


NLSC_ATTRIBUTION = {"attribution_zh": "資料來源：內政部國土測繪中心",
                    "attribution_en": "Source: National Land Surveying and Mapping Center"}
NLSC_MATRIX_SET, NLSC_ZOOMS = "GoogleMapsCompatible", (7, 19)  # its capabilities offer tile matrices 7 to 19
THUMBNAIL_ZOOM = 13  # a thumbnail is the basemap's tile at the city's centre: a few km across
WMTS_PLACEHOLDERS = {"{TileMatrix}": "{z}", "{TileRow}": "{y}", "{TileCol}": "{x}"}


def tile_template(entry: dict) -> str:
    """A Leaflet {z}/{x}/{y} template for an XYZ or WMTS entry: a WMTS RESTful template as it is (with the
    capabilities' {TileMatrix}/{TileRow}/{TileCol} spelling accepted), else a KVP GetTile request."""
    url = entry["url"]
    for placeholder, leaflet in WMTS_PLACEHOLDERS.items():
        url = url.replace(placeholder, leaflet)
    if entry.get("type") != "wmts" or "{z}" in url:
        return url
    query = urlencode({"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": entry["layer"],
                       "STYLE": entry.get("style", "default"),
                       "TILEMATRIXSET": entry.get("matrix_set", "GoogleMapsCompatible"),
                       "FORMAT": entry.get("format", "image/png")})
    return f"{url}{'&' if '?' in url else '?'}{query}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"


def thumbnail(template: str, centre: tuple[float, float], zoom: int) -> str:
    x, y = tile_xy(*centre, zoom)
    return template.replace("{z}", str(zoom)).replace("{x}", str(x)).replace("{y}", str(y))


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def nlsc_basemaps() -> list[dict]:
    """NLSC's WMTS layers as basemap entries, on NLSC_WMTS_URL (the national service, or a mirror)."""
    return [{**entry, **NLSC_ATTRIBUTION, "type": "wmts", "matrix_set": NLSC_MATRIX_SET,
             "url": f"{settings.NLSC_WMTS_URL}/{entry['layer']}/default/{NLSC_MATRIX_SET}/{{z}}/{{y}}/{{x}}",
             "min_zoom": NLSC_ZOOMS[0], "max_zoom": NLSC_ZOOMS[1]} for entry in settings.NLSC_BASEMAPS]


def in_language(entry: dict, key: str) -> str | None:
    """entry's `key` in the page's language: key_en in English, else key_zh, else key."""
    english = get_language() == "en"
    return (entry.get(f"{key}_en") if english else None) or entry.get(f"{key}_zh") or entry.get(key)


def configured_basemap(entry: dict, centre: tuple[float, float]) -> dict:
    template = tile_template(entry)
    zoom = min(max(THUMBNAIL_ZOOM, entry.get("min_zoom", 0)), entry.get("max_zoom", 19))
    return {"id": entry["id"], "type": entry.get("type", "xyz"), "name": in_language(entry, "name") or entry["id"],
            "url": template, "attribution": in_language(entry, "attribution") or "",
            "overlay": bool(entry.get("overlay")),
            "min_zoom": entry.get("min_zoom", 0), "max_zoom": entry.get("max_zoom", 19),
            "thumbnail": thumbnail(template, centre, zoom)}


def three_d_basemap_layers(visible: dict[str, Layer]) -> list[dict]:
    layers = [visible[s] for s in settings.VIEWER_BASEMAP_LAYERS
              if s in visible and visible[s].kind == Layer.Kind.VECTOR]
    first_area = next((layer for layer in layers if "Polygon" in layer.geometry_type), None)
    return [basemap_layer(layer) for layer in layers if "Polygon" not in layer.geometry_type or layer is first_area]


def basemaps(visible: dict[str, Layer], centre: tuple[float, float]) -> list[dict]:
    """The basemaps and overlays the viewer offers, the one it opens on first. Each has a thumbnail: its tile at
    the city's centre (the platform's own drawn by MapServer, so the switcher shows it offline too)."""
    own = reverse("basemap-tile", args=[0, 0, 0]).replace("/0/0/0.png", "/{z}/{x}/{y}.png")
    platform = {"id": "platform", "type": "platform", "name": _("城市底圖（本平台圖層，離線可用）"), "url": own,
                "thumbnail": thumbnail(own, centre, THUMBNAIL_ZOOM), "min_zoom": 0, "max_zoom": 20,
                "attribution": "", "overlay": False,
                # the 3D view draws the land, waters and roads as vector tiles (no small areas: it needs no names)
                "layers": three_d_basemap_layers(visible)}
    offered = [*[configured_basemap(b, centre) for b in [*nlsc_basemaps(), *settings.VIEWER_BASEMAPS]], platform,
               {"id": "none", "type": "none", "name": _("無底圖"), "overlay": False}]
    first = next((b for b in offered if b["id"] == settings.VIEWER_DEFAULT_BASEMAP and not b["overlay"]), platform)
    return [first, *(b for b in offered if b is not first)]


def centre(bbox: list[float]) -> tuple[float, float]:
    return (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2


def initial_bbox(layers: list[dict]) -> list[float]:
    """Where the map opens: around the layers switched on by default, else all layers, else Taiwan."""
    boxes = [e["bbox"] for e in layers if e["bbox"] and e["slug"] in settings.VIEWER_DEFAULT_LAYERS] or \
        [e["bbox"] for e in layers if e["bbox"]] or [[119.3, 21.8, 122.1, 25.4]]
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def catalog_bbox(user) -> list[float]:
    """Around every visible layer (the map's opening view when none of the default layers is visible), by one
    aggregate in the database; else Taiwan."""
    box = visible_queryset(user).filter(extent__isnull=False).order_by().aggregate(box=Extent("extent"))["box"]
    on_globe = box and -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90
    return [round(v, 6) for v in box] if on_globe else initial_bbox([])


def visible_queryset(user):
    return (Layer.objects.visible_to(user).exclude(kind=Layer.Kind.TABLE)
            .select_related("theme", "style").order_by("theme__order", "title_zh"))


def visible_layers(user) -> list[Layer]:
    return list(visible_queryset(user))


NO_THEME = "-"  # /viewer/layers.json?theme=- : the layers in no theme
OPEN_AT_MOST = 30  # a theme holding at most this many layers (with its sub-themes) opens with the page …
EMBED_AT_MOST = 30  # … while the open themes hold at most this many together: their entries come with the page
SEARCH_LIMIT = 200  # the layer panel's filter box: at most this many matches per question


def chosen_layers(user, themes: list[str], slugs: list[str], q: str) -> list[Layer]:
    """The visible layers of some themes (direct members), some slugs, or matching a search (title in either
    language or slug): what the viewer asks for when a theme is opened, a share link or tool names layers, or the
    panel's filter box is typed in. Layers the user may not see are simply not there."""
    found = visible_queryset(user)
    if q:
        return list(found.filter(Q(title_zh__icontains=q) | Q(title_en__icontains=q) | Q(slug__icontains=q))
                    [:SEARCH_LIMIT])
    wanted = Q(slug__in=slugs) | Q(theme__slug__in=[t for t in themes if t != NO_THEME])
    if NO_THEME in themes:
        wanted |= Q(theme__isnull=True)
    return list(found.filter(wanted))


def opening_tree(themes: list[Theme], counts: dict[str | None, int]) -> tuple[set[str], bool]:
    """The themes the layer panel opens with (small ones, parents first, within EMBED_AT_MOST layers in all) and
    whether the layers in no theme come with the page too: their entries are embedded, so a small catalog's tree
    is whole at once. A larger catalog's page holds none of them (the page does not grow with the catalog)."""
    children: dict[str | None, list[Theme]] = {}
    for theme in themes:
        children.setdefault(theme.parent.slug if theme.parent_id else None, []).append(theme)
    totals: dict[str, int] = {}

    def total(theme: Theme) -> int:
        if theme.slug not in totals:
            totals[theme.slug] = counts.get(theme.slug, 0) + sum(total(c) for c in children.get(theme.slug, []))
        return totals[theme.slug]

    opened, budget = set(), EMBED_AT_MOST
    queue = list(children.get(None, []))
    while queue:  # breadth first: the top themes before their sub-themes
        theme = queue.pop(0)
        if total(theme) > OPEN_AT_MOST or counts.get(theme.slug, 0) > budget:
            continue
        opened.add(theme.slug)
        budget -= counts.get(theme.slug, 0)
        queue.extend(children.get(theme.slug, []))
    return opened, counts.get(None, 0) <= budget


def theme_counts(user) -> dict[str | None, int]:
    """How many layers this user may see in each theme (directly), by one grouped count."""
    rows = visible_queryset(user).order_by().values("theme__slug").annotate(n=Count("pk"))
    return {row["theme__slug"]: row["n"] for row in rows}


def with_editable(user, entries: list[dict], layers: list[Layer]) -> list[dict]:
    """Each entry marked with whether this user may restyle its layer (the style editor's button)."""
    editable = set(style_editor_config(user, layers)["style_editable"])
    for entry in entries:
        entry["style_editable"] = entry["slug"] in editable
    return entries


def tool_urls() -> dict:
    """The APIs the viewer's tools call (buffer, overlay, service areas, road widening, upload, markers, share,
    print)."""
    return {
        "buffer": reverse("analysis-buffer"), "overlay": reverse("analysis-overlay"),
        "hotspots": reverse("analysis-hotspots"), "emerging_hotspots": reverse("analysis-emerging-hotspots"),
        "event_layers": reverse("events-layers"),
        "networks": reverse("network"), "service_areas": reverse("network-service-areas"),
        "widening_report": reverse("analysis-road-widening-report"), "widening": reverse("analysis-road-widening"),
        "upload": reverse("layer-list"), "job": reverse("job-detail", args=[0]).replace("/0/", "/{id}/"),
        "job_cancel": reverse("job-cancel", args=[0]).replace("/0/", "/{id}/"),
        "markers": reverse("marker-list"), "marker": reverse("marker-detail", args=[0]).replace("/0/", "/{id}/"),
        "share": reverse("shared-view-create"), "shared_view": reverse("shared-view", args=["xcodex"]).replace(
            "xcodex", "{code}"),
        "print": reverse("print"), "viewer_layers": reverse("viewer-layers"),
        "download": reverse("layer-download", args=["xslugx"]).replace("xslugx", "{slug}"),
        # what the time slider plays on the map: sensors' readings and Wi-Fi hotspots' use (timeplay.js)
        "iot_latest": reverse("iot-latest"), "wifi_usage": reverse("analysis-wifi-usage"),
    }


def viewer_config(user, every_layer: bool = False) -> dict:
    """The page's config. The map viewer's holds the entries of the layers it opens with only (and of the 3D
    basemap's and terrain's); `every_layer` (the decision pages) holds every visible layer's, as before."""
    wanted = {*settings.VIEWER_DEFAULT_LAYERS, *settings.VIEWER_BASEMAP_LAYERS, settings.VIEWER_TERRAIN_LAYER}
    counts = theme_counts(user)
    themes = list(Theme.objects.select_related("parent").order_by("order", "name_zh"))
    opened, loose = opening_tree(themes, counts) if not every_layer else ({t.slug for t in themes}, True)
    embedded = Q(slug__in=wanted) | Q(theme__slug__in=opened) | (Q(theme__isnull=True) if loose else Q(pk__in=[]))
    layers = visible_layers(user) if every_layer else list(visible_queryset(user).filter(embedded))
    entries = layer_entries(layers, user)
    drawn = {entry["slug"] for entry in entries}
    visible = {layer.slug: layer for layer in layers if layer.slug in drawn}
    terrain = visible.get(settings.VIEWER_TERRAIN_LAYER)
    tile = "/{z}/{x}/{y}"
    defaults = [slug for slug in settings.VIEWER_DEFAULT_LAYERS if slug in visible]  # top first
    if not every_layer:  # the page's own: the layers switched on at first and those of the themes open at first
        entries = [entry for entry in entries if entry["slug"] in defaults or entry["theme"] in opened
                   or (loose and entry["theme"] is None)]
    bbox = initial_bbox(entries) if every_layer or set(defaults) & {e["slug"] for e in entries} else catalog_bbox(user)
    return {
        "lang": "en" if get_language() == "en" else "zh-hant",
        "layers": with_editable(user, entries, layers),
        "layers_complete": every_layer,  # else the page asks /viewer/layers.json for the others
        "loose_layers": counts.get(None, 0),  # layers in no theme
        "loose_loaded": loose,  # … their entries are in `layers`
        "default_layers": defaults,
        # each theme: how many layers it holds directly; `open`: shown open, its entries in `layers`
        "themes": [{"slug": t.slug, "name_zh": t.name_zh, "name_en": t.name_en,
                    "parent": t.parent.slug if t.parent_id else None, "layers": counts.get(t.slug, 0),
                    "open": t.slug in opened} for t in themes],
        "basemaps": basemaps(visible, centre(bbox)),
        "terrain": {"slug": terrain.slug, "bbox": integrity.lonlat_bbox(terrain, 6)}
        if terrain and terrain.kind == Layer.Kind.RASTER and integrity.lonlat_bbox(terrain, 6) else None,
        "initial_bbox": bbox,
        "urls": {
            "vector_tile": "/tiles/{slug}" + tile + ".mvt", "raster_tile": "/tiles/{slug}" + tile + ".png",
            "terrain_tile": "/tiles/{slug}/terrain" + tile + ".png",
            "layer": reverse("layer-detail", args=["xslugx"]).replace("xslugx", "{slug}"),
            "feature": reverse("layer-feature", args=["xslugx", 0]).replace("xslugx", "{slug}").replace(
                "/0/", "/{fid}/"),
            "search": reverse("search"), "measure": reverse("analysis-measure"),
            **{name: reverse(f"layer-{name}", args=["xslugx"]).replace("xslugx", "{slug}")
               for name in ("features", "values", "statistics")},  # the attribute table's
            "metadata_page": reverse("metadata-page"),
            "layer_form": reverse("layer-form", args=["xslugx"]).replace("xslugx", "{slug}"),
            "feature_split": reverse("layer-feature-split", args=["xslugx", 0]).replace("xslugx", "{slug}").replace(
                "/0/", "/{fid}/"),
            "layer_merge": reverse("layer-merge", args=["xslugx"]).replace("xslugx", "{slug}"),
            "edit_events": reverse("edit-events"),
            "ogcapi_collection": reverse("ogcapi-collection", args=["xslugx"]).replace("xslugx", "{slug}"),
            **tool_urls(),
        },
        "user": {"name": user.get_username(), "groups": sorted(user.groups.values_list("name", flat=True)),
                 "may_import": rights.may_import(user)}
        if user.is_authenticated else None,
        **style_editor_config(user, layers),  # the entries say it too (style_editable), for the layers loaded later
        "edit_layers": editable_layers(user),
        "images_url": static("web/dist/images/"),
        "strings": {**viewer_strings(), **tool_strings(), **table_strings(), **style_strings(),
                    **layer_dialog_strings(), **edit_strings()},
    }
