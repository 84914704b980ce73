"""The strings of the layer dialog (general, attributes, metadata) and of the upload dialog's options and name
clashes: zh-Hant source, English in locale/."""

from django.utils.translation import gettext as _

from layers import metadata


def layer_dialog_strings() -> dict[str, str]:
    strings = {
        "ld_tab_general": _("一般"), "ld_tab_attributes": _("屬性欄位"), "ld_tab_metadata": _("詮釋資料"),
        "ld_read_only": _("您可檢視此圖層；只有權責機關的編輯者與管理者可以修改。"),
        "ld_save": _("儲存"), "ld_saving": _("儲存中…"), "ld_saved": _("已儲存"),
        "ld_save_failed": _("未儲存：請修正標示的欄位"), "ld_not_found": _("找不到這個圖層，或您沒有權限查看。"),
        "ld_unsaved": _("有尚未儲存的修改，確定要關閉嗎？"),
        "ld_description": _("說明（摘要）"), "ld_choose": _("（請選擇）"),
        "ld_allowed_groups_hint": _("限定群組時，這些群組與權責機關的成員可以查看"),
        "ld_completeness": _("詮釋資料完整度"), "ld_score": _("{score} / 100 分"),
        "ld_missing": _("尚缺：{fields}"), "ld_complete": _("建議欄位皆已填寫"),
        "ld_keywords_hint": _("以逗號或頓號分隔"),
        "ld_unit_m": _("公尺"), "ld_contact": _("聯絡人"), "ld_extent": _("時間與尺度"),
        "ld_dates": _("日期"), "ld_origin": _("來源與授權"),
        "ld_attr_name": _("欄位"), "ld_attr_label": _("中文名稱"), "ld_attr_label_en": _("英文名稱"),
        "ld_attr_unit": _("單位"), "ld_attr_unit_en": _("英文單位"), "ld_attr_kind": _("性質"),
        "ld_no_attributes": _("此圖層沒有屬性欄位。"),
        "ld_time_attribute": _("時間屬性"), "ld_time_off": _("不啟用時間"),
        "ld_time_hint": _("選定後，時間軸以此屬性篩選此圖層（地圖、屬性表、下載、分享與列印）"),
        "ld_time_none": _("此圖層沒有日期或日期時間屬性，無法啟用時間"),
        "ld_report_link": _("詮釋資料完整度報表"),
        "ld_iso_download": _("下載 ISO 19139 詮釋資料（XML）"), "ld_iso_import": _("由 TGOS 詮釋資料檔匯入…"),
        "ld_iso_importing": _("匯入中…"), "ld_iso_imported": _("已由詮釋資料檔更新 {n} 個欄位"),
        "ld_iso_failed": _("未匯入：{why}"),
        "attr_kind_identifier": _("識別碼"), "attr_kind_category": _("類別"), "attr_kind_count": _("計數"),
        "attr_kind_measure": _("量測值"), "attr_kind_ratio": _("比率"), "attr_kind_money": _("金額"),
        "attr_kind_date": _("日期"), "attr_kind_text": _("文字"),
        # the upload dialog
        "up_options": _("匯入選項"), "up_title": _("圖層名稱"), "up_title_hint": _("留空則以檔名命名"),
        "up_theme": _("主題"), "up_visibility": _("開放程度"), "up_crs": _("坐標系統（檔案未註明時）"),
        "up_crs_hint": _("例如 3826（TWD97）、3828（TWD67）、4326；留空則自動判讀"),
        "up_encoding": _("文字編碼"), "up_encoding_auto": _("自動偵測"),
        "up_clash": _("已有同名圖層「{title}」。"), "up_choose": _("請選擇"), "up_new_version": _("匯入為新版本"),
        "up_new_layer": _("另建新圖層"), "up_cancel": _("取消"), "up_cancelled": _("已取消匯入"),
    }
    for field, label in metadata.FIELD_LABELS.items():
        strings[f"md_{field}"] = str(label)
    for code, label in metadata.TOPIC_CATEGORIES.items():
        strings[f"topic_{code}"] = str(label)
    for code, label in metadata.UPDATE_FREQUENCIES.items():
        strings[f"freq_{code}"] = str(label)
    return strings
