"""The feature editing API: POST …/features/, PATCH and DELETE …/features/{fid}/ (methods of the serving views,
which call in here), GET …/features/{fid}/history/ and POST …/features/{fid}/restore/.

A layer the user may not see is 404 as ever; one they may see but not change is 403; a stale version is 409 with
the version the client sent, the current one and the current feature. Each change is an audit entry on the
layer (action feature_create / feature_update / feature_delete / feature_restore, with the fid and version).
"""

import json
import time
from datetime import datetime

from django.db import DataError
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from audit import actors, events
from geo.messages import render
from geo.messages import text as note
from layers.serving.access import BadRequest, request_user, visible_layer

from . import locks, rights, rules, store
from .models import FeatureChange

GEOJSON = "application/geo+json"


def etag(version: int) -> str:
    return f'"{version}"'


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _detail(msgid: str, status: int, **params) -> JsonResponse:
    return _json({"detail": render(note(msgid, **params))}, status)


def editable_layer(request, slug: str, action: str = rights.EDIT, fid: int | None = None):
    """(layer, user) or an answer: 404 for a layer the user may not see, 403 for one they may not change this way."""
    layer = visible_layer(request, slug, None)
    user = request_user(request)
    if not rights.may(user, layer, action, fid):
        return None, None, _detail(rights.REFUSED[action], 403)
    return layer, user, None


def change_body(change: FeatureChange) -> dict:
    return {"fid": change.fid, "version": change.version, "action": change.action, "user": change.username,
            "time": change.time.isoformat(), "restored_from": change.restored_from, "related": change.related}


def feature_answer(change: FeatureChange, status: int = 200) -> JsonResponse:
    """The feature as it is after the change (a GeoJSON Feature with its version), or the change for a delete."""
    if change.after is None:
        response = _json(change_body(change) | {"deleted": True}, status)
    else:
        response = _json({"type": "Feature", "id": change.fid, "version": change.version, **change.after}, status)
        response["Content-Type"] = GEOJSON
    response["ETag"] = etag(change.version)
    return response


def conflict_answer(conflict: store.Conflict) -> JsonResponse:
    current = ({"type": "Feature", "id": None, "version": conflict.current, **conflict.feature}
               if conflict.feature else None)
    if current and conflict.change:
        current["id"] = conflict.change.fid
    body = {"detail": render(note("版本衝突：您讀到的是版本 {theirs}，圖徵已被改為版本 {current}，請以目前版本重新編輯",
                                  theirs=conflict.theirs, current=conflict.current)),
            "theirs": {"version": conflict.theirs}, "current": {"version": conflict.current, "feature": current,
                                                                 "deleted": conflict.feature is None},
            "last_change": change_body(conflict.change) if conflict.change else None}
    response = _json(body, 409)
    response["ETag"] = etag(conflict.current)
    return response


def _audit(request, layer, change: FeatureChange) -> None:
    events.record_layer(f"feature_{change.action}", actors.of_request(request), layer,
                        {"fid": change.fid, "version": change.version, "restored_from": change.restored_from})


def run(request, slug: str, fid: int | None, operation, action: str = rights.EDIT) -> JsonResponse:
    """One write: rights, then the operation, with every refusal a clear answer."""
    layer, user, refusal = editable_layer(request, slug, action, fid if fid is not None and fid < 2**31 else None)
    if refusal:
        return refusal
    try:
        if fid is not None and fid >= 2**31:
            raise store.NotFound
        change = operation(layer, user)
    except BadRequest as exc:
        return _json({"detail": str(exc)}, 400)
    except DataError as exc:  # a value the column's own limits refuse (numeric(p, s), a domain …): nothing written
        return _detail("有值不符合圖層欄位的限制：{reason}", 400, reason=str(exc).splitlines()[0][:200])
    except store.NotFound:
        return _detail("圖層 {slug} 沒有圖徵 {fid}", 404, slug=repr(slug), fid=fid)
    except store.Conflict as conflict:
        return conflict_answer(conflict)
    except locks.Locked as held:
        return _detail("圖徵 {fid} 已被 {user} 以 WFS 鎖定，請待鎖定解除（約 {seconds} 秒）後再編輯", 423, fid=held.fid,
                       user=held.holder or "—", seconds=max(0, int(held.expires - time.time())))
    _audit(request, layer, change)
    return feature_answer(change, 201 if change.action == FeatureChange.Action.CREATE else 200)


