"""/ows: the platform's one OGC endpoint (WMS, WFS and WCS by the SERVICE parameter), in front of the engine.

The front decides who sees what (catalog permissions: anonymous requests see public layers only), refuses
requests it can tell are bad with an OGC exception report (never a 500), counts and logs every request, and
hands the rest to the engine, which hides every layer outside the visible set as well. `/ows/<theme>` serves
one theme's subtree.
"""

import json
import logging
import re
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from lxml import etree

from editing import wfst
from geo import dbrouter
from layers.models import Layer, Theme
from layers.serving import filters, usage
from layers.serving.access import BadRequest, request_user

from . import (
    capabilities_cache,
    capabilities_language,
    feature_info_html,
    feature_type_labels,
    get_engine,
    wms_capabilities,
)
from .base import OWSResponse
from .exceptions import OWSException, exception_response
from .publishing import SERVED_KINDS

log = logging.getLogger("civgis.ows")
SERVICES = ("WMS", "WFS", "WCS")
FILTER_PARAMETER = "CIVGIS_FILTER"  # vendor parameter: a layer's filter (layers.serving.filters) on GetMap & co.
LAYER_PARAMETERS = ("LAYERS", "QUERY_LAYERS", "LAYER", "TYPENAME", "TYPENAMES", "COVERAGE", "COVERAGEID")
NAMESPACE_PREFIXES = ("civgis:", "ms:")
PAGING_MINIMUM = {"COUNT": 1, "MAXFEATURES": 1, "STARTINDEX": 0}  # WFS: positive counts, a non-negative index
COVERAGE_REQUESTS = ("getcoverage", "describecoverage")
DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# what would make the engine fetch an address the client chose (server-side request forgery)
REFERENCE_TAGS = ("OnlineResource", "RemoteOWS", "ExternalGraphic")
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
BODY_NAME_TAGS = ("TypeName", "Name", "CoverageId", "Coverage")  # elements of a POSTed request naming layers


