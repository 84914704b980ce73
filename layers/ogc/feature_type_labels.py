"""WFS DescribeFeatureType answers annotated: each attribute's element gets an `xsd:annotation` with one
`xsd:documentation` per language (`xml:lang="zh-Hant"` and `"en"`): its label and unit, e.g. 人口數（人） /
Population (people). Element names stay the column names, so clients that read GML by name are unaffected.

Done on the schema after the engine (engine-neutral): a feature type's complexType is found through the global
element naming the layer (`<element name="villages" type="civgis:villagesType">`).
"""

from lxml import etree

from layers import attribute_kinds
from layers.models import Layer

XSD = "http://www.w3.org/2001/XMLSchema"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LANGUAGES = (("zh-Hant", False), ("en", True))


def _q(tag: str) -> str:
    return f"{{{XSD}}}{tag}"


def annotate(body: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return body
    if root.tag != _q("schema"):
        return body  # an exception report
    type_of = {}  # complexType name → layer slug
    for element in root.findall(_q("element")):
        if element.get("name") and element.get("type"):
            type_of[element.get("type").rsplit(":", 1)[-1]] = element.get("name").rsplit(":", 1)[-1]
    layers = {layer.slug: layer for layer in Layer.objects.filter(slug__in=set(type_of.values()))}
    for complex_type in root.findall(_q("complexType")):
        layer = layers.get(type_of.get(complex_type.get("name", "")))
        if layer is None:
            continue
        described = {a["name"]: attribute_kinds.described(a) for a in layer.attributes}
        for element in complex_type.iter(_q("element")):
            attribute = described.get(element.get("name"))
            if attribute is None or element.find(_q("annotation")) is not None:
                continue
            annotation = etree.Element(_q("annotation"))
            for lang, english in LANGUAGES:
                doc = etree.SubElement(annotation, _q("documentation"))
                doc.set(XML_LANG, lang)
                doc.text = attribute_kinds.title_of(attribute, english)
            element.insert(0, annotation)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
