"""Serving layers: features (GeoJSON), vector tiles, TileJSON, usage counts.

Every path answers 404 for a layer the user may not see, exactly as for one that does not exist, and counts
the request (serving.usage).
"""

import contextlib
import json
import shutil
from hashlib import sha1
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from geo import dbrouter
from geo.messages import render
from geo.messages import text as note
from layers.models import Layer, LayerUsage

from . import downloads, features, html_map, rasters, search, statistics, tile_sessions, tilecache, tiles, usage, values
from .access import BadRequest, request_user, visible_layer

GEOJSON = "application/geo+json"
FEATURE_PARAMS = [
    OpenApiParameter("bbox", str, description="west,south,east,north in lon/lat"),
    OpenApiParameter("properties", str, description="attributes to include, comma-separated (default: all)"),
    OpenApiParameter("sort", str, description="attributes to sort by, '-' for descending: sort=-land_value,fid"),
    OpenApiParameter("crs", str, description="output CRS as an EPSG code: 4326 (default), 3826, 3857 …"),
    OpenApiParameter("limit", int, description="page size, 1–10,000 (default 100)"),
    OpenApiParameter("offset", int, description="features to skip"),
    OpenApiParameter("<attribute>[__op]", str, description="filters: =, __ne, __lt, __lte, __gt, __gte, "
                     "__in (comma-separated), __like / __ilike (text, % wildcards), __isnull (true/false)"),
]
FEATURE_EDIT_VERSION = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description="the ETag of the "
                                        "feature as read (or `version` in the body)")
FILTER_PARAMS = [
    OpenApiParameter("filter", str, description="a filter, JSON {op: and|or, conditions: [{attribute, operator, "
                     "value}], bbox} or compact text `or;land_use:eq:住宅區;area_m2:between:100,500`; operators "
                     "= ≠ < ≤ > ≥ contains, starts with, in, is empty, is not empty, between"),
    OpenApiParameter("fields", str, description="the same as properties"),
    OpenApiParameter("fids", str, description="only these features (ids, comma-separated): a selection"),
]


def bad_request(exc: BadRequest) -> JsonResponse:
    return JsonResponse({"detail": str(exc)}, status=400, json_dumps_params={"ensure_ascii": False})


def tile_etag(layer: Layer, variant: str = "") -> str:
    """The served version and metadata, and the variant (a filtered tile is another tile at the same address)."""
    suffix = f"-{variant}" if variant else ""
    return f'"{layer.pk}-{layer.current_version_id or 0}-{int(layer.updated_at.timestamp())}{suffix}"'


def cache_headers(response: HttpResponse, layer: Layer, variant: str = "") -> HttpResponse:
    """Clients may keep a layer's tiles until it changes: the ETag names the served version and metadata, and the
    variant (a filtered tile is another tile than the unfiltered one at the same address)."""
    response["ETag"] = tile_etag(layer, variant)
    if layer.visibility == Layer.Visibility.PUBLIC:
        response["Cache-Control"] = "public, max-age=300"
    else:
        response["Cache-Control"] = "private, max-age=300"
        response["Vary"] = "Cookie, Authorization"
    return response


def not_modified(request, layer: Layer, variant: str = "") -> HttpResponse | None:
    probe = cache_headers(HttpResponse(), layer, variant)
    if request.headers.get("If-None-Match") == probe["ETag"]:
        response = HttpResponse(status=304)
        return cache_headers(response, layer, variant)
    return None


def variant_of(params) -> str:
    """What in a tile request's query changes the tile (its filter), as a short key; '' for a plain tile."""
    items = sorted((k, v) for k in params for v in params.getlist(k) if k not in ("v", "_"))
    return sha1(urlencode(items).encode()).hexdigest()[:16] if items else ""



AS_TILES_OR_BY_POINT = note("請以圖磚或逐點讀取")


def without_table(layer: Layer, raster_hint: dict) -> BadRequest | None:
    """Why a feature request cannot be answered from this layer (a raster, or another agency's service)."""
    if layer.kind == Layer.Kind.RASTER:
        return BadRequest("圖層 {slug} 是網格：{hint}", slug=repr(layer.slug), hint=raster_hint)
    if layer.kind == Layer.Kind.SERVICE:
        return BadRequest("圖層 {slug} 是其他機關的 {service} 服務：地圖直接從該處繪製", slug=repr(layer.slug),
                          service=layer.service.get("type", "").upper())
    return None

class FeatureListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_features", summary="Features of a layer as GeoJSON, filtered, sorted and paged",
                   parameters=FEATURE_PARAMS + FILTER_PARAMS,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="a GeoJSON FeatureCollection "
                                                   "with numberMatched, numberReturned and next/prev links"),
                              400: OpenApiResponse(description="a bad parameter, named in `detail`"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def get(self, request, slug):
        layer = visible_layer(request, slug, "features")
        if problem := without_table(layer, AS_TILES_OR_BY_POINT):
            return bad_request(problem)
        try:
            body, matched, returned = features.collection(layer, request.query_params)
        except BadRequest as exc:
            return bad_request(exc)
        links = _page_links(request, matched, returned)
        return HttpResponse(body + ',"links":' + json.dumps(links) + "}", content_type=GEOJSON)

    @extend_schema(operation_id="layer_feature_create", summary="Add a feature (GeoJSON Feature, lon/lat): the "
                   "layer's owner agency and administrators", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiResponse(OpenApiTypes.OBJECT, description="the feature as stored, with "
                                                   "its id and version 1 (also the ETag)"),
                              400: OpenApiResponse(description="a bad geometry or attribute, named in `detail`"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def post(self, request, slug):
        from editing import views as editing

        return editing.create(request, slug)


def _page_links(request, matched: int, returned: int) -> list[dict]:
    params = request.query_params.copy()
    limit = int(params.get("limit", 100))
    offset = int(params.get("offset", 0))
    base = request.build_absolute_uri(request.path)
    links = [{"rel": "self", "href": request.build_absolute_uri(), "type": GEOJSON}]
    if offset + returned < matched:
        params["offset"] = offset + limit
        links.append({"rel": "next", "href": f"{base}?{urlencode(params, doseq=True)}", "type": GEOJSON})
    if offset > 0:
        params["offset"] = max(0, offset - limit)
        links.append({"rel": "prev", "href": f"{base}?{urlencode(params, doseq=True)}", "type": GEOJSON})
    return links


class FeatureView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_feature", summary="One feature by id",
                   parameters=FEATURE_PARAMS[1:2] + FEATURE_PARAMS[3:4],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="a GeoJSON Feature"),
                              404: OpenApiResponse(description="no such feature or layer")})
    def get(self, request, slug, fid):
        layer = visible_layer(request, slug, "features")
        if problem := without_table(layer, AS_TILES_OR_BY_POINT):
            return bad_request(problem)
        try:
            feature = features.one(layer, int(fid), request.query_params)
        except BadRequest as exc:
            return bad_request(exc)
        if feature is None:
            return JsonResponse({"detail": f"layer {slug!r} has no feature {fid}"}, status=404)
        from editing import store

        response = HttpResponse(feature, content_type=GEOJSON)
        response["ETag"] = f'"{store.version_of(layer, int(fid))}"'  # the version to send back with a change
        return response

    @extend_schema(operation_id="layer_feature_update", summary="Change a feature's geometry and/or attributes "
                   "(only those sent), giving the version read", parameters=[FEATURE_EDIT_VERSION],
                   request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the feature as stored, with "
                                                   "its new version (also the ETag)"),
                              400: OpenApiResponse(description="a bad geometry or attribute, or no version"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such feature or layer"),
                              409: OpenApiResponse(description="the version read is stale: both versions and the "
                                                   "current feature")})
    def patch(self, request, slug, fid):
        from editing import views as editing

        return editing.update(request, slug, int(fid))

    @extend_schema(operation_id="layer_feature_delete", summary="Delete a feature, giving the version read",
                   parameters=[FEATURE_EDIT_VERSION, OpenApiParameter("version", int, description="or If-Match")],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{fid, version, deleted}"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such feature or layer"),
                              409: OpenApiResponse(description="the version read is stale: both versions")})
    def delete(self, request, slug, fid):
        from editing import views as editing

        return editing.delete(request, slug, int(fid))


class AttributeValuesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_attribute_values",
                   summary="The values an attribute takes (most frequent first, at most 50), for a form's options",
                   parameters=[OpenApiParameter("attribute", str, required=True, description="the attribute"),
                               OpenApiParameter("label", str, description="an attribute labelling each value "
                                                "(e.g. kind_zh for kind)")],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{attribute, values: [{value, "
                                                   "label, count}], more}"),
                              400: OpenApiResponse(description="no such attribute, named in `detail`"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def get(self, request, slug):
        layer = visible_layer(request, slug, "features")
        try:
            body = values.attribute_values(layer, request.query_params.get("attribute", ""),
                                           request.query_params.get("label") or None)
        except BadRequest as exc:
            return bad_request(exc)
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


class StatisticsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_attribute_statistics",
                   summary="Statistics of one attribute over the (filtered) features: count, and as its kind allows "
                   "sum, mean, min, max or the distinct values with their counts",
                   parameters=[OpenApiParameter("attribute", str, required=True, description="the attribute"),
                               FEATURE_PARAMS[0], FEATURE_PARAMS[-1], FILTER_PARAMS[0], FILTER_PARAMS[2]],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{attribute, features, count, "
                                                   "min, max, mean, sum | distinct, values: [{value, label, count}]}"),
                              400: OpenApiResponse(description="no such attribute or a bad filter, in `detail`"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def get(self, request, slug):
        layer = visible_layer(request, slug, "features")
        params = request.query_params.copy()
        attribute = params.pop("attribute", [""])[-1]
        try:
            body = statistics.column_statistics(layer, attribute, params)
        except BadRequest as exc:
            return bad_request(exc)
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


class UsageView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="layer_usage",
                   summary="Requests to a layer per month and kind (owner agency and admins)",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    def get(self, request, slug):
        layer = visible_layer(request, slug, None)
        if not layer.can_edit(request.user):
            return JsonResponse({"detail": "usage figures are for the layer's owner agency and admins"}, status=403)
        totals: dict[tuple[str, str], int] = {}
        for row in LayerUsage.objects.filter(layer=layer):
            totals[(row.month.strftime("%Y-%m"), row.kind)] = row.count
        for (month, slug_, kind), n in usage.pending().items():
            if slug_ == layer.slug:
                totals[(month, kind)] = totals.get((month, kind), 0) + n
        months: dict[str, dict[str, int]] = {}
        for (month, kind), n in sorted(totals.items(), reverse=True):
            months.setdefault(month, {})[kind] = n
        return JsonResponse({"layer": layer.slug, "months": months})


def _tile(request, slug, z, x, y, render, content_type: str, kind: str = "vector") -> HttpResponse:
    """A tile answer: 304 when the client has this version, 204 when there is nothing to draw, 400 when the
    tile does not exist. Whether this user may see the layer is decided first; then the tile comes from the
    server's tile cache (tilecache) or is drawn and kept there."""
    layer = visible_layer(request, slug, "tile")
    if kind == "vector":
        tile_sessions.publish(request)  # the fast path may answer this session's next cached tiles itself
    variant = variant_of(request.GET)
    cached = not_modified(request, layer, variant)
    if cached:
        return cached
    zxy = int(z), int(x), int(y)
    data = tilecache.get(layer, kind, variant, *zxy)
    if data is None:
        # a tile drawn for the cache right after the layer changed reads the primary (geo.dbrouter.pin_layer)
        fresh = dbrouter.primary() if dbrouter.layer_changed_recently(layer.pk) else contextlib.nullcontext()
        try:
            with fresh:
                data = render(layer, *zxy)
        except BadRequest as exc:
            return bad_request(exc)
        tilecache.put(layer, kind, variant, *zxy, data or b"")
    return cache_headers(HttpResponse(data or b"", content_type=content_type, status=200 if data else 204), layer,
                         variant)


@require_GET
def vector_tile(request, slug, z, x, y):
    return _tile(request, slug, z, x, y, lambda layer, *zxy: tiles.tile(layer, *zxy, request.GET),
                 "application/vnd.mapbox-vector-tile")


@require_GET
def tilejson(request, slug):
    layer = visible_layer(request, slug, "metadata")
    if layer.kind != Layer.Kind.VECTOR:
        return bad_request(BadRequest("圖層 {slug} 是 {kind} 圖層：沒有向量圖磚", slug=repr(slug), kind=layer.kind))
    template = request.build_absolute_uri(reverse("vector-tile", args=[slug, 0, 0, 0])).replace(
        "/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    fields = {a["name"]: a.get("label") or a["type"] for a in layer.attributes}
    doc = {
        "tilejson": "3.0.0", "name": layer.title_zh, "description": layer.abstract, "version": "1.0.0",
        "attribution": layer.owner_agency.name if layer.owner_agency else "", "scheme": "xyz", "tiles": [template],
        "minzoom": layer.min_zoom, "maxzoom": tiles.MAX_ZOOM,
        "bounds": list(layer.extent.extent) if layer.extent else [-180, -85.05, 180, 85.05],
        "vector_layers": [{"id": layer.slug, "description": layer.title_zh, "minzoom": layer.min_zoom,
                           "maxzoom": tiles.MAX_ZOOM, "fields": fields}],
    }
    return cache_headers(JsonResponse(doc, json_dumps_params={"ensure_ascii": False}), layer)


class DownloadView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_download", summary="Download a layer or a filtered subset (streamed)",
                   parameters=[
        OpenApiParameter("format", str, enum=list(downloads.FORMATS), description="default geojson"),
        OpenApiParameter("coords", str, enum=["wkt", "xy"], description="CSV geometry: WKT, or X/Y for points"),
        OpenApiParameter("labels", str, enum=["0", "1"], description="CSV header: column names (0, default) or "
                         "labels with units in the request's language (1), for spreadsheets"),
        *FEATURE_PARAMS[:4], FEATURE_PARAMS[6], *FILTER_PARAMS],
        responses={200: OpenApiResponse(OpenApiTypes.BINARY), 400: OpenApiResponse(description="bad parameter")})
    def get(self, request, slug):
        return self.answer(request, slug, request.query_params)

    @extend_schema(operation_id="layer_download_selection", summary="Download a layer's filtered or selected "
                   "features: the same parameters as GET, in a JSON body (a long `fids` selection fits there)",
                   request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.BINARY),
                              400: OpenApiResponse(description="bad parameter")})
    def post(self, request, slug):
        if not isinstance(request.data, dict):
            return bad_request(BadRequest("請送出 JSON 物件，例如 {{\"format\": \"csv\", \"fids\": [1, 2]}}"))
        params = QueryDict(mutable=True)
        for key, value in request.data.items():
            params[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) \
                if key == "filter" else ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return self.answer(request, slug, params)

    def answer(self, request, slug, params):
        layer = visible_layer(request, slug, "download")
        fmt = params.get("format", "geojson")
        if fmt not in downloads.FORMATS:
            return bad_request(BadRequest("format={format}：請使用 {choices} 其中之一", format=repr(fmt),
                                                     choices=", ".join(downloads.FORMATS)))
        if problem := without_table(layer, note("請下載其圖磚，或索取 COG 檔")):
            return bad_request(problem)
        if layer.kind == Layer.Kind.TABLE and fmt == "shp":
            return bad_request(BadRequest("沒有圖形的表格只能下載為 csv、geojson 或 gpkg"))
        try:
            if fmt == "geojson":
                response = StreamingHttpResponse(downloads.geojson(layer, params), content_type=downloads.FORMATS[fmt])
            elif fmt == "csv":
                response = StreamingHttpResponse(downloads.csv_rows(layer, params), content_type=downloads.FORMATS[fmt])
            elif fmt == "html":
                if layer.kind == Layer.Kind.TABLE:
                    return bad_request(BadRequest("沒有圖形的表格沒有地圖；請下載為 csv"))
                response = HttpResponse(html_map.render(layer, params), content_type=downloads.FORMATS[fmt])
            else:
                path = downloads.ogr_file(layer, params, "GPKG" if fmt == "gpkg" else "ESRI Shapefile")
                response = FileResponse(open(path, "rb"), content_type=downloads.FORMATS[fmt])  # noqa: SIM115
                response._resource_closers.append(lambda: shutil.rmtree(path.parent, ignore_errors=True))
        except BadRequest as exc:
            return bad_request(exc)
        extension = {"shp": "zip"}.get(fmt, fmt)
        response["Content-Disposition"] = f'attachment; filename="{layer.table_name}.{extension}"'
        return response


@require_GET
def raster_tile(request, slug, z, x, y):
    return _tile(request, slug, z, x, y, rasters.png_tile, "image/png", "raster")


@require_GET
def basemap_tile(request, z, x, y):
    """The platform's own basemap (drawn by MapServer with names, works offline) from the layers this user may
    see; a layer one may not see is simply not drawn, as if it did not exist."""
    from layers.ogc import basemap

    try:
        tiles.check_tile(int(z), int(x), int(y))
    except BadRequest as exc:
        return bad_request(exc)
    user = request_user(request)
    visible = frozenset(Layer.objects.visible_to(user).filter(slug__in=settings.VIEWER_BASEMAP_LAYERS)
                        .values_list("slug", flat=True))
    response = HttpResponse(basemap.tile_png(int(z), int(x), int(y), visible), content_type="image/png")
    # what a signed-in user sees may hold more layers than a shared cache should hand to others
    response["Cache-Control"] = "private, max-age=300" if user.is_authenticated else "public, max-age=300"
    response["Vary"] = "Cookie, Authorization"
    return response


@require_GET
def terrain_tile(request, slug, z, x, y):
    """A raster's values as Mapbox terrain-RGB (elevation for MapLibre's 3D terrain)."""
    return _tile(request, slug, z, x, y, rasters.terrain_rgb_tile, "image/png", "terrain")


class SearchView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="search_places", summary="One search box: coordinates, addresses, places, layers "
                   "and features in the layers you may see",
                   parameters=[OpenApiParameter("q", str, required=True, description="text to find, e.g. 中正路, "
                                                "中正路100號, 121.5,25.04, 250000 2770000, 25°02'30\"N 121°33'54\"E")],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="groups (coordinates, addresses, "
                                                   "places, layers, features), results (feature matches with "
                                                   "layer, attribute, value, count and lon/lat bbox) and a note "
                                                   "when nothing matched"),
                              400: OpenApiResponse(description="q missing or too long, or coordinates that cannot "
                                                   "be read or lie outside Taiwan")})
    def get(self, request):
        layers = Layer.objects.visible_to(request_user(request))
        try:
            found = search.search_all(layers, request.query_params.get("q", ""))
        except BadRequest as exc:
            return bad_request(exc)
        found["note"] = render(found["note"]) if found["note"] else None
        return JsonResponse(found, json_dumps_params={"ensure_ascii": False})


class GeocodeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="geocode_address", summary="An address (門牌) as a point, with the match level",
                   parameters=[OpenApiParameter("address", str, required=True,
                                                description="e.g. 桃園市復興區三光里武崙路120巷2號")],
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="level (exact, nearest_number, "
                                                   "road, village, district), score 0–1, label, lon, lat, x, y"),
                              404: OpenApiResponse(description="no address point matches"),
                              400: OpenApiResponse(description="address missing or too long")})
    def get(self, request):
        text = request.query_params.get("address", "").strip()
        if not 1 <= len(text) <= search.MAX_LENGTH:
            return bad_request(BadRequest("address：請填 {low}–{high} 個字元的地址", low=1, high=search.MAX_LENGTH))
        found = search.address_matches(Layer.objects.visible_to(request_user(request)), text)
        if not found:
            return JsonResponse({"detail": render(note(
                "找不到地址「{q}」：請寫出路街與門牌號，例如 桃園市中壢區中正路100號（可省略縣市與區）", q=text))},
                status=404, json_dumps_params={"ensure_ascii": False})
        return JsonResponse(found[0], json_dumps_params={"ensure_ascii": False})


class PointValueView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_point_value", summary="A raster layer's value at a point (e.g. elevation)",
                   parameters=[
        OpenApiParameter("lon", float, required=True), OpenApiParameter("lat", float, required=True)],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="value (null outside or on nodata)")})
    def get(self, request, slug):
        layer = visible_layer(request, slug, "point")
        try:
            lon, lat = float(request.query_params["lon"]), float(request.query_params["lat"])
        except (KeyError, ValueError):
            return bad_request(BadRequest("請以度數填 lon 與 lat，例如 ?lon=121.3&lat=24.99"))
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return bad_request(BadRequest("lon={lon}, lat={lat} 不是地球上的點", lon=lon, lat=lat))
        try:
            return JsonResponse(rasters.value_at(layer, lon, lat))
        except BadRequest as exc:
            return bad_request(exc)
