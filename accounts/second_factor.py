"""Second factors of local accounts: passkeys (WebAuthn / FIDO2, with py_webauthn) and an authenticator app (TOTP,
RFC 6238, with pyotp) as the fallback, with single-use recovery codes.

A local account with a passkey or a confirmed authenticator app signs in in two steps: the password (web.views
.sign_in) puts the user *on hold* in the session (HELD, for HOLD_SECONDS) instead of signing them in; the second
factor page (accounts.sign_in_views) then asks for a passkey, a code from the app or a recovery code. A passkey also
signs in on its own (passwordless: the authenticator verified its user with a PIN or biometrics). Directory and
OpenID Connect users' second factors are the city's systems' business, not civgis'.

The relying party is the host the browser talks to (WEBAUTHN_RP_ID, default the request's host without its port);
the expected origin the request's scheme and host (WEBAUTHN_ORIGINS adds others, e.g. behind a proxy). Every
enrolment, removal, reset and failure is an audit entry; failures count towards the lock-out (accounts.lockout).
"""

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from audit import actors, events, refusals

from . import lockout
from .models import Account, Passkey, RecoveryCode, TotpDevice

HELD = "second_factor_held"  # session: {"user": pk, "backend": dotted path, "at": epoch s, "next": url}
HOLD_SECONDS = 300
REGISTERING = "passkey_registration_challenge"
SIGNING_IN = "passkey_sign_in_challenge"
TOTP_ENROLLING = "totp_enrolment_secret"
RECOVERY_CODES = 10
TOTP_STEP = 30


class Refused(Exception):
    """A second factor not accepted; the message is for the user (already translated by the caller)."""


def is_local(user) -> bool:
    account = Account.objects.filter(user=user).first()
    return account is None or account.source == Account.Source.LOCAL


def methods(user) -> dict:
    """What this user has: passkeys (count), an authenticator app, unused recovery codes."""
    return {"passkeys": Passkey.objects.filter(user=user).count(),
            "totp": TotpDevice.objects.filter(user=user).exists(),
            "recovery": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()}


def required(user) -> bool:
    return is_local(user) and (Passkey.objects.filter(user=user).exists() or
                               TotpDevice.objects.filter(user=user).exists())


def _record(action: str, request, user, detail: dict, actor_user=None) -> None:
    events.record(action, actors.of_user(actor_user or user, actors.client_address(request)), object_type="user",
                  object_id=user.pk, object_label=user.get_username(), detail=detail)


def failed(request, username: str, method: str, reason: str) -> None:
    """A refused second factor or passkey: an audit entry, and one more failure towards the name's lock-out."""
    refusals.record("sign_in_failed", actors.Actor(None, username[:150], actors.client_address(request)),
                    object_type="user", object_label=username[:150], detail={"method": method, "reason": reason})
    lockout.count_failure(username)


# --- the hold between the password and the second factor -----------------------------------------------------------

def hold(request, user, next_url: str) -> None:
    request.session.cycle_key()
    request.session[HELD] = {"user": user.pk, "backend": user.backend, "at": time.time(), "next": next_url}


def held_user(request):
    from django.contrib.auth import get_user_model

    held = request.session.get(HELD)
    if not held or time.time() - held["at"] > HOLD_SECONDS:
        return None
    return get_user_model().objects.filter(pk=held["user"], is_active=True).first()


def finish(request, user, method: str, next_url: str | None = None) -> str:
    """Signs the held (or passkey) user in; where to go next."""
    from django.contrib.auth import login

    held = request.session.pop(HELD, None) or {}
    user.sign_in_method = method  # the audit entry's (audit.signals)
    login(request, user, backend=held.get("backend") or "accounts.lockout.LockingModelBackend")
    return next_url or held.get("next") or "/"


# --- passkeys ------------------------------------------------------------------------------------------------------

def relying_party(request) -> tuple[str, list[str]]:
    host = request.get_host()
    rp_id = settings.WEBAUTHN_RP_ID or host.rsplit(":", 1)[0].strip("[]")
    return rp_id, [f"{request.scheme}://{host}", *settings.WEBAUTHN_ORIGINS]


def _descriptors(user) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in Passkey.objects.filter(user=user)]


def user_handle(user) -> bytes:
    return f"civgis-user-{user.pk}".encode()


def registration_options(request) -> str:
    """The options for navigator.credentials.create() (JSON); the challenge waits in the session."""
    user = request.user
    rp_id, _ = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id, rp_name="civgis", user_name=user.get_username(), user_id=user_handle(user),
        user_display_name=user.get_full_name() or user.get_username(), exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED))
    request.session[REGISTERING] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def register(request, credential: dict, name: str) -> Passkey:
    """Verifies the authenticator's answer to registration_options and keeps the passkey. Audited."""
    challenge = request.session.pop(REGISTERING, None)
    if not challenge:
        raise Refused("no registration under way")
    rp_id, origins = relying_party(request)
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=base64url_to_bytes(challenge),
                                                expected_rp_id=rp_id, expected_origin=origins)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise Refused(str(exc)) from None
    if Passkey.objects.filter(credential_id=verified.credential_id).exists():
        raise Refused("this passkey is registered already")
    transports = credential.get("response", {}).get("transports") or []
    passkey = Passkey.objects.create(user=request.user, name=name, credential_id=verified.credential_id,
                                     public_key=verified.credential_public_key, sign_count=verified.sign_count,
                                     transports=[t for t in transports if isinstance(t, str)][:8])
    _record("second_factor_add", request, request.user, {"kind": "passkey", "name": name, "id": passkey.pk})
    return passkey


