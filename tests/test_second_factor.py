"""Passkeys (WebAuthn / FIDO2) and the authenticator app (TOTP) of local accounts, server side, against a software
authenticator with a real ES256 key (tests/software_authenticator.py): enrolment on the security page, sign-in as the
second step after the password and passwordless, recovery codes, an administrator's reset — and forged, replayed and
foreign answers refused, counted and audited."""

import json
import time

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Passkey, RecoveryCode, TotpDevice
from geo import counters
from tests.software_authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-pass-phrase-9"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for key in counters.client().scan_iter("civgis:sign-in-failures:*"):
        counters.client().delete(key)


def local_user(name="mei") -> User:
    return User.objects.create_user(name, password=PASSWORD)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def enrol_passkey(client, authenticator, name="公務筆電"):
    options = post_json(client, "/accounts/security/passkeys/options/").json()
    assert options["rp"]["id"] == "testserver" and options["attestation"] == "none"
    return post_json(client, "/accounts/security/passkeys/", {"name": name,
                                                              "credential": authenticator.create(options)})


def passkey_sign_in(client, authenticator, **kwargs):
    options = post_json(client, "/sign-in/passkey/options/").json()
    return post_json(client, "/sign-in/passkey/", {"credential": authenticator.get(options, **kwargs),
                                                   "next": "/siting/"})


def test_a_passkey_is_enrolled_renamed_and_signs_in_without_a_password(audited):
    user, key = local_user(), SoftAuthenticator()
    owner = signed_in(user)
    made = enrol_passkey(owner, key)
    assert made.status_code == 201, made.content
    page = owner.get("/accounts/security/")
    assert "公務筆電" in page.content.decode()
    passkey = Passkey.objects.get(user=user)
    assert owner.post("/accounts/security/", {"form": "rename", "id": passkey.pk, "name": "YubiKey"}).status_code == 302
    assert Passkey.objects.get(pk=passkey.pk).name == "YubiKey"
    again = enrol_passkey(owner, key)  # the same authenticator twice: refused, named
    assert again.status_code == 400 and "通行金鑰" in again.json()["detail"]

    visitor = Client()
    answer = passkey_sign_in(visitor, key)
    assert answer.status_code == 200 and answer.json() == {"next": "/siting/"}
    assert visitor.get("/accounts/security/").status_code == 200  # signed in
    assert Passkey.objects.get(pk=passkey.pk).sign_count == 1
    replayed = post_json(Client(), "/sign-in/passkey/", {"credential": key.get({"challenge": "AAAA"})})
    assert replayed.status_code == 400  # no challenge of this session: refused
    forged = passkey_sign_in(Client(), key, key=ec.generate_private_key(ec.SECP256R1()))
    assert forged.status_code == 400
    unverified = passkey_sign_in(Client(), key, verified=False)  # passwordless needs the authenticator's PIN
    assert unverified.status_code == 400

    assert owner.post("/accounts/security/", {"form": "remove", "id": passkey.pk}).status_code == 302
    assert not Passkey.objects.filter(user=user).exists()
    actions = [(e.action, e.detail.get("kind") or e.detail.get("method"), e.detail.get("reason"))
               for e in audited(object_label="mei")]
    assert ("second_factor_add", "passkey", None) in actions and ("sign_in", "passkey", None) in actions
    assert ("second_factor_change", "passkey", None) in actions and ("second_factor_remove", "passkey", None) in actions
    assert [a for a in actions if a[0] == "sign_in_failed"] == [
        ("sign_in_failed", "passkey", "no_challenge"), ("sign_in_failed", "passkey", "invalid"),
        ("sign_in_failed", "passkey", "invalid")]


def test_after_the_password_a_passkey_is_asked_for_and_only_the_users_own_counts(audited):
    user, key = local_user(), SoftAuthenticator()
    other, other_key = local_user("chen"), SoftAuthenticator()
    assert enrol_passkey(signed_in(user), key).status_code == 201
    assert enrol_passkey(signed_in(other), other_key).status_code == 201

    client = Client()
    answer = client.post("/sign-in/", {"username": "mei", "password": PASSWORD, "next": "/siting/"})
    assert answer.status_code == 302 and answer["Location"] == "/sign-in/second-factor/"
    assert "_auth_user_id" not in client.session  # not signed in yet
    assert client.get("/accounts/security/").status_code == 401
    page = client.get("/sign-in/second-factor/")
    assert page.status_code == 200 and "使用通行金鑰" in page.content.decode()
    options = post_json(client, "/sign-in/passkey/options/").json()
    assert [c["id"] for c in options["allowCredentials"]] == [other_key_id(key)]
    foreign = post_json(client, "/sign-in/passkey/", {"credential": other_key.get(options)})
    assert foreign.status_code == 400 and "_auth_user_id" not in client.session
    answer = passkey_sign_in(client, key, verified=False)  # a second factor: presence is enough
    assert answer.status_code == 200 and answer.json()["next"] == "/siting/"
    assert client.session["_auth_user_id"] == str(user.pk)
    methods = [e.detail["method"] for e in audited(action="sign_in", object_label="mei")]
    assert methods[-1] == "password+passkey" and "password+passkey" not in methods[:-1]