def create(request, slug: str) -> JsonResponse:
    response = run(request, slug, None, lambda layer, user: store.create(layer, user, request.data), rights.ADD)
    if response.status_code == 201:
        response["Location"] = request.build_absolute_uri(f"{request.path}{json.loads(response.content)['id']}/")
    return response


def update(request, slug: str, fid: int) -> JsonResponse:
    def operation(layer, user):
        return store.update(layer, user, fid, request.data,
                            store.expected_version(request.headers.get("If-Match"), request.data))
    return run(request, slug, fid, operation)


def delete(request, slug: str, fid: int) -> JsonResponse:
    def operation(layer, user):
        return store.delete(layer, user, fid, store.expected_version(
            request.headers.get("If-Match"), {"version": request.query_params.get("version")}
            if "version" in request.query_params else request.data))
    return run(request, slug, fid, operation, rights.DELETE)


VERSION_PARAM = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER,
                                 description="the ETag of the version read (or `version` in the body or query)")


class FeatureHistoryView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_feature_history", summary="Every change of one feature, newest first "
                   "(who, when, action, before and after)",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{fid, version, changes: "
                                                   "[{version, action, user, time, restored_from, before, after}]}"),
                              404: OpenApiResponse(description="no such layer or feature, or not one you may see")})
    def get(self, request, slug, fid):
        layer = visible_layer(request, slug, "features")
        changes = list(FeatureChange.objects.filter(layer=layer, fid=fid).order_by("-version"))
        try:
            table = store.table_of(layer)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        if not changes and store.snapshot(layer, table, fid) is None:
            return _detail("圖層 {slug} 沒有圖徵 {fid}", 404, slug=repr(slug), fid=fid)
        return _json({"fid": fid, "version": changes[0].version if changes else 0,
                      "changes": [change_body(c) | {"before": c.before, "after": c.after} for c in changes]})


class FeatureRestoreView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_feature_restore", summary="Bring a feature back to its state at a past "
                   "version (recorded as a new change; restoring a version before it existed deletes it)",
                   parameters=[VERSION_PARAM], request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the feature as restored"),
                              400: OpenApiResponse(description="no such version"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such layer or feature, or not one you may see"),
                              409: OpenApiResponse(description="the version read is stale: both versions")})
    def post(self, request, slug, fid):
        def operation(layer, user):
            data = request.data if isinstance(request.data, dict) else {}
            target = data.get("to_version")
            if not isinstance(target, int) or isinstance(target, bool) or target < 0:
                raise BadRequest("to_version：請填要還原的版本號（0 為匯入時的狀態）")
            return store.restore(layer, user, fid, target,
                                 store.expected_version(request.headers.get("If-Match"), data))
        return run(request, slug, fid, operation)


