"""/ows: the platform's one OGC endpoint (WMS, WFS and WCS by the SERVICE parameter), in front of the engine.

The front decides who sees what (catalog permissions: anonymous requests see public layers only), refuses
requests it can tell are bad with an OGC exception report (never a 500), counts and logs every request, and
hands the rest to the engine, which hides every layer outside the visible set as well. `/ows/<theme>` serves
one theme's subtree.
"""

import logging
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from lxml import etree

from layers.models import Layer, Theme
from layers.serving import usage
from layers.serving.access import request_user

from . import get_engine
from .exceptions import OWSException, exception_response
from .publishing import SERVED_KINDS

log = logging.getLogger("civgis.ows")
SERVICES = ("WMS", "WFS", "WCS")
LAYER_PARAMETERS = ("LAYERS", "QUERY_LAYERS", "LAYER", "TYPENAME", "TYPENAMES", "COVERAGE", "COVERAGEID")
NAMESPACE_PREFIXES = ("civgis:", "ms:")
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@csrf_exempt
def ows(request, theme: str | None = None):
    started = time.perf_counter()
    params = {k.upper(): v for k, v in request.GET.items()}
    body = None
    if request.method == "POST":
        if request.content_type == "application/x-www-form-urlencoded":
            params.update({k.upper(): v for k, v in request.POST.items()})
        else:
            body = request.body
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    user = request_user(request)
    visible = _visible(user, theme)
    names: list[str] = []
    try:
        names = check(params, body, visible)
        result = get_engine().ows(params, body, visible, url=request.build_absolute_uri(request.path) + "?")
    except OWSException as problem:
        answer = exception_response(problem, params)
        _log(request, user, params, names, answer.status_code, started)
        return answer
    response = HttpResponse(result.body, status=result.status, content_type=result.content_type)
    for header, value in result.headers.items():
        response[header] = value
    # what a signed-in user sees may differ from what a shared cache should hand to others
    response["Cache-Control"] = "private, max-age=0" if user.is_authenticated else "public, max-age=60"
    response["Vary"] = "Authorization, Cookie"
    for slug in set(names):
        usage.count(slug, "ows")
    _log(request, user, params, names, result.status, started)
    return response


def _visible(user, theme: str | None) -> frozenset[str]:
    layers = (Layer.objects.visible_to(user).filter(kind__in=SERVED_KINDS)
              .exclude(ogc_status=Layer.OgcStatus.WITHDRAWN))
    if theme is not None:
        node = Theme.objects.filter(slug=theme).first()
        if node is None:
            raise Http404(f"no theme {theme!r}")
        layers = layers.filter(theme_id__in=node.descendant_ids())
    return frozenset(layers.values_list("slug", flat=True))


def check(params: dict[str, str], body: bytes | None, visible: frozenset[str]) -> list[str]:
    """The layer names the request uses, after refusing what the engine should not see; raises OWSException."""
    service = params.get("SERVICE", "").upper()
    if body is not None:
        names = _names_in_body(body)
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
    _check_size(params)
    _check_bbox(params)
    if params.get("FILTER"):
        try:
            etree.fromstring(params["FILTER"].encode(), XML_PARSER)
        except etree.XMLSyntaxError as exc:
            raise OWSException("InvalidParameterValue", f"FILTER is not well-formed XML: {exc}", "filter") from None
    return names


def _split(value: str) -> list[str]:
    names = []
    for raw in value.split(","):
        name = raw.strip()
        for prefix in NAMESPACE_PREFIXES:
            name = name.removeprefix(prefix)
        if name:
            names.append(name)
    return names


def _names_in_body(body: bytes) -> list[str]:
    try:
        root = etree.fromstring(body, XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise OWSException("OperationParsingFailed", f"the POSTed request is not well-formed XML: {exc}") from None
    names = []
    for element in root.iter():
        for attribute in ("typeNames", "typeName"):
            names += _split(element.get(attribute, "").replace(" ", ","))
        if etree.QName(element).localname in ("TypeName", "Name") and element.text:
            names += _split(element.text)
    return names


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
