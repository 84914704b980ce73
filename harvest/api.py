"""/api/v1/harvest/: the registered remote sources, their runs and reports, a run on demand — for superusers; for
everyone else the routes do not exist (geo.hidden_routes)."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from geo.hidden_routes import SuperusersOnly
from layers.models import Theme

from . import runner
from .models import HarvestRun, HarvestSource

HIDDEN = {404: OpenApiResponse(description="not a superuser: the same answer as for a route that does not exist")}


class RunSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = HarvestRun
        fields = ["id", "source", "state", "trigger", "created_at", "started_at", "finished_at", "found", "new",
                  "changed", "unchanged", "vanished", "skipped", "requests", "report", "error"]
        read_only_fields = fields


class SourceSerializer(serializers.ModelSerializer):
    theme = serializers.SlugRelatedField(slug_field="slug", queryset=Theme.objects.all(), required=False,
                                         allow_null=True)
    layers = serializers.IntegerField(source="layers.count", read_only=True, help_text="catalog layers it holds")
    last_run = serializers.SerializerMethodField()
    slug = serializers.RegexField(r"^[a-z][a-z0-9-]{0,29}$", help_text="1–30 lower-case letters, digits or '-'; "
                                  "prefixes the slugs of its layers")

    class Meta:
        model = HarvestSource
        fields = ["id", "name", "slug", "kind", "url", "theme", "visibility", "every_hours", "enabled", "created_at",
                  "next_run_at", "layers", "last_run"]
        read_only_fields = ["id", "created_at", "next_run_at", "layers", "last_run"]

    def validate_every_hours(self, value):
        if value < 0 or (0 < value < 0.25):
            raise serializers.ValidationError("give 0 (on demand only) or at least 0.25 hours")
        return value

    def validate_slug(self, value):
        taken = HarvestSource.objects.filter(slug=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"another source is already named {value!r}")
        return value

    def get_last_run(self, source) -> dict | None:
        last = source.runs.first()
        return RunSerializer(last).data if last else None


class SourceList(SuperusersOnly, generics.ListCreateAPIView):
    serializer_class = SourceSerializer
    queryset = HarvestSource.objects.all()

    @extend_schema(operation_id="harvest_sources", tags=["harvest"], responses={200: SourceSerializer(many=True),
                                                                                 **HIDDEN},
                   summary="The registered remote sources (superusers)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="harvest_source_create", tags=["harvest"],
                   summary="Register a remote source; its first run starts at once",
                   responses={201: SourceSerializer, **HIDDEN})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        with transaction.atomic():
            source = serializer.save(created_by=self.request.user,
                                     owner_agency=self.request.user.groups.order_by("name").first())
            source.schedule_next()
            source.save(update_fields=["next_run_at"])
            if source.enabled:
                runner.start(source, "demand")


class SourceDetail(SuperusersOnly, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = SourceSerializer
    queryset = HarvestSource.objects.all()

    @extend_schema(operation_id="harvest_source", tags=["harvest"], responses={200: SourceSerializer, **HIDDEN},
                   summary="A remote source")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def perform_update(self, serializer):
        source = serializer.save()
        source.schedule_next()
        source.save(update_fields=["next_run_at"])

    @extend_schema(operation_id="harvest_source_delete", tags=["harvest"], responses={204: None, **HIDDEN},
                   summary="Remove a source and the catalog layers its harvests made")
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, source):
        with transaction.atomic():
            for link in source.layers.select_related("layer"):
                link.layer.delete()
            source.delete()


class RunNow(SuperusersOnly, APIView):
    @extend_schema(operation_id="harvest_source_run", tags=["harvest"], request=None,
                   responses={202: RunSerializer, 409: OpenApiResponse(description="a run is already queued or "
                                                                                   "running"), **HIDDEN},
                   summary="Harvest the source now (a job: poll the run)")
    def post(self, request, pk):
        source = get_object_or_404(HarvestSource, pk=pk)
        busy = source.runs.filter(state__in=[HarvestRun.State.QUEUED, HarvestRun.State.RUNNING]).first()
        if busy is not None:
            return Response({"detail": f"run {busy.pk} of this source is {busy.state}; wait for it",
                             "run": RunSerializer(busy).data}, status=status.HTTP_409_CONFLICT)
        with transaction.atomic():
            run = runner.start(source, "demand")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunList(SuperusersOnly, generics.ListAPIView):
    serializer_class = RunSerializer

    def get_queryset(self):
        runs = HarvestRun.objects.select_related("source")
        if source := self.request.query_params.get("source"):
            runs = runs.filter(source__slug=source)
        return runs

    @extend_schema(operation_id="harvest_runs", tags=["harvest"], responses={200: RunSerializer(many=True), **HIDDEN},
                   summary="Harvest runs, newest first, with their reports (?source=slug for one source)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RunDetail(SuperusersOnly, generics.RetrieveAPIView):
    serializer_class = RunSerializer
    queryset = HarvestRun.objects.select_related("source")

    @extend_schema(operation_id="harvest_run", tags=["harvest"], responses={200: RunSerializer, **HIDDEN},
                   summary="One harvest run: its state, counts and report")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CopySerializer(serializers.Serializer):
    layer = serializers.CharField(help_text="the harvested FeatureServer layer")
    wanted = serializers.BooleanField(help_text="copied, and refreshed at every run of its source")
    copy = serializers.CharField(allow_null=True, help_text="the local copy's slug, once its first import is done")
    job = serializers.IntegerField(allow_null=True, help_text="the latest copy's import job (/api/v1/jobs/{id}/)")
    copied_at = serializers.DateTimeField(allow_null=True)
    features = serializers.IntegerField(allow_null=True, help_text="features read by the latest copy")
    error = serializers.CharField(allow_blank=True)


def copy_state(link) -> dict:
    local = link.local_copy()
    return {"layer": link.layer.slug, "wanted": link.copy_wanted, "copy": local.slug if local else None,
            "job": link.copy_job_id, "copied_at": link.copied_at, "features": link.copy_features,
            "error": link.copy_error}


class LayerCopy(SuperusersOnly, APIView):
    def link(self, slug):
        from .models import HarvestedLayer

        return get_object_or_404(HarvestedLayer.objects.select_related("layer", "source", "copy_layer"),
                                 layer__slug=slug)

    @extend_schema(operation_id="harvest_layer_copy", tags=["harvest"], responses={200: CopySerializer, **HIDDEN},
                   summary="The local PostGIS copy of a harvested ArcGIS FeatureServer layer")
    def get(self, request, slug):
        return Response(CopySerializer(copy_state(self.link(slug))).data)

    @extend_schema(operation_id="harvest_layer_copy_start", tags=["harvest"], request=None,
                   responses={202: CopySerializer, 400: OpenApiResponse(description="not a FeatureServer layer"),
                              **HIDDEN},
                   summary="Copy a harvested ArcGIS FeatureServer layer into PostGIS now (paged queries; then an "
                           "import job) and at every run of its source from then on")
    def post(self, request, slug):
        from .tasks import copy

        link = self.link(slug)
        if link.layer.service.get("type") != "arcgis_feature":
            return Response({"layer": f"{slug} is not an ArcGIS FeatureServer layer; only those are copied"},
                            status=status.HTTP_400_BAD_REQUEST)
        link.copy_wanted = True
        link.save(update_fields=["copy_wanted"])
        transaction.on_commit(lambda: copy.delay(link.pk))
        return Response(CopySerializer(copy_state(link)).data, status=status.HTTP_202_ACCEPTED)
