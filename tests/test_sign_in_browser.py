"""Signing in, in a real browser (Chromium): the sign-in dialog with a local account, the city's directory (the
stack's slapd) and the city's OpenID Connect provider through its own pages (a private `oidc-provider` whose redirect
address is this module's server); a passkey enrolled on the security page with Chromium's virtual authenticator
(DevTools protocol, WebAuthn domain) and then used passwordless and as the second step after the password; the
header's links to the security page and, for administrators, to /accounts/. One page, one context; screenshots of
the new pages at 1366 and 390 px in both languages in .var/screenshots/sign-in-*.png."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import importfiles as files
import numpy as np
import pytest
import shapely
from conftest import (
    CHROMIUM,
    PHONE,
    PROJECT_DIR,
    SHOTS,
    UNNAMED_CONTROLS,
    assert_fits,
    leftover_guard,
    new_page,
    shot,
    stop_process,
    wait_until_answering,
)
from django.contrib.auth.models import Group, User

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]

PASSWORD = "browser-sign-in-2026"
DESKTOP = {"width": 1366, "height": 768}
IDENTITY = PROJECT_DIR / "geo" / "identity"
# one restricted layer of each agency the stand-ins map people to (AUTH_AGENCY_MAP): what a directory or provider
# user sees in the catalog follows the agency their sign-in gave them
AGENCY_LAYERS = {"都市發展局": ("udd-draft-plans", "都發局規劃草案"), "水務局": ("water-pump-stations", "水務局抽水站")}


def restricted_layer(folder: Path, agency: str, slug: str, title: str) -> None:
    path = files.write_vector(folder / f"{slug}.gpkg", np.array([shapely.Point(280_000, 2_765_000)], dtype=object),
                              {"name": np.array([title], dtype=object)}, "EPSG:3826", "GPKG")
    owner = Group.objects.get_or_create(name=agency)[0]
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": "restricted",
                                                "owner_agency": owner.pk}).pk)
    assert job.status == "succeeded", job.errors
    Layer.objects.filter(slug=slug).update(title_zh=title)


def catalog_titles(page) -> str:
    """Everything the viewer is given about the catalog for the page's session (its cookies), as text."""
    return json.dumps(page.request.get("/viewer/layers.json").json(), ensure_ascii=False)


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    """A local administrator and a local user, and a restricted layer of each agency."""
    import importlib

    from django.apps import apps

    if not os.environ.get("LDAP_SERVER_URI"):
        pytest.skip("run through geo.localstack: it starts slapd")
    with django_db_blocker.unblock():
        importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)
        User.objects.create_superuser("root-admin", password=PASSWORD)
        User.objects.create_user("mei", password=PASSWORD, first_name="美", last_name="王")
        with tempfile.TemporaryDirectory() as folder:
            for agency, (slug, title) in AGENCY_LAYERS.items():
                restricted_layer(Path(folder), agency, slug, title)
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            User.objects.filter(username__in=["root-admin", "mei", "chen", "lin"]).delete()
            for layer in Layer.objects.filter(slug__in=[slug for slug, _ in AGENCY_LAYERS.values()]):
                layer.delete()
            Group.objects.all().delete()


@pytest.fixture(scope="module")
def facts(city):
    return {}


