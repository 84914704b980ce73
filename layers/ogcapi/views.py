"""OGC API - Features at /ogcapi/: landing page, conformance, OpenAPI document, collections (every vector layer the
caller may see), a collection, its queryables, its items and one item — as JSON (GeoJSON for features) or HTML by
`f=json|html` or the Accept header.

One query path: items are answered by layers.serving.features.page with the request's parameters mapped onto the
REST API's (limit, offset, bbox, datetime → time, sortby → sort, property=value), so counts, filters and
permissions are those of /api/v1/layers/<slug>/features/ and of WFS. What OGC API adds — `crs` and `bbox-crs`
(Part 2), CQL2 text `filter` (Part 3, layers.ogcapi.cql2) — are extra SQL conditions on that same query.

A layer the caller may not see is a 404 NotFound worded exactly as one that does not exist. Errors are JSON
{code, description} with OGC's codes: InvalidParameterValue (400), NotFound (404).
"""

import contextlib
import hashlib
import json
import re
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import redis
from django.conf import settings
from django.db.models import FloatField, Func
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from psycopg2 import sql

from editing.store import version_of
from geo import counters
from geo.dbrouter import reading
from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer
from layers.ogc.capabilities_language import CJK
from layers.serving import features, filters
from layers.serving.access import BadRequest, request_user, visible_layer

from . import cql2, openapi

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
SRIDS = (4326, 3826, 3828, 3857)  # besides CRS84: WGS 84 (lat, lon), TWD97 TM2, TWD67 TM2, Web Mercator
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    # Part 4 (layers.ogcapi.transactions)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
OGC_PARAMETERS = {"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
                  "filter-crs", "sortby", "properties"}
JSON_FORMATS = {"json", "geojson", JSON, GEOJSON}


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _not_found(what: str) -> ApiError:
    return ApiError(404, "NotFound", str(translation.gettext("找不到 %(what)s") % {"what": what}))


def _error(problem: ApiError) -> JsonResponse:
    return JsonResponse({"code": problem.code, "description": problem.description}, status=problem.status,
                        json_dumps_params={"ensure_ascii": False})


def endpoint(view):
    """GET/HEAD only; ApiError and BadRequest answered as OGC errors; caching headers as /ows."""
    @require_safe
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except ApiError as problem:
            response = _error(problem)
        except BadRequest as exc:
            response = _error(ApiError(400, "InvalidParameterValue", str(exc)))
        user = request_user(request)
        response["Cache-Control"] = "private, max-age=0" if user.is_authenticated else "public, max-age=60"
        response["Vary"] = "Accept, Accept-Language, Authorization, Cookie"
        return response
    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# ---- negotiation and links ---------------------------------------------------------------------------------------

def wants_html(request) -> bool:
    asked = request.GET.get("f", "").strip().lower()
    if asked:
        if asked in JSON_FORMATS:
            return False
        if asked in ("html", HTML):
            return True
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "f=%(value)s：請使用 json 或 html") % {"value": asked[:40]}))
    accept = request.headers.get("Accept", "")
    html_at = accept.find(HTML)
    json_at = min((i for i in (accept.find("json"),) if i >= 0), default=-1)
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def _url(request, route: str, args=(), params: dict | None = None) -> str:
    url = request.build_absolute_uri(reverse(route, args=args))
    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    return f"{url}?{urlencode(params, doseq=True)}" if params else url


def _self_links(request, name: str, args=(), json_type: str = JSON, extra: dict | None = None) -> list[dict]:
    """self and alternate links of a resource in its two forms (the one answered is `self`)."""
    html = wants_html(request)
    kept = {k: request.GET.getlist(k) for k in request.GET if k != "f"}
    kept.update(extra or {})
    as_json = {"href": _url(request, name, args, {**kept, "f": "json"}), "type": json_type}
    as_html = {"href": _url(request, name, args, {**kept, "f": "html"}), "type": HTML}
    return [{"rel": "self", **(as_html if html else as_json)}, {"rel": "alternate", **(as_json if html else as_html)}]


def _english() -> bool:
    return (translation.get_language() or "").lower().startswith("en")


def _title(layer: Layer, english: bool | None = None) -> str:
    english = _english() if english is None else english
    return (layer.title_en or layer.title_zh) if english else layer.title_zh


