"""The one question every editing path asks: may this user do this to this layer (or to this feature of it)?

Every write (the REST API's features, the form rules, the rollback, and any later protocol) comes through `may`, which
answers from the catalog's per-layer rights (accounts.rights): add; edit — edit_all, or edit_own of a feature the
user added through editing —; delete; the form rules are part of describing the layer (publish); a rollback changes
and removes any feature (edit_all and delete).
"""

from accounts import rights as layer_rights

from .models import FeatureChange

ADD, EDIT, DELETE, FORM, ROLLBACK = "add", "edit", "delete", "form", "rollback"  # FORM: the form rules

REFUSED = {ADD: "您沒有在這個圖層新增圖徵的權限", EDIT: "您沒有編修這個圖徵的權限",
           DELETE: "您沒有刪除這個圖層圖徵的權限",
           FORM: "您沒有發布或描述這個圖層的權限（詮釋資料、樣式、OGC 服務）",
           ROLLBACK: "您沒有回復整個圖層的權限（需可編修所有圖徵並刪除圖徵）"}


def creator(layer, fid: int | None) -> int | None:
    """Who added the feature through editing (None for one that came with an import)."""
    if fid is None:
        return None
    return FeatureChange.objects.filter(layer=layer, fid=fid, action=FeatureChange.Action.CREATE) \
        .order_by("version").values_list("user_id", flat=True).first()


def may(user, layer, action: str, fid: int | None = None) -> bool:
    """`fid`: the feature an edit is about; without it, whether the user may edit some feature of the layer."""
    if action == EDIT:
        if fid is None:
            return layer_rights.may(user, "edit_all", layer) or layer_rights.may(user, "edit_own", layer)
        return layer_rights.may_change_feature(user, layer, "edit_all", creator(layer, fid))
    if action == FORM:
        return layer_rights.may(user, "publish", layer)
    if action == ROLLBACK:
        return layer_rights.may(user, "edit_all", layer) and layer_rights.may(user, "delete", layer)
    return layer_rights.may(user, action, layer)
