"""A layer's descriptive metadata (詮釋資料): the code lists it uses, what each field is called, and how complete it is.

The field names follow ISO 19115 (the Taiwan profile TWSMP builds on it), so an ISO 19139 record can be written from
them one to one:

  abstract → MD_DataIdentification/abstract          keywords → descriptiveKeywords/MD_Keywords
  topic_category → topicCategory (MD_TopicCategoryCode) lineage → dataQualityInfo/LI_Lineage/statement
  source → LI_Lineage/source/LI_Source/description   license → resourceConstraints/MD_LegalConstraints
  update_frequency → MD_MaintenanceInformation/maintenanceAndUpdateFrequency (MD_MaintenanceFrequencyCode)
  contact_name / contact_organisation / contact_email / contact_phone → pointOfContact/CI_ResponsibleParty
      (individualName, organisationName, contactInfo … electronicMailAddress, phone/voice; role pointOfContact)
  owner_agency → a second CI_ResponsibleParty with role owner
  scale_denominator → spatialResolution/MD_Resolution/equivalentScale/MD_RepresentativeFraction/denominator
  resolution_m → spatialResolution/MD_Resolution/distance (uom m)
  temporal_start / temporal_end → extent/EX_Extent/temporalElement/EX_TemporalExtent (TimePeriod)
  creation_date / revision_date → citation/CI_Citation/date (CI_DateTypeCode creation / revision)
"""

from django.utils.translation import gettext_lazy as _

# MD_TopicCategoryCode (ISO 19115:2003, the list TWSMP uses)
TOPIC_CATEGORIES = {
    "farming": _("農業"), "biota": _("生物"), "boundaries": _("行政界線"),
    "climatologyMeteorologyAtmosphere": _("氣候氣象大氣"), "economy": _("經濟"), "elevation": _("高程"),
    "environment": _("環境"), "geoscientificInformation": _("地球科學"), "health": _("衛生"),
    "imageryBaseMapsEarthCover": _("影像底圖地表覆蓋"), "intelligenceMilitary": _("軍事情報"),
    "inlandWaters": _("內陸水域"), "location": _("位置"), "oceans": _("海洋"), "planningCadastre": _("規劃地籍"),
    "society": _("社會"), "structure": _("建物設施"), "transportation": _("交通運輸"),
    "utilitiesCommunication": _("公用事業通訊"),
}

# MD_MaintenanceFrequencyCode
UPDATE_FREQUENCIES = {
    "continual": _("持續"), "daily": _("每日"), "weekly": _("每週"), "fortnightly": _("每兩週"),
    "monthly": _("每月"), "quarterly": _("每季"), "biannually": _("每半年"), "annually": _("每年"),
    "asNeeded": _("視需要"), "irregular": _("不定期"), "notPlanned": _("不再更新"), "unknown": _("未知"),
}

# what each metadata field is called, for messages and the report (the dialog has the same words)
FIELD_LABELS = {
    "title_zh": _("中文名稱"), "title_en": _("英文名稱"), "abstract": _("摘要"), "keywords": _("關鍵字"),
    "topic_category": _("主題類別"), "owner_agency": _("權責機關"), "contact": _("聯絡人"),
    "contact_name": _("聯絡人姓名"), "contact_organisation": _("聯絡單位"), "contact_email": _("聯絡電子郵件"),
    "contact_phone": _("聯絡電話"), "lineage": _("資料處理歷程"), "source": _("資料來源"), "license": _("授權"),
    "update_frequency": _("更新頻率"), "scale": _("比例尺或解析度"), "scale_denominator": _("比例尺分母"),
    "resolution_m": _("解析度"), "temporal_extent": _("資料時間範圍"), "temporal_start": _("資料時間起"),
    "temporal_end": _("資料時間迄"), "creation_date": _("資料建立日期"), "revision_date": _("資料修訂日期"),
    "theme": _("主題"), "visibility": _("開放程度"), "allowed_groups": _("可查看的群組"),
    "time_attribute": _("時間屬性"),
}


def _contact(layer) -> bool:
    """Someone to ask: a person or unit, and a way to reach them."""
    return bool((layer.contact_name or layer.contact_organisation) and (layer.contact_email or layer.contact_phone))


# The recommended fields and their weight in the completeness score (they sum to 100). Heaviest: what a reader
# needs first to judge whether a layer fits (the abstract, ISO's core topic category, who to ask, the lineage, the
# licence); a title in English matters because the city shares its layers beyond Chinese readers.
RECOMMENDED = (
    ("abstract", 20, lambda layer: bool(layer.abstract.strip())),
    ("topic_category", 10, lambda layer: bool(layer.topic_category)),
    ("contact", 10, _contact),
    ("lineage", 10, lambda layer: bool(layer.lineage.strip())),
    ("license", 10, lambda layer: bool(layer.license.strip())),
    ("title_en", 5, lambda layer: bool(layer.title_en.strip())),
    ("keywords", 5, lambda layer: bool(layer.keywords)),
    ("owner_agency", 5, lambda layer: layer.owner_agency_id is not None),
    ("source", 5, lambda layer: bool(layer.source.strip())),
    ("update_frequency", 5, lambda layer: layer.update_frequency not in ("", "unknown")),
    ("scale", 5, lambda layer: layer.scale_denominator is not None or layer.resolution_m is not None),
    ("temporal_extent", 5, lambda layer: layer.temporal_start is not None),
    ("creation_date", 5, lambda layer: layer.creation_date is not None),
)
assert sum(weight for _field, weight, _test in RECOMMENDED) == 100


def completeness(layer) -> dict:
    """{score: 0–100, missing: [field …], filled: [field …]} over RECOMMENDED, heaviest missing first."""
    filled, missing, score = [], [], 0
    for field, weight, test in RECOMMENDED:
        if test(layer):
            filled.append(field)
            score += weight
        else:
            missing.append(field)
    return {"score": score, "missing": missing, "filled": filled}


def labelled(fields: list[str]) -> list[dict]:
    """[{field, label, weight}] in the active language."""
    weights = {field: weight for field, weight, _test in RECOMMENDED}
    return [{"field": f, "label": str(FIELD_LABELS[f]), "weight": weights.get(f, 0)} for f in fields]


# free-text frequencies stored before the code list, and what they mean in it
LEGACY_FREQUENCIES = {
    "static": "notPlanned", "none": "notPlanned", "never": "notPlanned", "不更新": "notPlanned",
    "realtime": "continual", "real-time": "continual", "即時": "continual", "持續": "continual",
    "daily": "daily", "每日": "daily", "weekly": "weekly", "每週": "weekly", "monthly": "monthly", "每月": "monthly",
    "quarterly": "quarterly", "每季": "quarterly", "yearly": "annually", "annually": "annually", "annual": "annually",
    "每年": "annually", "irregular": "irregular", "不定期": "irregular", "as needed": "asNeeded",
    "視需要": "asNeeded",
}


def frequency_code(text: str) -> str:
    """A stored frequency as a code of the list ('' stays '', what cannot be read becomes 'unknown')."""
    if text in UPDATE_FREQUENCIES or not text:
        return text
    return LEGACY_FREQUENCIES.get(text.strip().lower(), "unknown")
