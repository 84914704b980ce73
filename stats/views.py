"""/api/v1/stats/: statistical tables (upload → import job; they are catalog layers of kind `table`, so their
metadata, versions and deletion are at /api/v1/layers/{slug}/), joins to boundary layers with their match
reports, indicators and their values by area — what choropleths and dashboards read.

What a caller may not see is missing (404): a table or boundary layer by the catalog's visibility; a join or an
indicator unless both its table and its boundary are visible.
"""

from datetime import date

from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import rights
from geo.messages import worded
from jobs.serializers import JobSerializer
from layers import styles
from layers.importing.errors import ImportProblem
from layers.importing.jobs import save_upload
from layers.models import Layer
from layers.serializers import UploadSerializer

from . import importing, indicators, joins, maps, parsing
from .models import Indicator, Level, StatJoin, StatTable


def visible_tables(user):
    return StatTable.objects.filter(layer__in=Layer.objects.visible_to(user)).select_related(
        "layer", "layer__current_version")


def visible_joins(user):
    seen = Layer.objects.visible_to(user)
    return StatJoin.objects.filter(table__layer__in=seen, boundary__in=seen).select_related(
        "table__layer", "boundary")


def visible_indicators(user):
    seen = Layer.objects.visible_to(user)
    return Indicator.objects.filter(join__table__layer__in=seen, join__boundary__in=seen).select_related(
        "join__table__layer", "join__boundary")


def visible_indicator(user, slug) -> Indicator:
    """One indicator by slug, if `user` may see its table and its boundary (else 404): the same rule as
    visible_indicators, asked of two layers instead of the whole catalog — the values API answers every widget of a
    dashboard with it."""
    indicator = Indicator.objects.filter(slug=slug).select_related("join__table__layer", "join__boundary").first()
    if indicator is not None:
        needed = {indicator.join.table.layer_id, indicator.join.boundary_id}
        if Layer.objects.visible_to(user).filter(pk__in=needed).count() == len(needed):
            return indicator
    raise Http404("no such item")


def _get(queryset, **lookup):
    found = queryset.filter(**lookup).first()
    if found is None:
        raise Http404("no such item")
    return found


def table_data(table: StatTable) -> dict:
    layer = table.layer
    return {"slug": layer.slug, "title": layer.title_zh, "title_en": layer.title_en, "level": table.level,
            "key": table.key, "format": table.format, "periods": table.periods, "rows": layer.feature_count,
            "version": layer.current_version.number if layer.current_version else None,
            "visibility": layer.visibility, "attributes": [attribute_summary(a) for a in layer.attributes],
            "source": table.source_meta}


def attribute_summary(attr: dict) -> dict:
    attr = dict(attr)
    return {k: attr.get(k) for k in ("name", "type", "label", "label_en", "unit", "unit_en", "kind", "aggregate")}


def join_data(record: StatJoin, full: bool = False) -> dict:
    out = {"id": record.pk, "table": record.table.layer.slug, "boundary": record.boundary.slug,
           "boundary_version": record.boundary_version_number, "table_version": record.table_version_number,
           "key": record.key, "boundary_column": record.boundary_column, "crosswalk": record.crosswalk,
           "rows": record.rows,
           "matched_rows": record.matched_rows, "unmatched_rows": record.unmatched_rows,
           "match_rate": round(record.match_rate, 4), "areas_without_data": record.areas_without_data,
           "stale": joins.is_stale(record),
           "unmatched_totals": record.unmatched_totals, "created_at": record.created_at}
    if full:
        out["unmatched"] = record.unmatched
    return out


