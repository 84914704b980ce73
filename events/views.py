"""The events API under /api/v1/events/: event layers, imports, a hotline system's push (per-system token),
its tokens, the unlocated events, counts and rates, response times and what changed this week.

An event layer the caller may not see answers as one that does not exist (404); rights are accounts.rights':
see to read, import to import into it, manage for its push tokens, the platform's import right for a new one.
"""

import shutil
import time
from datetime import datetime

import redis
from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import rights
from geo.counters import client
from geo.messages import worded
from iot.tokens import digest, new_token
from layers.importing import jobs
from layers.importing.errors import ImportProblem
from layers.models import Layer

from . import figures, hexagons, records, store
from .importing import NothingImported, import_file
from .models import EventLayer, PushToken

MAX_PUSH = 1000
BAD = OpenApiResponse(description="bad input, explained (file, rows, field)")
MISSING = OpenApiResponse(description="no such event layer or area layer, or one you may not see")


def event_layers_for(user):
    return EventLayer.objects.filter(layer__in=Layer.objects.visible_to(user if user.is_authenticated else None)) \
        .select_related("layer").order_by("layer__title_zh")


def event_layer(request, slug: str) -> EventLayer:
    found = event_layers_for(request.user).filter(layer__slug=slug).first()
    if found is None:
        raise Http404(f"no event layer {slug!r}")
    return found


def describe(el: EventLayer, language: str = "zh-hant") -> dict:
    layer = el.layer
    return {"slug": layer.slug, "title": layer.title_zh, "title_en": layer.title_en, "features": layer.feature_count,
            "time_attribute": layer.time_attribute, "table": layer.table_name,
            "unlocated": el.unlocated.count(),
            "categories": [{"code": c.code, "label": c.label_zh, "label_en": c.label_en}
                           for c in el.categories.all()],
            "map": f"/?layers={layer.slug}"}


