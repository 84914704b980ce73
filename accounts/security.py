"""帳號安全 at /accounts/security/ — a signed-in local account's passkeys (add, rename, remove) and authenticator app
(enrol with a QR code, confirm with a code, remove), and its recovery codes; and the second step of signing in at
/sign-in/second-factor/ with a passkey, a code from the app or a recovery code, and passwordless sign-in with a
passkey (/sign-in/passkey/…). The rules and the audit entries are accounts.second_factor's."""

import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import second_factor as sf
from .models import Passkey

NAME_MAX = Passkey._meta.get_field("name").max_length


def _json_body(request) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def page_strings() -> dict:
    """What passkeys.js says (the sign-in dialog passes them as JSON: web/_sign_in_dialog.html)."""
    return {"unsupported": _("此瀏覽器不支援通行金鑰"), "cancelled": _("已取消，或驗證器未回應"),
            "failed": _("通行金鑰驗證失敗"), "added": _("已新增通行金鑰"),
            "working": _("請依瀏覽器或驗證器的指示操作…")}


@require_http_methods(["GET", "POST"])
def security_page(request):
    if not request.user.is_authenticated:
        return render(request, "accounts/security.html", {"signed_out": True}, status=401)
    local = sf.is_local(request.user)
    problem, enrolling, codes, saved = None, None, None, request.session.pop("security_saved", "")
    form = request.POST.get("form", "")
    if request.method == "POST" and not local:
        problem = _("您以市府目錄或市府帳號登入：第二道驗證由市府的系統管理")
    elif request.method == "POST":
        found = Passkey.objects.filter(user=request.user, pk=request.POST.get("id") if
                                       request.POST.get("id", "").isdigit() else 0).first()
        name = request.POST.get("name", "").strip()
        if form in ("rename", "remove") and found is None:
            problem = _("沒有這把通行金鑰")
        elif form == "rename" and not 0 < len(name) <= NAME_MAX:
            problem = _("名稱：請填 1 至 %(max)d 個字") % {"max": NAME_MAX}
        elif form == "rename":
            sf.rename(request, found, name)
            saved = _("已重新命名")
        elif form == "remove":
            sf.remove(request, found)
            saved = _("已移除通行金鑰")
        elif form == "totp-start":
            secret = sf.totp_start(request)
            enrolling = {"secret": secret, "qr": mark_safe(sf.qr_svg(sf.totp_uri(request, secret)))}  # noqa: S308 - segno's own SVG
        elif form == "totp-confirm":
            try:
                codes = sf.totp_confirm(request, request.POST.get("code", ""))
            except sf.Refused:
                problem = _("驗證碼不正確，請輸入驗證器 App 目前顯示的 6 位數字")
                secret = request.session.get(sf.TOTP_ENROLLING)
                if secret:
                    enrolling = {"secret": secret, "qr": mark_safe(sf.qr_svg(sf.totp_uri(request, secret)))}  # noqa: S308
        elif form == "totp-remove":
            sf.totp_remove(request)
            saved = _("已移除驗證器 App")
        elif form == "recovery":
            codes = sf.new_recovery_codes(request)
        else:
            problem = _("未知的操作")
        if problem is None and saved:
            request.session["security_saved"] = saved
            return redirect("account-security-page")
    return render(request, "accounts/security.html", {
        "local": local, "passkeys": Passkey.objects.filter(user=request.user), "methods": sf.methods(request.user),
        "problem": problem, "enrolling": enrolling, "codes": codes, "saved": saved,
        "name_max": NAME_MAX}, status=400 if problem else 200)


def _refused(message: str, status: int = 400):
    return JsonResponse({"detail": message}, status=status)


@require_POST
def passkey_registration_options(request):
    if not request.user.is_authenticated or not sf.is_local(request.user):
        return _refused(_("只有本機帳號可以新增通行金鑰"), 403)
    return HttpResponse(sf.registration_options(request), content_type="application/json")


@require_POST
def passkey_register(request):
    if not request.user.is_authenticated or not sf.is_local(request.user):
        return _refused(_("只有本機帳號可以新增通行金鑰"), 403)
    body = _json_body(request)
    if body is None or not isinstance(body.get("credential"), dict):
        return _refused(_("credential：需要驗證器的回應（JSON 物件）"))
    name = str(body.get("name") or "").strip() or _("通行金鑰")
    if len(name) > NAME_MAX:
        return _refused(_("名稱：請填 1 至 %(max)d 個字") % {"max": NAME_MAX})
    try:
        passkey = sf.register(request, body["credential"], name)
    except sf.Refused as exc:
        return _refused(_("無法新增通行金鑰：%(why)s") % {"why": exc})
    return JsonResponse({"id": passkey.pk, "name": passkey.name}, status=201)


@require_POST
def passkey_sign_in_options(request):
    return HttpResponse(sf.authentication_options(request), content_type="application/json")


@require_POST
def passkey_sign_in(request):
    """The authenticator's answer: signed in (second step or passwordless), and where to go."""
    body = _json_body(request)
    if body is None or not isinstance(body.get("credential"), dict):
        return _refused(_("credential：需要驗證器的回應（JSON 物件）"))
    held = sf.held_user(request)
    try:
        user = sf.authenticate(request, body["credential"])
    except sf.Refused:
        return _refused(_("通行金鑰驗證失敗，請再試一次或改用其他方式登入"))
    target = None
    if held is None:  # passwordless: back where the dialog was
        target = str(body.get("next") or "/")
        target = target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else "/"
    next_url = sf.finish(request, user, "passkey" if held is None else "password+passkey", target)
    return JsonResponse({"next": next_url})


@require_http_methods(["GET", "POST"])
def second_factor_page(request):
    """登入第二步驟: after the password, a passkey or a code."""
    user = sf.held_user(request)
    if user is None:
        request.session.pop(sf.HELD, None)
        return render(request, "accounts/second_factor.html", {"expired": True}, status=400)
    problem = None
    if request.method == "POST":
        try:
            method = sf.check_code(request, user, request.POST.get("code", ""))
        except sf.Refused:
            problem = _("驗證碼不正確，或此帳號因失敗次數過多暫時鎖定")
        else:
            return redirect(sf.finish(request, user, f"password+{method}"))
    return render(request, "accounts/second_factor.html", {
        "held": user, "methods": sf.methods(user), "problem": problem},
        status=400 if problem else 200)
