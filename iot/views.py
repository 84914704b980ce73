"""The sensor API: readings in (per-device token), latest values for the map, a series per sensor for the
chart, alerts, reject counts, and registering the devices of a registry layer."""

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.inputs import AnalysisInputError, readable_layer
from geo.crs import transformer
from layers.models import Layer
from layers.serving.access import request_user

from . import registry
from .ingest import MAX_BATCH, UNKNOWN_DEVICE, count_rejects, device_for, ingest
from .models import Alert, Device, RejectCount

BAD = OpenApiResponse(description="bad input, explained")
BUCKETS = ("minute", "hour", "day")


def visible_layer_ids(request) -> list[int]:
    return list(Layer.objects.visible_to(request_user(request)).values_list("pk", flat=True))


def visible_devices(request):
    """Sensors follow their registry layer: a device of a layer the caller may not see is, to them, no device
    at all (its id, name, place and readings stay hidden). Devices without a layer are the platform's own."""
    return Device.objects.filter(Q(layer__isnull=True) | Q(layer__in=visible_layer_ids(request)))


class ObservationsView(APIView):
    """A batch of one device's readings; the device proves itself with `Authorization: Device <token>`."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(operation_id="iot_observations", request=OpenApiTypes.OBJECT, summary=(
        "Send a device's readings: {\"observations\": [{\"quantity\", \"value\", \"observed_at\"}, …]} with the "
        "header `Authorization: Device <token>`; each reading is stored or rejected with a reason (counted)"),
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: BAD, 401: OpenApiResponse(
            description="unknown device token"), 413: OpenApiResponse(description="batch too large")})
    def post(self, request):
        header = request.headers.get("Authorization", "")
        device = device_for(header[7:].strip() if header.startswith("Device ") else None)
        items = request.data.get("observations") if isinstance(request.data, dict) else None
        n = len(items) if isinstance(items, list) else 1
        if device is None:
            count_rejects("http", {UNKNOWN_DEVICE: n})
            return Response({"detail": "unknown device token (send Authorization: Device <token>)"}, status=401)
        if isinstance(items, list) and len(items) > MAX_BATCH:
            count_rejects("http", {"batch too large": n})
            return Response({"detail": f"observations: at most {MAX_BATCH:,} readings per request"}, status=413)
        outcome = ingest(device, items, "http")
        if items is None or not isinstance(items, list):
            return Response({"detail": "observations: give a list of readings", **outcome.as_dict()}, status=400)
        return Response(outcome.as_dict())


class LatestView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="iot_latest", summary="Each sensor's latest value per quantity, as GeoJSON "
                   "points (lon/lat) for the map, with the time of its last reading, its age and whether it is "
                   "stale (older than IOT_STALE_AFTER_HOURS), and whether its name is shared with another sensor; "
                   "with `time=start/end` each sensor's mean per quantity over that window instead (the viewer's "
                   "time slider); `layer` keeps one registry layer's sensors", parameters=[
                       OpenApiParameter("time", str), OpenApiParameter("layer", str)],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: BAD, 404: OpenApiResponse(
                       description="no such layer")})
    def get(self, request):
        layers = visible_layer_ids(request)
        slug = request.query_params.get("layer")
        if slug is not None:  # one registry layer's sensors; a layer the caller may not see is no layer
            layer = Layer.objects.filter(slug=slug, pk__in=layers).values_list("pk", flat=True).first()
            if layer is None:
                return Response({"detail": f"layer: no layer {slug!r}"}, status=404)
            layers = [layer]
        if request.query_params.get("time"):
            try:
                start, end = time_window(request.query_params["time"])
            except AnalysisInputError as exc:
                return Response({"detail": str(exc)}, status=400)
            return Response(window_means(layers, slug is not None, start, end))
        with connection.cursor() as cur:
            cur.execute("SELECT d.device_id, d.name, ST_X(d.location), ST_Y(d.location), ST_SRID(d.location),"
                        " q.code, q.unit, l.value, l.observed_at FROM iot_device d JOIN iot_latest l ON"
                        " l.device_id = d.id JOIN iot_quantity q ON q.id = l.quantity_id WHERE d.active"
                        " AND (NOT %s AND d.layer_id IS NULL OR d.layer_id = ANY(%s)) ORDER BY d.device_id, q.code",
                        [slug is not None, layers])
            rows = cur.fetchall()
        features: dict[str, dict] = {}
        for device_id, name, x, y, srid, code, unit, value, observed in rows:
            feature = features.setdefault(device_id, {"type": "Feature", "geometry": None, "properties": {
                "device_id": device_id, "name": name, "latest": {}}})
            if feature["geometry"] is None:
                feature["geometry"] = point(x, y, srid)
            feature["properties"]["latest"][code] = {"value": value, "unit": unit, "observed_at": observed}
        now = timezone.now()
        limit = timedelta(hours=settings.IOT_STALE_AFTER_HOURS)
        names = Counter(f["properties"]["name"] for f in features.values() if f["properties"]["name"])
        for f in features.values():
            p = f["properties"]
            last = max(r["observed_at"] for r in p["latest"].values())
            p |= {"last_observed_at": last, "age_seconds": round((now - last).total_seconds()),
                  "stale": now - last > limit, "duplicate_name": names[p["name"]] > 1 if p["name"] else False}
        stale = [f for f in features.values() if f["properties"]["stale"]]
        return Response({"type": "FeatureCollection", "features": list(features.values()), "freshness": {
            "now": now, "stale_after_hours": settings.IOT_STALE_AFTER_HOURS, "stale": len(stale),
            "newest_reading": max((f["properties"]["last_observed_at"] for f in features.values()), default=None),
            "duplicate_names": sorted(n for n, c in names.items() if c > 1)}})


def point(x, y, srid) -> dict | None:
    if x is None:
        return None
    lon, lat = transformer(srid, 4326).transform(x, y)
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}


def time_window(text: str) -> tuple[datetime, datetime]:
    """`start/end` (ISO 8601 with zones, as the viewer's time slider sends it): the readings from start to end,
    both included."""
    parts = text.split("/")
    if len(parts) != 2:
        raise AnalysisInputError("time: give a window start/end, e.g. "
                                 "2026-11-01T00:00:00+08:00/2026-11-01T00:59:59+08:00")
    start, end = _time(parts[0], "time (start)"), _time(parts[1], "time (end)")
    if end < start:
        raise AnalysisInputError("time: the window ends before it starts")
    return start, end


def window_means(layers: list[int], one_layer: bool, start: datetime, end: datetime) -> dict:
    """Each sensor's mean per quantity over the window (the time slider's frame): GeoJSON points as without a
    window, `values` instead of `latest` ({code: {mean, unit, n, last_observed_at}}); sensors without a reading in
    the window are listed with none, so the map can say so."""
    with connection.cursor() as cur:
        # per sensor, its readings in the window (the primary key starts with the device)
        cur.execute("SELECT d.device_id, d.name, ST_X(d.location), ST_Y(d.location), ST_SRID(d.location),"
                    " q.code, q.unit, w.mean, w.n, w.last FROM iot_device d"
                    " LEFT JOIN LATERAL (SELECT o.quantity_id, avg(o.value) AS mean, count(*) AS n,"
                    "            max(o.observed_at) AS last FROM iot_observation o WHERE o.device_id = d.id"
                    "            AND o.observed_at >= %s AND o.observed_at <= %s GROUP BY 1) w ON true"
                    " LEFT JOIN iot_quantity q ON q.id = w.quantity_id WHERE d.active"
                    " AND (NOT %s AND d.layer_id IS NULL OR d.layer_id = ANY(%s)) ORDER BY d.device_id, q.code",
                    [start, end, one_layer, layers])
        rows = cur.fetchall()
    features: dict[str, dict] = {}
    for device_id, name, x, y, srid, code, unit, mean, n, last in rows:
        feature = features.setdefault(device_id, {"type": "Feature", "geometry": point(x, y, srid), "properties": {
            "device_id": device_id, "name": name, "values": {}}})
        if code is not None:
            feature["properties"]["values"][code] = {"mean": mean, "unit": unit, "n": n, "last_observed_at": last}
    return {"type": "FeatureCollection", "time": [start, end], "features": list(features.values())}


def _time(value: str | None, what: str):
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise AnalysisInputError(f"{what}: give an ISO 8601 time with a zone, e.g. 2026-11-22T08:00:00+08:00") from None
    if stamp.tzinfo is None:
        raise AnalysisInputError(f"{what}: the time needs a zone, e.g. +08:00")
    return stamp


class SeriesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="iot_series", summary="A sensor's readings of one quantity over time (averaged "
                   "per minute, hour or day) for its chart", parameters=[
                       OpenApiParameter("quantity", str, required=True), OpenApiParameter("start", str),
                       OpenApiParameter("end", str), OpenApiParameter("bucket", str, enum=list(BUCKETS))],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: BAD, 404: OpenApiResponse(
                       description="no such sensor")})
    def get(self, request, device_id: str):
        device = visible_devices(request).filter(device_id=device_id).first()
        if device is None:
            return Response({"detail": f"no sensor {device_id!r}"}, status=404)
        bucket = request.query_params.get("bucket", "hour")
        try:
            if bucket not in BUCKETS:
                raise AnalysisInputError(f"bucket: use {', '.join(BUCKETS)}")
            start = _time(request.query_params.get("start"), "start")
            end = _time(request.query_params.get("end"), "end")
        except AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=400)
        quantity = request.query_params.get("quantity")
        with connection.cursor() as cur:
            # observed_at bounds let the BRIN index skip whole block ranges
            cur.execute("SELECT date_trunc(%s, o.observed_at) AS b, avg(o.value), min(o.value), max(o.value),"
                        " count(*) FROM iot_observation o JOIN iot_quantity q ON q.id = o.quantity_id"
                        " WHERE o.device_id = %s AND q.code = %s"
                        " AND o.observed_at >= coalesce(%s::timestamptz, '-infinity')"
                        " AND o.observed_at < coalesce(%s::timestamptz, 'infinity') GROUP BY b ORDER BY b",
                        [bucket, device.pk, quantity, start, end])
            points = [{"t": b, "mean": avg, "min": lo, "max": hi, "n": n} for b, avg, lo, hi, n in cur.fetchall()]
        return Response({"device_id": device_id, "quantity": quantity, "bucket": bucket, "points": points})


class AlertsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="iot_alerts", summary="The latest threshold alerts (up to 200)",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    def get(self, request):
        alerts = (Alert.objects.filter(device__in=visible_devices(request))
                  .select_related("device", "quantity", "threshold").order_by("-raised_at", "-id")[:200])
        return Response({"alerts": [{"device_id": a.device.device_id, "quantity": a.quantity.code, "value": a.value,
                                     "above": a.threshold.above, "label": a.threshold.label,
                                     "observed_at": a.observed_at, "raised_at": a.raised_at} for a in alerts]})


class RejectsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="iot_rejects", summary="How many readings were rejected, by channel and reason",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    def get(self, request):
        counts: dict[str, dict[str, int]] = {}
        for r in RejectCount.objects.order_by("source", "reason"):
            counts.setdefault(r.source, {})[r.reason] = r.count
        return Response({"rejected": counts})


class RegisterFromLayerView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="iot_register_layer", request=OpenApiTypes.OBJECT, summary=(
        "Register every feature of a sensor registry layer as a device ({\"layer\", \"id_attribute\", "
        "\"name_attribute\"}); answers each device's new token, shown only this once (owner agency or admin)"),
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: BAD, 403: OpenApiResponse(
            description="a layer that is not available to you, or not yours to register")})
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        try:
            layer = readable_layer(data.get("layer"), request.user)
            if not layer.can_edit(request.user):
                return Response({"detail": f"layer {layer.slug!r} belongs to another agency"}, status=403)
            issued, skipped = registry.from_layer(layer, str(data.get("id_attribute", "")),
                                                  data.get("name_attribute"), editor=request.user)
        except AnalysisInputError as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        return Response({"layer": layer.slug, "devices": issued, "skipped": skipped,
                         **({"skipped_reason": "device ids registered from a layer you may not edit"}
                            if skipped else {})})
