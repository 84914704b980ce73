"""Personal API tokens: a user's named tokens with scopes, an expiry and revocation, for scripts and OGC clients.

A token's secret is `cgt_` and 48 random hex digits; only its SHA-256 is stored. It is accepted as
`Authorization: Bearer …` or `Token …` on the API, tiles, downloads, /ows, /ogcapi/ and /sta, and on /ows and /ogcapi/
also as HTTP Basic
with the token as the password (any user name), so QGIS and GDAL can use it. A token acts as its user — never with
more than the user has — and only within its scopes:

- read: GET/HEAD/OPTIONS anywhere, and /ows (WFS and WMS POSTs are reads), prints and reports
- analyse: POSTs under /api/v1/analysis/ (network analyses included)
- import: uploads and imports (/api/v1/layers/ and /layers/services/ POSTs, re-imports, statistical tables)
- edit: every other change (layers, styles, versions, markers, share links, jobs)
- admin: the accounts API (/api/v1/accounts/), for administrators only

An expired, revoked or unknown token is answered 401 with a WWW-Authenticate header saying why; a request outside
the token's scopes 403 naming the missing scope. Both are audit entries (`token_refused`), as are creating
(`token_create`) and revoking (`token_revoke`) a token. The older one-per-user sign-in tokens of
/api/v1/auth/token/ (rest_framework.authtoken) keep working unchanged, with their user's full rights.
"""

import base64
import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from audit import actors, events, refusals

from .models import ApiToken

PREFIX = "cgt_"
SCOPES = ("read", "analyse", "import", "edit", "admin")
SERVED = ("/api/", "/ows", "/ogcapi/", "/tiles/", "/basemap/", "/sta/")  # where a token is read; pages use the session
OWS = re.compile(r"^/ows(/|$)")
BASIC = re.compile(r"^/(ows(/|$)|ogcapi/)")  # where HTTP Basic carries a token (OGC clients: QGIS, GDAL)
READ_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_RULES = [  # (path pattern, scope) for writes; the first that matches; else `edit`
    (re.compile(r"^/api/v1/accounts/"), "admin"),
    (re.compile(r"^/api/v1/analysis/"), "analyse"),
    (re.compile(r"^/api/v1/print/$"), "read"),  # a print is an export
    (re.compile(r"^/api/v1/(layers/|layers/services/|layers/[^/]+/reimport/|stats/tables/|imports/|event-maps/)$"),
     "import"),  # (an event map makes new layers)
    (re.compile(r"^/api/v1/auth/"), "read"),  # signing in or out changes nothing the token could
]
TOKENS_API = "/api/v1/accounts/tokens/"  # for everyone; creating or revoking through it needs `admin` too
HEADER_REASONS = {"unknown": "unknown token", "revoked": "the token was revoked", "expired": "the token expired",
                  "inactive": "the token's user is disabled"}
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user, name: str, scopes: list[str], days: int | None, actor) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once). Audited."""
    secret = PREFIX + secrets.token_hex(24)
    days = days or settings.API_TOKEN_DEFAULT_DAYS
    token = ApiToken.objects.create(user=user, name=name, prefix=secret[:10], digest=digest(secret),
                                    scopes=[s for s in SCOPES if s in scopes],
                                    expires_at=timezone.now() + timedelta(days=days))
    events.record("token_create", actor, object_type="api_token", object_id=token.pk, object_label=token.name,
                  detail={"owner": user.get_username(), "scopes": token.scopes, "days": days})
    return token, secret


def revoke(token: ApiToken, by, actor) -> None:
    """Revoke (once; revoking again changes nothing). Audited."""
    if token.revoked_at is not None:
        return
    token.revoked_at, token.revoked_by = timezone.now(), by
    token.save(update_fields=["revoked_at", "revoked_by"])
    events.record("token_revoke", actor, object_type="api_token", object_id=token.pk, object_label=token.name,
                  detail={"owner": token.user.get_username()})


def allowed_scopes(user) -> tuple[str, ...]:
    """What a token of this user may carry: admin only for administrators."""
    return SCOPES if user.is_superuser else SCOPES[:-1]


def needed_scope(method: str, path: str) -> str:
    if method in READ_METHODS or OWS.match(path):
        return "read"
    for pattern, scope in WRITE_RULES:
        if pattern.match(path):
            return scope
    return "edit"


def presented(request) -> str | None:
    """The personal token the request carries, if any (other tokens — sign-in tokens, device keys — are left to
    their own readers)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    kind, _sep, value = header.partition(" ")
    value = value.strip()
    kind = kind.lower()
    if kind in ("bearer", "token") and value.startswith(PREFIX):
        return value
    if kind == "basic" and BASIC.match(request.path):
        try:
            _user, _colon, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password if password.startswith(PREFIX) else None
    return None


