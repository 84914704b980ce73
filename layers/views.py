"""Catalog REST API: /api/v1/layers/ (uploads start import jobs: jobs.views), /api/v1/themes/."""

import shutil

from django.contrib.gis.geos import Polygon
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAdminUser, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import grants, rights
from geo.messages import worded
from jobs.models import Job
from jobs.serializers import JobSerializer

from . import catalog, metadata_report, new_layer_colors
from .importing import clashes, jobs
from .importing.errors import ImportProblem
from .importing.pipeline import create_with_free_slug
from .models import Layer, Theme
from .ogc import external, publishing
from .ogc.sld import render_sld
from .permissions import CanEditLayer
from .serializers import (
    LayerDetailSerializer,
    LayerSerializer,
    LayerVersionSerializer,
    ServiceRegistrationSerializer,
    StyleSerializer,
    ThemeSerializer,
    UploadSerializer,
)
from .serving import tilecache


def parse_bbox(text: str) -> Polygon:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise ValidationError({"bbox": worded(
            "請以經緯度填 bbox=west,south,east,north，例如 bbox=121.2,24.9,121.4,25.1")}) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValidationError({"bbox": worded("{bbox} 不是 west < east、south < north 的經緯度範圍", bbox=repr(text))})
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    return box


def _save_upload(request) -> list[tuple]:
    try:
        return jobs.save_upload(request.FILES.getlist("files"))
    except ImportProblem as problem:
        raise ValidationError(problem.as_answer()) from problem


def _start_imports(request, options: dict, datasets: list[tuple] | None = None,
                   avoid_colors: list[str] | None = None) -> list[Job]:
    datasets = datasets if datasets is not None else _save_upload(request)
    if options.get("layer") and len(datasets) > 1:
        _discard(datasets)
        raise ValidationError({"files": worded("一次只能重新匯入一份資料")})
    # a new layer each gets a colour of its own (a new version keeps its layer's style)
    if options.get("layer"):
        colours = [None] * len(datasets)
    else:
        avoid = avoid_colors if avoid_colors is not None else new_layer_colors.colours_of_latest_layers(request.user)
        colours = new_layer_colors.pick(avoid, len(datasets))
    created = [jobs.create(path, name, {**options, "color": colour} if colour else options, request.user)
               for (path, name), colour in zip(datasets, colours, strict=True)]
    transaction.on_commit(lambda: [jobs.submit(job) for job in created])
    return created


def _may_import(request) -> None:
    if not rights.may_import(request.user):
        raise PermissionDenied(worded("您沒有匯入新圖層的權限；請洽系統管理者"))


def _discard(datasets: list[tuple]) -> None:
    shutil.rmtree(datasets[0][0].parent, ignore_errors=True)  # one upload, one folder (jobs.save_upload)


UPLOAD_SCHEMA = {"multipart/form-data": UploadSerializer}


