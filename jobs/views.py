"""/api/v1/jobs/: every kind of long work (imports, analyses, siting …), yours (all of them for admins), with a
cancel. /api/v1/imports/ is the older name of the same list and detail (same answers)."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from geo.messages import worded
from layers.models import Layer

from . import control
from .models import Job
from .reporting import reap_stale_jobs
from .serializers import JobSerializer


def is_admin(user) -> bool:
    return user.is_superuser or user.is_staff


class JobReadViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JobSerializer
    queryset = Job.objects.none()  # for the schema; get_queryset filters by user
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        reap_stale_jobs()  # a job whose worker died shows as failed, not running forever
        user = self.request.user
        # someone else's job is not found, like a missing one; its result links list only layers the viewer may see
        qs = Job.objects.select_related("created_by").prefetch_related(
            Prefetch("layers", queryset=Layer.objects.visible_to(user).order_by("slug")))
        return qs if is_admin(user) else qs.filter(created_by=user)


@extend_schema_view(list=extend_schema(summary="Jobs: imports, analyses, siting … (yours; all of them for admins)"),
                    retrieve=extend_schema(summary="One job: kind, status, progress, messages, errors, counts, "
                                                   "result links"))
class JobViewSet(JobReadViewSet):
    @extend_schema(summary="Stop a job that is waiting or running: it ends as cancelled, leaving no results",
                   request=None, responses={200: JobSerializer, 202: JobSerializer,
                                            404: OpenApiResponse(description="no such job of yours"),
                                            409: OpenApiResponse(description="the job has finished already")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None, **_suffix):  # **_suffix: `cancel.json` passes `format`
        job = self.get_object()
        if not control.cancel(job, request.user):
            finished = worded("這個工作已經結束（{status}），無法取消", status=str(job.get_status_display()))
            return Response({"detail": finished, "status": job.status}, status=status.HTTP_409_CONFLICT)
        # 200: stopped now (it was waiting); 202: it stops at its runner's next step
        answer = JobSerializer(self.get_queryset().get(pk=job.pk), context={"request": request}).data
        return Response(answer, status=status.HTTP_200_OK if job.finished else status.HTTP_202_ACCEPTED)


@extend_schema_view(list=extend_schema(summary="Import jobs: the older name of /api/v1/jobs/ (the same answers)"),
                    retrieve=extend_schema(summary="One job, as at /api/v1/jobs/{id}/ (the older name)"))
class ImportJobAliasViewSet(JobReadViewSet):
    pass