@pytest.fixture(scope="module")
def provider(city, server, browser_oidc_issuer):
    """The `oidc-provider` of geo/identity at the issuer address the browser modules' server was given
    (conftest.browser_oidc_issuer), for this server's callback (on localhost: passkeys need a domain)."""
    from geo.localstack import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET

    port, issuer = server.rsplit(":", 1)[1], browser_oidc_issuer
    cmd = ["node", str(IDENTITY / "oidc-provider.mjs"), "--port", issuer.rsplit(":", 1)[1], "--client-id",
           OIDC_CLIENT_ID, "--client-secret", OIDC_CLIENT_SECRET]
    for host in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        cmd += ["--redirect-uri", f"{host}/sign-in/oidc/callback/", "--logout-uri", f"{host}/"]
    log = open(SHOTS.parent / "sign-in-oidc.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    leftover_guard(f"pytest-oidc-{os.getpid()}", proc.pid)
    try:
        wait_until_answering(issuer + "/.well-known/openid-configuration", proc, 20,
                             f"the OpenID Connect provider did not start; see {log.name}")
        yield issuer
    finally:
        stop_process(proc, 10)
        log.close()


@pytest.fixture(scope="module")
def page(browser, server, provider):
    page = new_page(browser, server.replace("127.0.0.1", "localhost"), viewport=DESKTOP)
    page.set_default_navigation_timeout(60_000)  # the map's first load on a busy machine
    yield page
    page.context.close()


def language(page, lang: str):
    page.set_viewport_size(DESKTOP)  # the language menu is folded on a phone
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.select_option("#lang", lang)


def shots(page, name: str, controls: str = "#report button, #report select, #report input:not([type=checkbox])"):
    """The page at 1366 and 390 px, in zh-Hant and English; at 390 nothing scrolls sideways and the controls fit."""
    for lang in ("zh-hant", "en"):  # the pictures only when wanted (conftest.shot); the checks run always
        language(page, lang)
        shot(page, f"sign-in-{name}-{lang}-1366", full_page=True)
        page.set_viewport_size(PHONE)
        shot(page, f"sign-in-{name}-{lang}-390", full_page=True)
        assert_fits(page, PHONE["width"], controls)
        assert page.evaluate(UNNAMED_CONTROLS) == []
    language(page, "zh-hant")


def sign_in_with_password(page, username: str, password: str):
    page.goto("/")
    page.click("#sign-in-open")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#sign-in-dialog button[type=submit]")


def sign_out(page):
    with page.expect_navigation():
        page.click("#top-menu form[action='/sign-out/'] button, .user form button")


def test_a_local_administrator_signs_in_and_finds_the_administration_in_the_header(page):
    page.goto("/")
    page.click("#sign-in-open")
    shot(page, "sign-in-dialog-zh-hant-1366")
    assert page.locator("#sign-in-passkey").is_visible() and page.locator("#sign-in-oidc").is_visible()
    page.keyboard.press("Escape")
    sign_in_with_password(page, "root-admin", PASSWORD)
    assert "root-admin" in page.inner_text("#signed-in-as")
    assert page.locator("#my-security").count() == 1
    with page.expect_navigation():
        page.locator("#accounts-admin").click(force=True)  # in the viewer's header (folded on a phone)
    assert page.url.endswith("/accounts/")
    shots(page, "accounts")
    page.click("text=圖層與主題權限")
    page.locator("#layer-rights-table").wait_for()  # the tab is a page of its own: wait for it to load
    shots(page, "layer-rights")
    # one layer's rights: a single user given "see" and "add" from the table, saved, shown, in both languages
    page.goto("/accounts/layers/?layer=water-pump-stations")
    page.fill("#l-add-user", "mei")
    page.check("#layer-grants tr.new-holder input[value=see]")
    page.check("#layer-grants tr.new-holder input[value=add]")
    with page.expect_navigation():
        page.click("#layer-rights-form button[type=submit]")
    assert "水務局抽水站" in page.inner_text("#rights-saved")
    page.goto("/accounts/layers/?layer=water-pump-stations")
    assert page.locator("tr[data-holder='user:mei'] input[value=add]").is_checked()
    shots(page, "layer-grants")
    sign_out(page)


def test_a_passkey_made_with_the_virtual_authenticator_signs_in_alone_and_after_the_password(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    sign_in_with_password(page, "mei", PASSWORD)
    page.goto("/accounts/security/")
    page.fill("#passkey-name", "測試筆電")
    with page.expect_navigation():
        page.click("#passkey-add")
    assert "測試筆電" in page.inner_text("#passkeys-table")
    with page.expect_navigation():
        page.click("#totp-start")
    assert page.locator(".qr svg").is_visible()
    shots(page, "security")
    sign_out(page)

    page.goto("/siting/")  # passwordless, from a decision page's dialog: back to that page
    page.click("#sign-in-open")
    with page.expect_navigation():
        page.click("#sign-in-passkey")
    assert page.url.endswith("/siting/") and "mei" in page.inner_text("#signed-in-as")
    sign_out(page)

    sign_in_with_password(page, "mei", PASSWORD)  # the password, then the passkey
    assert page.url.endswith("/sign-in/second-factor/")
    shots(page, "second-factor")
    with page.expect_navigation():
        page.click("#second-factor-passkey")
    assert "mei" in page.inner_text("#signed-in-as")
    sign_out(page)


def test_a_directory_user_signs_in_through_the_dialog_and_has_no_administration(page):
    titles = catalog_titles(page)
    assert all(title not in titles for _, title in AGENCY_LAYERS.values())  # anonymous: neither
    sign_in_with_password(page, "chen", "chen-pass-1")
    assert "chen" in page.inner_text("#signed-in-as")
    titles = catalog_titles(page)  # the directory put chen in 都市發展局: its layer, not 水務局's
    assert "都發局規劃草案" in titles and "水務局抽水站" not in titles
    assert page.locator("#accounts-admin").count() == 0
    page.goto("/accounts/security/")
    assert page.locator("#security-external").is_visible()
    sign_out(page)


def test_the_city_account_signs_in_through_the_providers_own_pages(page, provider, no_script_errors):
    no_script_errors.allow(r"fonts\.googleapis\.com")  # the provider's own sign-out page asks for a web font
    page.goto("/wifi/")
    page.click("#sign-in-open")
    with page.expect_navigation():
        page.click("#sign-in-oidc")
    assert page.url.startswith(provider + "/interaction/")
    page.fill("input[name=login]", "lin")
    page.fill("input[name=password]", "lin-pass-1")
    with page.expect_navigation(url="**/wifi/"):
        page.click("button[type=submit]")
    assert "lin" in page.inner_text("#signed-in-as")
    titles = catalog_titles(page)  # the provider's agency claim put lin in 水務局: its layer, not 都市發展局's
    assert "水務局抽水站" in titles and "都發局規劃草案" not in titles
    sign_out(page)  # out of the provider too: it asks, then sends the browser back to the map
    assert page.url.startswith(provider + "/session/end")
    with page.expect_navigation():
        page.click("button[autofocus], button[type=submit]")
    assert page.locator("#sign-in-open").count() == 1
