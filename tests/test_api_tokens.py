"""Personal API tokens (accounts.tokens): made with scopes and an expiry, the secret shown once and stored hashed,
refused when expired, revoked or used outside their scopes (401 / 403 saying why), audited; the page at
/accounts/tokens/. On /ows (Bearer and HTTP Basic): tests/test_permission_matrix.py, over its restricted layer."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db
POINT = {"type": "Point", "coordinates": [121.3, 24.99]}
MARKER = {"type": "Feature", "geometry": POINT, "properties": {"title": "權杖測試"}}


@pytest.fixture
def people():
    return {"clerk": User.objects.create_user("tk-clerk", password="pw"),
            "other": User.objects.create_user("tk-other", password="pw"),
            "admin": User.objects.create_superuser("tk-admin", password="pw")}


@pytest.fixture
def audited(monkeypatch):
    """Audit entries are appended when the change commits: here at once, inside the test's transaction."""
    from audit import events

    monkeypatch.setattr(events, "transaction", SimpleNamespace(on_commit=lambda append: append()))
    return lambda action: list(AuditEntry.objects.filter(action=action).order_by("seq"))


def make(user, scopes, **extra) -> tuple[dict, str]:
    client = APIClient()
    client.force_login(user)
    answer = client.post("/api/v1/accounts/tokens/", {"name": "script", "scopes": scopes, **extra}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json(), answer.json()["secret"]


def bearer(secret: str, keyword: str = "Bearer") -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"{keyword} {secret}")


