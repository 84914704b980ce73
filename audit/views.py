"""/api/v1/audit/: the log for administrators — list, CSV export, chain verification.

Only superusers and users given the `audit.view_auditentry` permission (auditors) may read it; everyone else
gets exactly what a route that does not exist gives (Django's 404), before DRF sees the request
(geo.hidden_routes).
"""

import csv
import io
import json

from django.http import JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.views import APIView

from geo.hidden_routes import HiddenRoute

from . import chain, reads
from .models import AuditEntry
from .query import FILTERS, filtered

PARAMETERS = [OpenApiParameter(name, str, description=text) for name, text in FILTERS.items()]
NOT_FOR_YOU = {404: OpenApiResponse(description="not an auditor: the same answer as for a route that does not "
                                                "exist")}


def may_audit(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("audit.view_auditentry"))


class AuditorsOnly(HiddenRoute):
    """A view that does not exist for anyone but auditors."""

    allows = staticmethod(may_audit)


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["seq", "time", "actor_id", "actor_name", "address", "action", "object_type", "object_id",
                  "object_label", "detail", "count", "prev_hash", "hash"]


class AuditListView(AuditorsOnly, generics.ListAPIView):
    serializer_class = AuditEntrySerializer

    def get_queryset(self):
        reads.flush_quietly()  # an administrator's query sees reads up to now, not up to the last flush
        return filtered(self.request.query_params)

    @extend_schema(operation_id="audit_list", tags=["audit"], parameters=PARAMETERS,
                   summary="The audit log, newest first, filtered and paged (auditors and administrators)",
                   responses={200: AuditEntrySerializer(many=True), 400: OpenApiResponse(
                       description="a bad filter, named"), **NOT_FOR_YOU})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def csv_columns():
    """(header, value of an entry) per column; headers in the user's language (zh-Hant by default)."""
    return [
        (_("序號"), lambda e: e.seq),
        (_("時間"), lambda e: timezone.localtime(e.time).isoformat(timespec="seconds")),
        (_("使用者編號"), lambda e: "" if e.actor_id is None else e.actor_id),
        (_("使用者"), lambda e: e.actor_name or _("（匿名）")),
        (_("來源位址"), lambda e: e.address),
        (_("動作"), lambda e: e.action),
        (_("對象類型"), lambda e: e.object_type),
        (_("對象編號"), lambda e: e.object_id),
        (_("對象名稱"), lambda e: e.object_label),
        (_("次數"), lambda e: e.count),
        (_("細節"), lambda e: json.dumps(e.detail, ensure_ascii=False, sort_keys=True)),
        (_("前一雜湊"), lambda e: e.prev_hash),
        (_("雜湊"), lambda e: e.hash),
    ]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """Text a spreadsheet would run as a formula (a failed sign-in's username is anyone's text) stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class AuditExportView(AuditorsOnly, APIView):
    @extend_schema(operation_id="audit_export_csv", tags=["audit"], parameters=PARAMETERS,
                   summary="The filtered audit log as CSV (UTF-8 with BOM for Excel; headers in the request's "
                           "language), streamed",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY), 400: OpenApiResponse(
                       description="a bad filter, named"), **NOT_FOR_YOU})
    def get(self, request):
        reads.flush_quietly()
        entries = filtered(request.query_params)
        columns = csv_columns()

        def rows():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([header for header, _value in columns])
            yield ("\ufeff" + buffer.getvalue()).encode()
            buffer.seek(0)
            buffer.truncate()
            for n, entry in enumerate(entries.iterator(chunk_size=2000), 1):
                writer.writerow([cell(value(entry)) for _header, value in columns])
                if n % 500 == 0:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode()

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


class VerifySerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="entries whose hash and link were checked")
    first_seq = serializers.IntegerField(allow_null=True, help_text="the first entry kept (after pruning)")
    last_seq = serializers.IntegerField(allow_null=True)
    head_hash = serializers.CharField(allow_null=True, help_text="note it: a later chain must still contain it")
    problem = serializers.DictField(allow_null=True, help_text="{seq, time, reason} of the first mismatch")


class AuditVerifyView(AuditorsOnly, APIView):
    @extend_schema(operation_id="audit_verify", tags=["audit"], summary="Walk the hash chain and report the first "
                   "entry that was changed, removed or put out of place", responses={200: VerifySerializer,
                                                                                     **NOT_FOR_YOU})
    def get(self, request):
        return JsonResponse(chain.verify(), json_dumps_params={"ensure_ascii": False})