def _description(layer: Layer, english: bool) -> str:
    if english:
        return layer.abstract if layer.abstract and not CJK.search(layer.abstract) else layer.title_en
    return layer.abstract


def _answer(request, doc: dict, template_context: dict | None = None, content_type: str = JSON) -> HttpResponse:
    if wants_html(request):
        return render(request, "ogcapi/page.html", {"doc": doc, **(template_context or {})})
    return HttpResponse(json.dumps(doc, ensure_ascii=False), content_type=content_type)


# ---- CRS ---------------------------------------------------------------------------------------------------------

def crs_uris(layer: Layer | None = None) -> list[str]:
    srids = list(SRIDS)
    if layer is not None and layer.srid not in srids:
        srids.append(layer.srid)
    return [CRS84, *(EPSG.format(s) for s in srids)]


def parse_crs(text: str, field: str, layer: Layer | None = None) -> tuple[int, bool]:
    """(srid, axis order flipped) of a CRS named by URI (or EPSG:nnnn / OGC:CRS84); EPSG:4326 is latitude first."""
    value = text.strip().strip("[]")
    if value in (CRS84, "OGC:CRS84", "CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"):
        return 4326, False
    found = re.fullmatch(r"(?:https?://www\.opengis\.net/def/crs/EPSG/0/|EPSG:|urn:ogc:def:crs:EPSG::)([0-9]{1,9})",
                         value)
    allowed = crs_uris(layer)
    if found and EPSG.format(int(found.group(1))) in allowed:
        srid = int(found.group(1))
        return srid, srid == 4326
    raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
        "%(field)s=%(value)s：不支援的坐標系統；請使用 %(choices)s 其中之一") % {
        "field": field, "value": text[:120], "choices": ", ".join(allowed)}))


# ---- collections ---------------------------------------------------------------------------------------------------

LISTED_FIELDS = ("slug", "title_zh", "title_en", "abstract", "kind", "srid", "table_name", "feature_count",
                 "license", "time_attribute", "temporal_start", "temporal_end")


def _feature_layers(request):
    """The vector layers the caller may see, with their lon/lat extents computed by PostGIS (a GEOS object per
    layer costs a millisecond: most of a 600-layer listing)."""
    return (Layer.objects.visible_to(request_user(request)).filter(kind=Layer.Kind.VECTOR)
            .exclude(table_name="").order_by("slug").only(*LISTED_FIELDS)
            .annotate(**{f"bbox_{i}": Func("extent", function=f, output_field=FloatField())
                         for i, f in enumerate(("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax"))}))


def _layer(request, collection_id: str, kind: str | None) -> Layer:
    """The collection's layer if the caller may see it — else NotFound, worded as for one that does not exist."""
    try:
        layer = visible_layer(request, collection_id, kind)
    except Http404:
        layer = None
    if layer is None or layer.kind != Layer.Kind.VECTOR or not layer.table_name:
        raise _not_found(translation.gettext("集合 %(id)s") % {"id": repr(collection_id)[:80]})
    return layer


def _temporal(layer: Layer) -> list | None:
    if not layer.time_attribute:
        return None
    start, end = layer.temporal_start, layer.temporal_end
    if start is None and end is None and any(a["name"] == layer.time_attribute for a in layer.attributes):
        with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
            column = sql.Identifier(layer.time_attribute)
            cur.execute(sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(
                c=column, t=sql.Identifier(DATA_SCHEMA, layer.table_name)))
            start, end = cur.fetchone()
    return [[_iso(start), _iso(end)]]


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T00:00:00Z"