def indicator_data(indicator: Indicator) -> dict:
    unit, unit_en = indicators.unit_of(indicator)
    return {"slug": indicator.slug, "title": indicator.title_zh, "title_en": indicator.title_en,
            "table": indicator.join.table.layer.slug, "boundary": indicator.join.boundary.slug,
            "join": indicator.join_id, "formula": indicator.formula,
            "formula_text": indicators.formula_text(indicator),
            "formula_text_en": indicators.formula_text(indicator, english=True),
            "numerator": indicator.numerator, "denominator": indicator.denominator,
            "period": indicator.period, "base_period": indicator.base_period, "unit": unit, "unit_en": unit_en,
            "decimals": indicator.decimals, "levels": list(indicators.LEVELS)}


class TableListView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(summary="Statistical tables you may see", responses=OpenApiTypes.OBJECT,
                   operation_id="stats_tables_list")
    def get(self, request):
        return Response([table_data(t) for t in visible_tables(request.user).order_by("layer__slug")])

    @extend_schema(summary="Import a statistical table (CSV, XLSX, ODS, JSON, a SEGIS package's files or zip): "
                           "returns its import job; re-import with `layer` set gives a new version",
                   request={"multipart/form-data": UploadSerializer}, responses={202: JobSerializer(many=True)})
    def post(self, request):
        job = start_import(request)
        return Response(JobSerializer([job], many=True, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


def start_import(request):
    """Check an upload (files, title, visibility, code column, level, period; `layer` for a new version) and queue
    its import job (the API and the 統計資料 page's form): 400 naming the field or file that does not fit."""
    if not request.data.get("layer") and not rights.may_import(request.user):
        raise PermissionDenied(worded("您沒有匯入新圖層的權限；請洽系統管理者"))
    upload = UploadSerializer(data=request.data, context={"request": request})
    upload.is_valid(raise_exception=True)
    options = upload.job_options(mode="create")
    for extra in ("code_column", "level", "period"):  # for files whose area codes or period are not named
        if request.data.get(extra):
            options[extra] = str(request.data[extra])[:100]
    if options.get("level") and options["level"] not in Level.values:
        raise ValidationError({"level": worded("請使用 {choices} 其中之一", choices=", ".join(Level.values))})
    if layer_slug := request.data.get("layer"):
        layer = Layer.objects.visible_to(request.user).filter(slug=layer_slug, kind=Layer.Kind.TABLE).first()
        if layer is None:
            raise Http404("no such table")
        if not layer.may(request.user, "import"):
            raise PermissionDenied(worded("您沒有重新匯入或還原這個圖層的權限"))
        options = {**upload.job_options(mode="upsert"), "layer": layer.slug}
    try:
        datasets = save_upload(request.FILES.getlist("files"), accept=importing.ACCEPTED)
    except ImportProblem as problem:
        raise ValidationError(problem.as_answer()) from problem
    folder = datasets[0][0].parent
    job = importing.create(datasets[0][0], sorted(p.name for p in folder.iterdir()), options, request.user)
    transaction.on_commit(lambda: importing.submit(job))
    return job


class TableView(APIView):
    @extend_schema(summary="A statistical table: its level, key, periods, columns and joins",
                   responses=OpenApiTypes.OBJECT)
    def get(self, request, slug):
        table = _get(visible_tables(request.user), layer__slug=slug)
        return Response({**table_data(table), "joins": [join_data(j) for j in visible_joins(request.user).filter(
            table=table)]})


class JoinForm(serializers.Serializer):
    boundary = serializers.CharField(help_text="slug of the boundary layer")
    key = serializers.ChoiceField(StatJoin.Key.values, required=False, help_text="default: the table's own key")
    boundary_column = serializers.CharField(required=False, max_length=63)
    crosswalk = serializers.DictField(child=serializers.CharField(max_length=63), required=False,
                                      help_text="{layer, from, to?, county?, town?, village?}: look the rows' codes "
                                                "up in a table layer first (its `from` column); the boundary is then "
                                                "matched by its `to` code or its names")


class TableJoinView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="Join the table to the current version of a boundary layer: the match report",
                   request=JoinForm, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        table = _get(visible_tables(request.user), layer__slug=slug)
        form = JoinForm(data=request.data)
        form.is_valid(raise_exception=True)
        boundary = _get(Layer.objects.visible_to(request.user), slug=form.validated_data["boundary"])
        crosswalk = dict(form.validated_data.get("crosswalk") or {})
        if crosswalk:
            crosswalk["layer"] = _get(Layer.objects.visible_to(request.user), slug=crosswalk.get("layer", ""))
        try:
            record = joins.join(table, boundary, form.validated_data.get("key"),
                                form.validated_data.get("boundary_column"), request.user, crosswalk or None)
        except ImportProblem as problem:
            raise ValidationError(problem.as_answer()) from problem
        return Response(join_data(record, full=True), status=status.HTTP_201_CREATED)


class JoinView(APIView):
    @extend_schema(summary="A join's match report: matched and unmatched rows, unmatched totals",
                   responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        return Response(join_data(_get(visible_joins(request.user), pk=pk), full=True))


class IndicatorForm(serializers.ModelSerializer):
    join = serializers.IntegerField()
    slug = serializers.SlugField(max_length=45)  # no uniqueness check here: a taken slug gets a suffix

    class Meta:
        model = Indicator
        fields = ["slug", "title_zh", "title_en", "join", "formula", "numerator", "denominator", "period",
                  "base_period", "unit", "decimals"]


def _free_indicator_slug(wanted: str) -> str:
    slug, n = wanted, 2
    while Indicator.objects.filter(slug=slug).exists():
        slug, n = f"{wanted}-{n}", n + 1
    return slug


def _checked_save(indicator: Indicator) -> Indicator:
    """Save it if its formula fits its table, else a 400 naming the field (nothing saved)."""
    try:
        indicators.check(indicator)
    except indicators.IndicatorProblem as problem:
        raise ValidationError({problem.field: str(problem)}) from None
    indicator.save()
    return indicator


def define_indicator(join: StatJoin, user, data: dict) -> Indicator:
    """Save an indicator from a checked IndicatorForm's data (without `join`): 400 naming the field that does not fit
    the table (also the 統計資料 page's form)."""
    data = {**data, "slug": _free_indicator_slug(data["slug"])}  # the same answer whoever holds it: none told
    indicator = Indicator(join=join, created_by=user, **data)
    return _checked_save(indicator)


class IndicatorEdit(serializers.ModelSerializer):
    class Meta:
        model = Indicator
        fields = [f for f in IndicatorForm.Meta.fields if f not in ("slug", "join")]  # the rest can change


def edit_indicator(indicator: Indicator, posted) -> Indicator:
    """Change an indicator's fields (those given): the same checks as a new one, nothing saved when one fails
    (400 naming the field). A unit must be one of the known units (layers.attribute_kinds.UNITS)."""
    form = IndicatorEdit(instance=indicator, data=posted, partial=True)
    form.is_valid(raise_exception=True)
    data = dict(form.validated_data)
    if data.get("unit") and data["unit"] not in indicators.UNIT_WORDS:
        raise ValidationError({"unit": worded("請使用 {choices} 其中之一",
                                              choices=", ".join(k for k in indicators.UNIT_WORDS if k))})
    for field, value in data.items():
        setattr(indicator, field, value)
    if indicator.formula not in indicators.NEEDS_DENOMINATOR:
        indicator.denominator = ""
    return _checked_save(indicator)


class IndicatorListView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="Indicators you may see", responses=OpenApiTypes.OBJECT,
                   operation_id="stats_indicators_list",
                   parameters=[OpenApiParameter("table", str, description="only this table's")])
    def get(self, request):
        found = visible_indicators(request.user)
        if table := request.query_params.get("table"):
            found = found.filter(join__table__layer__slug=table)
        return Response([indicator_data(i) for i in found])

    @extend_schema(summary="Define an indicator: a formula over a joined table (owner agency of the table)",
                   request=IndicatorForm, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        form = IndicatorForm(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        join = _get(visible_joins(request.user), pk=data.pop("join"))
        if not join.table.layer.can_edit(request.user):
            raise PermissionDenied(worded("只有統計表的權責機關與管理者可以定義它的指標"))
        indicator = define_indicator(join, request.user, data)
        return Response(indicator_data(indicator), status=status.HTTP_201_CREATED)


class IndicatorView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="An indicator: formula, unit, periods", responses=OpenApiTypes.OBJECT)
    def get(self, request, slug):
        return Response(indicator_data(_get(visible_indicators(request.user), slug=slug)))

    @extend_schema(summary="Change an indicator: its names, unit, decimals and formula (numerator, denominator, "
                           "periods) over the same join (owner agency of its table); checked as a new one",
                   request=IndicatorEdit, responses=OpenApiTypes.OBJECT)
    def patch(self, request, slug):
        indicator = _get(visible_indicators(request.user), slug=slug)
        if not indicator.join.table.layer.can_edit(request.user):
            raise PermissionDenied(worded("只有統計表的權責機關與管理者可以修改它的指標"))
        return Response(indicator_data(edit_indicator(indicator, request.data)))

    put = patch

    @extend_schema(summary="Delete an indicator (owner agency of its table)", responses={204: None})
    def delete(self, request, slug):
        indicator = _get(visible_indicators(request.user), slug=slug)
        if not indicator.join.table.layer.can_edit(request.user):
            raise PermissionDenied(worded("只有統計表的權責機關與管理者可以刪除它的指標"))
        indicator.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class IndicatorValuesView(APIView):
    @extend_schema(summary="An indicator's value for every area of a level (filterable): what a choropleth or a "
                           "dashboard widget draws", responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("level", str, enum=indicators.LEVELS, description="area (the table's own), town, county"),
        OpenApiParameter("period", str, description="YYYY-MM-DD or ROC (114Y12M); default the indicator's or latest"),
        OpenApiParameter("county", str, description="only this county (code or name)"),
        OpenApiParameter("town", str, description="only this town/district (code or name)"),
        OpenApiParameter("areas", str, description="only these areas of the level, comma-separated keys"),
    ])
    def get(self, request, slug):
        indicator = visible_indicator(request.user, slug)
        params = request.query_params
        level = params.get("level", "area")
        if level not in indicators.LEVELS:
            raise ValidationError({"level": worded("請使用 {choices} 其中之一", choices=", ".join(indicators.LEVELS))})
        period = None
        if params.get("period"):
            try:
                period = parsing.period(params["period"]) if not _iso(params["period"]) else _iso(params["period"])
            except ValueError as exc:
                raise ValidationError({"period": str(exc)}) from None
        areas = [a for a in params.get("areas", "").split(",") if a] or None
        return Response(indicators.values(indicator, level, period, params.get("county", ""),
                                          params.get("town", ""), areas))


class MapForm(serializers.Serializer):
    period = serializers.DateField(required=False)
    method = serializers.ChoiceField(styles.METHODS[:-1], default="quantiles")
    class_count = serializers.IntegerField(min_value=2, max_value=9, default=5)
    ramp = serializers.ChoiceField(list(styles.RAMPS), default="YlOrRd")


class IndicatorMapView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="Draw the indicator on the map: a vector layer of the boundary's polygons with the "
                           "values and a graduated style (legend with the indicator's unit); again: a new version",
                   request=MapForm, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, slug):
        indicator = _get(visible_indicators(request.user), slug=slug)
        form = MapForm(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            layer = maps.publish(indicator, request.user, **form.validated_data)
        except indicators.IndicatorProblem as problem:
            raise ValidationError({problem.field: str(problem)}) from None
        except styles.StyleError as problem:
            raise ValidationError({problem.field: str(problem)}) from None
        return Response({"layer": layer.slug, "version": layer.current_version.number,
                         "style": {"method": layer.style.method, "classes": layer.style.classes}},
                        status=status.HTTP_201_CREATED)


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
