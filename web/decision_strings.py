"""The decision pages' script strings (siting wizard, Wi-Fi hotspots, sensors), translated by Django like the
viewer's (zh-Hant source, English in locale/); merged into the page's configuration with the viewer's own."""

from django.utils.translation import gettext as _


def decision_strings() -> dict[str, str]:
    return {
        "request_failed": _("要求失敗（HTTP {status}）"),
        "job_pending": _("排隊中"),
        "job_running": _("分析中"),
        "job_succeeded": _("完成"),
        "job_failed": _("分析失敗"),
        # siting
        "siting_title": _("選址"),
        "no_factor": _("請至少給一個評估因子大於 0 的權重。"),
        "factor_roads": _("鄰近道路"),
        "factor_population": _("服務範圍內人口"),
        "factor_existing": _("遠離既有同類場館"),
        "factor_land_value": _("公告土地現值低"),
        "contrib_of": _("第 {rank} 名（宗地 {fid}）分數 {score} 的因子貢獻"),
        "covered_demand": _("涵蓋需求"),
        "total_distance": _("總加權距離（公尺）"),
        "proven_optimal": _("已證明最佳解"),
        "proven_gap": _("最佳性差距 ≤ {gap}%"),
        "feasible_of": _("{all} 筆中 {feasible} 筆符合限制"),
        "gain_chart": _("每處新場址增加的涵蓋需求（+1 為再增設一處）"),
        "candidate_fid": _("宗地 {fid}"),
        "chosen_mark": _("✓ 第 {n} 處"),
        "site_new": _("新設場址 {n}"),
        "legend_siting": _("選址結果"),
        "legend_new_site": _("選定新場址（編號為挑選順序）"),
        "legend_existing_site": _("既有同類場館"),
        "legend_high_score": _("候選地：分數高"),
        "legend_low_score": _("候選地：分數低"),
        # Wi-Fi
        "flag_under-used": _("低使用"),
        "flag_normal": _("正常"),
        "flag_overloaded": _("超載"),
        "flag_no usage records": _("無使用紀錄"),
        "legend_wifi": _("熱點使用狀況"),
        "usage_of": _("{name}（{id}）每日連線數"),
        "usage_stats": _("日均 {sessions} 次連線、{traffic} MB，{capacity}% 的日子達容量上限"),
        "sessions_per_day": _("每日連線數"),
        "gap_tip": _("缺口 {rank}：{people} 人未涵蓋"),
        "new_hotspot": _("建議熱點 {n}"),
        "none": _("無"),
        # sensors
        "quantity_pm25": _("PM2.5（細懸浮微粒）"),
        "quantity_pm10": _("PM10（懸浮微粒）"),
        "quantity_temperature_c": _("溫度"),
        "quantity_humidity_pct": _("相對濕度"),
        "sensor_count": _("共 {n} 個感測器"),
        "series_of": _("{id} 的{quantity}（每小時平均）"),
        "hourly_mean": _("每小時平均"),
        "no_readings": _("這個感測器沒有此項目的讀數。"),
        "legend_pm25": _("PM2.5 最新值（μg/m³）"),
        "low": _("低"),
        "high": _("高"),
        "alert_line": _("{at} {id} {quantity} {value}（門檻 {above}）"),
        "placement_title": _("空氣品質感測器增設建議"),
        "new_sensor": _("建議感測器 {n}"),
        "placement_gain": _("第 {n} 處增加涵蓋 {gain}"),
    }
