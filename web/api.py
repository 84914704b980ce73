"""REST API of the map workplace: markers (/api/v1/markers/) and share links (/api/v1/views/, /s/<code>)."""

from django.db.models import F, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from . import printing
from .models import Marker, SharedView
from .viewstate import ViewStateError, clean, visible_part


class MarkerSerializer(GeoFeatureModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    group = serializers.SlugRelatedField(slug_field="name", read_only=False, allow_null=True, required=False,
                                         queryset=Marker.group.field.related_model.objects.all())
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False,
                                   error_messages={"invalid": "give a colour as #rrggbb"})
    editable = serializers.SerializerMethodField()

    class Meta:
        model = Marker
        geo_field = "location"
        fields = ["id", "title", "text", "color", "icon", "group", "owner", "editable", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def to_internal_value(self, data):
        # rest_framework_gis flattens `properties` into the fields by item assignment: anything but a JSON object
        # there (a form field's text, a list) would end in a TypeError, i.e. a 500
        if not isinstance(data, dict) or not isinstance(data.get("properties", {}), dict):
            raise serializers.ValidationError({"properties": "send a GeoJSON Feature whose properties are an object"})
        return super().to_internal_value(data)

    def get_editable(self, marker) -> bool:
        return marker.owner_id == self.context["request"].user.pk

    def validate_group(self, group):
        user = self.context["request"].user
        if group is not None and not user.groups.filter(pk=group.pk).exists():
            raise serializers.ValidationError(f"you can share only with your own groups; you are not in {group.name!r}")
        return group

    def validate_location(self, point):
        if point.srid not in (None, 4326):
            point.transform(4326)
        if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
            raise serializers.ValidationError("give the marker's position as longitude, latitude (EPSG:4326)")
        return point


class IsOwnerOrReadOnly(permissions.BasePermission):
    def has_object_permission(self, request, view, marker):
        return request.method in permissions.SAFE_METHODS or marker.owner_id == request.user.pk


@extend_schema(tags=["markers"])
class MarkerViewSet(viewsets.ModelViewSet):
    """Your markers and those your groups share with you (GeoJSON); only the owner edits, moves or deletes."""

    serializer_class = MarkerSerializer
    permission_classes = [permissions.IsAuthenticated, IsOwnerOrReadOnly]
    pagination_class = None  # one FeatureCollection: a person's markers are few

    queryset = Marker.objects.none()  # for the schema; get_queryset() answers requests

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return (Marker.objects.filter(Q(owner=user) | Q(group__in=user.groups.all()))
                .select_related("owner", "group").distinct())

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


def marker_snapshot(markers) -> list[dict]:
    """The markers as the link keeps them; one shared with a group keeps the group, so that only its members see
    it in the link (a private one was the maker's to give)."""
    return [{"title": m.title, "text": m.text, "color": m.color, "icon": m.icon,
             "location": [round(m.location.x, 7), round(m.location.y, 7)],
             **({"group": m.group_id} if m.group_id else {})} for m in markers]


def readable_markers(request, ids: list[int]):
    """The markers `ids` of the user or shared with them, in id order; or a 400 answer naming the others."""
    if not request.user.is_authenticated:
        return Response({"markers": "sign in to use markers"}, status=status.HTTP_400_BAD_REQUEST)
    readable = MarkerViewSet(request=request).get_queryset().filter(pk__in=ids)
    missing = sorted(set(ids) - set(readable.values_list("pk", flat=True)))
    if missing:
        return Response({"markers": f"no marker(s) {missing} of yours or shared with you"},
                        status=status.HTTP_400_BAD_REQUEST)
    return readable.order_by("pk")


class ShareRequest(serializers.Serializer):
    state = serializers.JSONField(help_text="{center: [lon, lat], zoom, mode: 2d|3d, bearing, pitch, basemap, "
                                            "layers: [{slug, opacity, visible}]}")
    markers = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                    help_text="ids of markers (yours or shared with you) to show in the view")