def collection_doc(request, layer: Layer, base: str | None = None, listed: bool | None = None) -> dict:
    """A collection's description; `base` is /ogcapi/collections as an absolute URL (given once for a listing,
    where `listed` CRS lists point to the listing's own, "#/crs", as Part 2 allows)."""
    slug, english = layer.slug, _english()
    base = base or request.build_absolute_uri(reverse("ogcapi-collections"))
    here = f"{base}/{quote(slug)}"
    if hasattr(layer, "bbox_0"):
        bbox = [layer.bbox_0, layer.bbox_1, layer.bbox_2, layer.bbox_3]
    else:
        bbox = list(layer.extent.extent) if layer.extent else None
    extent = {"spatial": {"bbox": [bbox if bbox and None not in bbox else [-180, -90, 180, 90]], "crs": CRS84}}
    if (interval := _temporal(layer)) is not None:
        extent["temporal"] = {"interval": interval, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    described_by = base.replace("/ogcapi/collections", f"/api/v1/layers/{quote(slug)}/")
    links = [
        {"rel": "self", "type": JSON, "title": _title(layer, english), "href": here},
        {"rel": "alternate", "type": HTML, "href": f"{here}?f=html"},
        {"rel": "items", "type": GEOJSON, "href": f"{here}/items"},
        {"rel": "items", "type": HTML, "href": f"{here}/items?f=html"},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
         "href": f"{here}/queryables"},
        {"rel": "describedby", "type": JSON, "href": described_by},
    ]
    if layer.license:
        links.append({"rel": "license", "type": JSON, "title": layer.license, "href": described_by})
    return {"id": slug, "title": _title(layer, english), "description": _description(layer, english),
            "itemType": "feature",
            "extent": extent, "crs": crs_uris(layer) if listed is None or layer.srid not in SRIDS else ["#/crs"],
            "storageCrs": EPSG.format(layer.srid),
            "feature_count": layer.feature_count, "links": links}


@endpoint
def landing(request):
    doc = {
        "title": settings.OGC_SERVICE_TITLE_EN if _english() else settings.OGC_SERVICE_TITLE,
        "description": settings.OGC_SERVICE_ABSTRACT_EN if _english() else settings.OGC_SERVICE_ABSTRACT,
        "links": [*_self_links(request, "ogcapi-landing"),
                  {"rel": "service-desc", "type": OPENAPI, "title": "OpenAPI 3.0",
                   "href": _url(request, "ogcapi-api")},
                  {"rel": "service-doc", "type": HTML, "title": "OpenAPI 3.0 (HTML)",
                   "href": _url(request, "ogcapi-api", (), {"f": "html"})},
                  {"rel": "conformance", "type": JSON, "href": _url(request, "ogcapi-conformance")},
                  {"rel": "data", "type": JSON, "href": _url(request, "ogcapi-collections")}],
    }
    return _answer(request, doc, {"page": "landing"})


@endpoint
def conformance(request):
    return _answer(request, {"conformsTo": CONFORMANCE}, {"page": "conformance"})


@endpoint
def api(request):
    doc = openapi.document(request, list(_feature_layers(request).values_list("slug", flat=True)), MAX_LIMIT,
                           crs_uris())
    if wants_html(request):
        return render(request, "ogcapi/page.html", {"page": "api", "doc": doc, "paths": [
            (path, method.upper(), op.get("summary", "")) for path, ops in doc["paths"].items()
            for method, op in ops.items()]})
    return HttpResponse(json.dumps(doc, ensure_ascii=False), content_type=OPENAPI)


@endpoint
def collections(request):
    base = request.build_absolute_uri(reverse("ogcapi-collections"))
    if wants_html(request):
        doc = {"links": _self_links(request, "ogcapi-collections"), "crs": crs_uris(), "collections": [
            collection_doc(request, layer, base, listed=True) for layer in _feature_layers(request)]}
        return _answer(request, doc, {"page": "collections"})
    from layers.ogc import capabilities_cache

    generation = capabilities_cache.generation()
    visible = list(Layer.objects.visible_to(request_user(request)).filter(kind=Layer.Kind.VECTOR)
                   .exclude(table_name="").order_by("slug").values_list("slug", "updated_at", "current_version_id"))
    key = None if generation is None else _listing_key(request, base, generation, visible)
    if key is not None:
        with contextlib.suppress(redis.RedisError):
            if (kept := counters.client().get(key)) is not None:
                return HttpResponse(kept, content_type=JSON)
    body = (f'{{"links": {json.dumps(_self_links(request, "ogcapi-collections"), ensure_ascii=False)}, '
            f'"collections": [{", ".join(_listed_entries(request, base, visible))}], '
            f'"crs": {json.dumps(crs_uris())}}}')
    if key is not None:
        with contextlib.suppress(redis.RedisError):
            counters.client().set(key, body.encode(), ex=LISTING_SECONDS)
    return HttpResponse(body, content_type=JSON)


LISTING_SECONDS = 300  # a listing or entry is kept at most this long (a time range read from the features may move)


