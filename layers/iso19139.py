"""A layer's metadata as an ISO 19139 record in the Taiwan profile (TWSMP 2.0), and back.

`record(layer, base_url)` writes the record from what the catalog knows (layers.metadata names the fields after their
ISO elements); `read(data)` reads a record — e.g. one from TGOS — into the layer fields it fills, for a preview and
then an update through the layer serializer. TGOS writes its records with `https://www.isotc211.org/2005/…`
namespaces (not the schemas' `http://`): they are read as the standard ones.
"""

import datetime as dt
import functools

from lxml import etree
from pyproj import Transformer

from . import metadata

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GML = "http://www.opengis.net/gml"
XLINK = "http://www.w3.org/1999/xlink"
NS = {"gmd": GMD, "gco": GCO, "gml": GML, "xlink": XLINK}
CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
# TGOS' variants of the namespaces, read as the standard ones
NAMESPACE_VARIANTS = {
    b"https://www.isotc211.org/2005/": b"http://www.isotc211.org/2005/",
    b"https://www.w3.org/1999/xlink": b"http://www.w3.org/1999/xlink",
    b"https://www.opengis.net/gml": b"http://www.opengis.net/gml",
}
STANDARD_NAME, STANDARD_VERSION = "TWSMP", "2.0"  # 臺灣詮釋資料標準 (Taiwan Spatial Metadata Profile)
LANGUAGE = "chi"  # ISO 639-2 as TWSMP writes it; the language tag is zh-Hant
MAX_BYTES = 2 * 1024 * 1024
THEME_THESAURUS = "civgis 主題分類"  # the block of keywords that is the layer's theme path (not read back as keywords)


class RecordError(ValueError):
    """A record that cannot be read: the message names the element (and line) at fault."""


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _el(parent, name: str, text=None, **attrs):
    node = etree.SubElement(parent, _q(name), {(_q(k.replace("_", ":", 1)) if "_" in k else k): v
                                                 for k, v in attrs.items()})
    if text is not None:
        node.text = str(text)
    return node


def _string(parent, name: str, text) -> None:
    _el(_el(parent, name), "gco:CharacterString", text)


def _code(parent, name: str, code_list: str, value: str) -> None:
    _el(_el(parent, name), f"gmd:{code_list}", value, codeList=f"{CODELISTS}#{code_list}", codeListValue=value)


def _date(parent, when: dt.date, kind: str) -> None:
    ci_date = _el(_el(parent, "gmd:date"), "gmd:CI_Date")
    _el(_el(ci_date, "gmd:date"), "gco:Date", when.isoformat())
    _code(ci_date, "gmd:dateType", "CI_DateTypeCode", kind)


def _party(parent, name: str, role: str, organisation: str = "", person: str = "", email: str = "",
           phone: str = "", url: str = "") -> None:
    party = _el(_el(parent, name), "gmd:CI_ResponsibleParty")
    if person:
        _string(party, "gmd:individualName", person)
    if organisation:
        _string(party, "gmd:organisationName", organisation)
    if email or phone or url:
        contact = _el(_el(party, "gmd:contactInfo"), "gmd:CI_Contact")
        if phone:
            _string(_el(_el(contact, "gmd:phone"), "gmd:CI_Telephone"), "gmd:voice", phone)
        if email:
            _string(_el(_el(contact, "gmd:address"), "gmd:CI_Address"), "gmd:electronicMailAddress", email)
        if url:
            _el(_el(_el(_el(contact, "gmd:onlineResource"), "gmd:CI_OnlineResource"), "gmd:linkage"), "gmd:URL", url)
    _code(party, "gmd:role", "CI_RoleCode", role)


def _online(parent, url: str, protocol: str, name: str, description: str) -> None:
    resource = _el(_el(parent, "gmd:onLine"), "gmd:CI_OnlineResource")
    _el(_el(resource, "gmd:linkage"), "gmd:URL", url)
    _string(resource, "gmd:protocol", protocol)
    _string(resource, "gmd:name", name)
    _string(resource, "gmd:description", description)


