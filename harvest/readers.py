"""What a remote service offers, read into catalog entries: one `Entry` per layer (WMS, WMTS, WFS, OGC API -
Features collections, ArcGIS REST MapServer/FeatureServer layers) or per ISO 19139 record (CSW).

Each reader asks through a geo.remote.Fetcher (timeouts, size cap, retries) and raises ReadError for an answer it
cannot use (bad XML, a service exception, JSON that is not what the protocol says); a layer it cannot take is
skipped with the reason, the others are kept. The service description of an entry is what layers.ogc.external
writes for a layer registered by hand (the viewer draws types wms, wmts, xyz and arcgis)."""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import etree
from pyproj import Transformer

from geo.remote import Fetcher, RemoteError, shown
from layers import iso19139
from layers.ogc import external

CSW_PAGE = 50
MAX_PAGES = 200  # CSW pages per run (10,000 records)
ARCGIS_WEB_MERCATOR = (102100, 102113, 3857, 900913)
LEGEND_ITEMS = 20


class ReadError(RemoteError):
    """An answer that is not what the protocol says (never retried)."""


@dataclass
class Entry:
    remote_id: str
    title: str
    service: dict
    abstract: str = ""
    title_en: str = ""
    keywords: list = field(default_factory=list)
    bbox: tuple | None = None  # lon/lat
    fields: dict = field(default_factory=dict)  # further layer metadata (from an ISO record)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Offer:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {remote, reason}

    def skip(self, remote: str, reason: str) -> None:
        self.skipped.append({"remote": remote, "reason": reason})