def _listing_key(request, base: str, generation: str, visible: list[tuple]) -> str:
    """The JSON listing's key in Redis: the catalog generation (layers.ogc.capabilities_cache: bumped by every change
    to the catalog) and the caller's visible collections with their last change — whoever may see the same layers
    shares the listing, and a layer withdrawn from a caller changes their key even if a change were missed — plus
    the language, the address and the query. Without Redis (no generation) every request builds its listing."""
    digest = hashlib.sha256(json.dumps([generation, translation.get_language(), base, request.GET.urlencode(),
                                        visible], default=str).encode()).hexdigest()
    return f"civgis:ogcapi-collections:{digest}"


def _listed_entries(request, base: str, visible: list[tuple]) -> list[str]:
    """Each visible collection's listing entry as JSON text, kept in Redis per layer and its last change (its
    `updated_at` moves with every save and edit, its version with every import), language and address — not per
    catalog generation: after a change the listing is rebuilt from the entries kept, and only the changed layers'
    entries are built (at 5,000 layers a whole listing built anew cost ~0.5 s, the first caller of each visibility
    set after every change paid it)."""
    language = translation.get_language()
    keys = ["civgis:ogcapi-collection:" + hashlib.sha256(json.dumps([language, base, slug, changed, version],
                                                                   default=str).encode()).hexdigest()
            for slug, changed, version in visible]
    try:
        kept = counters.client().mget(keys) if keys else []
    except redis.RedisError:
        kept = [None] * len(keys)
    missing = {slug for (slug, _, _), entry in zip(visible, kept, strict=True) if entry is None}
    built = {layer.slug: json.dumps(collection_doc(request, layer, base, listed=True), ensure_ascii=False)
             for layer in (_feature_layers(request).filter(slug__in=missing) if missing else ())}
    if built:
        with contextlib.suppress(redis.RedisError):
            pipe = counters.client().pipeline(transaction=False)
            for (slug, _, _), key in zip(visible, keys, strict=True):
                if slug in built:
                    pipe.set(key, built[slug].encode(), ex=LISTING_SECONDS)
            pipe.execute()
    # a layer gone between the two queries is left out
    return [entry.decode() if entry is not None else built[slug]
            for (slug, _, _), entry in zip(visible, kept, strict=True) if entry is not None or slug in built]


@endpoint
def collection(request, collection_id):
    layer = _layer(request, collection_id, "metadata")
    doc = collection_doc(request, layer)
    extent_text = ", ".join(f"{v:.5f}" for v in doc["extent"]["spatial"]["bbox"][0])
    return _answer(request, doc, {"page": "collection", "layer": layer, "extent_text": extent_text})


JSON_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean", "date": "string",
              "timestamp": "string", "text": "string"}


@endpoint
def queryables(request, collection_id):
    layer = _layer(request, collection_id, "metadata")
    english = _english()
    properties = {"geometry": {"$ref": "https://geojson.org/schema/Geometry.json",
                               "title": "geometry", "x-ogc-role": "primary-geometry"}}
    for attribute in layer.attributes:
        described = attribute_kinds.described(attribute)
        kind = filters.value_class(attribute["type"])
        entry = {"title": attribute_kinds.title_of(described, english=english), "type": JSON_TYPES[kind]}
        if kind in ("date", "timestamp"):
            entry["format"] = "date" if kind == "date" else "date-time"
        properties[attribute["name"]] = entry
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": _url(request, "ogcapi-queryables", [layer.slug]), "type": "object", "title": _title(layer),
           "properties": properties, "additionalProperties": False}
    if wants_html(request):
        return render(request, "ogcapi/page.html", {"page": "queryables", "doc": doc, "layer": layer,
                                                    "rows": [(n, p.get("title"), p.get("type", "geometry"))
                                                             for n, p in properties.items()]})
    return HttpResponse(json.dumps(doc, ensure_ascii=False), content_type="application/schema+json")


# ---- items ---------------------------------------------------------------------------------------------------------

def _int(request, name: str, default: int) -> int:
    text = request.GET.get(name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "%(name)s=%(value)s：必須是整數") % {"name": name, "value": text[:40]})) from None


