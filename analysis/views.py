"""Analysis API: measurement, distance, nearest features, buffer summaries (synchronous, small requests)."""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from geo import media, messages
from jobs.models import Job
from jobs.serializers import JobSerializer
from layers.models import Layer, slug_validator

from . import buffer, inputs, jobs, measure, overlay, widening
from .hotspots import job as hotspot_job
from .siting import job as siting_job
from .siting import report as siting_report
from .wifi import coverage as wifi_coverage
from .wifi import recommend as wifi_recommend
from .wifi import usage as wifi_usage

RESPONSES = {200: OpenApiResponse(OpenApiTypes.OBJECT), 400: OpenApiResponse(description="bad input, explained"),
             404: OpenApiResponse(description="a layer that does not exist or is not available to you")}
SLUG = slug_validator.regex
JOB_RESPONSES = {202: JobSerializer, 400: RESPONSES[400], 404: RESPONSES[404]}


def documented(operation_id: str, summary: str, responses=RESPONSES):
    """The OpenAPI entry of an analysis view's POST."""
    return extend_schema_view(post=extend_schema(operation_id=operation_id, request=OpenApiTypes.OBJECT,
                                                 responses=responses, summary=summary))


class AnalysisView(APIView):
    """Input problems answer 400 (or 404 for layers), with the reason in `detail`."""

    permission_classes = [AllowAny]

    def post(self, request):
        if not isinstance(request.data, dict):
            return Response({"detail": "send a JSON object"}, status=400)
        try:
            return Response(self.answer(request.data, request.user))
        except inputs.AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=exc.status)


@documented(
    "analysis_measure",
    "Length, area and perimeter of a drawn geometry (GeoJSON + crs, default 4326) or of a stored feature "
    "(layer + id): geodesic and planar TWD97, in m/km/m²/ha/km²/坪")
class MeasureView(AnalysisView):
    def answer(self, data, user):
        srid = settings.WORKING_SRID
        return measure.figures(inputs.subject(data, user, srid), srid)


@documented(
    "analysis_distance",
    "Shortest distance between two geometries (`from`, `to`, optional `crs`)")
class DistanceView(AnalysisView):
    def answer(self, data, user):
        srid = inputs.srid_of(data.get("crs"))
        return measure.distance(inputs.geometry(data.get("from"), srid, "from"),
                                inputs.geometry(data.get("to"), srid, "to"), srid)


@documented(
    "analysis_nearest",
    "The `count` (≤ 100) features of `layer` nearest to `geometry`, with distances")
class NearestView(AnalysisView):
    def answer(self, data, user):
        layer = inputs.readable_layer(data.get("layer"), user)
        try:
            count = int(data.get("count", 5))
        except (TypeError, ValueError):
            raise inputs.AnalysisInputError("count：請填整數") from None
        if not 1 <= count <= measure.MAX_NEAREST:
            raise inputs.AnalysisInputError("count 必須介於 1 到 {maximum}", maximum=measure.MAX_NEAREST)
        geom = inputs.subject({"geometry": data.get("geometry"), "crs": data.get("crs")}, user, layer.srid)
        return {"layer": layer.slug, "nearest": measure.nearest(layer, geom, count)}


@documented(
    "analysis_buffer",
    "Buffer (環域) a drawn geometry or a stored feature by one or more `distances` (m) and summarise "
    "`layers` inside each zone: counts, sums, means, features, area-weighted counts for area layers")
class BufferView(AnalysisView):
    def answer(self, data, user):
        distances = data.get("distances", data.get("distance"))
        if not isinstance(distances, list):
            distances = [distances]
        if not distances or len(distances) > 10:
            raise inputs.AnalysisInputError("distances：請填 1 到 10 個距離（公尺），例如 [300, 500, 1000]")
        metres = [inputs.distance_m(d, "distances") for d in distances]
        srid = settings.WORKING_SRID
        geom = inputs.subject(data, user, srid)
        wanted = []
        for entry in data.get("layers", []):
            spec = entry if isinstance(entry, dict) else {"layer": entry}
            apportion = spec.get("apportion")
            if apportion is not None and not isinstance(apportion, list):
                raise inputs.AnalysisInputError("apportion：請填屬性名稱的清單")
            layer = inputs.readable_layer(spec.get("layer"), user)
            overlay.conditions(layer, spec.get("filter"), "t")  # a bad filter is a 400 before any work
            wanted.append((layer, apportion, spec.get("filter")))
        return buffer.buffer_report(geom, srid, metres, wanted)


@documented(
    "analysis_road_widening_report",
    "Road widening impact at once (same input as road-widening/, corridors up to 20 km): the affected parcels "
    "as GeoJSON (lon/lat) with area and share taken and buildings touched, and the totals; nothing is saved")