def other_key_id(authenticator) -> str:
    from tests.software_authenticator import b64

    return b64(authenticator.credential_id)


def test_totp_enrolment_codes_recovery_codes_and_an_administrators_reset(audited):
    user = local_user()
    owner = signed_in(user)
    start = owner.post("/accounts/security/", {"form": "totp-start"})
    assert start.status_code == 200 and b"<svg" in start.content
    secret = owner.session["totp_enrolment_secret"]
    wrong = owner.post("/accounts/security/", {"form": "totp-confirm", "code": "000000" if pyotp.TOTP(secret).now()
                                               != "000000" else "111111"})
    assert wrong.status_code == 400 and not TotpDevice.objects.filter(user=user).exists()
    confirmed = owner.post("/accounts/security/", {"form": "totp-confirm", "code": pyotp.TOTP(secret).now()})
    codes = confirmed.context["codes"]
    assert confirmed.status_code == 200 and len(codes) == 10 and codes[0] in confirmed.content.decode()
    assert not RecoveryCode.objects.filter(digest__in=codes).exists()  # only hashes are kept

    client = Client()
    client.post("/sign-in/", {"username": "mei", "password": PASSWORD, "next": "/"})
    replay = client.post("/sign-in/second-factor/", {"code": pyotp.TOTP(secret).now()})
    assert replay.status_code == 400, "the code that confirmed the app is spent"  # same 30 s step
    assert "_auth_user_id" not in client.session
    recovered = client.post("/sign-in/second-factor/", {"code": codes[0].upper()})
    assert recovered.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)

    again = Client()
    again.post("/sign-in/", {"username": "mei", "password": PASSWORD, "next": "/"})
    assert again.post("/sign-in/second-factor/", {"code": codes[0]}).status_code == 400  # single use
    step = int(time.time() // 30) + 1  # the next step's code (the phone a little ahead) is accepted once
    assert again.post("/sign-in/second-factor/", {"code": pyotp.TOTP(secret).at(step * 30)}).status_code == 302

    admin = User.objects.create_superuser("root", password=PASSWORD)
    reset = signed_in(admin).post(f"/accounts/?user={user.pk}", {"form": "reset-second-factor"})
    assert reset.status_code == 302
    assert not TotpDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    plain = Client()
    assert plain.post("/sign-in/", {"username": "mei", "password": PASSWORD, "next": "/"})["Location"] == "/"
    entries = audited()
    actions = [(e.action, e.actor_name, e.detail.get("method")) for e in entries]
    assert ("second_factor_add", "mei", None) in actions and ("recovery_codes_made", "mei", None) in actions
    assert ("sign_in", "mei", "password+recovery") in actions and ("sign_in", "mei", "password+totp") in actions
    assert ("second_factor_reset", "root", None) in actions and ("recovery_code_used", "mei", None) in actions
    assert [a for a in actions if a[0] == "sign_in_failed"] == [("sign_in_failed", "mei", "totp")] * 2


def test_the_second_step_times_out_and_is_locked_out_with_the_password(settings):
    user = local_user()
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at="2026-01-01T00:00Z")
    assert Client().get("/sign-in/second-factor/").status_code == 400  # nothing held
    settings.AUTH_LOCKOUT_FAILURES = 3
    client = Client()
    client.post("/sign-in/", {"username": "mei", "password": PASSWORD, "next": "/"})
    for _ in range(3):
        assert client.post("/sign-in/second-factor/", {"code": "12345x"}).status_code == 400
    device = TotpDevice.objects.get(user=user)
    locked = client.post("/sign-in/second-factor/", {"code": pyotp.TOTP(device.secret).now()})
    assert locked.status_code == 400 and "_auth_user_id" not in client.session
    session = client.session
    session["second_factor_held"]["at"] -= 301
    session.save()
    assert client.get("/sign-in/second-factor/").status_code == 400


def test_directory_and_provider_users_manage_no_second_factor_here():
    from accounts.models import Account

    user = local_user("oidcuser")
    Account.objects.create(user=user, source=Account.Source.OIDC)
    client = signed_in(user)
    page = client.get("/accounts/security/")
    assert page.status_code == 200 and "市府的身分系統" in page.content.decode()
    assert post_json(client, "/accounts/security/passkeys/options/").status_code == 403
    assert client.post("/accounts/security/", {"form": "totp-start"}).status_code == 400
