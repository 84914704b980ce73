"""Every successful change made through the API, and every export, becomes an audit entry — by construction.

Any POST/PUT/PATCH/DELETE under /api/v1/ that succeeds is recorded (a new route included) unless NOT_RECORDED
says why not; ROUTES names the action and object where the method alone does not say enough. GET routes that
export data are listed in ROUTES too. The middleware also makes the current request known to the hooks that
see none (read counts, model signals): see audit.actors.
"""

import json

from django.conf import settings

from . import actors, events

API = "/api/v1/"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ACTIONS = {"POST": "create", "PUT": "change", "PATCH": "change", "DELETE": "delete"}
# route name (or (route name, method)) → what the entry says; `keep` = request values worth keeping as detail
ROUTES = {
    "layer-list": {"action": "upload", "object_type": "layer"},
    "layer-detail": {"object_type": "layer"},
    "layer-style": {"action": "change", "object_type": "layer", "detail": {"part": "style"}},
    "layer-reimport": {"action": "reimport", "object_type": "layer"},
    "layer-restore": {"action": "restore", "object_type": "layer"},
    "layer-download": {"action": "export", "object_type": "layer", "keep": "query"},
    "print": {"action": "export", "object_type": "print", "keep": ("format", "layers", "title", "paper", "dpi")},
    "analysis-siting-report": {"action": "export", "object_type": "analysis_job"},
    "analysis-road-widening-report": {"action": "export", "object_type": "analysis", "keep": ("layer", "format")},
    "shared-view-create": {"object_type": "shared_view"},
    "iot-register-layer": {"object_type": "sensor_devices"},
}
ROUTES["network"] = {"action": "create", "object_type": "network", "keep": ("roads", "profile")}
for _name in ("analysis-overlay", "analysis-road-widening", "analysis-buffer-layer", "analysis-siting",
              "analysis-wifi-recommend", "network-service-areas", "network-closest-facility", "network-od-matrix",
              "network-routes"):
    ROUTES[_name] = {"action": "analyse", "object_type": "analysis_job"}
# why some successful writes are not recorded here
NOT_RECORDED = {
    "api-token": "a token sign-in: recorded as sign_in below",
    "account-token-list": "a personal API token made: recorded as token_create by accounts.tokens",
    "account-token-detail": "a personal API token revoked: recorded as token_revoke by accounts.tokens",
    "layer-register-service": "the new layer is recorded where layers are created (audit.signals)",
    "iot-observations": "sensor feeds (devices, thousands an hour, no person acting); the feed keeps rejects",
    "layer-features": "a feature added: recorded as feature_create (with fid and version) by editing.views",
    "layer-feature": "a feature changed or deleted: recorded as feature_update / feature_delete by editing.views",
    "layer-feature-restore": "a feature restored: recorded as feature_restore by editing.views",
    "layer-rollback": "a layer rolled back: recorded as layer_rollback (moment, fids) by editing.views",
    "layer-form": "form rules set: recorded as form_update (with the attributes ruled) by editing.views",
    "login": "session sign-in: recorded by Django's user_logged_in / user_login_failed signals",
    "logout": "session sign-out: recorded by Django's user_logged_out signal",
    # computations that answer and store nothing
    "analysis-measure": "", "analysis-distance": "", "analysis-nearest": "", "analysis-buffer": "",
    "analysis-wifi-usage": "", "analysis-wifi-coverage": "",
}
PRIVATE = {"password", "token", "key", "secret"}
SMALL_JSON = 64 * 1024


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = actors.current_request.set(request)
        try:
            response = self.get_response(request)
            if request.path.startswith(API) and 200 <= response.status_code < 400:
                _record(request, response)
            return response
        finally:
            actors.current_request.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Before the view: keep a small JSON body readable (DRF consumes the stream) and the id of a layer that
        a DELETE is about to remove."""
        if not request.path.startswith(API):
            return None
        if request.method in WRITES and request.content_type == "application/json" and _small(request):
            try:
                request._audit_body = json.loads(request.body or b"{}")
            except ValueError:
                request._audit_body = None
        name = request.resolver_match.url_name or ""
        recorded = request.method in WRITES or ROUTES.get(name, {}).get("action") == "export"
        if recorded and "slug" in view_kwargs and name.startswith("layer-"):  # never on the hot read paths
            from layers.models import Layer

            request._audit_layer_id = Layer.objects.filter(slug=view_kwargs["slug"]).values_list(
                "pk", flat=True).first()
        return None


def _small(request) -> bool:
    """Small enough to read here: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is the view's to refuse in its own words
    (reading it here would end the request with a bare 400 page)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    most = SMALL_JSON if limit is None else min(SMALL_JSON, limit)
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) <= most
    except ValueError:  # Django reads such a body as empty; so do we
        return False


