from django.contrib.auth import authenticate, login, logout
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import oidc, second_factor
from accounts.directory import UNREACHABLE
from accounts.lockout import LOCKED

from .viewer import chosen_layers, layer_entries, viewer_config, visible_layers, with_editable


def home(request):
    """The map viewer: what this visitor may see, drawn in 2D (Leaflet) or 3D (MapLibre GL)."""
    return render(request, "web/viewer.html", {"config": viewer_config(request.user),
                                               "sign_in_failed": request.session.pop("sign_in_failed", False)})


def _back(request):
    """Where the sign-in form came from (the map or a decision page), if it is one of ours."""
    target = request.POST.get("next", "")
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else "home"


@require_POST
def sign_in(request):
    """Session sign-in from a page's dialog; back to that page, now showing the layers this user may see."""
    user = authenticate(request, username=request.POST.get("username", ""), password=request.POST.get("password", ""))
    if user is None:
        if getattr(request, LOCKED, False):
            message = _("登入失敗次數過多，此帳號暫時鎖定，請稍後再試")
        elif getattr(request, UNREACHABLE, False):
            message = _("無法連線至市府目錄服務，請稍後再試（本機帳號仍可登入）")
        else:
            message = _("帳號或密碼不正確")
        request.session["sign_in_failed"] = message
    elif second_factor.required(user):  # a passkey or a code next (accounts.security.second_factor_page)
        back = _back(request)
        second_factor.hold(request, user, "/" if back == "home" else back)
        return redirect("second-factor-page")
    else:
        login(request, user)
    return redirect(_back(request))


@require_POST
def sign_out(request):
    """Out of civgis; for someone who came through the city's OpenID Connect provider, out of its session too
    (the provider then sends them back to the map: the one post-logout address registered with it)."""
    id_token = request.session.get(oidc.SESSION_ID_TOKEN)
    back = _back(request)
    if back.startswith("/accounts/"):  # a signed-in user's own pages (or administrators'): the map instead
        back = "home"
    logout(request)
    if id_token and oidc.enabled():
        ending = oidc.end_session_url(request, id_token, "/")
        if ending:
            return redirect(ending)
    return redirect(back)


def viewer_layers(request):
    """The layers this visitor may see, as the page's config lists them. The viewer asks for the part it needs:
    `?theme=a&theme=b` (a theme's own layers, `-` for those in none), `?slug=x&slug=y` (a share link's, a new
    result's), `?q=text` (the layer panel's filter: title or slug, at most 200); without any, every layer (the
    tools' layer lists). A layer the visitor may not see is simply not listed."""
    themes, slugs = request.GET.getlist("theme"), request.GET.getlist("slug")
    q = request.GET.get("q", "").strip()[:100]
    if themes or slugs or q:
        layers = chosen_layers(request.user, themes, slugs, q)
    else:
        layers = visible_layers(request.user)
    return JsonResponse({"layers": with_editable(request.user, layer_entries(layers, request.user), layers)})
