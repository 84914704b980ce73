"""圖層權限 at /accounts/layers/ — administrators see and set who may do what with each layer and, in one go, with
every layer of a theme (its sub-themes included), and who may import new layers:

- a layer's visibility (public; internal: every signed-in user; restricted: those with a right on it) and owner
  agency (its members hold every right) — Layer.visibility, Layer.owner_agency
- the rights of groups, agencies and single users: see, import, add, edit_own, edit_all, delete, publish, manage
  (accounts.rights says what each lets one do; accounts.grants how they are kept)
- importing new layers: every signed-in user, or only the groups, agencies and users granted it (ImportGrant)

Every change is an audit entry (`permission_change` on the layer, before and after; `import_right_change` for
importing), and the OGC engine is told (layers.ogc.publishing). For everyone but administrators the page does not
exist (404).
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

from . import grants
from .models import ImportGrant
from .rights import RIGHTS, Right

SHOWN = 200


def _apply(request, layer: Layer, visibility=None, owner=False, agency=None, holders=None, add=None, remove=None,
           grant=None, theme: Theme | None = None) -> bool:
    """One layer's rights changed (only what is given); audited with before and after. Whether anything changed.
    holders: {holder: rights} set exactly; add / remove: a group opened to or closed; grant: (holder, add, remove)."""
    before = grants.snapshot(layer)
    if visibility is not None:
        layer.visibility = visibility
    if owner:
        layer.owner_agency = agency
    layer.save(update_fields=["visibility", "owner_agency"])
    for who, rights in (holders or {}).items():
        grants.set_rights(layer, who, rights)
    if add is not None:
        layer.allowed_groups.add(add)
    if remove is not None:
        grants.set_rights(layer, remove, set())
    if grant is not None:
        grants.change(layer, grant[0], add=grant[1], remove=grant[2])
    return grants.record(request, layer, before, theme)


def _posted_holders(post) -> dict:
    """The layer form's table: every row listed (hidden `holder` = kind:name) with its ticked rights, and a new
    user's row."""
    found = {}
    for key in post.getlist("holder"):
        kind, _sep, name = key.partition(":")
        found[grants.holder(kind, name)] = grants.checked_rights(post.getlist(f"rights:{key}"))
    if new_user := post.get("add_user", "").strip():
        found[grants.holder("user", new_user)] = grants.checked_rights(post.getlist("add_user_rights"))
    return found


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
        owner = post.get("owner_agency", "")
        keep = layer.owner_agency is not None and owner == layer.owner_agency.name  # an older owner: a plain group
        changed = _apply(request, layer, visibility=_visibility(post.get("visibility", ""), True), owner=True,
                         agency=layer.owner_agency if keep else _group(owner, _("負責機關"), agency=True),
                         holders=_posted_holders(post))
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
        grant = _theme_grant(post)
        if visibility is None and not owner and add is None and remove is None and grant is None:
            raise ValueError(_("請至少選擇一項要變更的權限"))
        layers = Layer.objects.filter(theme_id__in=theme.descendant_ids()).select_related("owner_agency")
        changed = sum(_apply(request, layer, visibility=visibility, owner=owner, agency=agency, add=add,
                             remove=remove, grant=grant, theme=theme) for layer in layers)
        return _("主題「%(theme)s」：已變更 %(n)d 個圖層的權限") % {"theme": theme.name_zh, "n": changed}
    if post.get("form") == "import":
        return _save_import(request, post)
    raise ValueError(_("未知的操作"))


def _theme_grant(post):
    """(holder, rights to give, rights to take) of the theme form, or None."""
    give, take = grants.checked_rights(post.getlist("grant")), grants.checked_rights(post.getlist("revoke"))
    key, user = post.get("holder", ""), post.get("holder_user", "").strip()
    if not (give or take):
        return None
    if not key and not user:
        raise ValueError(_("對象：請選擇群組、機關，或填使用者帳號"))
    kind, _sep, name = ("user", "", user) if user else key.partition(":")
    return grants.holder(kind, name), give, take