def test_a_token_is_shown_once_stored_hashed_and_seen_by_its_owner_and_administrators(people, audited):
    made, secret = make(people["clerk"], ["read"])
    assert re.fullmatch(r"cgt_[0-9a-f]{48}", secret) and made["state"] == "active"
    days = (timezone.now() + timedelta(days=90) - ApiToken.objects.get().expires_at).total_seconds()
    assert abs(days) < 60  # the default 90 days
    stored = ApiToken.objects.get()
    assert secret not in (stored.digest, stored.prefix) and secret.startswith(stored.prefix)
    owner = bearer(secret)
    listed = owner.get("/api/v1/accounts/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["script"] and "secret" not in listed[0]
    assert ApiToken.objects.get().last_used_at is not None
    other = APIClient()
    other.force_login(people["other"])
    assert other.get("/api/v1/accounts/tokens/").json()["results"] == []
    assert other.get(f"/api/v1/accounts/tokens/{made['id']}/").status_code == 404
    admin = APIClient()
    admin.force_login(people["admin"])
    assert [t["user"] for t in admin.get("/api/v1/accounts/tokens/?user=tk-clerk").json()["results"]] == ["tk-clerk"]
    entry, = audited("token_create")
    assert entry.actor_name == "tk-clerk" and entry.detail["scopes"] == ["read"] and secret not in str(entry.detail)


def test_scopes_decide_what_a_token_may_do_and_never_more_than_its_user(people, settings, audited):
    settings.API_TOKEN_MAX_DAYS = 30
    _, read = make(people["clerk"], ["read"])
    reader = bearer(read, "Token")
    assert reader.get("/api/v1/layers/").status_code == 200
    refused = reader.post("/api/v1/markers/", MARKER, format="json")
    assert refused.status_code == 403 and refused.json()["scope"] == "edit" and "edit" in refused.json()["detail"]
    measured = reader.post("/api/v1/analysis/measure/", {"geometry": POINT}, format="json")
    assert measured.status_code == 403 and measured.json()["scope"] == "analyse"
    _, editor = make(people["clerk"], ["read", "edit"])
    assert bearer(editor).post("/api/v1/markers/", MARKER, format="json").status_code == 201
    assert bearer(editor).post("/api/v1/layers/", {}, format="multipart").json().get("scope") == "import"
    # a token cannot carry more than its user has, nor last longer than allowed
    client = APIClient()
    client.force_login(people["clerk"])
    beyond = client.post("/api/v1/accounts/tokens/", {"name": "x", "scopes": ["read", "admin"]}, format="json")
    assert beyond.status_code == 400 and "admin" in beyond.json()["scopes"][0]
    too_long = client.post("/api/v1/accounts/tokens/", {"name": "x", "scopes": ["read"], "expires_in_days": 31},
                           format="json")
    assert too_long.status_code == 400 and "30" in too_long.json()["expires_in_days"][0]
    # an administrator's token without `admin` reads the accounts API but changes nothing there
    _, admin_read = make(people["admin"], ["read"])
    assert bearer(admin_read).get("/api/v1/accounts/users/").status_code == 200
    created = bearer(admin_read).post("/api/v1/accounts/groups/", {"name": "tk-g"}, format="json")
    assert created.status_code == 403 and created.json()["scope"] == "admin"
    _, admin_all = make(people["admin"], ["read", "admin"])
    assert bearer(admin_all).post("/api/v1/accounts/groups/", {"name": "tk-g"}, format="json").status_code == 201
    # a user's read token on the accounts API: the route is missing for them, as without a token
    assert bearer(read).get("/api/v1/accounts/users/").status_code == 404
    refusals = audited("token_refused")
    assert [(e.detail["reason"], e.detail["scope"]) for e in refusals] == [
        ("scope", "edit"), ("scope", "analyse"), ("scope", "import"), ("scope", "admin")]


def test_expired_revoked_and_unknown_tokens_are_refused_with_the_reason(people, audited):
    made, secret = make(people["clerk"], ["read"])
    assert bearer(secret).get("/api/v1/layers/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = bearer(secret).get("/api/v1/layers/")
    assert expired.status_code == 401 and "過期" in expired.json()["detail"]
    assert 'error="invalid_token"' in expired["WWW-Authenticate"]
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(days=1))
    # revoking through the token API needs the `admin` scope (a non-administrator revokes with a session)
    assert bearer(secret).delete(f"/api/v1/accounts/tokens/{made['id']}/").status_code == 403
    owner = APIClient()
    owner.force_login(people["clerk"])
    assert owner.delete(f"/api/v1/accounts/tokens/{made['id']}/").status_code == 204
    revoked = bearer(secret).get("/api/v1/layers/", HTTP_ACCEPT_LANGUAGE="en")
    assert revoked.status_code == 401 and revoked.json()["code"] == "token_revoked"
    assert "Traceback" not in revoked.content.decode()
    unknown = bearer("cgt_" + "0" * 48).get("/api/v1/layers/")
    assert unknown.status_code == 401 and unknown.json()["code"] == "token_unknown"
    # an administrator revokes someone else's token; another user cannot
    again, second = make(people["clerk"], ["read"])
    second_id = again["id"]
    other = APIClient()
    other.force_login(people["other"])
    assert other.delete(f"/api/v1/accounts/tokens/{second_id}/").status_code == 404
    admin = APIClient()
    admin.force_login(people["admin"])
    assert admin.delete(f"/api/v1/accounts/tokens/{second_id}/").status_code == 204
    assert bearer(second).get("/api/v1/layers/").status_code == 401
    assert ApiToken.objects.get(pk=second_id).revoked_by == people["admin"]
    assert [e.actor_name for e in audited("token_revoke")] == ["tk-clerk", "tk-admin"]
    assert [e.detail["reason"] for e in audited("token_refused")] == ["expired", "scope", "revoked", "unknown",
                                                                       "revoked"]
    # the sign-in tokens of /api/v1/auth/token/ still work as before, with the user's full rights
    key = APIClient().post("/api/v1/auth/token/", {"username": "tk-clerk", "password": "pw"}).json()["token"]
    assert Token.objects.get(key=key).user == people["clerk"]
    assert bearer(key, "Token").post("/api/v1/markers/", MARKER, format="json").status_code == 201


def test_the_tokens_page_makes_shows_once_and_revokes(people):
    client = Client()
    assert client.get("/accounts/tokens/").status_code == 401
    client.force_login(people["clerk"])
    page = client.get("/accounts/tokens/").content.decode()
    assert "建立權杖" in page and 'value="admin"' not in page  # no admin scope for a non-administrator
    made = client.post("/accounts/tokens/", {"name": "QGIS", "scopes": ["read"], "days": "7"})
    assert made.status_code == 201
    secret = re.search(r'value="(cgt_[0-9a-f]{48})"', made.content.decode()).group(1)
    assert bearer(secret).get("/api/v1/layers/").status_code == 200
    token = ApiToken.objects.get(name="QGIS")
    assert client.get("/accounts/tokens/").content.decode().count(secret) == 0
    bad = client.post("/accounts/tokens/", {"name": "x", "scopes": ["read"], "days": "9999"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and "expires_in_days" in bad.content.decode()
    assert client.post("/accounts/tokens/", {"form": "revoke", "id": str(token.pk)}).status_code == 302
    assert bearer(secret).get("/api/v1/layers/").status_code == 401
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(people["clerk"])
    page = english.get("/accounts/tokens/").content.decode()
    assert "API token" in page and "Revoked" in page
