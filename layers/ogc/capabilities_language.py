"""Capabilities in the request's language: `LANGUAGE=eng|chi` (INSPIRE's parameter; also en/zh), else the
Accept-Language the platform resolved, default zh-Hant (chi).

The engines write the catalog's zh-Hant titles; for an English request the front swaps in each layer's `title_en`
(the abstract where it is not Chinese, else the English title), each theme group's `name_en` and the service's
English title and abstract. Done on the document, after the engine, so both engines answer alike; the Chinese
is kept where no English exists (a layer without `title_en`).
"""

import re

from django.conf import settings
from lxml import etree

from layers.models import Layer, Theme

from .capabilities_filter import ENTRY_TAGS, _local, _name_element, _slug

ENGLISH_CODES = {"eng", "en", "en-us", "en-gb"}
CHINESE_CODES = {"chi", "zho", "zh", "zh-hant", "zh-tw"}
SERVICE_TAGS = {"Service", "ServiceIdentification", "Service_"}
TITLE_TAGS = {"Title", "label"}  # WCS 1.0 names them label/description
ABSTRACT_TAGS = {"Abstract", "description"}
CJK = re.compile(r"[\u3400-\u9fff]")


def language(params: dict[str, str], active: str) -> str:
    """'en' or 'zh-hant': the LANGUAGE parameter when it names one of the two, else the active language."""
    asked = params.get("LANGUAGE", "").strip().lower()
    if asked in ENGLISH_CODES:
        return "en"
    if asked in CHINESE_CODES:
        return "zh-hant"
    return "en" if (active or "").lower().startswith("en") else "zh-hant"


def _set_text(parent, tags: set[str], text: str) -> None:
    for child in parent:
        if _local(child) in tags and text:
            child.text = text


def localise(body: bytes, lang: str) -> bytes:
    """The capabilities document with titles and abstracts in `lang` (zh-Hant documents are returned as they are)."""
    if lang != "en":
        return body
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        tree = etree.fromstring(body, parser).getroottree()
    except etree.XMLSyntaxError:
        return body  # not a capabilities document (e.g. an exception in another form): leave it alone
    entries = [el for el in tree.iter() if _local(el) in ENTRY_TAGS]
    slugs = {el: _slug(_name_element(el)) for el in entries if _name_element(el) is not None}
    layers = {layer.slug: layer for layer in Layer.objects.filter(slug__in=set(slugs.values()))}
    themes = {t.name_zh.replace("/", "／"): t.name_en for t in Theme.objects.exclude(name_en="")}
    for el in entries:
        layer = layers.get(slugs.get(el))
        if layer is not None:
            _set_text(el, TITLE_TAGS, layer.title_en)
            abstract = layer.abstract if layer.abstract and not CJK.search(layer.abstract) else layer.title_en
            _set_text(el, ABSTRACT_TAGS, abstract)
            continue
        title = next((c for c in el if _local(c) in TITLE_TAGS), None)
        if title is not None and title.text in themes:  # a theme group of the WMS tree
            title.text = themes[title.text]
    service_title, service_abstract = settings.OGC_SERVICE_TITLE_EN, settings.OGC_SERVICE_ABSTRACT_EN
    for el in tree.iter():
        if _local(el) in SERVICE_TAGS:
            _set_text(el, TITLE_TAGS, service_title)
            _set_text(el, ABSTRACT_TAGS, service_abstract)
    root_layer = next((el for el in entries if _local(el) == "Layer" and el not in slugs), None)
    if root_layer is not None and _local(root_layer.getparent()) == "Capability":
        _set_text(root_layer, TITLE_TAGS, service_title)
        _set_text(root_layer, ABSTRACT_TAGS, service_abstract)
    return etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8")