class RoadWideningReportView(AnalysisView):
    def post(self, request):
        if not isinstance(request.data, dict):
            return Response({"detail": "send a JSON object"}, status=400)
        try:
            found = widening.report(request.data, request.user)
        except inputs.AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        features = found.pop("features_json")  # already JSON text from PostGIS: spliced in, not re-encoded
        head = json.dumps(found, ensure_ascii=False)[:-1]
        return HttpResponse(f'{head}, "features": {features}}}', content_type="application/geo+json")


class JobView(APIView):
    """Analyses that produce a layer run as jobs: 202 with the job to poll at /api/v1/jobs/{id}/."""

    permission_classes = [IsAuthenticated]
    analysis = ""

    def post(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            return Response({"detail": "send a JSON object"}, status=400)
        try:
            options, name = self.validate(data, request.user)
        except inputs.AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        if data.get("visibility", "internal") not in Layer.Visibility.values:
            return Response({"detail": f"visibility: use one of {', '.join(Layer.Visibility.values)}"}, status=400)
        wanted = data.get("slug")
        if wanted is not None and not (isinstance(wanted, str) and SLUG.fullmatch(wanted)):
            return Response({"detail": f"slug: {slug_validator.message}"}, status=400)
        agency = request.user.groups.order_by("name").first()
        # a result named by the analysis (no title given) has an English title too; a title given is the user's own
        title_en = str(data.get("title_en") or ("" if data.get("title") else messages.in_english(messages.text(name))))
        options.update(analysis=self.analysis, mode="create", title=str(data.get("title") or name)[:200],
                       title_en=title_en[:200],
                       theme="analysis-results", visibility=data.get("visibility", "internal"),
                       owner_agency=agency.pk if agency else None)
        job = jobs.create(name, options, request.user)
        # taken (by a layer the user may see or not): the result gets the next free slug, named in the job
        job.options["slug"] = wanted or f"result-{job.pk}"
        job.save(update_fields=["options"])
        transaction.on_commit(lambda: jobs.submit(job))
        return Response(JobSerializer(job, context={"request": request}).data, status=202)


@documented(
    "analysis_overlay",
    "Overlay two layers (operation: intersect, union, erase, clip, identity, spatial_join; a, b: layer "
    "slugs; a_filter, b_filter; for spatial_join predicate, distance, join) into a new layer, as a job",
    JOB_RESPONSES,
)
class OverlayView(JobView):
    analysis = "overlay"

    def validate(self, data, user):
        a, b = inputs.readable_layer(data.get("a"), user), inputs.readable_layer(data.get("b"), user)
        operation = str(data.get("operation", ""))
        overlay.check(operation, a, b, data)
        keep = ("operation", "a_filter", "b_filter", "predicate", "distance", "join")
        options = {k: data[k] for k in keep if k in data} | {"a": a.slug, "b": b.slug}
        return options, f"{operation} {a.title_zh} × {b.title_zh}"


@documented(
    "analysis_road_widening",
    "Road widening impact (road: {layer, id | filter} or centreline + crs; target_width or "
    "widen_each_side; parcels, buildings, parcel_filter): affected parcels and buildings as a new layer "
    "(download it as CSV for the report), as a job",
    JOB_RESPONSES,
)
class RoadWideningView(JobView):
    analysis = "road_widening"

    def validate(self, data, user):
        widening.check(data, user)
        keep = ("road", "centreline", "crs", "target_width", "widen_each_side", "parcels", "buildings",
                "parcel_filter")
        return {k: data[k] for k in keep if k in data}, "道路拓寬影響"


@documented(
    "analysis_buffer_layer",
    "Buffer every (filtered) feature of a layer by distances (rings) or by a distance attribute, "
    "dissolved or not, into a new layer, as a job",
    JOB_RESPONSES,
)
class BufferLayerView(JobView):
    analysis = "buffer_layer"

    def validate(self, data, user):
        buffer.check_layer(data, user)
        keep = ("filter", "distances", "distance_attribute", "dissolve")
        # "input", not "layer": in a job's options "layer" names the layer a job replaces (re-imports)
        return {k: data[k] for k in keep if k in data} | {"input": data["layer"]}, f"環域 {data.get('layer')}"


@documented(
    "analysis_siting",
    "Facility siting (公有場館選址): candidates ({layer, filter}, default parcels), constraints (exclude_layers, "
    "min_area_m2, max_slope_deg from the DEM), weighted factors (kind distance | population | attribute | "
    "category) normalised and combined into a score with each factor's contribution, and optionally allocation "
    "(model covering | p_median, k, radius, demand, existing, network, capacity, pool, time_limit, gap) solved "
    "exactly by CBC: a ranked candidate layer, a chosen-sites layer and a report (HTML map + CSV), as a job",
    JOB_RESPONSES,
)
class SitingView(JobView):
    analysis = "siting"

    def validate(self, data, user):
        return siting_job.check(data, user), str(data.get("title") or "公有場館選址")


class SitingReportView(APIView):
    """A siting job's report, for whoever may see the job's result layer (others get 404, as for layers)."""

    permission_classes = [AllowAny]
    FILES = {"report.html": "text/html; charset=utf-8", "candidates.csv": "text/csv; charset=utf-8"}

    @extend_schema(operation_id="analysis_siting_report", summary="A siting job's report: report.html (map and "
                   "numbers) or candidates.csv (the ranked candidates)",
                   parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(FILES))],
                   responses={200: OpenApiResponse(OpenApiTypes.BINARY), 404: OpenApiResponse(description="no such "
                                                                                                "report for you")})
    def get(self, request, job_id: int, name: str):
        job = Job.objects.filter(pk=job_id, kind__in=[Job.Kind.SITING, Job.Kind.ANALYSIS]).first()
        visible = job is not None and job.layers.filter(
            pk__in=Layer.objects.visible_to(request.user).values("pk")).exists()
        folder = Path(settings.MEDIA_ROOT) / siting_report.REPORTS / f"job{job_id}"
        if visible:
            media.local_folder(folder)  # written by a worker on another machine (geo.media)
        path = folder / name
        if name == "report.html":  # in the user's language (the page's language switch, Accept-Language)
            path = folder / siting_report.html_name(translation.get_language() or settings.LANGUAGE_CODE)
            if not path.exists():  # a report written before reports had languages
                path = folder / name
        if name not in self.FILES or not visible or not path.exists():
            raise Http404("no such report")
        return FileResponse(path.open("rb"), content_type=self.FILES[name])  # noqa: SIM115 - closed by Django