def _import_holders() -> list[dict]:
    rows = []
    for grant in ImportGrant.objects.select_related("group__agency", "user").order_by("pk"):
        if grant.group_id:
            rows.append({"key": f"group:{grant.group.name}", "name": grant.group.name,
                         "kind": "agency" if hasattr(grant.group, "agency") else "group"})
        elif grant.user_id:
            rows.append({"key": f"user:{grant.user.get_username()}", "name": grant.user.get_username(), "kind": "user"})
        else:
            rows.append({"key": "everyone", "name": _("所有登入使用者"), "kind": "everyone"})
    return rows


def _save_import(request, post) -> str:
    """Give or take the right to import new layers."""
    key, user = post.get("holder", ""), post.get("holder_user", "").strip()
    if not key and not user:
        raise ValueError(_("對象：請選擇群組、機關，或填使用者帳號"))
    if user or key.startswith("user:"):
        who = {"group": None, "user": grants.holder("user", user or key.partition(":")[2])}
    elif key == "everyone":
        who = {"group": None, "user": None}
    else:
        kind, _sep, name = key.partition(":")
        who = {"group": grants.holder(kind if kind in ("group", "agency") else "", name), "user": None}
    before = [row["key"] for row in _import_holders()]
    held = ImportGrant.objects.filter(**who)  # None: IS NULL (no group / no user: every signed-in user)
    if post.get("action") == "remove":
        held.delete()
    elif post.get("action") == "add":
        if not held.exists():
            ImportGrant.objects.create(**who)
    else:
        raise ValueError(_("請選擇給予或收回"))
    after = [row["key"] for row in _import_holders()]
    if after == before:
        return _("沒有變更")
    events.record("permission_change", actors.of_request(request), object_type="import_right", object_label="import",
                  detail={"via": "accounts", "before": before, "after": after})
    return _("已儲存匯入新圖層的權限")


def _rows(layer: Layer) -> list[dict]:
    """The layer form's table: its holders, then every agency and group holding nothing yet."""
    rows = [{**h, "key": f"{h['kind']}:{h['name']}"} for h in grants.holders(layer)]
    named = {(r["kind"], r["name"]) for r in rows}
    for group in Group.objects.select_related("agency").order_by("name"):
        kind = "agency" if hasattr(group, "agency") else "group"
        if (kind, group.name) not in named:
            rows.append({"kind": kind, "name": group.name, "rights": [], "key": f"{kind}:{group.name}"})
    order = {"agency": 0, "group": 1, "user": 2}
    return sorted(rows, key=lambda r: (order[r["kind"]], not r["rights"], r["name"]))


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
    layers = Layer.objects.select_related("theme", "owner_agency").prefetch_related(
        "allowed_groups__agency", "grants__group__agency", "grants__user") \
        .order_by("theme__order", "title_zh")
    theme = Theme.objects.filter(slug=theme_slug).first() if theme_slug else None
    if theme is not None:
        layers = layers.filter(theme_id__in=theme.descendant_ids())
    if q:
        layers = layers.filter(Q(title_zh__icontains=q) | Q(title_en__icontains=q) | Q(slug__icontains=q))
    total = layers.count()
    editing = Layer.objects.filter(slug=request.GET.get("layer", "")).select_related("owner_agency").first()
    shown = list(layers[:SHOWN])
    held = {layer.pk: grants.holders(layer) for layer in shown}
    return render(request, "accounts/layer_rights.html", {
        "layers": [(layer, held[layer.pk]) for layer in shown], "total": total, "shown": SHOWN, "q": q, "theme": theme,
        "themes": Theme.objects.select_related("parent").order_by("order", "name_zh"),
        "groups": Group.objects.filter(agency__isnull=True).order_by("name"),
        "agencies": Group.objects.filter(agency__isnull=False).order_by("name"),
        "visibilities": Layer.Visibility.choices, "editing": editing,
        "rows": _rows(editing) if editing else [], "rights": [(r, Right(r).label) for r in RIGHTS],
        "import_holders": _import_holders(),
        "problem": problem, "saved": request.session.pop("layer_rights_saved", "")}, status=400 if problem else 200)
