"""Capabilities documents cut down to the layers a requester may see.

An engine that serves every published layer (GeoServer) answers GetCapabilities for all of them; the platform
removes WMS `Layer`, WFS `FeatureType` and WCS `CoverageSummary`/`CoverageOfferingBrief` entries whose name is
not visible. A WMS group (a theme) stays while it still holds a visible layer, as an unnamed category layer:
requesting the group by name would draw its hidden members too.

The bounding boxes of what is left that hold other layers (the WMS root, theme groups) are then made the union of
their remaining members' boxes: an engine computes them over every layer it publishes, so a restricted layer far
away would otherwise show as a corner of the root's box.
"""

from lxml import etree

ENTRY_TAGS = {"Layer", "FeatureType", "CoverageSummary", "CoverageOfferingBrief"}
NAME_TAGS = {"Name", "name", "CoverageId", "Identifier"}
BOX_TAGS = {"EX_GeographicBoundingBox", "LatLonBoundingBox", "BoundingBox"}
LOWER = {"westBoundLongitude", "southBoundLatitude", "minx", "miny"}  # the rest are upper bounds


def filter_capabilities(body: bytes, visible: frozenset[str]) -> bytes:
    # comments go too: MapServer's tell its version and build options, and which metadata the mapfile lacks
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    tree = etree.fromstring(body, parser).getroottree()
    entries = [el for el in tree.iter() if isinstance(el.tag, str) and etree.QName(el).localname in ENTRY_TAGS]
    for el in reversed(entries):  # children before their parents, so a group sees what is left inside it
        name_el = _name_element(el)
        if name_el is None or _slug(name_el) in visible:
            continue  # WMS root layers have no name
        if any(etree.QName(child).localname == "Layer" for child in el if isinstance(child.tag, str)):
            el.remove(name_el)  # a group still holding visible layers: kept for the tree, not requestable
            continue
        el.getparent().remove(el)
    _union_group_boxes(tree)
    return etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8")


def _name_element(el):
    return next((c for c in el if isinstance(c.tag, str) and etree.QName(c).localname in NAME_TAGS), None)


def _slug(name_el) -> str:
    """The entry's layer slug: `ws:slug` (WFS, WCS 1.x) and `ws__slug` (WCS 2.0 CoverageId) unqualified."""
    name = (name_el.text or "").strip().rsplit(":", 1)[-1]
    return name.split("__", 1)[-1] if etree.QName(name_el).localname == "CoverageId" else name


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _union_group_boxes(tree) -> None:
    layers = [el for el in tree.iter() if _local(el) == "Layer"]
    for el in reversed(layers):  # members before their groups: a group's box is made from final member boxes
        members = [child for child in el if _local(child) == "Layer"]
        if not members:
            continue
        for box in [child for child in el if _local(child) in BOX_TAGS]:
            same = [b for member in members for b in member if _box_key(b) == _box_key(box)]
            if same:
                _set_union(box, same)
            else:
                el.remove(box)  # no visible member says where it is: say nothing


def _box_key(el) -> tuple[str, str | None]:
    return _local(el), el.get("CRS") or el.get("SRS")


def _set_union(box, boxes) -> None:
    """`box` set to the union of `boxes` (same tag and CRS), keeping the members' own spelling of each value."""
    if _local(box) == "EX_GeographicBoundingBox":
        for bound in [c for c in box if _local(c)]:
            values = [c.text for b in boxes for c in b if _local(c) == _local(bound) and c.text]
            if values:
                bound.text = _pick(values, _local(bound) in LOWER)
        return
    for corner in ("minx", "miny", "maxx", "maxy"):
        values = [b.get(corner) for b in boxes if b.get(corner)]
        if values and box.get(corner) is not None:
            box.set(corner, _pick(values, corner in LOWER))


def _pick(values: list[str], lowest: bool) -> str:
    numbers = {text: float(text) for text in values}
    return (min if lowest else max)(numbers, key=numbers.get)
