"""Capabilities documents cut down to the layers a requester may see.

An engine that serves every published layer (GeoServer) answers GetCapabilities for all of them; the platform
removes WMS `Layer`, WFS `FeatureType` and WCS `CoverageSummary`/`CoverageOfferingBrief` entries whose name is
not visible. A WMS group (a theme) stays while it still holds a visible layer, as an unnamed category layer:
requesting the group by name would draw its hidden members too.
"""

from lxml import etree

ENTRY_TAGS = {"Layer", "FeatureType", "CoverageSummary", "CoverageOfferingBrief"}
NAME_TAGS = {"Name", "name", "CoverageId", "Identifier"}


def filter_capabilities(body: bytes, visible: frozenset[str]) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
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
    return etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8")


def _name_element(el):
    return next((c for c in el if isinstance(c.tag, str) and etree.QName(c).localname in NAME_TAGS), None)


def _slug(name_el) -> str:
    """The entry's layer slug: `ws:slug` (WFS, WCS 1.x) and `ws__slug` (WCS 2.0 CoverageId) unqualified."""
    name = (name_el.text or "").strip().rsplit(":", 1)[-1]
    return name.split("__", 1)[-1] if etree.QName(name_el).localname == "CoverageId" else name
