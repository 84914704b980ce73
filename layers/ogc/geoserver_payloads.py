"""The XML bodies the GeoServer engine sends (and the one it reads back: a layer group's members).

Built with lxml, so titles, abstracts and passwords with `&` or `<` stay well-formed — geoserver-rest pastes
values into XML text unescaped.
"""

from lxml import etree


def _element(tag: str, children: dict | None = None, **attrs) -> etree._Element:
    """<tag> with one child per entry: elements as given, other values as text; None leaves the child out."""
    el = etree.Element(tag, **attrs)
    for name, value in (children or {}).items():
        if isinstance(value, etree._Element):
            el.append(value)
        elif value is not None:
            etree.SubElement(el, name).text = str(value)
    return el


def _tostring(el) -> bytes:
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8")


def _keywords(words) -> etree._Element | None:
    if not words:
        return None
    el = etree.Element("keywords")
    for word in words:
        etree.SubElement(el, "string").text = word
    return el


def _bbox(tag: str, box, crs: str) -> etree._Element | None:
    if not box:
        return None
    minx, miny, maxx, maxy = box
    return _element(tag, {"minx": minx, "maxx": maxx, "miny": miny, "maxy": maxy, "crs": crs})


def postgis_datastore(name: str, db: dict, schema: str) -> bytes:
    """A PostGIS data store; `db` is a dj_database_url dict as GeoServer must connect (its host names)."""
    params = etree.Element("connectionParameters")
    for key, value in {"dbtype": "postgis", "host": db.get("HOST") or "localhost", "port": db.get("PORT") or 5432,
                       "database": db["NAME"], "schema": schema, "user": db.get("USER", ""),
                       "passwd": db.get("PASSWORD", ""), "Expose primary keys": "true",
                       "Estimated extends": "true", "Loose bbox": "true"}.items():
        etree.SubElement(params, "entry", key=key).text = str(value)
    return _tostring(_element("dataStore", {"name": name, "type": "PostGIS", "enabled": "true",
                                            "connectionParameters": params}))


def feature_type(layer) -> bytes:
    """The feature type for a vector layer: its table, metadata, CRS and extents (so GeoServer scans nothing)."""
    srs = f"EPSG:{layer.srid}"
    lonlat = list(layer.extent.extent) if layer.extent is not None else None
    return _tostring(_element("featureType", {
        "name": layer.slug, "nativeName": layer.table_name, "title": layer.title_zh, "abstract": layer.abstract or None,
        "keywords": _keywords(layer.keywords), "srs": srs, "projectionPolicy": "FORCE_DECLARED",
        "nativeBoundingBox": _bbox("nativeBoundingBox", layer.native_extent, srs),
        "latLonBoundingBox": _bbox("latLonBoundingBox", lonlat, "EPSG:4326"), "enabled": "true"}))


def coverage(layer) -> bytes:
    """A raster layer's metadata, applied to the coverage GeoServer configured from the GeoTIFF."""
    return _tostring(_element("coverage", {
        "name": layer.slug, "title": layer.title_zh, "abstract": layer.abstract or None,
        "keywords": _keywords(layer.keywords), "enabled": "true"}))


def layer_group(name: str, title: str, workspace: str, members: list[tuple[str, str]]) -> bytes:
    """A NAMED layer group (a titled node of the WMS layer tree) of `members`: (qualified name, "layer" or
    "layerGroup"). Mode is upper-case as the spec's enum has it."""
    publishables, styles = etree.Element("publishables"), etree.Element("styles")
    for member, kind in members:
        published = etree.SubElement(publishables, "published", type=kind)
        etree.SubElement(published, "name").text = member
        etree.SubElement(styles, "style")  # each member's default style
    return _tostring(_element("layerGroup", {
        "name": name, "mode": "NAMED", "title": title, "workspace": _element("workspace", {"name": workspace}),
        "publishables": publishables, "styles": styles}))


def read_layer_group(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """A layer group's title and members as GeoServer returns the group (XML)."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    members = [(p.findtext("name"), p.get("type", "layer")) for p in root.iterfind("publishables/published")]
    return root.findtext("title") or "", members


def layer_group_names(body: bytes) -> list[str]:
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    return [el.findtext("name") for el in root.iterfind("layerGroup")]