def xml_parser() -> etree.XMLParser:
    """A parser for XML from outside: no entities, no DTD loaded, no network, no huge trees; comments and
    processing instructions are dropped (the engine gets the request without them). A parser per call: lxml
    parsers are not thread-safe."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


@csrf_exempt
def ows(request, theme: str | None = None):
    started = time.perf_counter()
    params = {k.upper(): v for k, v in request.GET.items()}
    body = None
    try:
        if request.method == "POST":
            if request.content_type == "application/x-www-form-urlencoded":
                params.update({k.upper(): v for k, v in request.POST.items()})
            else:
                body = request.body
        elif request.method != "GET":
            return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    except RequestDataTooBig:
        return exception_response(OWSException(
            "OperationParsingFailed", f"the request is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20} MB:"
            " send a WFS Transaction in parts", "", 413), {**params, "SERVICE": params.get("SERVICE", "WFS")})
    user = request_user(request)
    capabilities = capabilities_cache.is_capabilities(params, body)
    generation = capabilities_cache.generation() if capabilities else None  # read before the catalog is
    if generation is not None and time.time() - int(generation) / 1e9 < settings.DATABASE_READ_YOUR_WRITES_SECONDS:
        # the catalog changed moments ago: a document built now is kept for everyone under the new generation, so
        # it is built from the primary, not from a replica that may not have replayed the change yet
        dbrouter.stay_on_primary()
    # a KVP request naming its layers is judged on those: its cost does not grow with the catalog
    named = [n for key in LAYER_PARAMETERS for n in _split(params.get(key, ""))] if body is None else []
    visible, rasters, versions = _visible(user, theme, named if named and not capabilities else None)
    names: list[str] = []
    cached = None
    editable: list[str] = []
    lock_id = None
    root = None
    try:
        root = parse_xml(body, "the POSTed request") if body is not None else None
        if root is None and wfst.kvp_request(params):
            raise OWSException("OperationNotSupported", f"REQUEST={params['REQUEST']}: send it as XML in a POST "
                               "(WFS-T)", "request")
        if wfst.handles(root):  # WFS-T: the editing app answers, through its one write path
            if etree.QName(root).localname != "GetFeatureWithLock":
                answer = wfst.answer(request, root, user, visible)
                _log(request, user, {"SERVICE": "WFS", "REQUEST": etree.QName(root).localname}, names,
                     answer.status_code, started)
                return answer
            root, lock_id = wfst.with_lock(request, root, user, visible)
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        names = check(params, root, visible, rasters)
        if root is not None:  # what was checked is what the engine reads: without comments, PIs or a DOCTYPE
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        filters = time_filters(params, names, layer_filters(params.pop(FILTER_PARAMETER, ""), names))
        lang = capabilities_language.language(params, translation.get_language())
        url = request.build_absolute_uri(request.path) + "?"
        # an editor's WFS capabilities add the WFS-T operations to the shared document: a tag of its own
        editable = wfst.editable(user, visible) if capabilities and _wfs(params, root) else []
        if capabilities:
            cached = capabilities_cache.entry(params, generation, versions, theme, url, lang, user)
            if cached:
                cached.remember()
        etag = cached and wfst.tagged(cached.etag, editable)
        if cached and capabilities_cache.tag_matches(etag, request.headers.get("If-None-Match")):
            result = OWSResponse(304, "", b"")
        elif cached and (result := cached.get()) is not None:
            pass
        elif cached and (result := cached.stale(visible)) is not None:  # the latest while it is rebuilt
            cached.rebuild_later()
            cached = None  # no ETag: the next request gets the rebuilt document
        else:
            # a request naming its layers gets a map of those only: its cost is what it touches, not the catalog
            served = visible & frozenset(names) if names and not capabilities else visible
            building = time.perf_counter()
            result = _answer(params, body, served, url, lang, filters)
            if cached:
                cached.put(result, visible, 1000 * (time.perf_counter() - building))
        if editable and result.status == 200:
            result.body = wfst.advertise(result.body, url, editable)
        if lock_id and result.status == 200:
            result.body = wfst.stamp(result.body, lock_id)
    except OWSException as problem:
        if wfst.handles(root) or wfst.kvp_request(params):
            params = {**params, "SERVICE": "WFS", "VERSION": params.get("VERSION") or (
                wfst.version_of(root) if root is not None else "2.0.0")}
        answer = exception_response(problem, params)
        _log(request, user, params, names, answer.status_code, started)
        return answer
    if result.status == 304:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(result.body, status=result.status, content_type=result.content_type)
    for header, value in result.headers.items():
        response[header] = value
    if cached:
        response["ETag"], response["Last-Modified"] = etag, cached.last_modified
    # what a signed-in user sees may differ from what a shared cache should hand to others
    response["Cache-Control"] = result.headers.get("Cache-Control") or (  # no-cache: a document being rebuilt
        "private, max-age=0" if user.is_authenticated else "public, max-age=60")
    response["Vary"] = "Authorization, Cookie, Accept-Language"  # capabilities and HTML answers are per language
    for slug in set(names):
        usage.count(slug, "ows")
    _log(request, user, params, names, result.status, started)
    return response


def _wfs(params: dict[str, str], root) -> bool:
    if root is not None:
        return etree.QName(root).namespace in ("http://www.opengis.net/wfs", "http://www.opengis.net/wfs/2.0")
    return params.get("SERVICE", "").upper() == "WFS"


def layer_filters(text: str, names: list[str]) -> dict[str, str]:
    """The CIVGIS_FILTER vendor parameter — one filter (JSON or compact, layers.serving.filters) for the request's
    layer, or a JSON object {layer: filter} — as SQL per layer, composed from checked attribute names and Literal
    values; a bad filter is an InvalidParameterValue naming what is wrong, in the request's language."""
    if not text.strip():
        return {}
    wanted = list(dict.fromkeys(names))
    try:
        parsed = json.loads(text) if text.lstrip().startswith("{") else text
    except ValueError:
        parsed = text  # filters.parse words the JSON error
    per_layer = (parsed if isinstance(parsed, dict) and "conditions" not in parsed and "op" not in parsed
                 else {slug: parsed for slug in wanted} if len(wanted) == 1 else None)
    if per_layer is None:
        raise OWSException("InvalidParameterValue", f"{FILTER_PARAMETER}: with several layers give "
                           '{"layer": filter, …}', FILTER_PARAMETER.lower())
    layers = Layer.objects.in_bulk(wanted, field_name="slug")
    out = {}
    for slug, spec in per_layer.items():
        if slug not in wanted:
            raise OWSException("InvalidParameterValue", f"{FILTER_PARAMETER}: {slug!r} is not among the request's "
                               "layers", FILTER_PARAMETER.lower())
        layer = layers[slug]
        if layer.kind != Layer.Kind.VECTOR:
            raise OWSException("InvalidParameterValue", f"{FILTER_PARAMETER}: {slug!r} is not a vector layer",
                               FILTER_PARAMETER.lower())
        try:
            condition = filters.engine_sql(layer, spec, FILTER_PARAMETER)
        except BadRequest as exc:
            raise OWSException("InvalidParameterValue", str(exc), FILTER_PARAMETER.lower()) from None
        if condition:
            out[slug] = condition
    return out


