"""/events/ — 事件統計: an officer picks an event layer and reads its counts and rates, response times and what
changed this week as tables with units, with a link to the map. The figures are events.figures', as the API's."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from analysis.hotspots import emerging
from analysis.hotspots import job as hotspot_job
from layers.models import Layer

from . import figures
from .views import areas_of, district_areas, event_layers_for

PERIOD_LABELS = {"all": "全期間", "month": "每月", "week": "每週", "day": "每日"}


def events_page(request):
    # wrapping the request in DRF's Request (areas_of) sets request.user to anonymous: kept here, put back below (the
    # page's header said "sign in" to a signed-in officer)
    user = request.user
    signed_in = user.is_authenticated
    layers = list(event_layers_for(request.user))
    slug = request.GET.get("layer") or (layers[0].layer.slug if layers else "")
    chosen = next((el for el in layers if el.layer.slug == slug), None)
    params = {"layer": slug, "by": request.GET.get("by", "district"), "cell": request.GET.get("cell", "500"),
              "period": request.GET.get("period", "all"), "category": request.GET.get("category", "")}
    context = {"layers": layers, "chosen": chosen, "params": params, "periods": [
        (k, _(v)) for k, v in PERIOD_LABELS.items()], "problem": None}
    if chosen is not None:
        english = (get_language() or "").startswith("en")
        context["title"] = (chosen.layer.title_en or chosen.layer.title_zh) if english else chosen.layer.title_zh
        context["categories"] = [(c.code, c.label(get_language() or "zh-hant")) for c in chosen.categories.all()]
        labels = dict(context["categories"])
        context["category_label"] = labels.get(params["category"]) or _("全部")
        try:
            areas = areas_of(Request(request))
            period = params["period"] if params["period"] in figures.PERIODS else "all"
            category = params["category"] or None
            counts = figures.counts(chosen.layer, areas, period, request.user, category, per_category=False)
            times = figures.response_times(chosen.layer, areas, category)
            changes = figures.changes(chosen.layer, districts=district_areas(Request(request)))
        except (ValidationError, figures.FigureError) as exc:
            context["problem"] = _("無法計算：%(why)s") % {"why": _detail(exc)}
        else:
            for rows in (counts["results"], times["by_category"], times["worst"], changes["rises"]):
                for r in rows:
                    if r.get("category"):
                        r["label"] = labels.get(r["category"], r.get("category_label") or r["category"])
            about = counts["population"]
            if english and about.get("table"):
                found = Layer.objects.filter(slug=about["table"]).values_list("title_en", flat=True).first()
                about["title"] = found or about["title"]
            context.update(counts=counts, times=times, changes=changes,
                           map_url="/?" + urlencode({"layer_dialog": chosen.layer.slug}),
                           unlocated=chosen.unlocated.count(), unlocated_list=list(chosen.unlocated.all()[:50]))
        request.user = user
        if signed_in:
            context["hotspot"] = hotspot_context(chosen, english)
    return render(request, "events/page.html", context)


def hotspot_context(chosen, english: bool) -> dict:
    """What the 熱點分析 section's script shows: each class's meaning (the result layer's legend labels) and the
    page's words, in the page's language."""
    meanings = {emerging.pattern_name(c): (en if english else zh) for c, (zh, en) in emerging.PATTERNS.items()}
    what = {1: _("此網格與鄰近網格的案件顯著多於全區平均"), -1: _("此網格與鄰近網格的案件顯著少於全區平均"),
            0: _("與全區平均沒有顯著差異")}
    colon = ": " if english else "："
    meanings.update({hotspot_job._level_name(c): f"{v[1] if english else v[0]}{colon}{what[(c > 0) - (c < 0)]}"
                     for c, v in hotspot_job.HOT.items()})
    words = {
        "starting": _("正在送出分析…"), "running": _("分析中：%(pct)s%%"), "failed": _("分析失敗：%(why)s"),
        "done": _("分析完成"), "open_map": _("在地圖上開啟結果圖層"), "class": _("熱點類別"), "meaning": _("意義"),
        "cells": _("網格數（格）"),
        "analysed": _("分析的案件：%(n)s 件，%(locations)s 個網格或區域，其中 %(empty)s 個沒有案件（以 0 件計入）"),
        "study_area": {
            "convex_hull": _("研究範圍：案件的凸包（%(km2)s 平方公里），中心在範圍內的網格都納入"),
            "boundary": _("研究範圍：圖層 %(layer)s 的面（%(km2)s 平方公里），中心在範圍內的網格都納入"),
            "cells_with_events": _("研究範圍：只分析有案件的網格")},
        "steps": _("時間步：%(n)s 步，每步 %(days)s 天"), "band": _("鄰域距離：%(d)s 公尺"),
        "left_out": _("未納入的案件：%(list)s"), "sep": _("、"), "reasons": {
            "without_location": _("無位置"), "without_time": _("無時間"), "in_the_future": _("時間在未來"),
            "outside_period": _("期間外"), "outside_areas": _("區域外")}, "unit": _("件"),
    }
    return {"layer": chosen.layer.slug, "strings": {"meanings": meanings, "words": words}}


def _detail(exc) -> str:
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items())
    return str(detail or exc)
