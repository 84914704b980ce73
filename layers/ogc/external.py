"""Other agencies' services as catalog layers: an external WMS, WMTS or XYZ tile service (e.g. the national
NLSC basemaps) is checked against its capabilities and described so the viewer can draw it.

The description stored on the layer (`Layer.service`) is what a map client needs: for WMS the endpoint, layer
name, version and image format; for WMTS and XYZ a tile URL template in {z}/{x}/{y} on the web-mercator grid.
"""

from urllib.parse import urlencode, urlsplit

from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService
from pyproj import Transformer

KINDS = ("wms", "wmts", "xyz")
# the service types the viewer draws (web/frontend/src/services.js); harvested entries of other types (WFS, OGC API,
# ArcGIS FeatureServer, a CSW record without a map link) are in the catalog, CSW and API but not on the map
DRAWABLE = ("wms", "wmts", "xyz", "arcgis")
TIMEOUT_S = 15
WEB_MERCATOR_SETS = ("GoogleMapsCompatible", "EPSG:3857", "EPSG:900913", "3857")


class ServiceError(ValueError):
    """The service cannot be used as given; the message says why (answered 400)."""


def describe(kind: str, url: str, layer: str) -> dict:
    """{"title", "abstract", "bbox" (lon/lat or None), "service": {...what the viewer needs}}."""
    if kind not in KINDS:
        raise ServiceError(f"type: use one of {', '.join(KINDS)}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServiceError(f"url: {url!r} is not an http(s) address")
    if kind == "xyz":
        return _xyz(url)
    try:
        service = (WebMapService(url, version="1.3.0", timeout=TIMEOUT_S) if kind == "wms"
                   else WebMapTileService(url, timeout=TIMEOUT_S))
    except Exception as exc:  # noqa: BLE001 - network, HTTP and XML errors all mean "cannot read its capabilities"
        raise ServiceError(f"url: could not read the {kind.upper()} capabilities of {url}: {exc}") from None
    if layer not in service.contents:
        offered = ", ".join(sorted(service.contents)[:20])
        raise ServiceError(f"layer: {url} offers no layer {layer!r}; it offers {offered}")
    return _wms(service, url, layer) if kind == "wms" else _wmts(service, layer)


def _wms(service, url: str, layer: str) -> dict:
    entry = service[layer]
    formats = service.getOperationByName("GetMap").formatOptions
    image = next((f for f in ("image/png", "image/jpeg") if f in formats), formats[0] if formats else "image/png")
    return {"title": entry.title or layer, "abstract": entry.abstract or "",
            "bbox": list(entry.boundingBoxWGS84) if entry.boundingBoxWGS84 else None,
            "service": {"type": "wms", "url": url, "layer": layer, "version": "1.3.0", "format": image}}


def _wmts(service, layer: str) -> dict:
    entry = service.contents[layer]
    matrix_set = next((s for s in WEB_MERCATOR_SETS if s in entry.tilematrixsetlinks), None)
    if matrix_set is None:
        raise ServiceError(f"layer: {layer!r} has no web-mercator tile matrix set (offered: "
                           f"{', '.join(entry.tilematrixsetlinks)}); the viewer draws EPSG:3857 tiles")
    style = next((name for name, s in entry.styles.items() if s.get("isDefault")), None) or next(
        iter(entry.styles), "default")
    image = entry.formats[0] if entry.formats else "image/png"
    template = next((r["template"] for r in entry.resourceURLs if r.get("resourceType") == "tile"), None)
    if template:
        template = (template.replace("{TileMatrixSet}", matrix_set).replace("{Style}", style)
                    .replace("{TileMatrix}", "{z}").replace("{TileRow}", "{y}").replace("{TileCol}", "{x}"))
    else:
        get_tile = next(m["url"] for m in service.getOperationByName("GetTile").methods if m["type"] == "Get")
        query = urlencode({"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": layer,
                           "STYLE": style, "TILEMATRIXSET": matrix_set, "FORMAT": image})
        template = f"{get_tile.rstrip('?&')}?{query}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"
    return {"title": entry.title or layer, "abstract": entry.abstract or "", "bbox": _wmts_lonlat(entry),
            "service": {"type": "wmts", "layer": layer, "matrix_set": matrix_set, "style": style, "format": image,
                        "tile_url": template}}


def _wmts_lonlat(entry) -> list | None:
    """The layer's WGS84BoundingBox, or its web-mercator BoundingBox in lon/lat (NLSC gives only that one; OWSLib
    then has no boundingBoxWGS84 at all)."""
    wgs84 = getattr(entry, "boundingBoxWGS84", None)
    if wgs84:
        return list(wgs84)
    for box in getattr(entry, "boundingBox", None) or []:
        if str(getattr(box, "crs", "")).rstrip(":").endswith(("3857", "900913")) and box.extent:
            west, south, east, north = box.extent
            to = Transformer.from_crs(3857, 4326, always_xy=True)
            return [*to.transform(west, south), *to.transform(east, north)]
    return None


def _xyz(url: str) -> dict:
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ServiceError(f"url: an XYZ template needs {', '.join(missing)}, e.g. https://…/{{z}}/{{x}}/{{y}}.png")
    return {"title": "", "abstract": "", "bbox": None, "service": {"type": "xyz", "tile_url": url}}
