"""OGC API - Records at /ogcapi-records/: pycsw 3.0's OGC API - Records implementation over the same repository as
/csw (catalogue.repository.LayerRecords on the view catalogue_csw_records), answering only with the layers the
caller may see — the same condition as CSW (catalogue.views.visible_filter).

pycsw's Records API makes its own default repository and, in `items`, queries the table without the repository's
filter; here it is given ours, whose session applies the caller's filter to every query of the records (and wraps
the rows so their links come from the layer, as in CSW). A record the caller may not see is not in any answer; its
item URL answers 404 as for an unknown identifier.
"""

import datetime as dt
import json
from types import SimpleNamespace

import pycsw.ogc.api.records as pycsw_records
from django.http import HttpResponse, JsonResponse
from pycsw.core.config import StaticContext
from pycsw.core.pygeofilter_evaluate import PycswFilterEvaluator
from pycsw.ogc.api.records import API
from pygeofilter.backends.sqlalchemy.evaluate import SQLAlchemyFilterEvaluator
from sqlalchemy import text

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
    """The query's parameters; answers are JSON (pycsw's HTML pages are not served here)."""
    args = request.GET.dict()
    args["f"] = "json"
    return args


def _run(request, method: str, *args):
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    api = api_for(request)
    try:
        return _answer(request, getattr(api, method)(_headers(request), *args))
    finally:
        api.repository.session.close()


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