def time_filters(params: dict[str, str], names: list[str], found: dict[str, str]) -> dict[str, str]:
    """TIME (WMS GetMap and GetFeatureInfo, and WFS GetFeature as a vendor parameter) as each time-enabled layer's
    filter, ANDed with its CIVGIS_FILTER; layers without a time dimension ignore it, as WMS says. TIME is taken out
    of what the engine gets: the filter module's SQL is the one meaning of a time window on every path."""
    text = params.pop("TIME", "")
    if not text.strip():
        return found
    wms = params.get("SERVICE", "").upper() == "WMS"
    out = dict(found)
    layers = Layer.objects.in_bulk(list(dict.fromkeys(names)), field_name="slug")
    for slug, layer in layers.items():
        if not layer.time_attribute or layer.kind != Layer.Kind.VECTOR:
            continue
        try:
            condition = filters.engine_sql(layer, filters.Filter(time=filters.parse_time(layer, text, "TIME")))
        except BadRequest as exc:
            raise OWSException("InvalidDimensionValue" if wms else "InvalidParameterValue", str(exc),
                               "time") from None
        out[slug] = f"({out[slug]}) AND ({condition})" if slug in out else condition
    return out


def _answer(params: dict[str, str], body: bytes | None, visible: frozenset[str], url: str, lang: str,
            filters: dict[str, str] | None = None):
    """The engine's answer, made readable where the format is for people or says what things are: GetFeatureInfo
    in HTML with labels and units, capabilities titles in the request's language, DescribeFeatureType elements
    annotated with their labels (KVP requests; a POSTed request gets the engine's answer as it is)."""
    engine = get_engine()
    if body is None and feature_info_html.wanted(params):
        parts = []
        for slug in _split(params.get("QUERY_LAYERS", "")):
            answer = engine.ows({**params, "QUERY_LAYERS": slug, "INFO_FORMAT": engine.json_info_format}, None,
                                visible, url, filters)
            if answer.status != 200:
                return answer
            parts.append((slug, feature_info_html.features_of(answer.body)))
        layers = Layer.objects.in_bulk([slug for slug, _f in parts], field_name="slug")
        return OWSResponse(200, "text/html; charset=utf-8", feature_info_html.page(
            [(layers[slug], features) for slug, features in parts if slug in layers], lang))
    if wms_capabilities.wanted(params, body):
        written = engine.wms_capabilities(params, visible, url, lang)
        if written is not None:  # already in the request's language
            return written
    result = engine.ows(params, body, visible, url=url, filters=filters)
    request = params.get("REQUEST", "").lower() if body is None else ""
    if result.status == 200 and request == "getcapabilities":
        result.body = capabilities_language.localise(result.body, lang)
    elif result.status == 200 and request == "describefeaturetype":
        result.body = feature_type_labels.annotate(result.body)
    return result


