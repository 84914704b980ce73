"""帳號與權限管理 at /accounts/: administrators (superusers) see every user — where they sign in, their agency, groups
and state — change a user's agency, groups and flags, create groups and agencies, and see the latest failed
sign-ins, without the Django admin. For everyone else the page does not exist (404). Every change goes through the
API's serializers (accounts.api): the same rules, the same audit entries."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods

from audit import actors, reads
from audit.models import AuditEntry
from geo.hidden_routes import is_superuser

from . import second_factor, tokens
from .api import AgencySerializer, GroupSerializer, TokenSerializer, UserSerializer, _record
from .models import Account, Agency, ApiToken

FAILED_SHOWN = 20
USERS_SHOWN = 200


def _errors(detail) -> str:
    """A serializer's errors as one line: field: message; …"""
    return "; ".join(f"{field}: {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
                     for field, msgs in detail.items())


def _save_user(request, user) -> str | None:
    data = {"groups": request.POST.getlist("groups"), "agency": request.POST.get("agency") or None,
            "is_active": "is_active" in request.POST, "is_staff": "is_staff" in request.POST}
    if user.pk == request.user.pk and not data["is_active"]:
        return _("不能停用自己的帳號")  # the serializer refuses it too; the page says it in the user's language
    serializer = UserSerializer(user, data=data, partial=True, context={"request": request})
    if not serializer.is_valid():
        return _errors(serializer.errors)
    serializer.save()
    return None


def _save_group(request) -> str | None:
    name = request.POST.get("name", "").strip()
    if request.POST.get("is_agency"):
        serializer = AgencySerializer(data={"name": name, "name_en": request.POST.get("name_en", ""),
                                            "code": request.POST.get("code", "")}, context={"request": request})
    else:
        serializer = GroupSerializer(data={"name": name}, context={"request": request})
    if not serializer.is_valid():
        return _errors(serializer.errors)
    if isinstance(serializer, GroupSerializer):
        group = serializer.save()
        _record(request, "create", "group", group, group.name, {})
    else:
        serializer.save()
    return None


@require_http_methods(["GET", "POST"])
def accounts_page(request):
    if not is_superuser(request.user):
        raise Http404("no such page")
    users = get_user_model().objects.select_related("account__agency__group").prefetch_related("groups")
    q = request.GET.get("q", "").strip()
    chosen = None
    if request.GET.get("user", "").isdigit():
        chosen = users.filter(pk=int(request.GET["user"])).first()
    problem = None
    if request.method == "POST":
        if request.POST.get("form") == "user" and chosen is not None:
            problem = _save_user(request, chosen)
        elif request.POST.get("form") == "reset-second-factor" and chosen is not None:
            second_factor.reset(request, chosen)
        elif request.POST.get("form") == "group":
            problem = _save_group(request)
        else:
            problem = _("沒有這個使用者")
        if problem is None:
            request.session["accounts_saved"] = True
            return redirect(f"{reverse('accounts-page')}?{urlencode({'q': q, 'user': chosen.pk if chosen else ''})}")
    listed = users.order_by("username")
    if q:
        listed = listed.filter(username__icontains=q) | listed.filter(first_name__icontains=q) | \
            listed.filter(last_name__icontains=q) | listed.filter(email__icontains=q)
    total = listed.count()
    rows = []
    for user in listed[:USERS_SHOWN]:
        account = getattr(user, "account", None)
        rows.append({"user": user, "source": account.get_source_display() if account else _("本機帳號"),
                     "agency": account.agency.group.name if account and account.agency else "",
                     "groups": [g.name for g in user.groups.all()]})
    groups = Group.objects.annotate(members=Count("user")).select_related("agency").order_by("name")
    agencies = Agency.objects.select_related("group").order_by("group__name")
    methods = {"session": _("帳號密碼"), "token": _("API 權杖"), "oidc": _("市府帳號"), "ldap": _("市府目錄"),
               "passkey": _("通行金鑰"), "totp": _("驗證碼或復原碼")}
    reads.flush_quietly()  # failures counted beyond the per-minute allowance (audit.refusals) show up now
    failed = [(e, methods.get(e.detail.get("method"), e.detail.get("method") or "—"))
              for e in AuditEntry.objects.filter(action="sign_in_failed").order_by("-seq")[:FAILED_SHOWN]]
    editing = None
    if chosen is not None:
        account = Account.objects.filter(user=chosen).select_related("agency__group").first()
        editing = {"user": chosen, "groups": set(chosen.groups.values_list("name", flat=True)),
                   "agency": account.agency.group.name if account and account.agency else "",
                   "external": account is not None and account.source != Account.Source.LOCAL,
                   "second_factor": second_factor.methods(chosen)}
    return render(request, "accounts/manage.html", {
        "rows": rows, "total": total, "shown": USERS_SHOWN, "q": q, "groups": groups, "agencies": agencies,
        "failed": failed, "editing": editing, "problem": problem,
        "saved": request.session.pop("accounts_saved", False),
        "sign_in_failed": request.session.pop("sign_in_failed", False)}, status=400 if problem else 200)


@require_http_methods(["GET", "POST"])
def tokens_page(request):
    """API 權杖 at /accounts/tokens/: a signed-in user makes named tokens with scopes and an expiry (the secret is
    shown once, in the answer to the form, never stored) and revokes them; administrators see and revoke everyone's.
    Same serializer and rules as /api/v1/accounts/tokens/."""
    if not request.user.is_authenticated:
        return render(request, "accounts/tokens.html", {"signed_out": True}, status=401)
    admin = is_superuser(request.user)
    problem, made = None, None
    if request.method == "POST":
        if request.POST.get("form") == "revoke":
            found = ApiToken.objects.filter(pk=request.POST.get("id") if request.POST.get("id", "").isdigit() else 0)
            token = (found if admin else found.filter(user=request.user)).select_related("user").first()
            if token is None:
                problem = _("沒有這個權杖")
            else:
                tokens.revoke(token, request.user, actors.of_request(request))
                request.session["tokens_saved"] = True
                return redirect("account-tokens-page")
        else:
            data = {"name": request.POST.get("name", "").strip(), "scopes": request.POST.getlist("scopes")}
            if request.POST.get("days", "").strip():
                data["expires_in_days"] = request.POST["days"].strip()
            serializer = TokenSerializer(data=data, context={"request": request})
            if serializer.is_valid():
                made = serializer.save()
            else:
                problem = _errors(serializer.errors)
    listed = ApiToken.objects.select_related("user", "revoked_by")
    listed = listed if admin else listed.filter(user=request.user)
    rows = [{"token": t, "state": TokenSerializer().get_state(t)} for t in listed[:USERS_SHOWN]]
    names = {"read": pgettext("token scope", "讀取"), "analyse": pgettext("token scope", "分析"),
             "import": pgettext("token scope", "匯入"), "edit": pgettext("token scope", "編輯"),
             "admin": pgettext("token scope", "帳號管理")}
    for row in rows:
        row["scopes"] = pgettext("list separator", "、").join(names.get(s, s) for s in row["token"].scopes)
    return render(request, "accounts/tokens.html", {
        "rows": rows, "admin": admin, "problem": problem, "made": made,
        "scopes": [(s, names[s]) for s in tokens.allowed_scopes(request.user)],
        "default_days": settings.API_TOKEN_DEFAULT_DAYS, "max_days": settings.API_TOKEN_MAX_DAYS,
        "saved": request.session.pop("tokens_saved", False)}, status=400 if problem else 201 if made else 200)
