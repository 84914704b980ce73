"""OGC API - Features - Part 4 (Create, Replace, Update, Delete) at /ogcapi/collections/{id}/items[/{fid}]:

- POST …/items: a GeoJSON Feature → 201, `Location` of the new item, its `ETag`, the feature as stored;
- PUT …/items/{fid}: the whole feature (attributes left out become empty) → 200 with the feature;
- PATCH …/items/{fid}: a JSON merge patch (`application/merge-patch+json`; `properties` members, `geometry`) → 200;
- DELETE …/items/{fid} → 204.

Every write goes through editing.store (form rules, versions, history, live events, audit) with the rights of the
REST API. The ETag of an item is its version: `If-Match` with a stale one is 412 Precondition Failed (with the
current ETag); without If-Match the write is to the current version (Part 4 makes optimistic locking optional;
QGIS does not send it). Geometries are CRS84 unless `Content-Crs` names one of the collection's CRSs (Part 2).
Errors are the JSON {code, description} of the rest of /ogcapi/; a collection the caller may not see is 404 as one
that does not exist, one they may see but not change this way 403.
"""

import json

from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db import DataError
from django.http import HttpResponse
from django.urls import reverse
from django.utils import translation

from editing import locks, rights, store, wfst
from editing.views import _audit
from layers.serving.access import BadRequest, request_user

from . import views

MERGE_PATCH = "application/merge-patch+json"


def _fail(status: int, code: str, description: str) -> views.ApiError:
    return views.ApiError(status, code, description)


def _body(request) -> dict:
    kind = request.content_type or ""
    if kind not in (views.GEOJSON, views.JSON, MERGE_PATCH):
        raise _fail(415, "InvalidParameterValue", str(translation.gettext(
            "請以 GeoJSON（Content-Type: application/geo+json）送出圖徵")))
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _fail(400, "InvalidParameterValue", str(translation.gettext("內容不是可讀的 JSON"))) from None
    if not isinstance(body, dict):
        raise _fail(400, "InvalidParameterValue", str(translation.gettext(
            "請送 GeoJSON Feature（type、geometry、properties）")))
    return body


def _geometry(request, layer, value):
    """A GeoJSON geometry in CRS84, or in the CRS `Content-Crs` names (as a GEOSGeometry in it)."""
    header = request.headers.get("Content-Crs", "").strip().strip("<>")
    if value is None or not header or header == views.CRS84:
        return value
    srid, flipped = views.parse_crs(header, "Content-Crs", layer)
    if srid == 4326 and not flipped:
        return value
    try:
        geom = GEOSGeometry(json.dumps(value))
    except (GEOSException, ValueError, TypeError) as exc:
        raise _fail(400, "InvalidParameterValue", f"geometry: {str(exc)[:200]}") from None
    if flipped:
        import shapely

        geom = GEOSGeometry(memoryview(shapely.to_wkb(shapely.transform(shapely.from_wkb(bytes(geom.wkb)),
                                                                          lambda xy: xy[:, ::-1]))))
    geom.srid = srid
    return geom


def _expected(request) -> int:
    given = request.headers.get("If-Match")
    if given is None or given.strip() == "*":
        return store.LATEST
    try:
        return store.expected_version(given.split(",")[0], None)
    except BadRequest as exc:
        raise _fail(400, "InvalidParameterValue", str(exc)) from None


def _fid(layer, feature_id: str) -> int:
    if not feature_id.isdigit() or len(feature_id) > 18:
        raise views._not_found(translation.gettext("集合 %(id)s 的圖徵 %(fid)s") % {
            "id": repr(layer.slug), "fid": repr(feature_id)[:40]})
    return int(feature_id)


def write(request, collection_id: str, feature_id: str | None) -> HttpResponse:
    """One Part 4 write (the method says which), answered as /ogcapi/ answers."""
    try:
        return _write(request, collection_id, feature_id)
    except views.ApiError as problem:
        return views._error(problem)


def _write(request, collection_id: str, feature_id: str | None) -> HttpResponse:
    layer = views._layer(request, collection_id, None)
    user = request_user(request)
    if wfst.session_without_csrf(request, user):
        raise _fail(403, "Forbidden", str(translation.gettext(
            "以網站登入（cookie）編輯需附 CSRF 權杖；程式與桌面 GIS 請用 API 權杖")))
    method = request.method
    fid = _fid(layer, feature_id) if feature_id is not None else None
    action = rights.ADD if method == "POST" else rights.DELETE if method == "DELETE" else rights.EDIT
    if not rights.may(user, layer, action, fid if fid is not None and fid < 2**31 else None):
        raise _fail(403, "Forbidden", str(translation.gettext(rights.REFUSED[action])))
    try:
        if method == "POST":
            body = _body(request)
            change = store.create(layer, user, {"geometry": _geometry(request, layer, body.get("geometry")),
                                                "properties": body.get("properties")})
        elif method == "DELETE":
            change = store.delete(layer, user, fid, _expected(request))
        else:
            body = _body(request)
            properties = body.get("properties") or {}
            if method == "PUT":
                if body.get("geometry") is None:
                    raise _fail(400, "InvalidParameterValue", str(translation.gettext(
                        "PUT 取代整個圖徵：請附 geometry（只改部分請用 PATCH）")))
                if isinstance(properties, dict):
                    properties = {name: None for name in store.table_of(layer).columns} | properties
            change = store.update(layer, user, fid, {"geometry": _geometry(request, layer, body.get("geometry")),
                                                     "properties": properties}, _expected(request))
    except BadRequest as exc:
        raise _fail(400, "InvalidParameterValue", str(exc)) from None
    except DataError as exc:
        raise _fail(400, "InvalidParameterValue", str(exc).splitlines()[0][:200]) from None
    except store.NotFound:
        raise views._not_found(translation.gettext("集合 %(id)s 的圖徵 %(fid)s") % {
            "id": repr(layer.slug), "fid": repr(feature_id)[:40]}) from None
    except store.Conflict as conflict:
        response = views._error(_fail(412, "PreconditionFailed", str(translation.gettext(
            "圖徵 %(fid)s 已是版本 %(current)s（您讀到的是 %(theirs)s）：請重新讀取後再改") % {
            "fid": fid, "current": conflict.current, "theirs": conflict.theirs})))
        response["ETag"] = f'"{conflict.current}"'
        return response
    except locks.Locked as held:
        raise _fail(423, "Locked", str(held)) from None
    _audit(request, layer, change)
    if change.after is None:
        return HttpResponse(status=204)
    here = request.build_absolute_uri(reverse("ogcapi-item", args=[layer.slug, change.fid]))
    feature = {"type": "Feature", "id": change.fid, **change.after,
               "links": [{"rel": "self", "type": views.GEOJSON, "href": here},
                         {"rel": "collection", "type": views.JSON,
                          "href": request.build_absolute_uri(reverse("ogcapi-collection", args=[layer.slug]))}]}
    response = HttpResponse(json.dumps(feature, ensure_ascii=False), content_type=views.GEOJSON,
                            status=201 if method == "POST" else 200)
    response["ETag"] = f'"{change.version}"'
    if method == "POST":
        response["Location"] = here
    response["Cache-Control"] = "no-store"
    return response