def authentication_options(request) -> str:
    """The options for navigator.credentials.get(): the held user's passkeys, or (passwordless) any of this site's
    passkeys the authenticator holds."""
    user = held_user(request)
    rp_id, _ = relying_party(request)
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=_descriptors(user) if user else None,
        user_verification=UserVerificationRequirement.PREFERRED if user else UserVerificationRequirement.REQUIRED)
    request.session[SIGNING_IN] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def authenticate(request, credential: dict):
    """The user whose passkey signed the challenge: the held user (second factor) or, passwordless, the passkey's
    owner (the authenticator must have verified its user). Refused otherwise, and counted as a failure."""
    challenge = request.session.pop(SIGNING_IN, None)
    held = held_user(request)
    try:
        raw_id = base64url_to_bytes(str(credential.get("rawId") or credential.get("id") or ""))
    except (ValueError, TypeError):
        raw_id = b""
    passkey = Passkey.objects.select_related("user").filter(credential_id=raw_id).first() if raw_id else None
    name = held.get_username() if held else (passkey.user.get_username() if passkey else "")
    if not challenge:
        failed(request, name, "passkey", "no_challenge")
        raise Refused("no sign-in under way")
    if passkey is None or (held is not None and passkey.user_id != held.pk):
        failed(request, name, "passkey", "unknown_passkey")
        raise Refused("unknown passkey")
    user = passkey.user
    if not user.is_active or not is_local(user) or lockout.is_locked(user.get_username()):
        failed(request, name, "passkey", "locked" if user.is_active else "inactive")
        raise Refused("account not available")
    rp_id, origins = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge), expected_rp_id=rp_id,
            expected_origin=origins, credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=held is None)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        failed(request, name, "passkey", "invalid")
        raise Refused(str(exc)) from None
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    return user


def rename(request, passkey: Passkey, name: str) -> None:
    before, passkey.name = passkey.name, name
    passkey.save(update_fields=["name"])
    _record("second_factor_change", request, passkey.user, {"kind": "passkey", "name": [before, name],
                                                            "id": passkey.pk})


def remove(request, passkey: Passkey) -> None:
    _record("second_factor_remove", request, passkey.user, {"kind": "passkey", "name": passkey.name,
                                                            "id": passkey.pk})
    passkey.delete()


# --- the authenticator app (TOTP) and recovery codes ---------------------------------------------------------------

def totp_start(request) -> str:
    """A new secret for the app, kept in the session until a code from the app confirms it."""
    secret = pyotp.random_base32()
    request.session[TOTP_ENROLLING] = secret
    return secret


def totp_uri(request, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=request.user.get_username(), issuer_name="civgis")


def qr_svg(uri: str) -> str:
    """The QR code of the app's enrolment address, as inline SVG (segno; nothing leaves the server)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def _step_matching(secret: str, code: str, after: int) -> int | None:
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp, now = pyotp.TOTP(secret), time.time()
    for drift in (0, -1, 1):  # one step either side: the phone's clock
        step = int(now // TOTP_STEP) + drift
        if step > after and hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


@transaction.atomic
def totp_confirm(request, code: str) -> list[str]:
    """Keeps the app whose code this is; new recovery codes (shown once). Audited."""
    secret = request.session.get(TOTP_ENROLLING)
    step = _step_matching(secret, code, 0) if secret else None
    if step is None:
        raise Refused("wrong code")
    del request.session[TOTP_ENROLLING]
    TotpDevice.objects.update_or_create(user=request.user, defaults={"secret": secret, "confirmed_at": timezone.now(),
                                                                     "last_step": step})
    _record("second_factor_add", request, request.user, {"kind": "totp"})
    return new_recovery_codes(request)


def totp_remove(request) -> None:
    if TotpDevice.objects.filter(user=request.user).delete()[0]:
        _record("second_factor_remove", request, request.user, {"kind": "totp"})


def _digest(code: str) -> str:
    return hashlib.sha256("".join(code.lower().split()).replace("-", "").encode()).hexdigest()


def new_recovery_codes(request) -> list[str]:
    """Ten fresh codes (the old ones stop working); only their hashes are kept. Audited."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = ["-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=request.user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=request.user, digest=_digest(c)) for c in codes])
    _record("recovery_codes_made", request, request.user, {"count": len(codes)})
    return codes


def check_code(request, user, code: str) -> str:
    """A code from the app or a recovery code of the held user: "totp" or "recovery"; Refused (and counted) if
    neither. Each is good once."""
    name = user.get_username()
    if lockout.is_locked(name):
        failed(request, name, "totp", "locked")
        raise Refused("locked")
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None:
            step = _step_matching(device.secret, code, device.last_step)
            if step is not None:
                device.last_step = step
                device.save(update_fields=["last_step"])
                return "totp"
        used = RecoveryCode.objects.filter(user=user, digest=_digest(code), used_at__isnull=True).update(
            used_at=timezone.now())
        if used:
            _record("recovery_code_used", request, user,
                    {"left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()})
            return "recovery"
    failed(request, name, "totp", "wrong_code")
    raise Refused("wrong code")


@transaction.atomic
def reset(request, user) -> dict:
    """An administrator takes away a user's passkeys, app and recovery codes (a lost phone or key): the user signs
    in with the password alone until they enrol again. Audited, as the administrator's act."""
    removed = {"passkeys": Passkey.objects.filter(user=user).delete()[0],
               "totp": TotpDevice.objects.filter(user=user).delete()[0],
               "recovery_codes": RecoveryCode.objects.filter(user=user).delete()[0]}
    _record("second_factor_reset", request, user, removed, actor_user=request.user)
    return removed
