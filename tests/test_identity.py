"""Sign-in with the city's identity systems, against the real ones the test stack runs (geo/localstack.py): OpenLDAP's
slapd with geo/identity/directory.ldif, and the `oidc-provider` OpenID Connect provider with accounts.json — the
provider's pages driven over HTTP as a browser would (its sign-in form posted, its redirects followed). And the
administrators' API over users, groups and agencies."""

import re
import uuid
from urllib.parse import urljoin, urlsplit

import ldap
import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts import oidc
from accounts.models import Agency
from audit.models import AuditEntry
from geo import counters
from geo.localstack import DIRECTORY_ADMIN_DN, DIRECTORY_ADMIN_PASSWORD, DIRECTORY_SUFFIX
from layers.models import Layer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stack_identity(settings):
    assert settings.LDAP_SERVER_URI and settings.OIDC_ISSUER, "run through geo.localstack: it starts slapd and the " \
                                                               "OpenID Connect provider"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # /api/health without waiting for a worker
    # local passwords are not what is tested here: a fast hasher (each local check would cost ~0.5 s)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for key in counters.client().scan_iter("civgis:sign-in-failures:*"):  # an earlier run's failures
        counters.client().delete(key)


def sign_in(client: Client, username: str, password: str, page: str = "/siting/"):
    response = client.post("/sign-in/", {"username": username, "password": password, "next": page})
    assert response.status_code == 302 and response["Location"] == page
    return client.session.get("sign_in_failed")


def directory_admin():
    conn = ldap.initialize(settings.LDAP_SERVER_URI)
    conn.simple_bind_s(DIRECTORY_ADMIN_DN, DIRECTORY_ADMIN_PASSWORD)
    return conn


def test_a_directory_user_signs_in_with_agency_and_nested_groups_deciding_what_they_see(client, audited):
    flood = Layer.objects.create(slug="flood-plan", title_zh="防災計畫", visibility="restricted")
    flood.allowed_groups.add(Group.objects.create(name="防災應變小組"))
    assert sign_in(client, "chen", "chen-pass-1") is None
    chen = User.objects.get(username="chen")
    assert set(chen.groups.values_list("name", flat=True)) == {"都市發展局", "防災應變小組", "圖資編輯"}  # nested
    assert (chen.first_name, chen.last_name, chen.email) == ("怡君", "陳", "chen@city.example")
    assert not chen.has_usable_password() and not chen.is_staff
    assert chen.account.source == "ldap" and chen.account.agency.group.name == "都市發展局"
    assert chen.account.external_id == "uid=chen,ou=udd,ou=people,dc=city,dc=example"
    assert Agency.objects.get(group__name="都市發展局").code == "udd"
    slugs = [layer["slug"] for layer in client.get("/api/v1/layers/").json()["results"]]
    assert "flood-plan" in slugs
    [entry] = audited(action="sign_in")
    assert (entry.actor_name, entry.detail["method"]) == ("chen", "ldap")
    # an API token for a directory user, with the directory's password
    token = client.post("/api/v1/auth/token/", {"username": "chen", "password": "chen-pass-1"})
    assert token.status_code == 200 and token.json()["token"]


def test_directory_groups_grant_staff_and_follow_the_directory_at_each_sign_in(client):
    assert sign_in(client, "lin", "lin-pass-1") is None
    lin = User.objects.get(username="lin")
    assert lin.is_staff and set(lin.groups.values_list("name", flat=True)) == {"水務局", "圖資管理"}
    keep = Group.objects.create(name="專案小組")  # given in civgis: not the directory's to take away
    lin.groups.add(keep, Agency.objects.create(group=Group.objects.create(name="都市發展局")).group)
    lin.is_staff = False
    lin.save()
    Client().post("/sign-in/", {"username": "lin", "password": "lin-pass-1"})
    lin.refresh_from_db()
    assert lin.is_staff and set(lin.groups.values_list("name", flat=True)) == {"水務局", "圖資管理", "專案小組"}