class Refused(Exception):
    def __init__(self, status: int, reason: str, message: str, token: ApiToken | None = None, scope: str = ""):
        super().__init__(message)
        self.status, self.reason, self.message, self.token, self.scope = status, reason, message, token, scope


def check(request, secret: str) -> ApiToken:
    """The valid token for this secret and request, or Refused saying why."""
    token = ApiToken.objects.select_related("user").filter(digest=digest(secret)).first()
    now = timezone.now()
    if token is None:
        raise Refused(401, "unknown", _("API 權杖無效"))
    if token.revoked_at is not None:
        raise Refused(401, "revoked", _("API 權杖「%(name)s」已撤銷") % {"name": token.name}, token)
    if token.expires_at <= now:
        raise Refused(401, "expired", _("API 權杖「%(name)s」已於 %(date)s 過期") % {
            "name": token.name, "date": timezone.localtime(token.expires_at).strftime("%Y-%m-%d %H:%M")}, token)
    if not token.user.is_active:
        raise Refused(401, "inactive", _("API 權杖的使用者帳號已停用"), token)
    scope = needed_scope(request.method, request.path)
    if scope not in token.scopes or scope not in allowed_scopes(token.user):
        raise Refused(403, "scope", _("API 權杖「%(name)s」沒有「%(scope)s」權限範圍（scope）") % {
            "name": token.name, "scope": scope}, token, scope)
    if token.last_used_at is None or now - token.last_used_at > USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _refusal(request, problem: Refused):
    refusals.record("token_refused", actors.of_user(problem.token.user if problem.token else None,
                                                  actors.client_address(request)),
                  object_type="api_token", object_id=problem.token.pk if problem.token else "",
                  object_label=problem.token.name if problem.token else "",
                  detail={"reason": problem.reason, "scope": problem.scope, "method": request.method,
                          "path": request.path[:200]})
    if OWS.match(request.path):
        from layers.ogc.exceptions import OWSException, exception_response

        params = {k.upper(): v for k, v in request.GET.items()}
        response = exception_response(OWSException("NoApplicableCode", problem.message, status=problem.status),
                                      params)
    else:
        response = JsonResponse({"detail": problem.message, "code": f"token_{problem.reason}",
                                 **({"scope": problem.scope} if problem.scope else {})}, status=problem.status)
    if problem.status == 401:  # the header in ASCII English (the body says it in the request's language)
        response["WWW-Authenticate"] = ('Basic realm="civgis", charset="UTF-8"' if OWS.match(request.path) else
                                        f'Bearer realm="civgis", error="invalid_token", '
                                        f'error_description="{HEADER_REASONS[problem.reason]}"')
    return response


class TokenMiddleware:
    """Reads a personal token (after Django's AuthenticationMiddleware): the request becomes its user's, or is
    refused here, before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(SERVED) and (secret := presented(request)):
            try:
                token = check(request, secret)
            except Refused as problem:
                if problem.scope == "admin" and not problem.token.user.is_superuser and \
                        not request.path.startswith(TOKENS_API):
                    pass  # the accounts API is missing for this user anyway: let the route say 404 as it does
                else:
                    return _refusal(request, problem)
            else:
                request.user, request.api_token = token.user, token
                request._dont_enforce_csrf_checks = True  # no cookie: nothing a forged form could borrow
        return self.get_response(request)


class PersonalTokenAuthentication(BaseAuthentication):
    """DRF's view of what TokenMiddleware found (first in DEFAULT_AUTHENTICATION_CLASSES)."""

    def authenticate(self, request):
        token = getattr(request._request, "api_token", None)
        return (token.user, token) if token is not None else None

    def authenticate_header(self, request):
        return None  # as SessionAuthentication: a request without credentials stays a 403 from DRF, as before


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    """The schema's word for it: HTTP bearer (`Token …` works too)."""

    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "a personal API token (cgt_…), with scopes: "
                "see /accounts/tokens/ and docs/api.md"}