def with_query(url: str, **params) -> str:
    """`url` with `params` set (replacing the same keys, case-insensitively)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in {p.lower() for p in params}]
    return urlunsplit(parts._replace(query=urlencode(kept + list(params.items()))))


def bare(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def xml_root(answer, what: str):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    body = answer.body
    for variant, standard in iso19139.NAMESPACE_VARIANTS.items():
        body = body.replace(variant, standard)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ReadError(f"{shown(answer.url)}: not well-formed XML ({what} expected; line {exc.lineno}: {exc.msg}; "
                        f"it begins {answer.text_start()!r})") from None
    if etree.QName(root).localname in ("ServiceExceptionReport", "ExceptionReport"):
        message = " ".join(t.strip() for t in root.itertext() if t.strip())[:200]
        raise ReadError(f"{shown(answer.url)}: answered a service exception instead of {what}: {message}")
    return root, body


def json_body(answer, what: str) -> dict:
    try:
        body = json.loads(answer.body)
    except ValueError:
        raise ReadError(f"{shown(answer.url)}: answered {answer.content_type or 'an unnamed type'} instead of "
                        f"{what} JSON (it begins {answer.text_start()!r})") from None
    if not isinstance(body, dict):
        raise ReadError(f"{shown(answer.url)}: answered JSON that is not an object ({what} expected)")
    if isinstance(body.get("error"), dict):  # ArcGIS answers errors with HTTP 200
        error = body["error"]
        raise ReadError(f"{shown(answer.url)}: answered error {error.get('code', '')} "
                        f"{error.get('message', '')}".rstrip())
    return body


def lonlat_bbox(box) -> tuple | None:
    try:
        values = tuple(float(v) for v in box[:4])
    except (TypeError, ValueError):
        return None
    west, south, east, north = values
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return values


# -- OGC web services ----------------------------------------------------------------------------------------------

def _capabilities(fetcher: Fetcher, url: str, service: str, version: str | None = None):
    params = {"SERVICE": service, "REQUEST": "GetCapabilities"}
    if version:
        params["VERSION"] = version
    answer = fetcher.get(with_query(url, **params))
    _root, body = xml_root(answer, f"{service} capabilities")
    return body


def read_wms(fetcher: Fetcher, url: str) -> Offer:
    from owslib.wms import WebMapService

    body = _capabilities(fetcher, url, "WMS", "1.3.0")
    version = "1.1.1" if b"WMT_MS_Capabilities" in body[:2000] else "1.3.0"
    try:
        service = WebMapService(bare(url), version=version, xml=body)
    except Exception as exc:  # noqa: BLE001 - OWSLib raises anything on a capabilities document it cannot read
        raise ReadError(f"{shown(url)}: WMS capabilities that could not be read ({type(exc).__name__}: {exc})") \
            from None
    offer = Offer()
    for name, layer in service.contents.items():
        if not name:
            continue
        found = external._wms(service, bare(url), name)
        found["service"]["version"] = version
        legend = next((s.get("legend") for s in (layer.styles or {}).values() if s.get("legend")), None)
        if legend:
            found["service"]["legend_url"] = legend
        offer.entries.append(Entry(name, found["title"], found["service"], abstract=found["abstract"],
                                   keywords=[k for k in (layer.keywords or []) if k][:20],
                                   bbox=lonlat_bbox(found["bbox"]) if found["bbox"] else None))
    return offer


def read_wmts(fetcher: Fetcher, url: str) -> Offer:
    from owslib.wmts import WebMapTileService

    body = _capabilities(fetcher, url, "WMTS", "1.0.0")
    try:
        service = WebMapTileService(bare(url), xml=body)
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"{shown(url)}: WMTS capabilities that could not be read ({type(exc).__name__}: {exc})") \
            from None
    offer = Offer()
    for name, layer in service.contents.items():
        try:
            found = external._wmts(service, name)
        except external.ServiceError as exc:
            offer.skip(name, str(exc).partition(": ")[2])
            continue
        keywords = [k for k in (getattr(layer, "keywords", None) or []) if k][:20]
        offer.entries.append(Entry(name, found["title"], found["service"], abstract=found["abstract"],
                                   keywords=keywords, bbox=lonlat_bbox(found["bbox"]) if found["bbox"] else None))
    return offer


def read_wfs(fetcher: Fetcher, url: str) -> Offer:
    from owslib.wfs import WebFeatureService

    body = _capabilities(fetcher, url, "WFS", "2.0.0")
    try:
        service = WebFeatureService(bare(url), version="2.0.0", xml=body)
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"{shown(url)}: WFS capabilities that could not be read ({type(exc).__name__}: {exc})") \
            from None
    offer = Offer()
    for name, layer in service.contents.items():
        offer.entries.append(Entry(name, layer.title or name,
                                   {"type": "wfs", "url": bare(url), "typename": name, "version": "2.0.0"},
                                   abstract=layer.abstract or "",
                                   keywords=[k for k in (layer.keywords or []) if k][:20],
                                   bbox=lonlat_bbox(layer.boundingBoxWGS84) if layer.boundingBoxWGS84 else None))
    return offer


# -- catalogues ----------------------------------------------------------------------------------------------------

CSW_NS = {"csw": "http://www.opengis.net/cat/csw/2.0.2", **iso19139.NS}


def read_csw(fetcher: Fetcher, url: str) -> Offer:
    """Every record of the catalogue as ISO 19139 (GetRecords, 2.0.2, paged); each record fills a layer's metadata
    as an imported TGOS record would (layers.iso19139.read), and its OGC:WMS link, if it has one, draws it."""
    offer, start, seen = Offer(), 1, set()
    for _page in range(MAX_PAGES):
        answer = fetcher.get(with_query(url, service="CSW", version="2.0.2", request="GetRecords",
                                        typeNames="csw:Record", resultType="results", elementSetName="full",
                                        outputSchema=iso19139.GMD, startPosition=str(start),
                                        maxRecords=str(CSW_PAGE)))
        root, _body = xml_root(answer, "a CSW GetRecords response")
        results = root.find("csw:SearchResults", CSW_NS)
        if results is None:
            raise ReadError(f"{shown(url)}: the GetRecords answer has no csw:SearchResults")
        for record in results.findall("gmd:MD_Metadata", CSW_NS):
            _record(offer, record, seen)
        try:
            following = int(results.get("nextRecord") or 0)
            matched = int(results.get("numberOfRecordsMatched") or 0)
        except ValueError:
            raise ReadError(f"{shown(url)}: nextRecord / numberOfRecordsMatched are not numbers") from None
        if following <= start or following > matched or following == 0:
            return offer
        start = following
    raise ReadError(f"{shown(url)}: still paging after {MAX_PAGES} pages of {CSW_PAGE} records; the run stopped")


def _record(offer: Offer, record, seen: set) -> None:
    identifier = iso19139._text(record, "gmd:fileIdentifier/gco:CharacterString")
    if not identifier:
        offer.skip("(a record)", "no gmd:fileIdentifier")
        return
    if identifier in seen:
        offer.skip(identifier, "a second record with this identifier")
        return
    seen.add(identifier)
    try:
        fields = iso19139.read(etree.tostring(record))
    except iso19139.RecordError as exc:
        offer.skip(identifier, str(exc))
        return
    bbox = None
    box = record.find(".//gmd:EX_GeographicBoundingBox", CSW_NS)
    if box is not None:
        bbox = lonlat_bbox([iso19139._text(box, f"gmd:{n}/gco:Decimal") for n in
                            ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")])
    service = {"type": "record", "identifier": identifier}
    for online in record.iterfind(".//gmd:CI_OnlineResource", CSW_NS):
        link = iso19139._text(online, "gmd:linkage/gmd:URL")
        protocol = iso19139._text(online, "gmd:protocol/gco:CharacterString").upper()
        name = iso19139._text(online, "gmd:name/gco:CharacterString")
        if link and name and "WMS" in protocol and "WMTS" not in protocol:
            service = {"type": "wms", "url": bare(link), "layer": name, "version": "1.3.0", "format": "image/png"}
            break
        if link and service["type"] == "record" and link.startswith(("http://", "https://")):
            service["url"] = link
    title = fields.pop("title_zh")
    offer.entries.append(Entry(identifier, title, service, abstract=fields.pop("abstract", ""),
                               title_en=fields.pop("title_en", ""), keywords=fields.pop("keywords", [])[:20],
                               bbox=bbox, fields={k: v.isoformat() if hasattr(v, "isoformat") else v
                                                  for k, v in fields.items()}))


def read_ogcapi(fetcher: Fetcher, url: str) -> Offer:
    base = bare(url).rstrip("/")
    body = json_body(fetcher.get(f"{base}/collections", params={"f": "json"}), "OGC API collections")
    collections = body.get("collections")
    if not isinstance(collections, list):
        raise ReadError(f"{base}/collections: no 'collections' list")
    offer = Offer()
    for item in collections:
        if not isinstance(item, dict) or not item.get("id"):
            offer.skip("(a collection)", "no id")
            continue
        spatial = ((item.get("extent") or {}).get("spatial") or {}).get("bbox") or [None]
        offer.entries.append(Entry(str(item["id"]), str(item.get("title") or item["id"]),
                                   {"type": "ogcapi", "url": f"{base}/collections/{item['id']}"},
                                   abstract=str(item.get("description") or ""),
                                   keywords=[str(k) for k in item.get("keywords") or []][:20],
                                   bbox=lonlat_bbox(spatial[0]) if isinstance(spatial[0], list) else None))
    return offer


# -- ArcGIS REST -----------------------------------------------------------------------------------------------------

def _to_lonlat(extent: dict) -> tuple | None:
    if not isinstance(extent, dict):
        return None
    reference = extent.get("spatialReference") or {}
    wkid = reference.get("latestWkid") or reference.get("wkid")
    try:
        box = [float(extent[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
        if wkid in (4326, None):
            return lonlat_bbox(box)
        srid = 3857 if wkid in ARCGIS_WEB_MERCATOR else int(wkid)
        to = Transformer.from_crs(srid, 4326, always_xy=True)
        west, south = to.transform(box[0], box[1])
        east, north = to.transform(box[2], box[3])
    except (KeyError, TypeError, ValueError, Exception):  # noqa: BLE001 - an unknown wkid: no extent, not a failure
        return None
    return lonlat_bbox([west, south, east, north])


def read_arcgis(fetcher: Fetcher, url: str) -> Offer:
    """A services directory (…/rest/services, its folders one level down) or a single …/MapServer or
    …/FeatureServer: each layer of each MapServer and FeatureServer (two requests per service)."""
    base = bare(url).rstrip("/")
    offer = Offer()
    if base.endswith(("/MapServer", "/FeatureServer")):
        services = [base]
    else:
        root = json_body(fetcher.get(base, params={"f": "json"}), "ArcGIS REST services directory")
        services = _services(base, root)
        for folder in root.get("folders") or []:
            inside = json_body(fetcher.get(f"{base}/{folder}", params={"f": "json"}), "ArcGIS REST folder")
            services += _services(base, inside)
    for service_url in services:
        relative = service_url[len(base) + 1:] if service_url != base else service_url.rsplit("/", 2)[1] + "/" + \
            service_url.rsplit("/", 1)[1]
        _arcgis_service(fetcher, service_url, relative, offer)
    return offer


def _services(base: str, directory: dict) -> list[str]:
    found = []
    for item in directory.get("services") or []:
        if isinstance(item, dict) and item.get("type") in ("MapServer", "FeatureServer") and item.get("name"):
            found.append(f"{base}/{item['name']}/{item['type']}")
    return found


def _arcgis_service(fetcher: Fetcher, service_url: str, relative: str, offer: Offer) -> None:
    kind = service_url.rsplit("/", 1)[1]
    info = json_body(fetcher.get(service_url, params={"f": "json"}), f"ArcGIS {kind}")
    layers = json_body(fetcher.get(f"{service_url}/layers", params={"f": "json"}), f"ArcGIS {kind} layers")
    about = str(info.get("serviceDescription") or info.get("description") or "")
    credit = str(info.get("copyrightText") or "")
    tiled = (info.get("singleFusedMapCache") and ((info.get("tileInfo") or {}).get("spatialReference") or {})
             .get("wkid") in ARCGIS_WEB_MERCATOR)
    for layer in layers.get("layers") or []:
        if not isinstance(layer, dict) or layer.get("id") is None:
            offer.skip(relative, "a layer without id")
            continue
        if layer.get("type") == "Group Layer":
            continue
        remote = f"{relative}/{layer['id']}"
        if kind == "FeatureServer":
            service = {"type": "arcgis_feature", "url": f"{service_url}/{layer['id']}",
                       "geometry_type": str(layer.get("geometryType") or "")}
        elif tiled:
            service = {"type": "xyz", "tile_url": f"{service_url}/tile/{{z}}/{{y}}/{{x}}"}
        else:
            service = {"type": "arcgis", "url": service_url, "layer_id": int(layer["id"])}
        offer.entries.append(Entry(remote, str(layer.get("name") or remote), service,
                                   abstract=str(layer.get("description") or about),
                                   bbox=_to_lonlat(layer.get("extent") or info.get("fullExtent")),
                                   fields={"source": credit} if credit else {}))


READERS = {"wms": read_wms, "wmts": read_wmts, "wfs": read_wfs, "csw": read_csw, "ogcapi": read_ogcapi,
           "arcgis": read_arcgis}