def _visible(user, theme: str | None, only: list[str] | None = None) -> tuple[frozenset[str], frozenset[str],
                                                                               list[tuple]]:
    """(the layer slugs `user` may request here — of `only`, when given —, those of them that are rasters, and each
    one's slug, last change and current version: what a cached capabilities document is keyed by)"""
    layers = (Layer.objects.visible_to(user).filter(kind__in=SERVED_KINDS)
              .exclude(ogc_status=Layer.OgcStatus.WITHDRAWN))
    if only is not None:
        layers = layers.filter(slug__in=only)
    if theme is not None:
        node = Theme.objects.filter(slug=theme).first()
        if node is None:
            raise Http404(f"no theme {theme!r}")
        layers = layers.filter(theme_id__in=node.descendant_ids())
    rows = list(layers.order_by().values_list("slug", "kind", "updated_at", "current_version_id"))
    return (frozenset(row[0] for row in rows), frozenset(row[0] for row in rows if row[1] == Layer.Kind.RASTER),
            [(slug, updated.isoformat(), version) for slug, _kind, updated, version in rows])


def check(params: dict[str, str], root: etree._Element | None, visible: frozenset[str],
          rasters: frozenset[str] = frozenset()) -> list[str]:
    """The layer names the request uses, after refusing what the engine should not see or cannot answer well
    (`root`: a POSTed request, parsed); raises OWSException."""
    service = params.get("SERVICE", "").upper()
    if root is not None:
        names = _names_in_body(root)
    else:
        if not service:
            raise OWSException("MissingParameterValue", "SERVICE is missing: use WMS, WFS or WCS", "service")
        if service not in SERVICES:
            raise OWSException("InvalidParameterValue", f"SERVICE={params['SERVICE']!r}: use WMS, WFS or WCS",
                               "service")
        if not params.get("REQUEST"):
            raise OWSException("MissingParameterValue", "REQUEST is missing, e.g. REQUEST=GetCapabilities",
                               "request")
        names = [n for key in LAYER_PARAMETERS for n in _split(params.get(key, ""))]
    for name in names:
        if name not in visible:  # unknown and not-allowed look the same: no hint that a layer exists
            raise OWSException("LayerNotDefined", f"no layer named {name!r}", "layers")
    _check_coverages(params, root, names, rasters)
    _check_styles(params, root)
    _check_size(params)
    _check_bbox(params)
    if service == "WFS" and root is None:
        _check_paging(params)
    if params.get("FILTER"):
        parse_xml(params["FILTER"].encode(), "FILTER", code="InvalidParameterValue", locator="filter")
    return names


