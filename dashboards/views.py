"""/api/v1/dashboards/: dashboards as catalog items — list the ones you may see, make one (signed in), read one
(its widgets cut down to what you may see), change or delete it (its owner agency, its maker, admins).

A dashboard you may not see answers as a missing one (404). Each widget's figures are read from
/api/v1/dashboards/{slug}/values/ (all of them for one filter state, dashboards.batch) or, one by one, from
/api/v1/stats/indicators/{slug}/values/, with the same visibility.
"""

from django.contrib.auth.models import Group
from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils.text import slugify
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from geo.messages import worded
from layers.models import Layer

from . import batch, printout
from . import spec as specs
from .models import Dashboard


class DashboardForm(serializers.Serializer):
    slug = serializers.SlugField(max_length=45, required=False)
    title_zh = serializers.CharField(max_length=200)
    title_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    description_en = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    visibility = serializers.ChoiceField(Layer.Visibility.values, required=False)
    owner_agency = serializers.CharField(required=False, allow_blank=True, help_text="a group name you belong to")
    allowed_groups = serializers.ListField(child=serializers.CharField(), required=False)
    refresh_seconds = serializers.IntegerField(min_value=0, max_value=86400, required=False)
    spec = serializers.JSONField(required=False, help_text="{selectors, widgets}: see docs/dashboards.md")


def dashboard_data(board: Dashboard, user, full: bool = True) -> dict:
    out = {"slug": board.slug, "title": board.title_zh, "title_en": board.title_en,
           "description": board.description, "description_en": board.description_en,
           "visibility": board.visibility, "owner_agency": board.owner_agency.name if board.owner_agency else None,
           "refresh_seconds": board.refresh_seconds, "can_edit": board.can_edit(user),
           "updated_at": board.updated_at}
    if full:
        shown = specs.for_viewer(board.spec, user)
        shown.pop("hidden")
        out["spec"] = shown
    return out


def get_visible(user, slug) -> Dashboard:
    board = Dashboard.objects.visible_to(user).filter(slug=slug).first()
    if board is None:
        raise Http404("no such dashboard")
    return board


def free_slug(wanted: str) -> str:
    """The first free slug from `wanted` (the same answer whoever asks: it tells nothing of hidden dashboards)."""
    base = slugify(wanted)[:40].strip("-") or "dashboard"
    slug, n = base, 2
    while Dashboard.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def apply(board: Dashboard, data: dict, user) -> Dashboard:
    """Write a checked DashboardForm's fields onto `board` (400 naming the field that does not fit)."""
    for field in ("title_zh", "title_en", "description", "description_en", "visibility", "refresh_seconds"):
        if field in data:
            setattr(board, field, data[field])
    if "owner_agency" in data:
        name = data["owner_agency"]
        group = None
        if name:
            group = Group.objects.filter(name=name).first()
            if group is None or not (user.is_superuser or user.groups.filter(pk=group.pk).exists()):
                raise ValidationError({"owner_agency": worded("只能指定您所屬的機關")})
        board.owner_agency = group
    if "spec" in data:
        try:
            checked = specs.check(data["spec"], user)
        except specs.SpecProblem as problem:
            raise ValidationError({problem.field: str(problem)}) from None
        board.spec = specs.keep_hidden(checked, board.spec, user) if board.pk else checked
    with transaction.atomic():
        board.save()
        if "allowed_groups" in data:
            groups = list(Group.objects.filter(name__in=data["allowed_groups"]))
            if len(groups) != len(set(data["allowed_groups"])):
                raise ValidationError({"allowed_groups": worded("沒有這個群組")})
            board.allowed_groups.set(groups)
    return board