def test_wrong_password_disabled_and_removed_users_are_refused_with_a_clear_message(client, audited):
    assert sign_in(client, "chen", "wrong") == "帳號或密碼不正確"
    assert sign_in(client, "nobody", "x") == "帳號或密碼不正確"
    assert sign_in(client, "huang", "huang-pass-1") == "帳號或密碼不正確"  # in the directory's disabled group
    assert not User.objects.filter(username="huang").exists()
    failed = [(e.actor_name, e.detail["method"]) for e in audited(action="sign_in_failed")]
    assert failed == [("chen", "session"), ("nobody", "session"), ("huang", "session")]
    # someone new in the directory signs in; removed from it, no longer
    name = f"temp{uuid.uuid4().hex[:6]}"
    dn = f"uid={name},ou=water,ou=people,{DIRECTORY_SUFFIX}"
    conn = directory_admin()
    conn.add_s(dn, [("objectClass", [b"inetOrgPerson"]), ("uid", [name.encode()]), ("cn", [b"T"]), ("sn", [b"T"]),
                    ("userPassword", [b"temp-pass-1"])])
    try:
        assert sign_in(Client(), name, "temp-pass-1") is None
        assert User.objects.get(username=name).account.agency.group.name == "水務局"
    finally:
        conn.delete_s(dn)
    assert sign_in(Client(), name, "temp-pass-1") == "帳號或密碼不正確"


def test_repeated_failures_lock_the_name_until_the_window_passes(client, settings, audited):
    settings.AUTH_LOCKOUT_FAILURES = 3
    for _ in range(3):
        assert sign_in(Client(), "lin", "wrong") == "帳號或密碼不正確"
    assert sign_in(client, "lin", "lin-pass-1") == "登入失敗次數過多，此帳號暫時鎖定，請稍後再試"
    token = Client().post("/api/v1/auth/token/", {"username": "LIN", "password": "lin-pass-1"})
    assert token.status_code == 400 and "_auth_user_id" not in client.session
    assert [e.detail.get("reason") for e in audited(action="sign_in_failed")] == [None, None, None, "locked", "locked"]
    assert counters.client().ttl("civgis:sign-in-failures:lin") <= settings.AUTH_LOCKOUT_MINUTES * 60
    counters.client().delete("civgis:sign-in-failures:lin")  # the window has passed
    assert sign_in(Client(), "lin", "lin-pass-1") is None


def test_a_local_account_is_never_taken_over_by_a_directory_entry_of_its_name(client):
    User.objects.create_user("chen", password="local-pass")
    assert sign_in(client, "chen", "chen-pass-1") == "帳號或密碼不正確"
    assert sign_in(Client(), "chen", "local-pass") is None
    assert not User.objects.get(username="chen").groups.exists()


def test_an_unreachable_directory_is_named_and_local_administrators_still_sign_in(client, settings):
    User.objects.create_superuser("root", password="root-pass")
    settings.AUTH_LDAP_SERVER_URI = "ldap://127.0.0.1:9/"
    settings.AUTH_LDAP_CONNECTION_OPTIONS = {ldap.OPT_NETWORK_TIMEOUT: 1}
    assert "無法連線至市府目錄服務" in sign_in(client, "chen", "chen-pass-1")
    assert sign_in(Client(), "root", "root-pass") is None
    health = Client().get("/api/health")
    assert health.status_code in (200, 503) and "Traceback" not in health.content.decode()
    assert health.json()["checks"]["directory"]["ok"] is False
    assert "Can't contact LDAP server" in health.json()["checks"]["directory"]["error"]


