"""A layer's metadata as ISO 19139 (TWSMP): the record to download, and a record (e.g. from TGOS) to fill the
layer's metadata with — a preview of the changes first, then `?apply=true`."""

from django.db import transaction
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from geo.messages import worded

from . import iso19139, metadata
from .models import Layer
from .ogc import publishing
from .serializers import LayerDetailSerializer


def _layer(request, slug: str) -> Layer:
    layer = Layer.objects.visible_to(request.user).select_related("owner_agency", "theme").filter(slug=slug).first()
    if layer is None:
        raise Http404(f"no layer {slug!r}")
    return layer


class LayerMetadataXmlView(APIView):
    @extend_schema(summary="The layer's metadata as an ISO 19139 record (TWSMP 2.0)",
                   responses={(200, "application/xml"): OpenApiTypes.STR})
    def get(self, request, slug):
        layer = _layer(request, slug)
        return HttpResponse(iso19139.record(layer, iso19139.base_url(request)),
                            content_type="application/xml; charset=utf-8",
                            headers={"Content-Disposition": f'inline; filename="{layer.slug}-iso19139.xml"'})


class XmlParser(BaseParser):
    """The request body as it came (bytes): an ISO 19139 document."""

    media_type = "*/xml"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


def _shown(value):
    if value is None or value == "" or value == []:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else value


class LayerMetadataImportView(APIView):
    parser_classes = [XmlParser, MultiPartParser]

    @extend_schema(summary="Fill the layer's metadata from an ISO 19139 record (e.g. from TGOS): the changes it "
                           "would make, applied only with apply=true (owner agency or admin)",
                   parameters=[OpenApiParameter("apply", bool, description="save the changes (default: preview)")],
                   request={"application/xml": OpenApiTypes.STR, "multipart/form-data": OpenApiTypes.OBJECT},
                   responses=OpenApiTypes.OBJECT)
    def post(self, request, slug):
        layer = _layer(request, slug)
        if not layer.can_edit(request.user):
            raise PermissionDenied(worded("只有圖層的權責機關與管理者可以修改詮釋資料"))
        data = request.data
        if not isinstance(data, bytes):
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationError({"file": worded("請上傳 ISO 19139 詮釋資料 XML（欄位 file），或以 XML 為本文")})
            data = upload.read(iso19139.MAX_BYTES + 1)
        try:
            fields = iso19139.read(data)
        except iso19139.RecordError as exc:
            raise ValidationError({"xml": str(exc)}) from None
        serializer = LayerDetailSerializer(layer, data=fields, partial=True, context={"request": request})
        if not serializer.is_valid():
            # name the record's element as well as the field
            raise ValidationError({field: [f"{ELEMENTS.get(field, field)}: {message}" for message in messages]
                                   for field, messages in serializer.errors.items()})
        changes = [{"field": field, "label": str(metadata.FIELD_LABELS.get(field, field)),
                    "old": _shown(getattr(layer, field)), "new": _shown(value)}
                   for field, value in serializer.validated_data.items() if getattr(layer, field) != value]
        apply = request.query_params.get("apply", "").lower() in ("1", "true", "yes")
        if apply and changes:
            with transaction.atomic():
                publishing.follow(serializer.save(), publishing.PUBLISH)
        return Response({"applied": apply, "changes": changes})


# which element of the record each field comes from (layers.iso19139.read), for messages
ELEMENTS = {
    "title_zh": "gmd:CI_Citation/gmd:title", "title_en": "gmd:CI_Citation/gmd:alternateTitle",
    "abstract": "gmd:abstract", "keywords": "gmd:MD_Keywords/gmd:keyword", "topic_category": "gmd:topicCategory",
    "update_frequency": "gmd:maintenanceAndUpdateFrequency", "license": "gmd:MD_LegalConstraints",
    "contact_organisation": "gmd:pointOfContact/gmd:organisationName",
    "contact_name": "gmd:pointOfContact/gmd:individualName",
    "contact_email": "gmd:pointOfContact/…/gmd:electronicMailAddress",
    "contact_phone": "gmd:pointOfContact/…/gmd:voice", "scale_denominator": "gmd:MD_RepresentativeFraction",
    "resolution_m": "gmd:MD_Resolution/gmd:distance", "temporal_start": "gml:TimePeriod/gml:beginPosition",
    "temporal_end": "gml:TimePeriod/gml:endPosition", "creation_date": "gmd:CI_Date (creation)",
    "revision_date": "gmd:CI_Date (revision)", "lineage": "gmd:LI_Lineage/gmd:statement",
    "source": "gmd:LI_Source/gmd:description",
}
