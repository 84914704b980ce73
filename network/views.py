"""Network API: build a network from a road layer (a job), list the networks one may use, and the four tools —
service areas, closest facility, OD cost matrix, routes — each a job whose result is a layer."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.inputs import AnalysisInputError, readable_layer
from analysis.views import JOB_RESPONSES, RESPONSES, JobView, documented
from geo.messages import render
from jobs.serializers import JobSerializer
from layers.models import Layer

from . import building, closest, od_matrix, profiles, routes, service_area, turns
from .models import Network


class NetworkSettingsLocked(AnalysisInputError):
    status = 403


LOCKED = ("roads：圖層 {slug} 的 {profile} 路網已經建立；只有圖層的管理機關能變更它的設定"
          "（不填設定即依原設定重建）")


def _described(network: Network) -> dict:
    return {"id": network.pk, "roads": network.layer.slug, "profile": network.profile, "status": network.status,
            "tolerance_m": network.tolerance_m, "speed_attribute": network.speed_attribute,
            "class_attribute": network.class_attribute, "speeds": network.speeds,
            "oneway_attribute": network.oneway_attribute, "label_attribute": network.label_attribute,
            "restrictions": network.restrictions.slug if network.restrictions else None,
            "road_id_attribute": network.road_id_attribute,
            "built_from_version": network.version.number if network.version else None,
            "built_at": network.built_at, "report": network.report, "job": network.job_id,
            "error": render(network.error) if network.error else ""}


def _restrictions(data: dict, roads: Layer, user) -> dict:
    """`restrictions` (a layer of turn restrictions one may see) and `road_id_attribute`, checked (network.turns)."""
    road_id = str(data.get("road_id_attribute") or "")
    if not data.get("restrictions"):
        if road_id:
            raise AnalysisInputError("road_id_attribute：只在有 restrictions（轉向限制圖層）時使用")
        return {"restrictions": None, "road_id_attribute": ""}
    layer = readable_layer(data["restrictions"], user)
    turns.check(layer, roads, road_id)
    return {"restrictions": layer, "road_id_attribute": road_id}


class NetworkView(APIView):
    """GET: the networks on road layers one may see; POST: build (or rebuild with new settings) one, as a job."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="network_list", summary="Routable networks on the road layers you may see, with "
                   "their build settings and report (edges, vertices, disconnected components)", responses=RESPONSES)
    def get(self, request):
        visible = Network.objects.select_related("layer", "version").filter(
            layer__in=Layer.objects.visible_to(request.user))
        if request.query_params.get("roads"):
            visible = visible.filter(layer__slug=request.query_params["roads"])
        return Response({"networks": [_described(n) for n in visible]})

    @extend_schema(operation_id="network_build", summary="Build a routable network (pgRouting) from a line layer "
                   "(roads, profile walking|cycling|driving, tolerance m, speed_attribute km/h or class_attribute + "
                   "speeds, oneway_attribute, label_attribute, restrictions layer + road_id_attribute), as a job; "
                   "rebuilt on each new version of the layer",
                   request=OpenApiTypes.OBJECT, responses=JOB_RESPONSES)
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            return Response({"detail": "send a JSON object"}, status=400)
        try:
            layer = readable_layer(data.get("roads"), request.user)
            settings = profiles.check(layer, data)
            settings |= _restrictions(data, layer, request.user)
        except AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        profile = settings.pop("profile")
        existing = Network.objects.filter(layer=layer, profile=profile).first()
        if existing and not any(k in data for k in profiles.SETTINGS):
            settings = {}  # a rebuild as it is
        changed = existing and any(getattr(existing, k) != v for k, v in settings.items())
        # others' analyses use it: those who may re-import the layer decide how it is built
        if changed and not layer.may(request.user, "import"):
            locked = NetworkSettingsLocked(LOCKED, slug=repr(layer.slug), profile=profile)
            return Response({"detail": str(locked)}, status=locked.status)
        with transaction.atomic():
            network, _created = Network.objects.update_or_create(layer=layer, profile=profile, defaults=settings)
            job = building.create_job(network, request.user)
        return Response({**JobSerializer(job, context={"request": request}).data, "network": network.pk},
                        status=202)


@documented(
    "network_service_area",
    "Service areas on a network (roads, profile; facilities {layer, filter} or {geometry, crs}; breaks in minutes; "
    "direction from|to; rings overlap|split; dissolve; width m; snap_limit m; population {layer, attribute}) as "
    "polygons, with people within each break apportioned by area, into a new layer, as a job",
    JOB_RESPONSES,
)
class ServiceAreaView(JobView):
    analysis = "network_service_area"

    def validate(self, data, user):
        return service_area.check(data, user), "服務範圍"


@documented(
    "network_closest_facility",
    "Closest facilities by travel time (roads, profile, incidents, facilities, count ≤ 20, direction to|from, "
    "cutoff minutes, snap_limit) with the route to each, into a new layer, as a job",
    JOB_RESPONSES,
)
class ClosestFacilityView(JobView):
    analysis = "network_closest_facility"

    def validate(self, data, user):
        return closest.check(data, user), "最近設施"


@documented(
    "network_od_matrix",
    "OD cost matrix: travel minutes from every origin to every destination (roads, profile, origins, destinations, "
    "snap_limit); reachable pairs as lines in a new layer, unreachable ones listed, as a job",
    JOB_RESPONSES,
)
class OdMatrixView(JobView):
    analysis = "network_od_matrix"

    def validate(self, data, user):
        return od_matrix.check(data, user), "起訖時間矩陣"


@documented(
    "network_route",
    "The fastest route through ordered stops (roads, profile, stops, return_to_start, snap_limit) with "
    "turn-by-turn directions in zh-Hant and English, a line per step in a new layer, as a job",
    JOB_RESPONSES,
)
class RouteView(JobView):
    analysis = "network_route"

    def validate(self, data, user):
        return routes.check(data, user), "路徑規劃"
