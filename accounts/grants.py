"""A layer's holders and their rights, read and set in one shape for the /accounts/layers/ page and the API
(/api/v1/layers/{slug}/grants/): [{kind: group | agency | user, name, rights}].

A group's or agency's "see" is kept in Layer.allowed_groups and its other rights in a LayerGrant; a user's rights,
"see" included, in a LayerGrant (accounts.models.LayerGrant says why). Every change is one audit entry
(`permission_change` on the layer, before and after) and the OGC services are told (layers.ogc.publishing).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.translation import gettext as _

from audit import actors, events
from layers.ogc import publishing

from .models import LayerGrant
from .rights import RIGHTS, Right


class GrantProblem(ValueError):
    """A holder or right that does not exist, named."""


def holders(layer) -> list[dict]:
    """Every group, agency and user with a right on the layer, groups first, by name."""
    found: dict[tuple[str, str], set[str]] = {}
    for group in layer.allowed_groups.all():  # .all(): a page prefetches them (with the agencies) for many layers
        found.setdefault((_kind(group), group.name), set()).add(Right.SEE)
    for grant in layer.grants.all():
        key = (_kind(grant.group), grant.group.name) if grant.group_id else ("user", grant.user.get_username())
        found.setdefault(key, set()).update(grant.rights)
        if grant.user_id is None:
            found[key].add(Right.SEE)  # any right opens the layer (accounts.rights)
    order = {"agency": 0, "group": 1, "user": 2}
    return [{"kind": kind, "name": name, "rights": [r for r in RIGHTS if r in rights]}
            for (kind, name), rights in sorted(found.items(), key=lambda item: (order[item[0][0]], item[0][1]))]


def snapshot(layer) -> dict:
    """What an audit entry records before and after a change."""
    return {"visibility": layer.visibility, "owner_agency": layer.owner_agency.name if layer.owner_agency else None,
            "allowed_groups": sorted(layer.allowed_groups.values_list("name", flat=True)),
            "grants": [h for h in holders(layer) if h["kind"] == "user" or h["rights"] != [Right.SEE]]}


def _kind(group) -> str:
    return "agency" if hasattr(group, "agency") else "group"


def holder(kind: str, name: str):
    """The group (agency) or user named; GrantProblem naming it when there is none."""
    if kind == "user":
        found = get_user_model().objects.filter(username=name).first()
        if found is None:
            raise GrantProblem(_("沒有使用者「%(name)s」") % {"name": name})
        return found
    if kind not in ("group", "agency"):
        raise GrantProblem(_("對象：請選擇群組、機關或使用者"))
    found = Group.objects.filter(name=name, **({"agency__isnull": False} if kind == "agency" else {})).first()
    if found is None:
        raise GrantProblem((_("沒有機關「%(name)s」") if kind == "agency" else _("沒有群組「%(name)s」"))
                           % {"name": name})
    return found


def checked_rights(rights) -> set[str]:
    unknown = [r for r in rights if r not in RIGHTS]
    if unknown:
        raise GrantProblem(_("沒有這種權限：%(rights)s（可用：%(known)s）") % {
            "rights": "、".join(map(str, unknown)), "known": ", ".join(RIGHTS)})
    return set(rights)


def set_rights(layer, who, rights: set[str]) -> None:
    """Give `who` (a Group or a user) exactly these rights on the layer (none: no grant)."""
    if isinstance(who, Group):
        if Right.SEE in rights:
            layer.allowed_groups.add(who)
        else:
            layer.allowed_groups.remove(who)
        rest = sorted(rights - {Right.SEE}, key=RIGHTS.index)
        lookup = {"layer": layer, "group": who}
    else:
        rest = sorted(rights, key=RIGHTS.index)
        lookup = {"layer": layer, "user": who}
    if rest:
        LayerGrant.objects.update_or_create(**lookup, defaults={"rights": rest})
    else:
        LayerGrant.objects.filter(**lookup).delete()


def change(layer, who, add: set[str] = frozenset(), remove: set[str] = frozenset()) -> None:
    """Add and remove some rights of `who`, keeping the others."""
    name = who.name if isinstance(who, Group) else who.get_username()
    kind = "user" if not isinstance(who, Group) else _kind(who)
    now = next((set(h["rights"]) for h in holders(layer) if (h["kind"], h["name"]) == (kind, name)), set())
    set_rights(layer, who, (now | set(add)) - set(remove))


def record(request, layer, before: dict, theme=None, via: str = "accounts") -> bool:
    """One audit entry when the layer's rights changed since `before`; the OGC services told. Whether they did."""
    after = snapshot(layer)
    if after == before:
        return False
    detail = {"via": via, "before": before, "after": after, **({"theme": theme.slug} if theme else {})}
    events.record_layer("permission_change", actors.of_request(request), layer, detail)
    publishing.follow(layer, publishing.PUBLISH)
    return True


def replace(layer, entries: list[dict]) -> None:
    """Give every holder of `entries` exactly its rights, and take every right from holders not in them."""
    wanted = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise GrantProblem(_("每一項請寫成 {kind, name, rights}"))
        kind, name, rights = entry.get("kind"), entry.get("name"), entry.get("rights")
        if not isinstance(name, str) or not isinstance(rights, list):
            raise GrantProblem(_("每一項請寫成 {kind, name, rights}"))
        wanted.append((holder(str(kind), name), checked_rights(rights)))
    for old in holders(layer):
        set_rights(layer, holder(old["kind"], old["name"]), set())
    for who, rights in wanted:
        set_rights(layer, who, rights)