def identifier(layer) -> str:
    """The record's fileIdentifier (also its CSW identifier): the layer's slug — stable, and what every other
    address of the layer (/ows, /ogcapi/collections/{slug}, /api/v1/layers/{slug}/) already uses."""
    return layer.slug


def links(layer, base_url: str) -> list[dict]:
    """Where to get the layer: [{url, protocol, name, description}] (our WMS/WFS/WCS, OGC API - Features, download;
    an external layer's own service)."""
    base = base_url.rstrip("/")
    out = []
    if layer.kind == layer.Kind.SERVICE:
        service = layer.service or {}
        url = service.get("url") or service.get("template") or ""
        if url:
            kind = (service.get("type") or "").upper()
            protocol = {"WMS": "OGC:WMS", "WMTS": "OGC:WMTS"}.get(kind, "WWW:LINK")
            out.append({"url": url, "protocol": protocol, "name": service.get("layer") or layer.slug,
                        "description": f"{kind or 'XYZ'} ({layer.source or url})"})
        return out
    served = {  # our services per kind: (protocol, address, description)
        layer.Kind.VECTOR: [("OGC:WMS", "/ows?service=WMS&request=GetCapabilities", "WMS 1.3.0 / 1.1.1"),
                            ("OGC:WFS", "/ows?service=WFS&request=GetCapabilities", "WFS 2.0 / 1.1"),
                            ("OGC:API-Features", f"/ogcapi/collections/{layer.slug}", "OGC API - Features")],
        layer.Kind.RASTER: [("OGC:WMS", "/ows?service=WMS&request=GetCapabilities", "WMS 1.3.0 / 1.1.1"),
                            ("OGC:WCS", "/ows?service=WCS&request=GetCapabilities", "WCS")],
    }
    out += [{"url": base + path, "protocol": protocol, "name": layer.slug, "description": description}
            for protocol, path, description in served.get(layer.kind, [])]
    if layer.kind != layer.Kind.RASTER:
        out.append({"url": f"{base}/api/v1/layers/{layer.slug}/download/",
                    "protocol": "WWW:DOWNLOAD-1.0-http--download",
                    "name": f"{layer.slug}.geojson" if layer.kind == layer.Kind.VECTOR else f"{layer.slug}.csv",
                    "description": "GeoJSON, GeoPackage, Shapefile, CSV"})
    out.append({"url": f"{base}/api/v1/layers/{layer.slug}/", "protocol": "WWW:LINK-1.0-http--link",
                "name": layer.slug, "description": "civgis REST API"})
    return out


def twd97_extent(layer) -> tuple[float, float, float, float] | None:
    """The extent in TWD97 / TM2 zone 121 (EPSG:3826), from the stored one when the data is kept in it."""
    if layer.native_extent and layer.srid == 3826:
        return tuple(layer.native_extent)
    if layer.extent is None:
        return None
    return _to_twd97().transform_bounds(*layer.extent.extent)


@functools.cache
def _to_twd97():
    """WGS84 → TWD97 / TM2 (pyproj, made once: GDAL's per-call transform costs ~30 ms a record)."""
    return Transformer.from_crs(4326, 3826, always_xy=True)


def _spatial_representation(layer) -> str:
    return {"vector": "vector", "raster": "grid", "table": "textTable"}.get(layer.kind, "")


