"""Capabilities documents cut down to the layers a requester may see.

An engine that serves every published layer (GeoServer) answers GetCapabilities for all of them; the platform
removes WMS `Layer`, WFS `FeatureType` and WCS `CoverageSummary`/`CoverageOfferingBrief` entries whose name is
not visible. A WMS group (a theme) stays while it still holds a visible layer.
"""

from lxml import etree

ENTRY_TAGS = {"Layer", "FeatureType", "CoverageSummary", "CoverageOfferingBrief"}
NAME_TAGS = {"Name", "name", "CoverageId", "Identifier"}


def filter_capabilities(body: bytes, visible: frozenset[str]) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.fromstring(body, parser).getroottree()
    entries = [el for el in tree.iter() if isinstance(el.tag, str) and etree.QName(el).localname in ENTRY_TAGS]
    for el in reversed(entries):  # children before their parents, so a group sees what is left inside it
        name = _entry_name(el)
        if name is None or name in visible:
            continue  # WMS root layers have no name
        if any(etree.QName(child).localname == "Layer" for child in el if isinstance(child.tag, str)):
            continue  # a group still holding visible layers
        el.getparent().remove(el)
    return etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8")


def _entry_name(el) -> str | None:
    """The entry's layer slug: `ws:slug` (WFS, WCS 1.x) and `ws__slug` (WCS 2.0 CoverageId) unqualified."""
    for child in el:
        tag = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if tag in NAME_TAGS:
            name = (child.text or "").strip().rsplit(":", 1)[-1]
            return name.split("__", 1)[-1] if tag == "CoverageId" else name
    return None