class LayerFormView(APIView):
    """GET: the form a client draws for the layer's features (anyone who may see the layer, with `can_edit`);
    PUT: its rules (the layer's editors)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_form", summary="The editing form of a layer: every attribute with its "
                   "label, unit, type and rules (required, value list, range, default, read-only, condition)",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{layer, geometry_type, "
                                                   "can_edit, fields: [{name, label, label_en, type, input, …rules}]}"),
                              400: OpenApiResponse(description="not a vector layer"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def get(self, request, slug):
        layer = visible_layer(request, slug, None)
        try:
            body = rules.form(layer)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        user = request_user(request)
        body["can_edit"] = rights.may(user, layer, rights.EDIT)
        body["can_add"] = rights.may(user, layer, rights.ADD)
        body["can_delete"] = rights.may(user, layer, rights.DELETE)
        return _json(body)

    @extend_schema(operation_id="layer_form_update", summary="Set the layer's form rules (replaces them all)",
                   request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the form as now"),
                              400: OpenApiResponse(description="a rule that cannot hold, naming the attribute"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def put(self, request, slug):
        layer, user, refusal = editable_layer(request, slug, rights.FORM)
        if refusal:
            return refusal
        try:
            rules.save(layer, user, request.data)
            body = rules.form(layer)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        events.record_layer("form_update", actors.of_request(request), layer, {"fields": sorted(
            rules.rules_of(layer))})
        return _json(body)


class LayerRollbackView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_rollback", summary="Bring every feature of the layer back to its state at a "
                   "moment (one transaction, one audit entry; each feature changed since gets a restore change)",
                   request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{layer, to, restored: n, "
                                                   "changes: [{fid, version, action, …}]}"),
                              400: OpenApiResponse(description="no moment, or one that cannot be read"),
                              403: OpenApiResponse(description="you may see but not change the layer"),
                              404: OpenApiResponse(description="no such layer, or not one you may see")})
    def post(self, request, slug):
        layer, user, refusal = editable_layer(request, slug, rights.ROLLBACK)
        if refusal:
            return refusal
        data = request.data if isinstance(request.data, dict) else {}
        try:
            moment = datetime.fromisoformat(str(data.get("to", "")))
        except ValueError:
            return _detail("to：請填要回到的時刻（ISO 8601，例如 2026-12-07T09:00:00+08:00）", 400)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        try:
            changes = store.rollback(layer, user, moment)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        events.record_layer("layer_rollback", actors.of_request(request), layer,
                            {"to": moment.isoformat(), "fids": [c.fid for c in changes][:1000],
                             "restored": len(changes)})
        return _json({"layer": layer.slug, "to": moment.isoformat(), "restored": len(changes),
                      "changes": [change_body(c) for c in changes]})


def _several(request, slug: str, needed: list[tuple[str, int | None]], operation) -> JsonResponse:
    """A write of several features (split, merge): every right in `needed` ((action, fid) pairs) first, then the
    operation in one transaction; the answer lists the changes and the features as they are now."""
    layer = visible_layer(request, slug, None)
    user = request_user(request)
    for action, fid in needed:
        if not rights.may(user, layer, action, fid if fid is not None and fid < 2**31 else None):
            return _detail(rights.REFUSED[action], 403)
    try:
        changes = operation(layer, user)
    except BadRequest as exc:
        return _json({"detail": str(exc)}, 400)
    except DataError as exc:
        return _detail("有值不符合圖層欄位的限制：{reason}", 400, reason=str(exc).splitlines()[0][:200])
    except store.NotFound:
        return _detail("圖層 {slug} 沒有圖徵 {fid}", 404, slug=repr(slug), fid=", ".join(
            str(fid) for _a, fid in needed if fid is not None))
    except store.Conflict as conflict:
        return conflict_answer(conflict)
    first = changes[0]
    events.record_layer(f"feature_{first.action}", actors.of_request(request), layer,
                        {"fid": first.fid, "version": first.version, "related": first.related})
    return _json({"changes": [change_body(c) for c in changes],
                  "features": [{"type": "Feature", "id": c.fid, "version": c.version, **c.after}
                               for c in changes if c.after is not None]})


class FeatureSplitView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_feature_split", summary="Split a line or polygon feature by a line: the "
                   "pieces become new features (attributes by the form's `split` rules), the original is removed; "
                   "its history names the new fids", parameters=[VERSION_PARAM], request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{changes: [the original's "
                                                   "split, each piece's create], features: [the pieces]}"),
                              400: OpenApiResponse(description="no line, or one that does not cut the feature"),
                              403: OpenApiResponse(description="you may not change, delete or add features"),
                              404: OpenApiResponse(description="no such layer or feature, or not one you may see"),
                              409: OpenApiResponse(description="the version read is stale: both versions")})
    def post(self, request, slug, fid):
        data = request.data if isinstance(request.data, dict) else {}
        return _several(request, slug, [(rights.EDIT, fid), (rights.DELETE, fid), (rights.ADD, None)],
                        lambda layer, user: store.split(layer, user, fid, data, store.expected_version(
                            request.headers.get("If-Match"), data)))


class LayerMergeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="layer_merge", summary="Merge features of one layer into one (their union): the "
                   "kept feature's attributes stay (with `properties` over them); the others are removed",
                   request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{changes: [the kept one's "
                                                   "merge, each removed one's merge], features: [the kept one]}"),
                              400: OpenApiResponse(description="fewer than two features, features that do not "
                                                   "touch for a single-part layer, a value the form refuses"),
                              403: OpenApiResponse(description="you may not change every feature or delete the "
                                                   "merged ones"),
                              404: OpenApiResponse(description="no such layer or feature, or not one you may see"),
                              409: OpenApiResponse(description="a version read is stale: both versions")})
    def post(self, request, slug):
        layer = visible_layer(request, slug, None)  # 404 before the body is read
        try:
            read, keep, properties = store.merge_request(request.data)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        needed = [(rights.EDIT, fid) for fid in read] + [(rights.DELETE, fid) for fid in read if fid != keep]
        return _several(request, layer.slug, needed,
                        lambda layer, user: store.merge(layer, user, read, keep, properties))