def core_parameters(request, layer: Layer) -> tuple[QueryDict, list, int, bool]:
    """The request as the REST API's parameters (serving.query), the extra SQL conditions (CQL2, bbox in another
    CRS), and the output srid and axis flip."""
    params = request.GET
    core = QueryDict(mutable=True)
    limit = _int(request, "limit", DEFAULT_LIMIT)
    if limit < 1:
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext("limit 必須至少是 1")))
    core["limit"] = str(min(limit, MAX_LIMIT))  # a larger limit is served as the largest page
    core["offset"] = str(_int(request, "offset", 0))
    for key in params:
        if key not in OGC_PARAMETERS:
            core.setlist(key, params.getlist(key))  # property=value filters (checked against the attributes)
    extra = []
    srid, flip = parse_crs(params["crs"], "crs", layer) if params.get("crs") else (4326, False)
    if params.get("bbox"):
        extra += _bbox(layer, core, params["bbox"], params.get("bbox-crs", ""))
    elif params.get("bbox-crs"):
        parse_crs(params["bbox-crs"], "bbox-crs", layer)
    if params.get("datetime"):
        filters.parse_time(layer, params["datetime"], "datetime")  # checked here to name the OGC parameter
        core["time"] = params["datetime"]
    if params.get("sortby"):
        core["sort"] = params["sortby"]
    if params.get("properties"):
        core["properties"] = params["properties"]
    language = params.get("filter-lang", "cql2-text").strip().lower()
    if language != "cql2-text":
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "filter-lang=%(value)s：只支援 cql2-text") % {"value": language[:40]}))
    if params.get("filter"):
        filter_srid, filter_flip = parse_crs(params["filter-crs"], "filter-crs", layer) \
            if params.get("filter-crs") else (4326, False)
        extra.append(cql2.condition(layer, params["filter"], filter_srid, filter_flip))
    elif params.get("filter-crs"):
        parse_crs(params["filter-crs"], "filter-crs", layer)
    return core, extra, srid, flip


def _bbox(layer: Layer, core: QueryDict, text: str, crs_text: str) -> list:
    """A CRS84 bbox goes to the shared query as it is; one in another CRS (bbox-crs, axis order of that CRS) is an
    extra condition in that CRS. Six numbers (3D) use their horizontal part."""
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "bbox=%(value)s：請填四個數字 minx,miny,maxx,maxy") % {"value": text[:80]}))
    srid, flip = parse_crs(crs_text, "bbox-crs", layer) if crs_text else (4326, False)
    if srid == 4326 and not flip:
        core["bbox"] = ",".join(repr(n) for n in numbers)
        return []
    x1, y1, x2, y2 = numbers
    if flip:
        x1, y1, x2, y2 = y1, x1, y2, x2
    if not (x1 < x2 and y1 < y2):
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "bbox=%(value)s：最小值須小於最大值") % {"value": text[:80]}))
    envelope = sql.SQL("ST_Transform(ST_MakeEnvelope({}, {}, {}, {}, {}), {})").format(
        sql.Literal(x1), sql.Literal(y1), sql.Literal(x2), sql.Literal(y2), sql.Literal(srid), sql.Literal(layer.srid))
    geom = sql.Identifier("t", "geom")
    return [sql.SQL("({g} && {e} AND ST_Intersects({g}, {e}))").format(g=geom, e=envelope)]


def _crs_uri(srid: int, flip: bool) -> str:
    return CRS84 if srid == 4326 and not flip else EPSG.format(srid)


@csrf_exempt  # writes check the CSRF token of a cookie session themselves (transactions.write)
def items(request, collection_id):
    """GET: the items; POST: a new one (Part 4)."""
    if request.method == "POST":
        from .transactions import write

        return write(request, collection_id, None)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    return read_items(request, collection_id)


@csrf_exempt
def item(request, collection_id, feature_id):
    """GET: one item, with its version as ETag; PUT, PATCH, DELETE: replace, update, delete it (Part 4)."""
    if request.method in ("PUT", "PATCH", "DELETE"):
        from .transactions import write

        return write(request, collection_id, feature_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "PUT", "PATCH", "DELETE"])
    return read_item(request, collection_id, feature_id)