def parse_xml(data: bytes, what: str, code: str = "OperationParsingFailed", locator: str = "") -> etree._Element:
    """`data` parsed with the hardened parser; a DOCTYPE (entities, external DTDs) is refused outright."""
    doctype = OWSException(code, f"{what} has a DOCTYPE: OGC requests need none, and it is not read", locator)
    try:
        root = etree.fromstring(data, xml_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        if DOCTYPE.search(data):  # e.g. an entity it declares, left unresolved, broke the parse
            raise doctype from None
        raise OWSException(code, f"{what} is not well-formed XML: {_xml_error(exc)}", locator) from None
    if root.getroottree().docinfo.doctype:
        raise doctype
    return root


def _xml_error(exc: Exception) -> str:
    """The parser's message without the `<string>` pseudo file name lxml puts in it."""
    return re.sub(r",? *\(<string>[^)]*\)|<string>:?", "", str(exc)).strip() or "unreadable"


def _split(value: str) -> list[str]:
    names = []
    for raw in value.split(","):
        name = raw.strip()
        for prefix in NAMESPACE_PREFIXES:
            name = name.removeprefix(prefix)
        if name:
            names.append(name)
    return names


def _names_in_body(root: etree._Element) -> list[str]:
    names = []
    for element in root.iter(tag=etree.Element):  # elements only (the parser dropped comments and PIs anyway)
        for attribute in ("typeNames", "typeName"):
            names += _split(element.get(attribute, "").replace(" ", ","))
        if etree.QName(element).localname in BODY_NAME_TAGS and element.text:
            names += _split(element.text)
    return names


def _check_coverages(params: dict[str, str], root, names: list[str], rasters: frozenset[str]) -> None:
    """WCS serves raster layers: a vector layer named in a coverage request is refused here, in words."""
    request = (etree.QName(root).localname if root is not None else params.get("REQUEST", "")).lower()
    if params.get("SERVICE", "WCS" if root is not None else "").upper() != "WCS" or request not in COVERAGE_REQUESTS:
        return
    for name in names:
        if name not in rasters:
            locator = "coverageid" if "COVERAGEID" in params else "coverage"
            raise OWSException("InvalidParameterValue", f"{name!r} is a vector layer: WCS serves raster layers "
                               "only; read it through WFS", locator)


def _check_styles(params: dict[str, str], root) -> None:
    """No request makes the server fetch an address: SLD by URL is refused, and so are an SLD_BODY or a POSTed
    request that point at other resources (MapServer would download them)."""
    if "SLD" in params:
        raise OWSException("InvalidParameterValue", "SLD by URL is not accepted (the server fetches no addresses "
                           "for a request): send the style document itself in SLD_BODY", "sld")
    documents = [(root, "the POSTed request", "")] if root is not None else []
    if params.get("SLD_BODY"):
        documents.append((parse_xml(params["SLD_BODY"].encode(), "SLD_BODY", "InvalidParameterValue", "sld_body"),
                          "SLD_BODY", "sld_body"))
    for document, what, locator in documents:
        for element in document.iter(tag=etree.Element):
            if etree.QName(element).localname in REFERENCE_TAGS or element.get(XLINK_HREF) is not None:
                raise OWSException("InvalidParameterValue", f"{what} points at another resource "
                                   f"({etree.QName(element).localname}): it is not fetched; give the style inline",
                                   locator)


def _check_paging(params: dict[str, str]) -> None:
    for key, minimum in PAGING_MINIMUM.items():
        if key not in params:
            continue
        value = params[key].strip()
        if not re.fullmatch(r"[+-]?\d{1,18}", value) or int(value) < minimum:
            raise OWSException("InvalidParameterValue", f"{key}={params[key]!r}: give a whole number of at least "
                               f"{minimum}", key.lower())


def _check_size(params: dict[str, str]) -> None:
    limit = settings.OGC_MAX_IMAGE_SIZE
    for key in ("WIDTH", "HEIGHT"):
        if key not in params:
            continue
        try:
            value = int(params[key])
        except ValueError:
            raise OWSException("InvalidParameterValue", f"{key}={params[key]!r} is not a whole number",
                               key.lower()) from None
        if not 1 <= value <= limit:
            raise OWSException("InvalidParameterValue", f"{key}={value}: images are 1 to {limit} pixels a side",
                               key.lower())


def _check_bbox(params: dict[str, str]) -> None:
    if "BBOX" not in params:
        return
    parts = params["BBOX"].split(",")
    try:
        numbers = [float(p) for p in parts[:4]]
    except ValueError:
        numbers = []
    if len(parts) not in (4, 5) or len(numbers) != 4:
        raise OWSException("InvalidParameterValue", f"BBOX={params['BBOX']!r}: give minx,miny,maxx,maxy", "bbox")
    if not (numbers[0] < numbers[2] and numbers[1] < numbers[3]):
        raise OWSException("InvalidParameterValue", f"BBOX={params['BBOX']!r}: the minimum must be below the maximum"
                           " on both axes", "bbox")


def _log(request, user, params, names, status, started) -> None:
    log.info("%s %s %s layers=%s user=%s status=%s %.0f ms", params.get("SERVICE", "-"), params.get("REQUEST", "-"),
             params.get("VERSION", "-"), ",".join(names) or "-", user.username if user.is_authenticated else "-",
             status, 1000 * (time.perf_counter() - started))
