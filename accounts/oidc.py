"""Sign-in with the city's OpenID Connect provider (Authlib): authorization code with PKCE (S256), the provider
found by discovery from OIDC_ISSUER, the ID token's signature (the provider's JWKS), issuer, audience, expiry and
nonce checked, the state checked against the session; the provider's claims → user, agency and groups
(accounts.mapping); sign-out ends the provider's session too (RP-initiated logout).

Every failure — the provider unreachable or misconfigured, a refused or forged answer — is a message on the page
the user came from and an audit entry, never a 500.
"""

import logging
from functools import lru_cache

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.backends import ModelBackend
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError

from audit import actors, refusals

from . import mapping
from .models import Account

log = logging.getLogger("civgis.accounts")
BACKEND = "accounts.oidc.OidcBackend"
SESSION_NEXT = "oidc_next"
SESSION_ID_TOKEN = "oidc_id_token"


class ProviderError(Exception):
    """The provider could not be used: unreachable, or not the provider OIDC_ISSUER names."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


@lru_cache(maxsize=4)
def _client(issuer: str, client_id: str, secret: str, scopes: str, timeout: float):
    oauth = OAuth()
    return oauth.register("city", client_id=client_id, client_secret=secret,
                          server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                          client_kwargs={"scope": scopes, "code_challenge_method": "S256",
                                         "default_timeout": timeout})


def client():
    """The provider's client, its discovery document loaded and checked (its issuer must be OIDC_ISSUER)."""
    app = _client(settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET, settings.OIDC_SCOPES,
                  settings.OIDC_TIMEOUT_S)
    try:
        metadata = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderError(f"the OpenID Connect provider {settings.OIDC_ISSUER} did not answer its discovery "
                            f"document: {type(exc).__name__}") from exc
    if metadata.get("issuer", "").rstrip("/") != settings.OIDC_ISSUER:
        app.server_metadata.clear()
        raise ProviderError(f"{settings.OIDC_ISSUER} says its issuer is {metadata.get('issuer')!r} (OIDC_ISSUER "
                            "must be the provider's issuer exactly)")
    return app


def status() -> dict:
    """For /api/health: whether the provider answers its discovery document as the issuer configured."""
    try:
        metadata = client().server_metadata
    except ProviderError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "issuer": metadata["issuer"]}


class OidcBackend(ModelBackend):
    """The user the provider's (already verified) claims describe: found or made, then mapped."""

    refusal = ""

    def authenticate(self, request, oidc_claims=None, **kwargs):
        if oidc_claims is None:
            return None
        username = str(oidc_claims.get(settings.OIDC_USERNAME_CLAIM) or oidc_claims.get("sub") or "")[:150]
        user = get_user_model().objects.filter(username__iexact=username).first()
        if user is not None and mapping.is_local_account(user):
            self.refusal = "local account of the same name"
            return None
        if user is None:
            user = get_user_model()(username=username)
            user.set_unusable_password()
        elif not self.user_can_authenticate(user):
            self.refusal = "account disabled in civgis"
            return None
        user.first_name = str(oidc_claims.get("given_name") or oidc_claims.get("name") or "")[:150]
        user.last_name = str(oidc_claims.get("family_name") or "")[:150]
        user.email = str(oidc_claims.get("email") or "")[:254]
        user.save()
        groups = oidc_claims.get(settings.OIDC_GROUPS_CLAIM) or []
        groups = [groups] if isinstance(groups, str) else [str(g) for g in groups]
        agency = oidc_claims.get(settings.OIDC_AGENCY_CLAIM)
        mapping.apply(user, Account.Source.OIDC, f"{settings.OIDC_ISSUER}#{oidc_claims['sub']}",
                      str(agency) if agency else None, groups)
        user.sign_in_method = "oidc"
        return user


def _back_to(request, target: str) -> str:
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else reverse("home")


def _failed(request, message: str, reason: str, username: str = ""):
    request.session["sign_in_failed"] = message
    refusals.record("sign_in_failed", actors.Actor(None, username, actors.client_address(request)),
                    object_type="user", object_label=username, detail={"method": "oidc", "reason": reason[:300]})
    log.warning("OpenID Connect sign-in failed: %s", reason)
    return redirect(_back_to(request, request.session.pop(SESSION_NEXT, "")))


def unavailable() -> str:
    return _("市府帳號登入服務目前無法使用，請稍後再試或使用本機帳號登入")


@require_GET
def start(request):
    """To the provider's sign-in page (state, nonce and the PKCE verifier stay in the session)."""
    if not enabled():
        raise Http404
    request.session[SESSION_NEXT] = _back_to(request, request.GET.get("next", ""))
    try:
        app = client()
        return app.authorize_redirect(request, request.build_absolute_uri(reverse("oidc-callback")))
    except ProviderError as exc:
        return _failed(request, unavailable(), str(exc))


@require_GET
def callback(request):
    """Back from the provider: the code for tokens, the ID token verified, the user signed in."""
    if not enabled():
        raise Http404
    if "error" in request.GET:  # the provider refused (the user cancelled, the client is not allowed …)
        return _failed(request, _("市府帳號登入未完成"), f"provider said {request.GET.get('error')}: "
                       f"{request.GET.get('error_description', '')}")
    try:
        app = client()
        token = app.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise OAuthError(description="no ID token in the provider's answer")
        if app.server_metadata.get("userinfo_endpoint"):
            extra = app.userinfo(token=token)
            if extra.get("sub") != claims["sub"]:
                raise OAuthError(description="userinfo is about another subject than the ID token")
            claims = {**extra, **claims}
    except ProviderError as exc:
        return _failed(request, unavailable(), str(exc))
    except (OAuthError, JoseError, requests.RequestException, KeyError, ValueError) as exc:
        # a bad or replayed state, a wrong signature, audience, issuer, nonce or expiry, a refused code …
        return _failed(request, _("市府帳號登入失敗：登入回應無效或已過期，請重新登入"), f"{type(exc).__name__}: {exc}")
    backend = OidcBackend()
    user = backend.authenticate(request, oidc_claims=claims)
    name = str(claims.get(settings.OIDC_USERNAME_CLAIM) or claims["sub"])
    if user is None:
        message = (_("此帳號名稱已是本平台的本機帳號，請洽系統管理員") if backend.refusal.startswith("local")
                   else _("此帳號已停用，請洽系統管理員"))
        return _failed(request, message, backend.refusal, name)
    login(request, user, backend=BACKEND)
    request.session[SESSION_ID_TOKEN] = token.get("id_token", "")
    return redirect(_back_to(request, request.session.pop(SESSION_NEXT, "")))


def end_session_url(request, id_token: str, back: str) -> str | None:
    """The provider's end-session address that brings the user back to `back` (None: the provider has none, or
    cannot be reached — the civgis session is over all the same)."""
    try:
        app = client()
    except ProviderError as exc:
        log.warning("sign-out could not end the provider's session: %s", exc)
        return None
    if not app.server_metadata.get("end_session_endpoint"):
        return None
    return app.create_logout_url(post_logout_redirect_uri=request.build_absolute_uri(back),
                                 id_token_hint=id_token)["url"]