@endpoint
def read_items(request, collection_id):
    layer = _layer(request, collection_id, "features")
    core, extra, srid, flip = core_parameters(request, layer)
    found, matched = features.page(layer, core, srid, flip, extra, default_limit=DEFAULT_LIMIT)
    limit, offset = int(core["limit"]), int(core["offset"])
    links = _self_links(request, "ogcapi-items", [layer.slug], GEOJSON)
    kept = {k: request.GET.getlist(k) for k in request.GET if k not in ("offset",)}
    if offset + len(found) < matched:
        links.append({"rel": "next", "type": links[0]["type"], "href": _url(
            request, "ogcapi-items", [layer.slug], {**kept, "offset": offset + limit})})
    if offset > 0:
        links.append({"rel": "prev", "type": links[0]["type"], "href": _url(
            request, "ogcapi-items", [layer.slug], {**kept, "offset": max(0, offset - limit)})})
    links.append({"rel": "collection", "type": JSON, "title": _title(layer),
                  "href": _url(request, "ogcapi-collection", [layer.slug])})
    crs = _crs_uri(srid, flip)
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if wants_html(request):
        parsed = [json.loads(f) for f in found]
        response = render(request, "ogcapi/page.html", {
            "page": "items", "layer": layer, "doc": {"links": links}, "matched": matched, "returned": len(found),
            "offset": offset, "columns": _columns(layer, parsed), "rows": _rows(layer, parsed),
            "next": next((link["href"] for link in links if link["rel"] == "next"), None),
            "prev": next((link["href"] for link in links if link["rel"] == "prev"), None)})
    else:
        body = (f'{{"type":"FeatureCollection","numberMatched":{matched},"numberReturned":{len(found)},'
                f'"timeStamp":"{stamp}","features":[' + ",".join(found) + '],"links":'
                + json.dumps(links, ensure_ascii=False) + "}")
        response = HttpResponse(body, content_type=GEOJSON)
    response["Content-Crs"] = f"<{crs}>"
    return response


def _columns(layer: Layer, parsed: list[dict]) -> list[tuple[str, str]]:
    shown = set().union(*(f["properties"].keys() for f in parsed)) if parsed else set()
    english = _english()
    return [(a["name"], attribute_kinds.title_of(attribute_kinds.described(a), english=english))
            for a in layer.attributes if a["name"] in shown]


def _rows(layer: Layer, parsed: list[dict]) -> list[tuple]:
    names = [name for name, _label in _columns(layer, parsed)]
    return [(f["id"], [f["properties"].get(n) for n in names]) for f in parsed]


@endpoint
def read_item(request, collection_id, feature_id):
    layer = _layer(request, collection_id, "features")
    core, _extra, srid, flip = core_parameters_for_one(request, layer)
    found = features.one(layer, int(feature_id), core, srid, flip) if re.fullmatch(r"[0-9]{1,9}", feature_id) \
        else None
    if found is None:
        raise _not_found(translation.gettext("集合 %(id)s 的圖徵 %(fid)s") % {
            "id": repr(layer.slug), "fid": repr(feature_id)[:40]})
    feature = json.loads(found)
    feature["links"] = [*_self_links(request, "ogcapi-item", [layer.slug, feature_id], GEOJSON),
                        {"rel": "collection", "type": JSON, "href": _url(request, "ogcapi-collection",
                                                                           [layer.slug])}]
    if wants_html(request):
        names = dict(_columns(layer, [feature]))
        response = render(request, "ogcapi/page.html", {
            "page": "item", "layer": layer, "doc": feature,
            "rows": [(names.get(k, k), v) for k, v in feature["properties"].items()]})
    else:
        response = HttpResponse(json.dumps(feature, ensure_ascii=False), content_type=GEOJSON)
    response["Content-Crs"] = f"<{_crs_uri(srid, flip)}>"
    response["ETag"] = f'"{version_of(layer, int(feature_id))}"'  # the version Part 4's If-Match names
    return response


def core_parameters_for_one(request, layer: Layer) -> tuple[QueryDict, list, int, bool]:
    """One item takes `crs` and `properties` only (anything else is an unknown parameter)."""
    unknown = sorted(set(request.GET) - {"f", "crs", "properties"})
    if unknown:
        raise ApiError(400, "InvalidParameterValue", str(translation.gettext(
            "不認得的參數 %(names)s") % {"names": ", ".join(unknown)[:120]}))
    core = QueryDict(mutable=True)
    if request.GET.get("properties"):
        core["properties"] = request.GET["properties"]
    srid, flip = parse_crs(request.GET["crs"], "crs", layer) if request.GET.get("crs") else (4326, False)
    return core, [], srid, flip
