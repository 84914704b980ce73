"""The edit mode's strings (web/frontend/src/edit.js), translated by Django like the rest of the viewer (zh-Hant
source, English in locale/)."""

from django.utils.translation import gettext as _


def edit_strings() -> dict[str, str]:
    return {
        "edit_title": _("編輯圖層"),
        "edit_layer": _("要編輯的圖層"),
        "edit_add_marker": _("新增點"),
        "edit_add_line": _("新增線"),
        "edit_add_polygon": _("新增面"),
        "edit_delete": _("刪除"),
        "edit_undo": _("復原"),
        "edit_redo": _("重做"),
        "edit_hint": _("點選圖徵以修改屬性，拖曳頂點或整個圖徵以修改形狀；新畫的圖徵會吸附到本圖層的圖徵。"),
        "edit_pick": _("點選地圖上的圖徵，或新增一個。"),
        "edit_draw_point": _("在地圖上點一下放置點；Esc 取消。"),
        "edit_draw_shape": _("在地圖上依序點出頂點，點第一個頂點（面）或最後一個頂點（線）完成；Esc 取消。"),
        "edit_too_many": _("畫面內圖徵超過 {n} 筆，只載入前 {n} 筆：請放大地圖。"),
        "edit_new_feature": _("新圖徵"),
        "edit_feature": _("圖徵 #{fid}（版本 {version}）"),
        "edit_required": _("必填"),
        "edit_auto_user": _("自動填入：編輯者"),
        "edit_auto_agency": _("自動填入：編輯者的機關"),
        "edit_auto_today": _("自動填入：今天"),
        "edit_auto_now": _("自動填入：現在"),
        "edit_auto_none": _("唯讀"),
        "edit_save": _("儲存"),
        "edit_cancel": _("放棄變更"),
        "edit_nothing": _("沒有變更要儲存"),
        "edit_saved": _("已儲存圖徵 #{fid}（版本 {version}）"),
        "edit_deleted": _("已刪除圖徵 #{fid}"),
        "edit_delete_confirm": _("刪除圖徵 #{fid}？刪除後仍可從歷史紀錄還原。"),
        "edit_discard": _("放棄這個圖徵尚未儲存的變更？"),
        "edit_conflict_title": _("版本衝突"),
        "edit_conflict_text": _("{user} 已先儲存了這個圖徵（您讀到版本 {theirs}，目前是版本 {current}）。"
                                "請比較後選擇："),
        "edit_conflict_deleted": _("{user} 已刪除了這個圖徵。"),
        "edit_conflict_geometry": _("您的形狀以藍色顯示，目前的形狀以紫色虛線顯示。"),
        "edit_mine": _("我的版本"),
        "edit_theirs": _("目前版本"),
        "edit_keep_mine": _("以我的版本覆寫"),
        "edit_take_theirs": _("採用目前版本"),
        "edit_live_changed": _("{user} 修改了「{layer}」的圖徵 #{fid}"),
    }