# ---------------------------------------------------------------------------------------------------------------
# OpenID Connect: the provider's pages over HTTP, civgis through the test client
# ---------------------------------------------------------------------------------------------------------------
def through_provider(browser: requests.Session, url: str, login: str | None = None, password: str = "") -> str:
    """Follow the provider's redirects from `url` (posting its sign-in form when it shows one) until it sends the
    browser back to civgis; that address."""
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=5)
        if response.status_code == 200 and 'name="login"' in response.text:
            assert login, "the provider asked for a sign-in"
            action = re.search(r'<form method="post" action="([^"]+)"', response.text).group(1)
            response = browser.post(urljoin(url, action), data={"login": login, "password": password},
                                    allow_redirects=False, timeout=5)
            login = None
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["Location"])
        if url.startswith("http://testserver/"):
            return url
    raise AssertionError("the provider never sent the browser back")


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def oidc_sign_in(client: Client, login: str, password: str, browser=None) -> tuple[requests.Session, object]:
    browser = browser or requests.Session()
    start = client.get("/sign-in/oidc/?next=/wifi/")
    assert start.status_code == 302 and start["Location"].startswith(settings.OIDC_ISSUER + "/auth?")
    assert "code_challenge_method=S256" in start["Location"] and "code_challenge=" in start["Location"]
    back = through_provider(browser, start["Location"], login, password)
    return browser, client.get(local(back))


def test_oidc_sign_in_with_pkce_maps_claims_and_sign_out_ends_the_provider_session(client, audited):
    page = client.get("/")
    assert "以市府帳號登入" in page.content.decode()
    browser, done = oidc_sign_in(client, "lin", "lin-pass-1")
    assert done.status_code == 302 and done["Location"] == "/wifi/", client.session.get("sign_in_failed")
    lin = User.objects.get(username="lin")
    assert lin.is_staff and set(lin.groups.values_list("name", flat=True)) == {"水務局", "圖資管理"}
    assert lin.account.source == "oidc" and lin.account.external_id == f"{settings.OIDC_ISSUER}#lin"
    assert client.get("/viewer/layers.json").status_code == 200 and "_auth_user_id" in client.session
    [entry] = audited(action="sign_in")
    assert (entry.actor_name, entry.detail["method"]) == ("lin", "oidc")
    # sign-out: out of civgis, then out of the provider (it asks to confirm, then sends the browser back)
    out = client.post("/sign-out/", {"next": "/wifi/"})
    assert "_auth_user_id" not in client.session
    assert out.status_code == 302 and out["Location"].startswith(settings.OIDC_ISSUER + "/session/end?")
    assert "id_token_hint=" in out["Location"]
    confirm = browser.get(out["Location"], timeout=5)
    assert confirm.status_code == 200, confirm.text[:500]
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text).group(1)
    action = re.search(r'<form [^>]*action="([^"]+)"', confirm.text).group(1)
    ended = browser.post(urljoin(out["Location"], action), data={"xsrf": xsrf, "logout": "yes"},
                         allow_redirects=False, timeout=5)
    assert ended.status_code in (302, 303) and ended.headers["Location"].startswith("http://testserver/?")
    # the provider's session is over: signing in again asks for the password again
    again = Client().get("/sign-in/oidc/")
    form = browser.get(again["Location"], timeout=5)
    assert 'name="password"' in form.text


def test_forged_replayed_and_refused_oidc_answers_are_refused_and_logged(client, audited):
    browser = requests.Session()
    start = client.get("/sign-in/oidc/?next=/")
    back = local(through_provider(browser, start["Location"], "chen", "chen-pass-1"))
    forged = re.sub(r"state=[^&]+", "state=forged", back)
    assert client.get(forged).status_code == 302
    assert "_auth_user_id" not in client.session and "登入失敗" in client.session["sign_in_failed"]
    # the real answer once, then replayed
    assert client.get(back).status_code == 302 and "_auth_user_id" in client.session
    replay = Client()
    assert replay.get(back).status_code == 302 and "_auth_user_id" not in replay.session
    assert client.get("/sign-in/oidc/callback/?error=access_denied").status_code == 302
    reasons = [e.detail["reason"] for e in audited(action="sign_in_failed")]
    assert len(reasons) == 3 and all(reasons) and "access_denied" in reasons[-1]


