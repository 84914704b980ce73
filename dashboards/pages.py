"""The dashboard pages: /dashboards/ (the ones you may see; signed in, a form to make one), /dashboards/<slug>/
(the dashboard: selectors, widgets that filter one another; its owners switch to edit mode to build it) and
/areas/<level>/<key>/ (an area's profile: every indicator you may see for that district or village beside the
city's figure, with units). A dashboard you may not see is a 404, as one that does not exist."""

from django.contrib.auth.models import Group
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.exceptions import APIException

from layers.models import Layer
from stats import indicators
from stats.views import visible_indicators
from web.stats_page import _number, _problem
from web.viewer import viewer_config

from . import live, sources
from . import spec as specs
from .models import Dashboard
from .strings import dashboard_strings
from .views import DashboardForm, apply, free_slug, get_visible


def _english() -> bool:
    return not (get_language() or "zh").startswith("zh")


def _title(board: Dashboard, english: bool) -> str:
    return board.title_en if english and board.title_en else board.title_zh


@ensure_csrf_cookie
def dashboards_page(request):
    english, problem = _english(), None
    if request.method == "POST":
        if not request.user.is_authenticated:
            problem = _("請先登入")
        else:
            form = DashboardForm(data={k: v for k, v in request.POST.items() if k in (
                "title_zh", "title_en", "visibility")})
            try:
                form.is_valid(raise_exception=True)
                data = dict(form.validated_data)
                board = Dashboard(slug=free_slug(data.get("title_en") or "dashboard"), created_by=request.user,
                                  owner_agency=request.user.groups.order_by("name").first())
                apply(board, {"spec": {"selectors": ["district", "period"], "widgets": []}, **data}, request.user)
            except APIException as exc:
                problem = _problem(exc)
            else:
                return redirect(reverse("dashboard-page", args=[board.slug]) + "?edit=1")
    boards = [{"slug": b.slug, "title": _title(b, english),
               "description": (b.description_en if english and b.description_en else b.description),
               "visibility": b.get_visibility_display(), "agency": b.owner_agency.name if b.owner_agency else "",
               "widgets": len(b.spec.get("widgets", []))}
              for b in Dashboard.objects.visible_to(request.user).select_related("owner_agency")]
    return render(request, "dashboards/list.html", {
        "boards": boards, "problem": problem, "visibilities": Layer.Visibility.choices,
        "sign_in_failed": request.session.pop("sign_in_failed", False)}, status=400 if problem else 200)


def _board_config(request, board: Dashboard, embed: bool = False) -> dict:
    english = _english()
    shown = specs.for_viewer(board.spec, request.user)
    shown.pop("hidden")
    config = viewer_config(request.user)
    config["strings"] |= dashboard_strings()
    config["urls"] |= {
        "values": reverse("stats-indicator-values", args=["xslugx"]).replace("xslugx", "{slug}"),
        "features": reverse("layer-features", args=["xslugx"]).replace("xslugx", "{slug}"),
        "dashboard": reverse("dashboard", args=[board.slug]),
        "board_values": reverse("dashboard-values", args=[board.slug]),
        "pdf": reverse("dashboard-pdf", args=[board.slug]),
        "embed": request.build_absolute_uri(reverse("dashboard-embed", args=[board.slug])),
        "profile": reverse("area-profile", args=["town", "xkeyx"]).replace("town", "{level}", 1)
        .replace("xkeyx", "{key}")}
    can_edit = board.can_edit(request.user) and not embed
    config["dashboard"] = {"slug": board.slug, "title": _title(board, english), "spec": shown,
                           "refresh_seconds": board.refresh_seconds, "can_edit": can_edit, "embed": embed,
                           "visibility": board.visibility, "edit": can_edit and request.GET.get("edit") == "1"}
    if can_edit:  # the builder's pickers: every indicator and layer the editor may see, their groups to share with
        config["dashboard"]["all_indicators"] = {i.slug: specs.describe(i) for i in visible_indicators(request.user)}
        config["dashboard"]["quantities"] = sorted(live.quantities())
        config["dashboard"]["layers"] = sources.fields(request.user)
        config["dashboard"]["visibilities"] = [[k, str(label)] for k, label in Layer.Visibility.choices]
        config["dashboard"]["allowed_groups"] = sorted(board.allowed_groups.values_list("name", flat=True))
        config["dashboard"]["groups"] = sorted(Group.objects.values_list("name", flat=True))
    return config


@ensure_csrf_cookie
def dashboard_page(request, slug):
    board = get_visible(request.user, slug)
    english = _english()
    return render(request, "dashboards/dashboard.html", {
        "board": board, "title": _title(board, english), "config": _board_config(request, board),
        "description": board.description_en if english and board.description_en else board.description,
        "sign_in_failed": request.session.pop("sign_in_failed", False)})


@xframe_options_exempt
def dashboard_embed(request, slug):
    """The dashboard alone, to put in another page's iframe: no header, no builder; what the visitor may see (their
    own session, if their browser sends it to the frame; else as anyone: the public widgets of a public dashboard,
    and a dashboard they may not see is a 404 like any other)."""
    board = get_visible(request.user, slug)
    english = _english()
    return render(request, "dashboards/embed.html", {
        "board": board, "title": _title(board, english), "config": _board_config(request, board, embed=True),
        "page_url": reverse("dashboard-page", args=[board.slug])})


def area_profile(request, level, key):
    """Every indicator the visitor may see that has a figure for this area, beside the whole city's."""
    if level not in ("town", "area"):
        raise Http404("no such level")
    english, rows, name = _english(), [], ""
    for indicator in visible_indicators(request.user):
        here = indicators.values(indicator, level, areas=[key])
        if not here["values"]:
            continue
        area = here["values"][0]
        name = name or area["name"]
        city = indicators.values(indicator, "county")
        unit, unit_en = indicators.unit_of(indicator)
        unit = (unit_en or unit) if english else unit
        decimals = indicator.decimals
        value, whole = area["value"], city["total"]["value"]
        rows.append({"slug": indicator.slug, "title": indicator.title_en if english and indicator.title_en
                     else indicator.title_zh, "value": _number(value, decimals), "city": _number(whole, decimals),
                     "unit": unit or "—", "period": here["period"] or "",
                     "ratio": f"{value / whole * 100:.0f}" if value is not None and whole else ""})
    if not rows:
        raise Http404("no such area")
    return render(request, "dashboards/profile.html", {
        "rows": rows, "name": name, "level": _("行政區") if level == "town" else _("村里"),
        "sign_in_failed": request.session.pop("sign_in_failed", False)})
