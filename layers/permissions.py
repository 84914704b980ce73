from rest_framework.permissions import SAFE_METHODS, BasePermission

from geo.messages import worded

# the right each changing action of the layer API needs (accounts.rights); reading follows `see`, which the
# queryset enforces (a layer one may not see is a 404)
ACTION_RIGHTS = {"update": "publish", "partial_update": "publish", "destroy": "manage", "reimport": "import",
                 "style": "publish", "restore": "import", "publish": "publish", "withdraw": "publish",
                 "grants": "manage"}
RIGHTS_FIELDS = ("visibility", "allowed_groups", "owner_agency")  # who may see or own it: `manage`
REFUSALS = {"publish": "您沒有發布或描述這個圖層的權限（詮釋資料、樣式、OGC 服務）",
            "manage": "您沒有管理這個圖層權限的權利",
            "import": "您沒有重新匯入或還原這個圖層的權限"}


def _changes_rights(data, layer) -> bool:
    """Whether a metadata change would change who may see or own the layer (the dialog sends them unchanged)."""
    if not hasattr(data, "get"):
        return False
    if "visibility" in data and data.get("visibility") != layer.visibility:
        return True
    if "owner_agency" in data and (data.get("owner_agency") or None) != (
            layer.owner_agency.name if layer.owner_agency_id else None):
        return True
    if "allowed_groups" in data:
        wanted = data.getlist("allowed_groups") if hasattr(data, "getlist") else data.get("allowed_groups")
        return set(wanted or []) != set(layer.allowed_groups.values_list("name", flat=True))
    return False


def needed_right(request, view, layer) -> str:
    right = ACTION_RIGHTS.get(getattr(view, "action", None), "manage")
    if view.action in ("update", "partial_update") and _changes_rights(request.data, layer):
        return "manage"
    return right


class CanEditLayer(BasePermission):
    """Reading follows the layer's visibility (enforced by the queryset: unseen layers are 404);
    each change needs its right on the layer (ACTION_RIGHTS; owner agency and administrators hold all)."""

    message = "you may not change this layer"

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        right = needed_right(request, view, obj)
        self.message = worded(REFUSALS[right])
        return obj.may(request.user, right)