class SharedViewCreate(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["share"], summary="Make a short link to a map view", request=ShareRequest,
                   responses={201: OpenApiResponse(OpenApiTypes.OBJECT, description="{code, url, state}"),
                              400: OpenApiResponse(description="a bad view description, the field named")})
    def post(self, request):
        form = ShareRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            state = visible_part(clean(form.validated_data["state"]), request.user)
        except ViewStateError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        ids = form.validated_data["markers"]
        if ids:
            readable = readable_markers(request, ids)
            if isinstance(readable, Response):
                return readable
            state["markers"] = marker_snapshot(readable)
        shared = SharedView.objects.create(state=state, created_by=request.user if request.user.is_authenticated
                                           else None)
        return Response({"code": shared.code, "url": request.build_absolute_uri(f"/s/{shared.code}"),
                         "state": visible_part(state, request.user)}, status=status.HTTP_201_CREATED)


class SharedViewDetail(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["share"], summary="The view behind a short link, with the layers you may see",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 404: OpenApiResponse(description="no link")})
    def get(self, request, code):
        shared = get_object_or_404(SharedView, code=code)
        SharedView.objects.filter(pk=shared.pk).update(opened=F("opened") + 1)
        return Response({"code": shared.code, "state": visible_part(shared.state, request.user),
                         "created_at": shared.created_at})


def open_shared(request, code):
    """/s/<code>: the viewer, opened on the shared view."""
    shared = get_object_or_404(SharedView, code=code)
    return redirect(f"/?view={shared.code}")


class PrintRequest(serializers.Serializer):
    state = serializers.JSONField(required=False, help_text="the view, as for share links")
    view = serializers.CharField(required=False, help_text="or the code of a share link")
    title = serializers.CharField(max_length=120, default="civgis 地圖")
    paper = serializers.ChoiceField(list(printing.PAPERS), default="A4")
    orientation = serializers.ChoiceField(list(printing.ORIENTATIONS), default="landscape")
    format = serializers.ChoiceField(["pdf", "png"], default="pdf")
    scale = serializers.ChoiceField(["fit", *(str(s) for s in printing.SCALES)], default="fit",
                                    help_text="1:scale around the view's centre, or fit: the scale the view has")
    markers = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                    help_text="ids of markers (yours or shared with you) to draw")

    def validate(self, attrs):
        if "state" not in attrs and "view" not in attrs:
            raise serializers.ValidationError({"state": "give the view (state) or a share link's code (view)"})
        return attrs


class PrintView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=["share"], summary="Print a map view at a chosen scale: a one-page A4/A3 PDF with title, "
                                           "legend (layer titles, on-screen colours), scale bar and scale, north "
                                           "arrow, date, extent and sources in the user's language; or a PNG",
                   request=PrintRequest,
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY,
                              400: OpenApiResponse(description="a bad view, the field named")})
    def post(self, request):
        form = PrintRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            if "view" in data:
                state = get_object_or_404(SharedView, code=data["view"]).state
            else:
                state = clean(data["state"])
            markers = state.get("markers", [])
            if data["markers"]:
                readable = readable_markers(request, data["markers"])
                if isinstance(readable, Response):
                    return readable
                markers = marker_snapshot(readable)
            shown = visible_part({**state, "markers": markers}, request.user)
            job = printing.PrintJob(shown, data["title"], data["paper"], data["orientation"],
                                    None if data["scale"] == "fit" else int(data["scale"]),
                                    "en" if get_language() == "en" else "zh-hant", shown["markers"])
            if data["format"] == "png":
                body, content_type = printing.render_png(job, request.user), "image/png"
            else:
                body, content_type = printing.render_pdf(job, request.user), "application/pdf"
        except ViewStateError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except printing.PrintError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_502_BAD_GATEWAY)
        filename = f"civgis-{timezone.localdate().isoformat()}.{data['format']}"
        return HttpResponse(body, content_type=content_type,
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