@extend_schema_view(
    list=extend_schema(summary="List and search the layers you may see", parameters=[
        OpenApiParameter("q", str, description="text in title, abstract, keywords or slug"),
        OpenApiParameter("theme", str, description="theme slug (its sub-themes included)"),
        OpenApiParameter("bbox", str, description="west,south,east,north in lon/lat: layers whose extent meets it"),
        OpenApiParameter("kind", str, enum=Layer.Kind.values),
    ]),
    retrieve=extend_schema(summary="A layer's metadata, attributes and style"),
    partial_update=extend_schema(summary="Update metadata (owner agency or admin)"),
    update=extend_schema(summary="Replace metadata (owner agency or admin)"),
    destroy=extend_schema(summary="Delete a layer and its data (owner agency or admin)"),
)
class LayerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                   mixins.DestroyModelMixin, viewsets.GenericViewSet):
    lookup_field = "slug"
    lookup_value_regex = r"[a-z][a-z0-9_-]*"
    permission_classes = [IsAuthenticatedOrReadOnly, CanEditLayer]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    # the actions take **_suffix: the router also routes `…/<action>.json`, passing `format` (else a TypeError, 500)

    def get_queryset(self):
        qs = Layer.objects.visible_to(self.request.user).select_related(  # the theme's path: no query per layer
            "theme__parent__parent", "owner_agency", "current_version", "style", "created_by")
        if self.action != "list":
            return qs
        params = self.request.query_params
        if any("\0" in value for value in params.values()):
            raise ValidationError({"detail": worded("查詢中不可含 NUL 字元")})
        if q := params.get("q", "").strip():
            qs = qs.filter(Q(title_zh__icontains=q) | Q(title_en__icontains=q) | Q(abstract__icontains=q)
                           | Q(slug__icontains=q) | Q(keywords__icontains=q))
        if theme := params.get("theme"):
            node = Theme.objects.filter(slug=theme).first()
            if node is None:
                raise ValidationError({"theme": worded("沒有主題 {theme}", theme=repr(theme))})
            qs = qs.filter(theme_id__in=node.descendant_ids())
        if bbox := params.get("bbox"):
            qs = qs.filter(extent__intersects=parse_bbox(bbox))
        if kind := params.get("kind"):
            if kind not in Layer.Kind.values:
                raise ValidationError({"kind": worded("請使用 {choices} 其中之一",
                                                      choices=", ".join(Layer.Kind.values))})
            qs = qs.filter(kind=kind)
        return qs

    def get_serializer_class(self):
        return LayerSerializer if self.action == "list" else LayerDetailSerializer

    @extend_schema(summary="Create layers by uploading files: returns the import jobs to poll",
                   request=UPLOAD_SCHEMA, responses={202: JobSerializer(many=True)})
    def create(self, request):
        if not request.user.is_authenticated:
            return Response({"detail": "sign in to upload layers"}, status=status.HTTP_401_UNAUTHORIZED)
        _may_import(request)
        upload = UploadSerializer(data=request.data, context={"request": request})
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        datasets = _save_upload(request)
        options = upload.job_options(mode="create")
        if data["on_clash"] != "new_layer":
            found = clashes.find(datasets, data, request.user)
            open_choices = clashes.choices(datasets, found)
            if data["on_clash"] == "ask" and found:
                _discard(datasets)
                return Response({
                    "detail": worded("已有同名圖層：{layers}。請選擇匯入為新版本、另建新圖層，或取消",
                                     layers=[f"{c['title_zh']}（{c['slug']}）" for c in found]),
                    "code": "name_clash", "clashes": found, "choices": open_choices}, status=status.HTTP_409_CONFLICT)
            if data["on_clash"] == "new_version":
                if "new_version" not in open_choices:
                    _discard(datasets)
                    raise ValidationError({"on_clash": worded(
                        "沒有一個您可更新的同名圖層可匯入為新版本；請另建新圖層")})
                options = {**upload.job_options(mode="upsert"), "layer": found[0]["slug"]}
        created = _start_imports(request, options, datasets, data.get("avoid_colors"))
        return Response(JobSerializer(created, many=True, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Register another agency's WMS / WMTS layer or an XYZ tile template as a catalog layer "
                           "(checked against the service's capabilities)",
                   request=ServiceRegistrationSerializer, responses={201: LayerDetailSerializer})
    @action(detail=False, methods=["post"], url_path="services", parser_classes=[JSONParser])
    def register_service(self, request, **_suffix):
        if not request.user.is_authenticated:
            return Response({"detail": worded("請先登入才能登錄服務")}, status=status.HTTP_401_UNAUTHORIZED)
        _may_import(request)
        form = ServiceRegistrationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            found = external.describe(data["type"], data["url"], data["layer"])
        except external.ServiceError as exc:
            field, _, message = str(exc).partition(": ")
            raise ValidationError({field: message}) from None
        bbox = found["bbox"]
        layer = create_with_free_slug(
            Layer.objects.free_slug(data["slug"]), with_table=False, kind=Layer.Kind.SERVICE,
            title_zh=data.get("title") or found["title"] or data["slug"],
            title_en=data.get("title_en", ""), abstract=found["abstract"], theme=data.get("theme"),
            visibility=data["visibility"], owner_agency=request.user.groups.order_by("name").first(),
            source=data["attribution"] or data["url"], service=found["service"], created_by=request.user,
            extent=Polygon.from_bbox(bbox) if bbox else None, ogc_status=Layer.OgcStatus.NOT_SERVED)
        return Response(LayerDetailSerializer(layer, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        publishing.follow(serializer.save(), publishing.PUBLISH)  # titles, abstract, theme, visibility …

    def perform_destroy(self, layer):
        with transaction.atomic():
            publishing.follow(layer, publishing.WITHDRAW)
            catalog.drop_layer_data(layer)
            tilecache.invalidate(layer.pk)
            layer.delete()

    @extend_schema(summary="Re-import: a new version of this layer from an uploaded file (atomic swap)",
                   request=UPLOAD_SCHEMA, responses={202: JobSerializer(many=True)})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def reimport(self, request, slug=None, **_suffix):
        layer = self.get_object()
        upload = UploadSerializer(data=request.data, context={"request": request})
        upload.is_valid(raise_exception=True)
        options = {**upload.job_options(mode="upsert"), "layer": layer.slug}
        created = _start_imports(request, options)
        return Response(JobSerializer(created, many=True, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["GET"], summary="The layer's style", responses=StyleSerializer)
    @extend_schema(methods=["PUT", "PATCH"], summary="Change the style (classes are recomputed from the data; "
                   "with dry_run=true they are computed and returned, nothing is saved)",
                   parameters=[OpenApiParameter("dry_run", bool, description="preview: classify, do not save")],
                   request=StyleSerializer, responses=StyleSerializer)
    @action(detail=True, methods=["get", "put", "patch"], parser_classes=[JSONParser])
    def style(self, request, slug=None, **_suffix):
        layer = self.get_object()
        style = catalog.default_style(layer)
        if request.method == "GET":
            return Response(StyleSerializer(style).data)
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        serializer = StyleSerializer(style, data=request.data, partial=request.method == "PATCH",
                                     context={"dry_run": dry_run})
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            serializer.save()
            if not dry_run:  # the WMS, its legends and prints draw from the mapfile: rewrite it
                publishing.follow(layer, publishing.STYLE)
                tilecache.invalidate(layer)  # raster tiles carry the style's colours
        return Response(serializer.data)

    @extend_schema(summary="The layer's style as an SLD 1.0 document (what GeoServer is given; MapServer draws the "
                           "same classes)", responses={(200, "application/vnd.ogc.sld+xml"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="style/sld")
    def style_sld(self, request, slug=None, **_suffix):
        layer = self.get_object()
        document = render_sld(layer, catalog.default_style(layer))
        return HttpResponse(document, content_type="application/vnd.ogc.sld+xml; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{layer.slug}.sld"'})

    @extend_schema(summary="The layer's versions, newest first", responses=LayerVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, slug=None, **_suffix):
        layer = self.get_object()
        return Response(LayerVersionSerializer(layer.versions.select_related("layer", "created_by"), many=True).data)

    @extend_schema(summary="Serve an earlier version again (it becomes the newest version)", request=None,
                   parameters=[OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   responses=LayerVersionSerializer)
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>\d+)/restore")
    def restore(self, request, slug=None, number=None, **_suffix):
        layer = self.get_object()
        version = get_object_or_404(layer.versions, number=int(number))
        if layer.current_version_id == version.pk:
            raise ValidationError({"version": worded("版本 {number} 已是目前提供的版本", number=version.number)})
        if not version.raster_path and not (version.table_name and catalog.table_exists("layerversions",
                                                                                       version.table_name)):
            raise ValidationError({"version": worded("版本 {number} 的資料已不再保留（只保留最近的幾個舊版本）",
                                                     number=version.number)})
        with transaction.atomic():
            layer = Layer.objects.select_for_update(of=("self",)).get(pk=layer.pk)
            version = layer.versions.select_for_update().get(pk=version.pk)  # a concurrent restore may have won
            if layer.current_version_id == version.pk or not (version.raster_path or version.table_name):
                raise ValidationError({"version": worded("版本 {number} 剛被其他人還原", number=version.number)})
            restored = catalog.restore(layer, version, request.user)
            publishing.follow(layer, publishing.PUBLISH)
        return Response(LayerVersionSerializer(restored).data, status=status.HTTP_201_CREATED)


    @extend_schema(summary="Serve the layer on the OGC services (WMS, WFS, WCS, OGC API) again after a withdrawal",
                   request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def publish(self, request, slug=None, **_suffix):
        return self._serve(self.get_object(), publishing.PUBLISH)

    @extend_schema(summary="Withdraw the layer from the OGC services (the catalog, map and API keep it)",
                   request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, slug=None, **_suffix):
        return self._serve(self.get_object(), publishing.WITHDRAW)

    def _serve(self, layer: Layer, change: str) -> Response:
        if layer.kind not in publishing.SERVED_KINDS:
            raise ValidationError({"layer": worded("表格與外部服務不經由本平台的 OGC 服務提供")})
        publishing.follow(layer, change, again=True)
        return Response({"layer": layer.slug, "change": change}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["GET"], summary="Who may do what with the layer: groups, agencies and users with their "
                   "rights (see, import, add, edit_own, edit_all, delete, publish, manage); for its managers",
                   responses=OpenApiTypes.OBJECT)
    @extend_schema(methods=["PUT"], summary="Set every holder's rights at once (holders left out lose theirs)",
                   request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get", "put"], parser_classes=[JSONParser])
    def grants(self, request, slug=None, **_suffix):
        layer = self.get_object()  # PUT: `manage` checked by CanEditLayer
        if request.method == "GET" and not layer.may(request.user, "manage"):
            raise PermissionDenied(worded("您沒有管理這個圖層權限的權利"))
        if request.method == "PUT":
            entries = request.data.get("grants") if isinstance(request.data, dict) else None
            if not isinstance(entries, list):
                raise ValidationError({"grants": worded("請給 grants：[{kind, name, rights}] 的清單")})
            with transaction.atomic():
                before = grants.snapshot(layer)
                try:
                    grants.replace(layer, entries)
                except grants.GrantProblem as exc:  # leaving the block undoes what was already set
                    raise ValidationError({"grants": str(exc)}) from None
                grants.record(request, layer, before, via="api")
        return Response({"layer": layer.slug, "visibility": layer.visibility,
                         "owner_agency": layer.owner_agency.name if layer.owner_agency_id else None,
                         "grants": grants.holders(layer), "yours": rights.rights_of(request.user, layer)})


class ThemeViewSet(viewsets.ModelViewSet):
    """The thematic tree; anyone may read it, admins shape it."""

    serializer_class = ThemeSerializer
    queryset = Theme.objects.select_related("parent")
    lookup_field = "slug"
    pagination_class = None

    def get_permissions(self):
        return [] if self.request.method in ("GET", "HEAD", "OPTIONS") else [IsAdminUser()]


class MetadataReportView(APIView):
    """The 詮釋資料 report: what each layer you may see lacks, for cleaning up the catalog's metadata."""

    @extend_schema(summary="Metadata completeness of every layer you may see, and what each lacks", parameters=[
        OpenApiParameter("ordering", str, enum=metadata_report.ORDERINGS,
                         description="score: lowest first (most to do); -score; title"),
        OpenApiParameter("agency", str, description="owner agency's name"),
        OpenApiParameter("theme", str, description="theme slug (its sub-themes included)"),
        OpenApiParameter("missing", str, description="only layers lacking this recommended field"),
    ], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = request.query_params
        if any("\0" in value for value in params.values()):
            raise ValidationError({"detail": worded("查詢中不可含 NUL 字元")})
        return Response(metadata_report.report(request.user, agency=params.get("agency", ""),
                                               theme=params.get("theme", ""),
                                               ordering=params.get("ordering", "score"),
                                               missing=params.get("missing", "")))