def record(layer, base_url: str) -> bytes:
    """The layer's ISO 19139 record (gmd:MD_Metadata, TWSMP 2.0), UTF-8."""
    root = etree.Element(_q("gmd:MD_Metadata"), nsmap={"gmd": GMD, "gco": GCO, "gml": GML, "xlink": XLINK})
    _string(root, "gmd:fileIdentifier", identifier(layer))
    _string(root, "gmd:language", LANGUAGE)
    _code(root, "gmd:characterSet", "MD_CharacterSetCode", "utf8")
    is_dataset = layer.kind in (layer.Kind.VECTOR, layer.Kind.RASTER)
    _code(root, "gmd:hierarchyLevel", "MD_ScopeCode", "dataset" if is_dataset else
          ("nonGeographicDataset" if layer.kind == layer.Kind.TABLE else "service"))
    agency = layer.owner_agency.name if layer.owner_agency_id else ""
    contact = {"organisation": layer.contact_organisation or agency, "person": layer.contact_name,
               "email": layer.contact_email, "phone": layer.contact_phone}
    _party(root, "gmd:contact", "pointOfContact", **contact)
    _el(_el(root, "gmd:dateStamp"), "gco:DateTime", layer.updated_at.replace(microsecond=0).isoformat())
    _string(root, "gmd:metadataStandardName", STANDARD_NAME)
    _string(root, "gmd:metadataStandardVersion", STANDARD_VERSION)
    if layer.kind != layer.Kind.TABLE:
        identifier_node = _el(_el(_el(root, "gmd:referenceSystemInfo"), "gmd:MD_ReferenceSystem"),
                              "gmd:referenceSystemIdentifier")
        rs = _el(identifier_node, "gmd:RS_Identifier")
        _string(rs, "gmd:code", f"EPSG:{layer.srid}")
        _string(rs, "gmd:codeSpace", "EPSG")

    ident = _el(_el(root, "gmd:identificationInfo"), "gmd:MD_DataIdentification")
    citation = _el(_el(ident, "gmd:citation"), "gmd:CI_Citation")
    _string(citation, "gmd:title", layer.title_zh)
    if layer.title_en:
        _string(citation, "gmd:alternateTitle", layer.title_en)
    _date(citation, layer.creation_date or layer.created_at.date(), "creation")
    if layer.revision_date:
        _date(citation, layer.revision_date, "revision")
    _string(ident, "gmd:abstract", layer.abstract)
    if contact["organisation"] or contact["person"]:
        _party(ident, "gmd:pointOfContact", "pointOfContact", **contact)
    if agency and agency != contact["organisation"]:
        _party(ident, "gmd:pointOfContact", "owner", organisation=agency)
    frequency = metadata.frequency_code(layer.update_frequency) or "unknown"
    _code(_el(_el(ident, "gmd:resourceMaintenance"), "gmd:MD_MaintenanceInformation"),
          "gmd:maintenanceAndUpdateFrequency", "MD_MaintenanceFrequencyCode", frequency)
    words = list(layer.keywords)
    if words:
        block = _el(_el(ident, "gmd:descriptiveKeywords"), "gmd:MD_Keywords")
        for word in words:
            _string(block, "gmd:keyword", word)
    if layer.theme_id:
        block = _el(_el(ident, "gmd:descriptiveKeywords"), "gmd:MD_Keywords")
        for node in layer.theme.ancestry():
            _string(block, "gmd:keyword", node.name_zh)
        _code(block, "gmd:type", "MD_KeywordTypeCode", "theme")
        thesaurus = _el(_el(block, "gmd:thesaurusName"), "gmd:CI_Citation")
        _string(thesaurus, "gmd:title", THEME_THESAURUS)
        _date(thesaurus, dt.date(2024, 1, 1), "publication")
    legal = _el(_el(ident, "gmd:resourceConstraints"), "gmd:MD_LegalConstraints")
    if layer.license:
        _string(legal, "gmd:useLimitation", layer.license)
    _code(legal, "gmd:accessConstraints", "MD_RestrictionCode",
          "otherRestrictions" if layer.visibility != layer.Visibility.PUBLIC else "license")
    if layer.license:
        _string(legal, "gmd:otherConstraints", layer.license)
    if kind := _spatial_representation(layer):
        _code(ident, "gmd:spatialRepresentationType", "MD_SpatialRepresentationTypeCode", kind)
    if layer.scale_denominator:
        fraction = _el(_el(_el(ident, "gmd:spatialResolution"), "gmd:MD_Resolution"), "gmd:equivalentScale")
        _el(_el(_el(fraction, "gmd:MD_RepresentativeFraction"), "gmd:denominator"), "gco:Integer",
            layer.scale_denominator)
    if layer.resolution_m:
        _el(_el(_el(_el(ident, "gmd:spatialResolution"), "gmd:MD_Resolution"), "gmd:distance"), "gco:Distance",
            layer.resolution_m, uom="m")
    _string(ident, "gmd:language", LANGUAGE)
    _code(ident, "gmd:characterSet", "MD_CharacterSetCode", "utf8")
    if layer.topic_category:
        _el(_el(ident, "gmd:topicCategory"), "gmd:MD_TopicCategoryCode", layer.topic_category)
    _extent(ident, layer)

    distribution = _el(_el(root, "gmd:distributionInfo"), "gmd:MD_Distribution")
    for name, version in (("GeoJSON", "RFC 7946"), ("GeoPackage", "1.3"), ("ESRI Shapefile", "1.0"))[
            :3 if layer.kind == layer.Kind.VECTOR else 0]:
        fmt = _el(_el(distribution, "gmd:distributionFormat"), "gmd:MD_Format")
        _string(fmt, "gmd:name", name)
        _string(fmt, "gmd:version", version)
    options = _el(_el(distribution, "gmd:transferOptions"), "gmd:MD_DigitalTransferOptions")
    for link in links(layer, base_url):
        _online(options, **link)

    if layer.lineage or layer.source:
        quality = _el(_el(root, "gmd:dataQualityInfo"), "gmd:DQ_DataQuality")
        _code(_el(_el(quality, "gmd:scope"), "gmd:DQ_Scope"), "gmd:level", "MD_ScopeCode",
              "dataset" if is_dataset else "nonGeographicDataset")
        lineage = _el(_el(quality, "gmd:lineage"), "gmd:LI_Lineage")
        if layer.lineage:
            _string(lineage, "gmd:statement", layer.lineage)
        if layer.source:
            _string(_el(_el(lineage, "gmd:source"), "gmd:LI_Source"), "gmd:description", layer.source)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _extent(ident, layer) -> None:
    if layer.extent is None and layer.temporal_start is None:
        return
    extent = _el(_el(ident, "gmd:extent"), "gmd:EX_Extent")
    if layer.extent is not None:
        west, south, east, north = layer.extent.extent
        box = _el(_el(extent, "gmd:geographicElement"), "gmd:EX_GeographicBoundingBox")
        for name, value in (("westBoundLongitude", west), ("eastBoundLongitude", east),
                            ("southBoundLatitude", south), ("northBoundLatitude", north)):
            _el(_el(box, f"gmd:{name}"), "gco:Decimal", f"{value:.6f}")
        twd97 = twd97_extent(layer)
        if twd97:  # the same extent in TWD97 / TM2 (EPSG:3826), metres
            x0, y0, x1, y1 = twd97
            polygon = _el(_el(_el(extent, "gmd:geographicElement"), "gmd:EX_BoundingPolygon"), "gmd:polygon")
            gml_polygon = _el(polygon, "gml:Polygon", srsName="http://www.opengis.net/def/crs/EPSG/0/3826")
            gml_polygon.set(_q("gml:id"), f"twd97-{layer.slug}")
            ring = _el(_el(gml_polygon, "gml:exterior"), "gml:LinearRing")
            _el(ring, "gml:posList", " ".join(f"{v:.2f}" for v in (x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)))
    if layer.temporal_start is not None:
        period = _el(_el(_el(_el(extent, "gmd:temporalElement"), "gmd:EX_TemporalExtent"), "gmd:extent"),
                     "gml:TimePeriod")
        period.set(_q("gml:id"), f"time-{layer.slug}")
        _el(period, "gml:beginPosition", layer.temporal_start.isoformat())
        if layer.temporal_end:
            _el(period, "gml:endPosition", layer.temporal_end.isoformat())
        else:
            _el(period, "gml:endPosition", indeterminatePosition="now")


