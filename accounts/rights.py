"""Who may do what with a layer: the one answer every page, API route and OGC service asks.

Rights (accounts.models.LayerGrant.Right):

- see: the layer is in the catalog, the map, the services and the downloads for them. Public layers for everyone,
  internal ones for every signed-in user, restricted ones for the groups and agencies of Layer.allowed_groups, the
  owner agency, and whoever holds any grant on it (a user's "see" grant included).
- import: re-import (a new version of the data) and restore an earlier version.
- add, edit_own, edit_all, delete: single features (editing/): add new ones; change (and restore) the ones one
  added oneself; change any; delete any.
- publish: whether and how the layer is served: publish to / withdraw from the OGC services, its metadata and style.
- manage: who may do what with it (visibility, allowed groups, owner agency, grants) and deleting the layer.

The owner agency's members, the layer's maker, staff and administrators hold every right on it. Everyone else holds
what their grants (their own and their groups') give, and only on a layer they may see. Importing new layers is a
right of the platform (ImportGrant): every signed-in user as the platform starts, or only those it is granted to.
"""

from django.db.models import Exists, OuterRef, Q

from .models import ImportGrant, LayerGrant

Right = LayerGrant.Right
RIGHTS = tuple(Right.values)
FEATURE_CHANGES = (Right.ADD, Right.EDIT_OWN, Right.EDIT_ALL, Right.DELETE)


def _signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _holds_all(user, layer) -> bool:
    from layers.models import holds_every_right

    return holds_every_right(layer, user)


def _group_ids(user) -> list[int]:
    return list(user.groups.values_list("pk", flat=True))


def _granted(user, layer) -> set[str]:
    found = set()
    for rights in LayerGrant.objects.filter(Q(user=user) | Q(group__in=_group_ids(user)), layer=layer) \
            .values_list("rights", flat=True):
        found.update(rights)
    return found


def rights_of(user, layer) -> list[str]:
    """Every right the user holds on the layer, in the order of RIGHTS (none on a layer they may not see)."""
    from layers.models import Layer

    if _signed_in(user) and _holds_all(user, layer):
        return list(RIGHTS)
    if not Layer.objects.visible_to(user if _signed_in(user) else None).filter(pk=layer.pk).exists():
        return []
    held = {Right.SEE} | (_granted(user, layer) if _signed_in(user) else set())
    return [right for right in RIGHTS if right in held]


def may(user, right: str, layer) -> bool:
    """Whether the user may do `right` with the layer."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right!r}")
    if right == Right.SEE:
        from layers.models import Layer

        return Layer.objects.visible_to(user if _signed_in(user) else None).filter(pk=layer.pk).exists()
    if not _signed_in(user):
        return False
    if _holds_all(user, layer):
        return True
    return right in _granted(user, layer) and may(user, Right.SEE, layer)


def may_change_feature(user, layer, right: str, creator_id: int | None = None) -> bool:
    """add / delete as they are; an edit (edit_own or edit_all) of a feature added by `creator_id`."""
    if right in (Right.EDIT_OWN, Right.EDIT_ALL):
        return may(user, Right.EDIT_ALL, layer) or (
            creator_id is not None and _signed_in(user) and creator_id == user.pk and may(user, Right.EDIT_OWN, layer))
    return may(user, right, layer)


def layers_where(user, right: str, layers=None):
    """The layers (of `layers`, else all) on which the user may do `right`: the queryset form of `may`."""
    from layers.models import Layer

    layers = Layer.objects.all() if layers is None else layers
    visible = layers.visible_to(user if _signed_in(user) else None)
    if right == Right.SEE:
        return visible
    if not _signed_in(user):
        return layers.none()
    if user.is_superuser or user.is_staff:
        return visible
    groups = _group_ids(user)
    grants = LayerGrant.objects.filter(Q(user=user) | Q(group__in=groups), layer=OuterRef("pk"),
                                       rights__contains=[right])
    return visible.filter(Q(created_by=user) | Q(owner_agency__in=groups) | Exists(grants))


def may_import(user) -> bool:
    """Whether the user may import new layers."""
    if not _signed_in(user):
        return False
    if user.is_superuser or user.is_staff:
        return True
    return ImportGrant.objects.filter(Q(group__isnull=True, user__isnull=True) | Q(user=user)
                                      | Q(group__in=_group_ids(user))).exists()