class EventLayerListView(APIView):
    @extend_schema(operation_id="events_layers_list", summary="The event layers you may see",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({"results": [describe(el) for el in event_layers_for(request.user)]})


class EventLayerDetailView(APIView):
    @extend_schema(summary="An event layer: its categories, counts, unlocated events",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        return Response(describe(event_layer(request, slug)))


def _upload(request):
    files = request.FILES.getlist("file") or request.FILES.getlist("files")
    if len(files) != 1:
        raise ValidationError({"file": worded("請上傳一個事件檔案（CSV、XLSX 或 ODS）")})
    try:
        return jobs.save_upload(files, accept={".csv", ".txt", ".xlsx", ".ods"})[0]
    except ImportProblem as problem:
        raise ValidationError(problem.as_answer()) from problem


def _run_import(request, target: EventLayer | None, options: dict):
    path, name = _upload(request)
    try:
        layer, report = import_file(path, name, request.user, target, options)
    except ImportProblem as problem:
        return Response(problem.as_answer(), status=400)
    except NothingImported as nothing:
        return Response({"detail": worded("沒有任何案件可以匯入"), "file": name, **nothing.report}, status=400)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return Response({"layer": layer.slug, "file": name, **report}, status=201 if target is None else 200)


class EventImportView(APIView):
    @extend_schema(summary="Import a hotline export (CSV, XLSX, ODS) as a new event layer", request={
        "multipart/form-data": OpenApiTypes.OBJECT}, responses={201: OpenApiTypes.OBJECT, 400: BAD})
    def post(self, request):
        if not rights.may_import(request.user):
            raise PermissionDenied(worded("您沒有匯入新圖層的權限；請洽系統管理者"))
        options = {k: request.data.get(k) for k in ("title", "title_en", "slug", "visibility", "theme")
                   if request.data.get(k)}
        if options.get("visibility") not in (None, *Layer.Visibility.values):
            raise ValidationError({"visibility": f"one of {', '.join(Layer.Visibility.values)}"})
        if request.user.groups.exists():
            options["owner_agency"] = request.user.groups.order_by("pk").first().pk
        return _run_import(request, None, options)


class EventLayerImportView(APIView):
    @extend_schema(summary="Import a hotline export into an event layer: new cases added, known case numbers "
                           "updated", request={"multipart/form-data": OpenApiTypes.OBJECT},
                   responses={200: OpenApiTypes.OBJECT, 400: BAD})
    def post(self, request, slug):
        el = event_layer(request, slug)
        if not el.layer.may(request.user, "import"):
            raise PermissionDenied(worded("您沒有匯入這個圖層的權限"))
        return _run_import(request, el, {})


class UnlocatedView(APIView):
    @extend_schema(summary="The events of a layer that could not be placed on the map, with the reason",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        el = event_layer(request, slug)
        items = el.unlocated.all()
        reasons = {}
        for reason in items.values_list("reason", flat=True):
            reasons[reason] = reasons.get(reason, 0) + 1
        return Response({"count": items.count(), "reasons": [
            {"reason": k, "message": str(records.UNLOCATED_REASONS.get(k, k)), "count": v}
            for k, v in reasons.items()], "results": [
            {"case_no": u.case_no, "reported_at": u.reported_at, "category": u.category, "status": u.status,
             "address": u.address, "reason": u.reason, "row": u.row, "source": u.source} for u in items[:1000]]})


# --- the figures ---------------------------------------------------------------------------------------------------

YEARS = (1900, 2200)  # a time outside is a typing mistake (and weeks around year 1 or 9999 overflow)


def _time(text: str | None, what: str) -> datetime | None:
    if not text:
        return None
    moment = records.parse_time(text)
    if moment is None:
        raise ValidationError({what: worded("{value} 不是日期或時間（例如 2026-11-02）", value=repr(text[:40]))})
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValidationError({what: worded("{value} 不在 {first} 到 {last} 年之間", value=repr(text[:40]),
                                            first=YEARS[0], last=YEARS[1])})
    return moment


def areas_of(request) -> figures.Areas:
    q = request.query_params
    by = q.get("by", "district")
    if by == "grid":
        try:
            cell = float(q.get("cell", "500"))
        except ValueError:
            raise ValidationError({"cell": "the grid's cell size in metres, e.g. cell=250"}) from None
        if not figures.MIN_CELL_M <= cell <= figures.MAX_CELL_M:
            raise ValidationError({"cell": f"between {figures.MIN_CELL_M} and {figures.MAX_CELL_M} m"})
        return figures.Areas("grid", cell_m=cell)
    if by == "h3":
        resolution = q.get("resolution", "8")
        if resolution not in {str(r) for r in hexagons.RESOLUTIONS}:
            raise ValidationError({"resolution": f"the H3 resolution: {hexagons.RESOLUTIONS[0]} to "
                                                 f"{hexagons.RESOLUTIONS[-1]}"})
        return figures.Areas("h3", resolution=int(resolution))
    if by not in figures.KINDS:
        raise ValidationError({"by": ", ".join(figures.KINDS)})
    slug = q.get("areas") or figures.AREA_KINDS.get(by)
    if not slug:
        raise ValidationError({"areas": worded("請以 areas= 指定區域的面圖層（如統計區）")})
    layer = Layer.objects.visible_to(request.user if request.user.is_authenticated else None).filter(
        slug=slug, kind=Layer.Kind.VECTOR).first()
    if layer is None and q.get("areas"):
        # a layer the caller may not see answers as one that does not exist
        raise NotFound(worded("找不到面圖層 {slug}", slug=repr(slug)))
    if layer is None or "Polygon" not in (layer.geometry_type or ""):
        raise ValidationError({"areas": worded("找不到面圖層 {slug}；請以 areas= 指定村里或行政區界圖層",
                                               slug=repr(slug))})
    try:
        return figures.Areas(by, layer, figures.name_column(layer))
    except figures.FigureError as exc:
        raise ValidationError({"areas": str(exc)}) from exc


def _common(request):
    q = request.query_params
    return {"category": q.get("category") or None, "start": _time(q.get("start"), "start"),
            "end": _time(q.get("end"), "end")}


AREA_PARAMS = [
    OpenApiParameter("by", str, enum=list(figures.KINDS), description=(
        "the areas (default district): village, district, layer (any polygon layer you may see, named by areas=, "
        "e.g. the statistical areas), grid (square cells) or h3 (H3 hexagons)")),
    OpenApiParameter("areas", str, description="the area layer's slug (by=layer; for village / district the "
                                               "default is villages / districts); one you may not see: 404"),
    OpenApiParameter("cell", float, description="grid cell size in metres (by=grid; default 500)"),
    OpenApiParameter("resolution", int, enum=list(hexagons.RESOLUTIONS),
                     description="H3 resolution (by=h3; default 8, mean edge ~531 m)"),
    OpenApiParameter("category", str, description="one category code"),
    OpenApiParameter("start", str, description="reported at or after (ISO date or time, Taiwan time)"),
    OpenApiParameter("end", str, description="reported before")]


class CountsView(APIView):
    @extend_schema(summary="Events per area, category and period, with rates per 1,000 residents",
                   parameters=[*AREA_PARAMS, OpenApiParameter("period", str, enum=list(figures.PERIODS)),
                               OpenApiParameter("per_category", bool, description="false: categories together"),
                               OpenApiParameter("geometry", bool, description="true: the areas as GeoJSON "
                                                "(EPSG:4326) in `features`, each with its total and rate")],
                   responses={200: OpenApiTypes.OBJECT, 400: BAD, 404: MISSING})
    def get(self, request, slug):
        el = event_layer(request, slug)
        try:
            q = request.query_params
            return Response(figures.counts(el.layer, areas_of(request), q.get("period", "all"), request.user,
                                           **_common(request), per_category=q.get("per_category", "true") != "false",
                                           geometry=q.get("geometry") == "true"))
        except figures.FigureError as exc:
            raise ValidationError({"period": str(exc)}) from exc


class ResponseTimesView(APIView):
    @extend_schema(summary="Hours to dispatch and to close per category and area (median, 90th percentile), "
                           "the slowest areas first", parameters=AREA_PARAMS,
                   responses={200: OpenApiTypes.OBJECT, 400: BAD, 404: MISSING})
    def get(self, request, slug):
        el = event_layer(request, slug)
        return Response(figures.response_times(el.layer, areas_of(request), **_common(request)))


class ChangesView(APIView):
    @extend_schema(summary="What changed this week: per category and district, this week against the mean of "
                           "the 4 weeks before", parameters=[OpenApiParameter(
                               "week", str, description="a day of the week (default: the latest case's)")],
                   responses={200: OpenApiTypes.OBJECT, 400: BAD})
    def get(self, request, slug):
        el = event_layer(request, slug)
        return Response(figures.changes(el.layer, _time(request.query_params.get("week"), "week"),
                                        districts=district_areas(request)))


def district_areas(request) -> figures.Areas | None:
    """The district boundary (`districts=` or the layer `districts`) for cases without a district, if any."""
    slug = request.query_params.get("districts") or figures.AREA_KINDS["district"]
    layer = Layer.objects.visible_to(request.user if request.user.is_authenticated else None).filter(
        slug=slug, kind=Layer.Kind.VECTOR).first()
    if layer is None or "Polygon" not in layer.geometry_type:
        return None
    try:
        return figures.Areas("district", layer, figures.name_column(layer))
    except figures.FigureError:
        return None


# --- push tokens and the push itself -------------------------------------------------------------------------------

def _managed(request, slug) -> EventLayer:
    el = event_layer(request, slug)
    if not el.layer.may(request.user, "manage"):
        raise PermissionDenied(worded("只有圖層的管理者可以管理推送權杖"))
    return el


def _token_row(t: PushToken) -> dict:
    return {"id": t.pk, "name": t.name, "created_at": t.created_at, "revoked_at": t.revoked_at,
            "last_used_at": t.last_used_at}


class TokenListView(APIView):
    @extend_schema(summary="The push tokens of an event layer (its managers)", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        el = _managed(request, slug)
        return Response({"results": [_token_row(t) for t in el.tokens.all()]})

    @extend_schema(summary="A new push token for a hotline system: shown once", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT, 400: BAD})
    def post(self, request, slug):
        el = _managed(request, slug)
        name = str(request.data.get("name", "")).strip() if isinstance(request.data, dict) else ""
        if not name or len(name) > 100:
            raise ValidationError({"name": worded("請填推送系統的名稱（最多 100 字）")})
        token, hashed = new_token()
        row = PushToken.objects.create(event_layer=el, name=name, digest=hashed, created_by=request.user)
        return Response({**_token_row(row), "token": token}, status=201)


class TokenDetailView(APIView):
    @extend_schema(summary="Revoke a push token", responses={204: None})
    def delete(self, request, slug, pk):
        el = _managed(request, slug)
        updated = el.tokens.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if not updated and not el.tokens.filter(pk=pk).exists():
            raise Http404("no such token")
        return Response(status=204)


_now = time.time  # (a test holds the minute still)


def _rate_exceeded(token: PushToken) -> int | None:
    """Seconds until the token may push again, when it has pushed EVENTS_PUSH_PER_MINUTE times this minute; None
    to go on (without Redis nothing is counted: a hotline's cases matter more than the limit)."""
    now = _now()
    key = f"civgis:events-push:{token.pk}:{int(now // 60)}"
    try:
        with client().pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            pushed = pipe.execute()[0]
    except redis.RedisError:
        return None
    return max(1, 60 - int(now % 60)) if pushed > settings.EVENTS_PUSH_PER_MINUTE else None


class PushView(APIView):
    """A hotline system sends new and changed cases with `Authorization: Hotline <token>`."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(operation_id="events_push", request=OpenApiTypes.OBJECT, summary=(
        "Push cases: {\"cases\": [{\"案件編號\", \"受理時間\", \"案件分類\", \"處理狀態\", \"地址\", \"經度\", "
        "\"緯度\" …}]}"
        " (the file's column names, or case_no, reported_at, category, status, dispatched_at, closed_at, address, "
        "lon, lat) with `Authorization: Hotline <token>`; a known case number updates that case"),
        responses={200: OpenApiTypes.OBJECT, 400: BAD, 401: OpenApiResponse(description="no or unknown token"),
                   413: OpenApiResponse(description="too many cases, or too large a request"),
                   429: OpenApiResponse(description="too many pushes this minute (Retry-After)")})
    def post(self, request, slug):
        header = request.headers.get("Authorization", "")
        token = header[8:].strip() if header.startswith("Hotline ") else ""
        found = PushToken.objects.filter(digest=digest(token), revoked_at__isnull=True).select_related(
            "event_layer__layer", "created_by").first() if token else None
        # a token speaks for its maker: it stops with their right to manage the layer (a moved or departed officer)
        maker = found.created_by if found is not None else None
        if (found is None or found.event_layer.layer.slug != slug or maker is None or not maker.is_active
                or not found.event_layer.layer.may(maker, "manage")):
            return Response({"detail": "unknown or revoked token (send Authorization: Hotline <token>)"}, status=401)
        wait = _rate_exceeded(found)
        if wait is not None:
            return Response({"detail": f"at most {settings.EVENTS_PUSH_PER_MINUTE} pushes a minute per token: try "
                                       f"again in {wait} s"}, status=429, headers={"Retry-After": str(wait)})
        el = found.event_layer
        items = request.data.get("cases") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not items:
            return Response({"detail": worded("cases：請給一個案件清單")}, status=400)
        if len(items) > MAX_PUSH:
            return Response({"detail": f"cases: at most {MAX_PUSH:,} per request"}, status=413)
        known = {c.code: (c.label_zh, c.label_en) for c in el.categories.all()}
        matcher = records.CategoryMatcher(known, open_list=not known)
        report = records.Report()
        events = [e for e in (records.event_from_json(i, matcher, report) for i in items) if e is not None]
        store.locate(events, maker)  # placed with the address layers the token's maker may see
        with transaction.atomic():
            store.set_categories(el, {c: matcher.known[c] for c in matcher.added})
            counts = store.upsert(el, events, "push", by=maker.get_username())
            PushToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        answer = {**report.as_dict(), **counts}
        return Response(answer, status=200 if events else 400)
