"""/api/v1/schedule/: the periodic tasks, their intervals and last runs — for superusers only; for everyone else the
route does not exist (geo.hidden_routes)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from geo.hidden_routes import SuperusersOnly

from . import status


class ScheduledTaskSerializer(serializers.Serializer):
    entry = serializers.CharField(help_text="the entry's name in CELERY_BEAT_SCHEDULE")
    task = serializers.CharField(help_text="the Celery task it runs")
    every_s = serializers.FloatField(help_text="its interval in seconds")
    scheduled_since = serializers.DateTimeField(allow_null=True)
    started = serializers.DateTimeField(allow_null=True,
                                        help_text="the last run's start")
    finished = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(allow_null=True,
                                    help_text="running, ok or failed; null: never run")
    message = serializers.CharField(allow_null=True,
                                    help_text="what the last run returned, or its error")
    duration_s = serializers.FloatField(allow_null=True)
    last_ok = serializers.DateTimeField(allow_null=True,
                                        help_text="when it last succeeded")
    overdue = serializers.BooleanField(help_text=f"no success for {status.OVERDUE_INTERVALS} of its intervals")
    overdue_since = serializers.DateTimeField(allow_null=True)


class ScheduleSerializer(serializers.Serializer):
    overdue_after_intervals = serializers.IntegerField()
    tasks = ScheduledTaskSerializer(many=True)


class ScheduleView(SuperusersOnly, APIView):
    @extend_schema(operation_id="schedule", tags=["system"],
                   summary="The periodic tasks: interval, last run and outcome, overdue or not (superusers)",
                   responses={200: ScheduleSerializer, 404: OpenApiResponse(
                       description="not a superuser: the same answer as for a route that does not exist")})
    def get(self, request):
        body = {"overdue_after_intervals": status.OVERDUE_INTERVALS, "tasks": status.entries()}
        return Response(ScheduleSerializer(body).data)