class DashboardListView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="Dashboards you may see", responses=OpenApiTypes.OBJECT, operation_id="dashboards_list")
    def get(self, request):
        return Response([dashboard_data(b, request.user, full=False)
                         for b in Dashboard.objects.visible_to(request.user).select_related("owner_agency")])

    @extend_schema(summary="Make a dashboard (signed in): title, visibility, widgets and selectors",
                   request=DashboardForm, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        form = DashboardForm(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        wanted = data.pop("slug", "") or data.get("title_en") or "dashboard"
        board = Dashboard(slug=free_slug(wanted), created_by=request.user,
                          owner_agency=request.user.groups.order_by("name").first())
        apply(board, {"spec": {}, **data}, request.user)
        return Response(dashboard_data(board, request.user), status=status.HTTP_201_CREATED)


class DashboardView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(summary="A dashboard: its selectors and widgets (only those over indicators you may see) and "
                           "the indicators' titles, units and periods", responses=OpenApiTypes.OBJECT)
    def get(self, request, slug):
        return Response(dashboard_data(get_visible(request.user, slug), request.user))

    @extend_schema(summary="Change a dashboard (owner agency, maker, admins); widgets you may not see are kept",
                   request=DashboardForm, responses=OpenApiTypes.OBJECT)
    def put(self, request, slug):
        board = get_visible(request.user, slug)
        if not board.can_edit(request.user):
            raise PermissionDenied(worded("只有儀表板的權責機關、建立者與管理者可以修改它"))
        form = DashboardForm(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data.pop("slug", None)
        apply(board, data, request.user)
        return Response(dashboard_data(board, request.user))

    patch = put

    @extend_schema(summary="Delete a dashboard (owner agency, maker, admins)", responses={204: None})
    def delete(self, request, slug):
        board = get_visible(request.user, slug)
        if not board.can_edit(request.user):
            raise PermissionDenied(worded("只有儀表板的權責機關、建立者與管理者可以刪除它"))
        board.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


FILTER_PARAMS = ("town", "area", "period", "category", "pick")
FILTER_PARAMETERS = [
    OpenApiParameter("town", str, description="the district chosen (its key)"),
    OpenApiParameter("area", str, description="the village chosen (its key)"),
    OpenApiParameter("period", str, description="the period chosen (YYYY-MM-DD, one of the indicators' periods)"),
    OpenApiParameter("category", str, description="the category selector's indicator"),
    OpenApiParameter("pick", str, description="a value of a layer widget's grouping clicked: layer|field|value"),
]


def chosen_filter(request) -> batch.Filter:
    return batch.Filter(**{k: request.query_params.get(k, "")[:200] for k in FILTER_PARAMS})


class DashboardValuesView(APIView):
    @extend_schema(summary="Every figure the dashboard's widgets need for one filter state (the widgets you may see), "
                           "in one answer: {answers: {slug~level~period~town~areas: indicator values}}",
                   responses=OpenApiTypes.OBJECT, parameters=[*FILTER_PARAMETERS, OpenApiParameter(
                       "have", str, many=True, description="answers already held (keys), not sent again")])
    def get(self, request, slug):
        board = get_visible(request.user, slug)
        have = set(request.query_params.getlist("have")[:200])
        return Response(batch.answer(board.spec, request.user, chosen_filter(request), have))


class DashboardPdfView(APIView):
    @extend_schema(summary="The dashboard as a PDF for the filter state given (A4: title, date, filters and every "
                           "widget you may see with its figures and units), in the request's language",
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY}, parameters=[
        *FILTER_PARAMETERS,
        OpenApiParameter("town_name", str, description="the district's name, printed with the filters"),
        OpenApiParameter("area_name", str, description="the village's name, printed with the filters"),
    ])
    def get(self, request, slug):
        board = get_visible(request.user, slug)
        chosen = chosen_filter(request)
        names = {k: request.query_params.get(f"{k}_name", "")[:100] for k in ("town", "area")}
        language = "en" if (get_language() or "zh").startswith("en") else "zh-hant"
        body = printout.render(board, request.user, chosen, language, names)
        answer = HttpResponse(body, content_type="application/pdf")
        answer["Content-Disposition"] = f'inline; filename="dashboard-{board.slug}.pdf"'
        return answer