def test_a_misconfigured_provider_is_a_message_and_a_health_entry_never_a_500(client, settings):
    settings.OIDC_CLIENT_SECRET = "not-the-secret"
    browser, done = oidc_sign_in(client, "chen", "chen-pass-1")
    assert done.status_code == 302 and "_auth_user_id" not in client.session
    assert "登入失敗" in client.session["sign_in_failed"]
    real = settings.OIDC_ISSUER
    settings.OIDC_ISSUER = real.replace("127.0.0.1", "localhost")  # answers, but is not that issuer
    assert Client().get("/api/health").json()["checks"]["oidc_provider"]["ok"] is False
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    fresh = Client()
    answer = fresh.get("/sign-in/oidc/?next=/")
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert "無法使用" in fresh.session["sign_in_failed"]
    health = Client().get("/api/health").json()["checks"]["oidc_provider"]
    assert health["ok"] is False and "did not answer" in health["error"]
    oidc._client.cache_clear()


# ---------------------------------------------------------------------------------------------------------------
# Administration: users, groups, agencies
# ---------------------------------------------------------------------------------------------------------------
def test_administrators_manage_users_groups_and_agencies_and_every_change_is_audited(audited):
    admin, clerk = User.objects.create_superuser("root", password="x"), User.objects.create_user("clerk", password="x")
    staff = Client()
    staff.force_login(User.objects.create_user("staffer", password="x", is_staff=True))
    for url in ("/api/v1/accounts/users/", "/api/v1/accounts/groups/", "/api/v1/accounts/agencies/",
                f"/api/v1/accounts/users/{clerk.pk}/"):
        assert staff.get(url).status_code == 404 and Client().get(url).status_code == 404
    api = Client()
    api.force_login(admin)
    agency = api.post("/api/v1/accounts/agencies/", {"name": "地政局", "name_en": "Land Administration",
                                                     "code": "land"}, content_type="application/json")
    assert agency.status_code == 201, agency.content
    group = api.post("/api/v1/accounts/groups/", {"name": "圖資編輯"}, content_type="application/json").json()
    changed = api.patch(f"/api/v1/accounts/users/{clerk.pk}/", {"groups": ["圖資編輯"], "agency": "地政局",
                                                                 "is_staff": True}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    assert set(changed.json()["groups"]) == {"圖資編輯", "地政局"} and changed.json()["agency"] == "地政局"
    clerk.refresh_from_db()
    assert clerk.is_staff and clerk.account.agency.name_en == "Land Administration"
    for bad in ({"agency": "nope"}, {"password": "1"}, {"username": "renamed"}):
        answer = api.patch(f"/api/v1/accounts/users/{clerk.pk}/", bad, content_type="application/json")
        assert answer.status_code == 400 and set(answer.json()) == set(bad), answer.content
    assert api.patch(f"/api/v1/accounts/users/{admin.pk}/", {"is_active": False},
                     content_type="application/json").status_code == 400
    assert api.delete(f"/api/v1/accounts/users/{admin.pk}/").status_code == 400
    made = api.post("/api/v1/accounts/users/", {"username": "newbie", "password": "a-long-pass-phrase-9",
                                                "agency": "地政局"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["groups"] == ["地政局"] and made.json()["source"] == "local"
    listed = api.get("/api/v1/accounts/users/?q=newb").json()["results"]
    assert [u["username"] for u in listed] == ["newbie"]
    groups = {g["name"]: g for g in api.get("/api/v1/accounts/groups/").json()["results"]}
    assert groups["地政局"]["is_agency"] and groups["地政局"]["members"] == 2 and groups["圖資編輯"]["members"] == 1
    assert api.delete(f"/api/v1/accounts/groups/{group['id']}/").status_code == 204
    actions = [(e.action, e.object_type, e.actor_name) for e in audited()]
    assert ("create", "agency", "root") in actions and ("create", "group", "root") in actions
    assert ("permission_change", "user", "root") in actions and ("delete", "group", "root") in actions
    assert ("create", "user", "root") in actions


def test_the_accounts_page_lets_administrators_change_agency_groups_and_state(audited):
    admin = User.objects.create_superuser("root", password="x")
    clerk = User.objects.create_user("clerk", password="x")
    Agency.objects.create(group=Group.objects.create(name="地政局"), name_en="Land Administration")
    Group.objects.create(name="圖資編輯")
    AuditEntry.objects.all().delete()
    Client().post("/sign-in/", {"username": "clerk", "password": "wrong"})
    assert len(audited(action="sign_in_failed")) == 1
    staff = Client()
    staff.force_login(User.objects.create_user("staffer", password="x", is_staff=True))
    assert staff.get("/accounts/").status_code == 404 and Client().get("/accounts/").status_code == 404
    page = Client()
    page.force_login(admin)
    shown = page.get("/accounts/").content.decode()
    assert 'data-user="clerk"' in shown and "地政局" in shown and "帳號或密碼不正確" not in shown
    assert re.search(r"<td>[^<]*</td><td>clerk</td><td>[0-9.]*</td>\s*<td>帳號密碼</td>", shown)  # failed sign-in
    saved = page.post(f"/accounts/?user={clerk.pk}", {"form": "user", "agency": "地政局", "groups": ["圖資編輯"]})
    assert saved.status_code == 302
    clerk.refresh_from_db()
    assert not clerk.is_active and set(clerk.groups.values_list("name", flat=True)) == {"地政局", "圖資編輯"}
    refused = page.post(f"/accounts/?user={admin.pk}", {"form": "user"})
    assert refused.status_code == 400 and "不能停用自己的帳號" in refused.content.decode()
    made = page.post("/accounts/", {"form": "group", "name": "水務局", "is_agency": "on", "code": "water"})
    assert made.status_code == 302 and Agency.objects.get(group__name="水務局").code == "water"
    twice = page.post("/accounts/", {"form": "group", "name": "水務局", "is_agency": "on"})
    assert twice.status_code == 400 and "水務局" in twice.content.decode()
    english = page.get("/accounts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Users and permissions" in english and "Latest failed sign-ins" in english
    actions = {(e.action, e.object_type) for e in audited(actor_name="root")}
    assert {("permission_change", "user"), ("create", "agency")} <= actions


def test_a_session_ends_at_the_next_request_once_the_directory_removes_or_disables_the_user(settings, audited):
    settings.AUTH_DIRECTORY_RECHECK_SECONDS = 0  # every request (the default is 300 s)
    name = f"temp{uuid.uuid4().hex[:6]}"
    dn = f"uid={name},ou=water,ou=people,{DIRECTORY_SUFFIX}"
    conn = directory_admin()
    conn.add_s(dn, [("objectClass", [b"inetOrgPerson"]), ("uid", [name.encode()]), ("cn", [b"T"]), ("sn", [b"T"]),
                    ("userPassword", [b"temp-pass-1"])])
    client = Client()
    try:
        assert sign_in(client, name, "temp-pass-1") is None
        assert client.get("/accounts/tokens/").status_code == 200  # signed in, and still in the directory
        disabled = f"cn=disabled,ou=groups,{DIRECTORY_SUFFIX}"
        conn.modify_s(disabled, [(ldap.MOD_ADD, "member", [dn.encode()])])
        assert client.get("/accounts/tokens/").status_code == 401  # in the disabled group: signed out
        conn.modify_s(disabled, [(ldap.MOD_DELETE, "member", [dn.encode()])])
        assert sign_in(client, name, "temp-pass-1") is None
    finally:
        conn.delete_s(dn)
    assert client.get("/accounts/tokens/").status_code == 401  # removed from the directory: signed out
    reasons = [e.detail.get("reason") for e in audited(action="sign_out", object_label=name)]
    assert reasons == ["directory", "directory"]


def test_a_flood_of_failures_from_one_address_is_counted_not_written_one_by_one(settings, audited):
    settings.AUDIT_REFUSALS_PER_MINUTE = 3
    settings.AUTH_LOCKOUT_FAILURES = 0
    for key in counters.client().scan_iter("civgis:refusal-rate:*"):
        counters.client().delete(key)
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(12):
        client.post("/sign-in/", {"username": f"guess{i}", "password": "x", "next": "/"})
    for _ in range(5):
        assert client.get("/api/v1/layers/", HTTP_AUTHORIZATION="Bearer cgt_" + "0" * 48).status_code == 401
    from audit import reads

    audited()  # the entries within the allowance
    reads.flush()
    entries = audited(address="203.0.113.9")
    single = [e for e in entries if not e.detail.get("aggregated")]
    counted = {e.action: e.count for e in entries if e.detail.get("aggregated")}
    assert len(single) == 3 and all(e.action == "sign_in_failed" for e in single)
    assert counted == {"sign_in_failed": 9, "token_refused": 5}  # every attempt counted, in two entries


def test_administrators_set_who_sees_and_edits_layers_one_by_one_and_by_theme(audited, themes):
    from layers.models import Theme

    admin = User.objects.create_superuser("rights-admin", password="a-long-pass-phrase-9")
    client = Client()
    client.force_login(admin)
    water = Group.objects.create(name="水務局")
    Agency.objects.create(group=water)
    planners = Group.objects.create(name="都市計畫審議")
    theme = Theme.objects.filter(parent__isnull=True).first()
    child = Theme.objects.filter(parent=theme).first() or theme
    one = Layer.objects.create(slug="rights-one", title_zh="雨水下水道", theme=child, visibility="internal")
    two = Layer.objects.create(slug="rights-two", title_zh="抽水站", theme=theme, visibility="public")
    page = client.get(f"/accounts/layers/?theme={theme.slug}&layer=rights-one")
    assert page.status_code == 200 and "雨水下水道" in page.content.decode() and "抽水站" in page.content.decode()

    saved = client.post("/accounts/layers/", {"form": "layer", "layer": "rights-one", "visibility": "restricted",
                                              "owner_agency": "水務局", "holder": ["group:都市計畫審議"],
                                              "rights:group:都市計畫審議": ["see"]})
    assert saved.status_code == 302
    one.refresh_from_db()
    assert one.visibility == "restricted" and one.owner_agency == water
    assert list(one.allowed_groups.all()) == [planners]
    bad = client.post("/accounts/layers/", {"form": "layer", "layer": "rights-one", "visibility": "restricted",
                                            "owner_agency": "都市計畫審議"})  # a group, not an agency
    assert bad.status_code == 400 and "負責機關" in bad.content.decode()
    assert Layer.objects.get(pk=one.pk).owner_agency == water  # nothing half-written

    by_theme = client.post("/accounts/layers/", {"form": "theme", "theme": theme.slug, "visibility": "restricted",
                                                 "add_group": "水務局"})
    assert by_theme.status_code == 302
    two.refresh_from_db()
    assert two.visibility == "restricted" and list(two.allowed_groups.all()) == [water]
    assert set(Layer.objects.get(pk=one.pk).allowed_groups.all()) == {planners, water}
    planner = User.objects.create_user("planner")
    planner.groups.add(planners)
    assert set(Layer.objects.visible_to(planner).filter(slug__startswith="rights-").values_list(
        "slug", flat=True)) == {"rights-one"}
    entries = [(e.object_label, e.detail.get("theme"), e.detail["after"]["visibility"])
               for e in audited(action="permission_change", object_type="layer") if "after" in e.detail]
    assert ("rights-one", None, "restricted") in entries and ("rights-two", theme.slug, "restricted") in entries
    assert Client().get("/accounts/layers/").status_code == 404
