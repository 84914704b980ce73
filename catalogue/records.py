"""OGC API - Records at /ogcapi-records/: pycsw 3.0's OGC API - Records implementation over the same repository as
/csw (catalogue.repository.LayerRecords on the view catalogue_csw_records), answering only with the layers the
caller may see — the same condition as CSW (catalogue.views.visible_filter).

pycsw's Records API makes its own default repository and, in `items`, queries the table without the repository's
filter; here it is given ours, whose session applies the caller's filter to every query of the records (and wraps
the rows so their links come from the layer, as in CSW). A record the caller may not see is not in any answer; its
item URL answers 404 as for an unknown identifier.

Every page is also HTML (`f=html` or `Accept: text/html`, layers.ogcapi.views.wants_html) for a city officer
browsing the catalog: pycsw answers in JSON as for any client, and the page shows what it answered — the records
matched, their count and paging — with each record's layer in the reader's language and labelled as the layer
dialog labels it (catalogue/templates/catalogue/records.html, on the same base template as OGC API - Features).
"""

import datetime as dt
import json
from types import SimpleNamespace

import pycsw.ogc.api.records as pycsw_records
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from pycsw.core.config import StaticContext
from pycsw.core.pygeofilter_evaluate import PycswFilterEvaluator
from pycsw.ogc.api.records import API
from pygeofilter.backends.sqlalchemy.evaluate import SQLAlchemyFilterEvaluator
from sqlalchemy import text

from layers import iso19139
from layers.metadata import FIELD_LABELS, TOPIC_CATEGORIES, UPDATE_FREQUENCIES
from layers.models import Layer
from layers.ogcapi.views import ApiError, wants_html
from layers.serving.access import request_user

from .pycsw_mappings import MD_CORE_MODEL
from .repository import LayerRecords
from .views import configuration, visible_filter

PREFIX = "/ogcapi-records"


class _Evaluator(PycswFilterEvaluator):
    """pycsw 3.0.0b2's CQL evaluator for pygeofilter 0.4, whose evaluator takes `undefined_as_null` (pycsw's does not
    pass it: every q / bbox / datetime / filter of its Records API would answer 400)."""

    def __init__(self, field_mapping=None, dbtype="sqlite"):
        SQLAlchemyFilterEvaluator.__init__(self, field_mapping, undefined_as_null=False)
        self._pycsw_dbtype = dbtype


def _to_filter(ast, dbtype, field_mapping=None):
    return _Evaluator(field_mapping, dbtype).evaluate(ast)


pycsw_records.to_filter = _to_filter  # the one name the Records API evaluates CQL through


class _Query:
    """A SQLAlchemy query of the records whose results are the repository's Records (links from the layer)."""

    def __init__(self, query, wrap):
        self._query, self._wrap = query, wrap

    def all(self):
        return self._wrap(self._query.all())

    def __getattr__(self, name):
        found = getattr(self._query, name)
        if not callable(found):
            return found

        def call(*args, **kwargs):
            result = found(*args, **kwargs)
            return _Query(result, self._wrap) if type(result) is type(self._query) else result
        return call


class _Session:
    """The repository's session, with the caller's filter on every query of the records table."""

    def __init__(self, session, dataset, condition, wrap):
        self._session, self._dataset, self._condition, self._wrap = session, dataset, condition, wrap

    def query(self, *entities):
        query = self._session.query(*entities)
        if self._condition is not None:
            query = query.filter(text(self._condition))
        return _Query(query, self._wrap) if entities and entities[0] is self._dataset else query

    def __getattr__(self, name):
        return getattr(self._session, name)


class RecordsAPI(API):
    def __init__(self, config: dict, repo_filter: str | None, csw_url: str):  # noqa: B027 - pycsw's fields, ours
        self.mode, self.config = "ogcapi-records", config
        self.config["server"]["url"] = config["server"]["url"].rstrip("/")
        self.facets = ["type"]
        self.context = StaticContext()
        self.context.md_core_model = MD_CORE_MODEL
        self.context.model = self.context.models["csw30"]
        self.context.server = SimpleNamespace()
        self.context.url = csw_url
        self.limit = int(config["server"]["maxrecords"])
        self.orm = "sqlalchemy"
        self.repository = LayerRecords(self.context, repo_filter)
        self.repository.query_mappings["geometry"] = self.repository.dataset.wkb_geometry  # the Records API's bbox
        raw = self.repository.session
        self.repository.session = _Session(raw, self.repository.dataset, repo_filter, self.repository._wrap)
        self.repository.filter = None  # applied by the session already


def api_for(request) -> RecordsAPI:
    config = configuration(request.build_absolute_uri("/csw"), None)
    config["server"]["url"] = request.build_absolute_uri(PREFIX)
    config["server"]["maxrecords"] = 100
    config["metadata"]["identification"]["title"] = "civgis 圖資目錄 (OGC API - Records)"
    config["metadata"]["identification"]["description"] = ("The city's layer catalog as OGC API - Records: the "
                                                            "records of every layer you may see (the same as /csw)")
    return RecordsAPI(config, visible_filter(request_user(request)), request.build_absolute_uri("/csw"))