# ---- reading --------------------------------------------------------------------------------------------------

def parse(data: bytes):
    """The record's root element (gmd:MD_Metadata), or RecordError naming what is wrong."""
    if not data or not data.strip():
        raise RecordError("the request body is empty: send an ISO 19139 record (gmd:MD_Metadata)")
    if len(data) > MAX_BYTES:
        raise RecordError(f"the record is over {MAX_BYTES // (1024 * 1024)} MiB")
    for variant, standard in NAMESPACE_VARIANTS.items():
        data = data.replace(variant, standard)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise RecordError(f"not well-formed XML: line {exc.lineno}: {exc.msg}") from None
    if root.tag != _q("gmd:MD_Metadata"):
        qname = etree.QName(root)
        raise RecordError(f"root element is {{{qname.namespace}}}{qname.localname}, not gmd:MD_Metadata "
                          f"(ISO 19139, {GMD})")
    return root


def _text(node, path: str) -> str:
    found = node.xpath(path, namespaces=NS)
    if not found:
        return ""
    value = found[0]
    return (value if isinstance(value, str) else (value.text or "")).strip()


def _parse_date(value: str, element: str, line) -> dt.date:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise RecordError(f"{element} (line {line}): {value!r} is not a date (YYYY-MM-DD)") from None


