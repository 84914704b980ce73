"""圖層權限 at /accounts/layers/ — administrators see and set, over the catalog's own permission model, who may do what
with each layer and, in one go, with every layer of a theme (its sub-themes included):

- see: the layer's visibility (public; internal: every signed-in user; restricted: the groups and agencies it is
  opened to, and its owner agency) — Layer.visibility, Layer.allowed_groups
- edit, re-import and publish (the OGC services follow the layer's rights): its owner agency's members, its maker and
  administrators — Layer.owner_agency (Layer.can_edit)

Rights are given to groups and agencies (a user gets them through their groups, /accounts/). Every change is an audit
entry (`permission_change` on the layer, before and after), and the OGC engine is told (layers.ogc.publishing).
For everyone but administrators the page does not exist (404).
"""

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from audit import actors, events
from geo.hidden_routes import is_superuser
from layers.models import Layer, Theme
from layers.ogc import publishing

SHOWN = 200


def _rights(layer: Layer) -> dict:
    return {"visibility": layer.visibility, "owner_agency": layer.owner_agency.name if layer.owner_agency else None,
            "allowed_groups": sorted(layer.allowed_groups.values_list("name", flat=True))}


def _apply(request, layer: Layer, visibility=None, owner=False, agency=None, groups=None, add=None, remove=None,
           theme: Theme | None = None) -> bool:
    """One layer's rights changed (only what is given); audited with before and after. Whether anything changed."""
    before = _rights(layer)
    if visibility is not None:
        layer.visibility = visibility
    if owner:
        layer.owner_agency = agency
    layer.save(update_fields=["visibility", "owner_agency"])
    if groups is not None:
        layer.allowed_groups.set(groups)
    if add is not None:
        layer.allowed_groups.add(add)
    if remove is not None:
        layer.allowed_groups.remove(remove)
    after = _rights(layer)
    if after == before:
        return False
    detail = {"via": "accounts", "before": before, "after": after, **({"theme": theme.slug} if theme else {})}
    events.record_layer("permission_change", actors.of_request(request), layer, detail)
    publishing.follow(layer, publishing.PUBLISH)
    return True


def _group(name: str, field: str, agency: bool = False) -> Group | None:
    if not name:
        return None
    found = Group.objects.filter(name=name, **({"agency__isnull": False} if agency else {})).first()
    if found is None:
        raise ValueError(f"{field}: " + (_("沒有機關「%(name)s」") if agency else _("沒有群組「%(name)s」"))
                         % {"name": name})
    return found


def _visibility(value: str, required: bool) -> str | None:
    if not value and not required:
        return None
    if value not in Layer.Visibility.values:
        raise ValueError(_("可見範圍：請選擇公開、內部或限定群組"))
    return value


@transaction.atomic
def _save(request) -> str:
    """The form's change; the message saying what was done. ValueError names a bad field."""
    post = request.POST
    if post.get("form") == "layer":
        layer = Layer.objects.filter(slug=post.get("layer", "")).select_related("owner_agency").first()
        if layer is None:
            raise ValueError(_("沒有這個圖層"))
        groups = [_group(name, _("可查看的群組")) for name in post.getlist("groups")]
        changed = _apply(request, layer, visibility=_visibility(post.get("visibility", ""), True), owner=True,
                         agency=_group(post.get("owner_agency", ""), _("負責機關"), agency=True), groups=groups)
        return _("已儲存「%(title)s」的權限") % {"title": layer.title_zh} if changed else _("沒有變更")
    if post.get("form") == "theme":
        theme = Theme.objects.filter(slug=post.get("theme", "")).first()
        if theme is None:
            raise ValueError(_("主題：請選擇一個主題"))
        visibility = _visibility(post.get("visibility", ""), False)
        owner = bool(post.get("owner_agency"))
        agency = _group(post.get("owner_agency", ""), _("負責機關"), agency=True)
        add = _group(post.get("add_group", ""), _("開放給"))
        remove = _group(post.get("remove_group", ""), _("不再開放給"))
        if visibility is None and not owner and add is None and remove is None:
            raise ValueError(_("請至少選擇一項要變更的權限"))
        layers = Layer.objects.filter(theme_id__in=theme.descendant_ids()).select_related("owner_agency")
        changed = sum(_apply(request, layer, visibility=visibility, owner=owner, agency=agency, add=add,
                             remove=remove, theme=theme) for layer in layers)
        return _("主題「%(theme)s」：已變更 %(n)d 個圖層的權限") % {"theme": theme.name_zh, "n": changed}
    raise ValueError(_("未知的操作"))


@require_http_methods(["GET", "POST"])
def layer_rights_page(request):
    if not is_superuser(request.user):
        raise Http404("no such page")
    q, theme_slug = request.GET.get("q", "").strip(), request.GET.get("theme", "")
    problem = None
    if request.method == "POST":
        try:
            request.session["layer_rights_saved"] = _save(request)
        except ValueError as exc:
            problem = str(exc)
        else:
            return redirect(f"{reverse('layer-rights-page')}?{urlencode({'q': q, 'theme': theme_slug})}")
    layers = Layer.objects.select_related("theme", "owner_agency").prefetch_related("allowed_groups") \
        .order_by("theme__order", "title_zh")
    theme = Theme.objects.filter(slug=theme_slug).first() if theme_slug else None
    if theme is not None:
        layers = layers.filter(theme_id__in=theme.descendant_ids())
    if q:
        layers = layers.filter(Q(title_zh__icontains=q) | Q(title_en__icontains=q) | Q(slug__icontains=q))
    total = layers.count()
    editing = Layer.objects.filter(slug=request.GET.get("layer", "")).select_related("owner_agency").first()
    return render(request, "accounts/layer_rights.html", {
        "layers": layers[:SHOWN], "total": total, "shown": SHOWN, "q": q, "theme": theme,
        "themes": Theme.objects.select_related("parent").order_by("order", "name_zh"),
        "groups": Group.objects.filter(agency__isnull=True).order_by("name"),
        "agencies": Group.objects.filter(agency__isnull=False).order_by("name"),
        "visibilities": Layer.Visibility.choices, "editing": editing,
        "editing_groups": set(editing.allowed_groups.values_list("name", flat=True)) if editing else set(),
        "problem": problem, "saved": request.session.pop("layer_rights_saved", "")}, status=400 if problem else 200)