def _answer(request, result) -> HttpResponse:
    headers, status, content = result
    kind = headers.get("Content-Type", "application/json")
    response = HttpResponse(content, status=status, content_type=kind)
    response["Cache-Control"] = "private, max-age=0" if request.user.is_authenticated else "public, max-age=60"
    response["Vary"] = "Cookie, Authorization"
    return response


def _headers(request) -> dict:
    return {"Accept": "application/json"}


def _args(request) -> dict:
    """The query's parameters; pycsw answers in JSON (its own HTML pages are not served here: ours are, _page)."""
    args = request.GET.dict()
    args["f"] = "json"
    return args


def _run(request, method: str, *args):
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    try:
        html = wants_html(request)
    except ApiError as problem:
        return JsonResponse({"code": problem.code, "description": problem.description}, status=problem.status)
    api = api_for(request)
    try:
        result = getattr(api, method)(_headers(request), *args)
        if html:
            return _page(request, method, result)
        return _answer(request, result)
    finally:
        api.repository.session.close()


# ---- HTML ----------------------------------------------------------------------------------------------------------

HTML_PAGE = 20


def _english() -> bool:
    return (translation.get_language() or "").lower().startswith("en")


def _title(layer: Layer) -> str:
    return (layer.title_en or layer.title_zh) if _english() else layer.title_zh


def _as_html(url: str | None) -> str | None:
    """A link pycsw wrote for the JSON answer, to the same page in HTML."""
    if not url:
        return None
    return url.replace("f=json", "f=html") if "f=json" in url else url + ("&" if "?" in url else "?") + "f=html"


def _page(request, method: str, result) -> HttpResponse:
    headers, status, content = result
    doc = json.loads(content) if content else {}
    params = request.GET.copy()
    params["f"] = "json"
    json_url = request.build_absolute_uri(request.path) + "?" + params.urlencode()
    context = {"doc": {"links": [{"rel": "alternate", "href": json_url}]}, "page": method, "status": status}
    if status != 200:
        context.update(page="error", description=doc.get("description") or _("找不到這筆詮釋資料"))
    elif method == "landing_page":
        context.update(title=doc.get("title"), description=doc.get("description"))
    elif method == "conformance":
        context.update(uris=doc.get("conformsTo", []))
    elif method in ("collections", "collection"):
        context.update(count=Layer.objects.visible_to(request_user(request)).count())
    elif method == "queryables":
        context.update(rows=sorted((name, spec.get("title", name), spec.get("type", "")) for name, spec in
                                   doc.get("properties", {}).items()))
    elif method == "items":
        slugs = [feature["id"] for feature in doc.get("features", [])]
        layers = Layer.objects.select_related("owner_agency", "theme").in_bulk(slugs, field_name="slug")
        offset = int(request.GET.get("offset") or 0) if (request.GET.get("offset") or "0").isdigit() else 0
        links = {link.get("rel"): link.get("href") for link in doc.get("links", [])}
        context.update(rows=[_row(layers[slug]) for slug in slugs if slug in layers], offset=offset,
                       returned=len(slugs), matched=doc.get("numberMatched", len(slugs)),
                       q=request.GET.get("q", ""), prev=_as_html(links.get("prev")), next=_as_html(links.get("next")))
    elif method == "item":
        layer = Layer.objects.select_related("owner_agency", "theme").get(slug=doc["id"])
        base = request.build_absolute_uri("/").rstrip("/")
        context.update(layer=layer, title=_title(layer), rows=_fields(layer), links=iso19139.links(layer, base),
                       iso=f"{base}/csw?service=CSW&version=2.0.2&request=GetRecordById&id={layer.slug}"
                           "&outputschema=http://www.isotc211.org/2005/gmd&elementsetname=full")
    response = render(request, "catalogue/records.html", context, status=status)
    response["Cache-Control"] = "private, max-age=0" if request.user.is_authenticated else "public, max-age=60"
    response["Vary"] = "Accept, Accept-Language, Cookie, Authorization"
    return response


def _row(layer: Layer) -> dict:
    return {"slug": layer.slug, "title": _title(layer), "kind": layer.get_kind_display(),
            "agency": layer.owner_agency.name if layer.owner_agency else "",
            "theme": ((layer.theme.name_en or layer.theme.name_zh) if _english() else layer.theme.name_zh)
            if layer.theme else "",
            "date": layer.revision_date or layer.creation_date or layer.updated_at.date(),
            "keywords": "、".join(layer.keywords)}