def _route(request) -> tuple[str, dict] | None:
    match = request.resolver_match
    if match is None:
        return None
    name = match.url_name or ""
    if name in NOT_RECORDED:
        return None
    rule = ROUTES.get(name)
    if request.method in WRITES or (rule and rule.get("action") == "export" and request.method == "GET"):
        return name, rule or {}
    return None


def _record(request, response) -> None:
    match = request.resolver_match
    if match is not None and match.url_name == "api-token":
        _token_sign_in(request, response)
        return
    found = _route(request)
    if found is None:
        return
    name, rule = found
    kwargs = match.kwargs
    body = getattr(request, "_audit_body", None)
    detail = dict(rule.get("detail", {}), route=name)
    action = rule.get("action") or ACTIONS.get(request.method, "change")
    if request.method in ("PUT", "PATCH") and isinstance(body, dict):
        detail["fields"] = sorted(k for k in body if k not in PRIVATE)
        if action == "change" and {"visibility", "allowed_groups", "owner_agency"} & set(body):
            action = "permission_change"
    keep = rule.get("keep")
    if keep == "query":
        detail["query"] = {k: v[:200] for k, v in request.GET.items()}
    elif keep and isinstance(body, dict):
        detail.update({k: body[k] for k in keep if k in body})
    if request.FILES:
        detail["files"] = [f.name for f in request.FILES.getlist("files")][:50]
    object_type = rule.get("object_type") or name.removesuffix("-list").removesuffix("-detail")
    object_id, label = _object(request, kwargs, getattr(response, "data", None))
    if "number" in kwargs:
        detail["version"] = kwargs["number"]
    if "name" in kwargs:
        detail["file"] = kwargs["name"]
    events.record(action, actors.of_request(request), object_type=object_type, object_id=object_id,
                  object_label=label, detail=detail)


def _object(request, kwargs: dict, data) -> tuple[str, str]:
    """(id, label) of what the request acted on: from the URL, or for a create from the answer."""
    if "slug" in kwargs:
        return str(getattr(request, "_audit_layer_id", "") or ""), kwargs["slug"]
    for key in ("pk", "job_id", "code", "device_id"):
        if key in kwargs:
            return str(kwargs[key]), ""
    if isinstance(data, dict):
        if data.get("type") == "Feature":  # a GeoJSON answer (markers)
            return str(data.get("id", "")), ""
        return str(data.get("id") or data.get("code") or ""), str(data.get("slug") or "")
    if isinstance(data, list):  # several jobs (an import of several files)
        return ",".join(str(item.get("id")) for item in data if isinstance(item, dict))[:64], ""
    return "", ""


def _token_sign_in(request, response) -> None:
    from rest_framework.authtoken.models import Token

    key = (getattr(response, "data", None) or {}).get("token")
    token = Token.objects.select_related("user").filter(key=key).first() if key else None
    if token is not None:
        events.record("sign_in", actors.of_user(token.user, actors.client_address(request)), object_type="user",
                      object_id=token.user.pk, object_label=token.user.get_username(), detail={"method": "token"})