def read(data: bytes) -> dict:
    """The layer fields a record fills: {field: value} for every field it has a value for."""
    root = parse(data)
    ident = root.find("gmd:identificationInfo/gmd:MD_DataIdentification", NS)
    if ident is None:
        ident = root.find("gmd:identificationInfo/*", NS)
    if ident is None:
        raise RecordError("gmd:identificationInfo is missing: a record without it describes no data")
    fields = {}
    title = _text(ident, "gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString")
    if not title:
        raise RecordError("gmd:identificationInfo/…/gmd:CI_Citation/gmd:title is missing or empty")
    fields["title_zh"] = title
    if alternate := _text(ident, "gmd:citation/gmd:CI_Citation/gmd:alternateTitle/gco:CharacterString"):
        fields["title_en"] = alternate
    if abstract := _text(ident, "gmd:abstract/gco:CharacterString"):
        fields["abstract"] = abstract
    for ci_date in ident.findall("gmd:citation/gmd:CI_Citation/gmd:date/gmd:CI_Date", NS):
        kind = _text(ci_date, "gmd:dateType/gmd:CI_DateTypeCode/@codeListValue") or \
            _text(ci_date, "gmd:dateType/gmd:CI_DateTypeCode")
        value_node = ci_date.find("gmd:date/*", NS)
        if kind in ("creation", "revision") and value_node is not None and (value_node.text or "").strip():
            fields[f"{kind}_date"] = _parse_date(value_node.text.strip(), "gmd:CI_Date/gmd:date",
                                                 value_node.sourceline)
    words = []
    for block in ident.findall("gmd:descriptiveKeywords/gmd:MD_Keywords", NS):
        if _text(block, "gmd:thesaurusName/gmd:CI_Citation/gmd:title/gco:CharacterString") == THEME_THESAURUS:
            continue
        for node in block.findall("gmd:keyword/gco:CharacterString", NS):
            word = (node.text or "").strip()
            if word and word not in words:
                words.append(word)
    if words:
        fields["keywords"] = words
    topic = ident.find("gmd:topicCategory/gmd:MD_TopicCategoryCode", NS)
    if topic is not None and (topic.text or "").strip():
        code = topic.text.strip()
        if code not in metadata.TOPIC_CATEGORIES:
            raise RecordError(f"gmd:topicCategory (line {topic.sourceline}): {code!r} is not an "
                              "MD_TopicCategoryCode")
        fields["topic_category"] = code
    frequency = ident.find("gmd:resourceMaintenance/gmd:MD_MaintenanceInformation/"
                           "gmd:maintenanceAndUpdateFrequency/gmd:MD_MaintenanceFrequencyCode", NS)
    if frequency is not None:
        code = (frequency.get("codeListValue") or frequency.text or "").strip()
        if code not in metadata.UPDATE_FREQUENCIES:
            raise RecordError(f"gmd:maintenanceAndUpdateFrequency (line {frequency.sourceline}): {code!r} is not an "
                              "MD_MaintenanceFrequencyCode")
        fields["update_frequency"] = code
    fields.update(_contact(ident, root))
    licence = [(n.text or "").strip() for n in ident.findall(
        "gmd:resourceConstraints/gmd:MD_LegalConstraints/gmd:otherConstraints/gco:CharacterString", NS)
        + ident.findall("gmd:resourceConstraints/*/gmd:useLimitation/gco:CharacterString", NS)]
    licence = [text for text in dict.fromkeys(licence) if text]
    if licence:
        fields["license"] = "；".join(licence)
    denominator = ident.find("gmd:spatialResolution/gmd:MD_Resolution/gmd:equivalentScale/"
                             "gmd:MD_RepresentativeFraction/gmd:denominator/gco:Integer", NS)
    if denominator is not None:
        try:
            fields["scale_denominator"] = int((denominator.text or "").strip())
        except ValueError:
            raise RecordError(f"gmd:denominator (line {denominator.sourceline}): {denominator.text!r} is not a "
                              "whole number") from None
    distance = ident.find("gmd:spatialResolution/gmd:MD_Resolution/gmd:distance/gco:Distance", NS)
    if distance is not None:
        try:
            fields["resolution_m"] = float((distance.text or "").strip())
        except ValueError:
            raise RecordError(f"gco:Distance (line {distance.sourceline}): {distance.text!r} is not a number") \
                from None
    period = ident.find("gmd:extent/gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/"
                        "gml:TimePeriod", NS)
    if period is not None:
        for name, field in (("beginPosition", "temporal_start"), ("endPosition", "temporal_end")):
            node = period.find(f"gml:{name}", NS)
            if node is not None and (node.text or "").strip():
                fields[field] = _parse_date(node.text.strip(), f"gml:{name}", node.sourceline)
    lineage = root.find("gmd:dataQualityInfo/gmd:DQ_DataQuality/gmd:lineage/gmd:LI_Lineage", NS)
    if lineage is not None:
        if statement := _text(lineage, "gmd:statement/gco:CharacterString"):
            fields["lineage"] = statement
        sources = [(n.text or "").strip() for n in lineage.findall(
            "gmd:source/gmd:LI_Source/gmd:description/gco:CharacterString", NS)]
        if sources := [s for s in sources if s]:
            fields["source"] = "；".join(sources)
    return fields


def _contact(ident, root) -> dict:
    """The first point of contact of the data (else of the record): organisation, person, e-mail, phone."""
    parties = ident.findall("gmd:pointOfContact/gmd:CI_ResponsibleParty", NS) or \
        root.findall("gmd:contact/gmd:CI_ResponsibleParty", NS)
    if not parties:
        return {}
    party = parties[0]
    found = {
        "contact_organisation": _text(party, "gmd:organisationName/gco:CharacterString"),
        "contact_name": _text(party, "gmd:individualName/gco:CharacterString"),
        "contact_email": _text(party, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/"
                                      "gmd:electronicMailAddress/gco:CharacterString"),
        "contact_phone": _text(party, "gmd:contactInfo/gmd:CI_Contact/gmd:phone/gmd:CI_Telephone/gmd:voice/"
                                      "gco:CharacterString"),
    }
    return {field: value for field, value in found.items() if value}


def base_url(request) -> str:
    """The site's address, for the record's links."""
    return request.build_absolute_uri("/").rstrip("/")