def _fields(layer: Layer) -> list[tuple[str, str]]:
    """The record's fields as the layer dialog labels them, in the reader's language; empty ones left out."""
    extent = ", ".join(f"{v:.5f}" for v in layer.extent.extent) if layer.extent else ""
    period = " – ".join(str(d) for d in (layer.temporal_start, layer.temporal_end) if d)
    scale = f"1:{layer.scale_denominator:,}" if layer.scale_denominator else (
        _("%(m)s 公尺") % {"m": f"{layer.resolution_m:g}"} if layer.resolution_m else "")
    rows = [
        (FIELD_LABELS["title_zh"], layer.title_zh), (FIELD_LABELS["title_en"], layer.title_en),
        (FIELD_LABELS["abstract"], layer.abstract), (_("類型"), layer.get_kind_display()),
        (FIELD_LABELS["keywords"], "、".join(layer.keywords)),
        (FIELD_LABELS["topic_category"], TOPIC_CATEGORIES.get(layer.topic_category, layer.topic_category)),
        (FIELD_LABELS["theme"], ((layer.theme.name_en or layer.theme.name_zh) if _english() else
                                 layer.theme.name_zh) if layer.theme else ""),
        (FIELD_LABELS["owner_agency"], layer.owner_agency.name if layer.owner_agency else ""),
        (FIELD_LABELS["contact_organisation"], layer.contact_organisation),
        (FIELD_LABELS["contact_name"], layer.contact_name), (FIELD_LABELS["contact_email"], layer.contact_email),
        (FIELD_LABELS["update_frequency"], UPDATE_FREQUENCIES.get(layer.update_frequency, layer.update_frequency)),
        (FIELD_LABELS["temporal_extent"], period), (FIELD_LABELS["creation_date"], layer.creation_date),
        (FIELD_LABELS["revision_date"], layer.revision_date), (FIELD_LABELS["scale"], scale),
        (_("範圍（經緯度，度）"), extent),
        (_("坐標系統"), f"EPSG:{layer.srid}" if layer.kind in ("vector", "raster") and layer.srid else ""),
        (FIELD_LABELS["license"], layer.license), (FIELD_LABELS["source"], layer.source),
        (FIELD_LABELS["lineage"], layer.lineage),
    ]
    return [(label, value) for label, value in rows if value not in ("", None)]


def landing(request):
    return _run(request, "landing_page", _args(request))


def conformance(request):
    return _run(request, "conformance", _args(request))


def collections(request):
    return _run(request, "collections", _args(request))


def collection(request, collection):
    if collection != "metadata:main":
        return JsonResponse({"code": "NotFound", "description": f"no collection {collection!r}; the catalog is "
                             "metadata:main"}, status=404)
    return _run(request, "collection", _args(request), collection)


def queryables(request, collection):
    if collection != "metadata:main":
        return JsonResponse({"code": "NotFound", "description": f"no collection {collection!r}"}, status=404)
    return _run(request, "queryables", _args(request), collection)


def items(request, collection):
    if collection != "metadata:main":
        return JsonResponse({"code": "NotFound", "description": f"no collection {collection!r}"}, status=404)
    args = _args(request)
    if "datetime" in args:
        try:
            condition = _datetime(args.pop("datetime"))
        except ValueError as exc:
            return JsonResponse({"code": "InvalidParameterValue", "description": f"datetime: {exc}"}, status=400)
        if condition:
            args["filter"] = f"({args['filter']}) AND {condition}" if args.get("filter") else condition
    try:
        if wants_html(request) and "limit" not in args:
            args["limit"] = str(HTML_PAGE)  # a page a phone can scroll (JSON clients get pycsw's 100)
    except ApiError:
        pass  # _run answers it
    return _run(request, "items", None, args, collection)


def _datetime(value: str) -> str:
    """OGC API's `datetime` (an instant, or start/end with `..` for open) as ECQL on the records' dates: pycsw
    3.0.0b2 writes its dates in double quotes, which ECQL reads as attribute names (every datetime answered 400)."""
    def moment(text: str) -> str:
        try:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not an RFC 3339 date or date-time (e.g. 2024-01-01 or "
                             "2024-01-01T00:00:00Z/..)") from None
        return text[:10] if len(text) == 10 else text
    if "/" not in value:
        return f"date = '{moment(value)}'"
    begin, _, end = value.partition("/")
    parts = []
    if begin not in ("", ".."):
        parts.append(f"time_begin >= '{moment(begin)}'")
    if end not in ("", ".."):
        parts.append(f"time_end <= '{moment(end)}'")
    return " AND ".join(parts)


def item(request, collection, identifier):
    if collection != "metadata:main":
        return JsonResponse({"code": "NotFound", "description": f"no collection {collection!r}"}, status=404)
    response = _run(request, "item", _args(request), collection, identifier)
    if response.status_code == 404:  # pycsw's text for a missing record names nothing: the same for a hidden one
        response.content = json.dumps({"code": "NotFound", "description": "no such record"}).encode()
    return response