@documented(
    "analysis_wifi_usage",
    "Wi-Fi hotspot use (免費無線上網熱點): per hotspot mean daily sessions, traffic, utilisation and days at "
    "capacity, flagged under-used or overloaded (hotspots, usage, columns, under_share, overload_share); with "
    "`hotspot` also that hotspot's daily series for its chart; with `daily: true` every hotspot's sessions per "
    "day on one calendar (days, sessions by hotspot id, null where no record) for playing the days on the map")
class WifiUsageView(AnalysisView):
    def answer(self, data, user):
        out = wifi_usage.stats(data, user)
        if data.get("hotspot") is not None:
            out["series"] = wifi_usage.series(data, user, str(data["hotspot"]))
        if data.get("daily") is True:
            out["daily"] = wifi_usage.daily(data, user)
        return out


@documented(
    "analysis_wifi_coverage",
    "Wi-Fi coverage: per hotspot the area, people (demand, default villages' population) and points of interest "
    "(pois) within `radius`; people reached overall; the gaps (gap_cell squares) ranked by people out of reach")
class WifiCoverageView(AnalysisView):
    def answer(self, data, user):
        return wifi_coverage.report(data, user)


@documented(
    "analysis_wifi_recommend",
    "Where to add `k` Wi-Fi hotspots (or, with relocate_underused, move the under-used ones too): maximal covering "
    "of people and points of interest within `radius` from candidates, existing hotspots kept; the coverage "
    "before, after and gained, and the new hotspots as a layer, as a job",
    JOB_RESPONSES,
)
class WifiRecommendView(JobView):
    analysis = "wifi_recommend"

    def validate(self, data, user):
        return wifi_recommend.check(data, user), str(data.get("title") or "熱點增設建議")


HOTSPOT_RESPONSES = {**JOB_RESPONSES, 403: OpenApiResponse(description="not signed in")}


class HotspotJobView(JobView):
    emerging = False

    def validate(self, data, user):
        return hotspot_job.check(data, user, self.emerging), "時空熱點分析" if self.emerging else "熱點分析"


@documented(
    "analysis_hotspots",
    "Hot and cold spots of events (layer: a point layer; category; period {start, end}): counts per grid cell "
    "(cell_size m, default 250; empty cells in the study_area counted as 0: convex_hull of the events, "
    "cells_with_events, or a boundary polygon layer) or polygon (areas: a polygon layer), Getis-Ord Gi* with a "
    "neighbourhood by distance "
    "band (derived from the data as ArcGIS's Optimized Hot Spot Analysis does, or distance m) or k nearest, "
    "FDR-corrected classes at 90/95/99 %, and local Moran's I clusters and outliers (permutations) into a new layer "
    "with a legend and a summary, as a job",
    HOTSPOT_RESPONSES,
)
class HotspotsView(HotspotJobView):
    analysis = "hotspots"


@documented(
    "analysis_emerging_hotspots",
    "Emerging hot spots of events on a space-time cube (layer with a time attribute; category; period; cell_size or "
    "areas; study_area or boundary, whose empty cells are zero bins; neighbourhood; time_step_days, default 7; "
    "time_window, default 1 step; alpha; fdr): Gi* per bin with "
    "space-time neighbours, the Mann-Kendall trend and Esri's 17 categories into a new layer with a legend and a "
    "summary, as a job; a cube too sparse to test is a 400 with its counts",
    HOTSPOT_RESPONSES,
)
class EmergingHotspotsView(HotspotJobView):
    analysis = "emerging_hotspots"
    emerging = True
