"""/events/ — 事件統計: an officer picks an event layer and reads its counts and rates (by village, district, an area
layer such as the statistical areas, a grid or H3 cells: tables with units and the areas drawn on the page's map),
response times and what changed this week, with a link to the map. The figures are events.figures', as the API's."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from analysis.hotspots import emerging
from analysis.hotspots import job as hotspot_job
from layers.models import Layer
from web.viewer import viewer_config

from . import figures, hexagons
from .views import areas_of, district_areas, event_layers_for

PERIOD_LABELS = {"all": "全期間", "month": "每月", "week": "每週", "day": "每日"}
AREA_LABELS = {"district": N_("行政區"), "village": N_("村里"), "layer": N_("其他面圖層（如統計區）"),
               "grid": N_("方格網"), "h3": N_("H3 六角網格")}


def polygon_layers(user):
    """The polygon layers the caller may see: a hot spot analysis's study area (`boundary`) may be any of them."""
    return Layer.objects.visible_to(user if user.is_authenticated else None).filter(
        kind=Layer.Kind.VECTOR, geometry_type__contains="Polygon").order_by("title_zh")


def _title(layer: Layer) -> str:
    return (layer.title_en or layer.title_zh) if (get_language() or "").startswith("en") else layer.title_zh


def area_layers(user) -> list[tuple[str, str]]:
    """The polygon layers with a name (or code) column the caller may see: what `by=layer` offers."""
    found = []
    for layer in polygon_layers(user):
        try:
            figures.name_column(layer)
        except figures.FigureError:
            continue
        found.append((layer.slug, _title(layer)))
    return found


def events_page(request):
    user = request.user
    signed_in = user.is_authenticated
    layers = list(event_layers_for(user))
    slug = request.GET.get("layer") or (layers[0].layer.slug if layers else "")
    chosen = next((el for el in layers if el.layer.slug == slug), None)
    params = {"layer": slug, "by": request.GET.get("by", "district"), "cell": request.GET.get("cell", "500"),
              "resolution": request.GET.get("resolution", "8"), "areas": request.GET.get("areas", ""),
              "period": request.GET.get("period", "all"), "category": request.GET.get("category", "")}
    context = {"layers": layers, "chosen": chosen, "params": params, "periods": [
        (k, _(v)) for k, v in PERIOD_LABELS.items()], "problem": None,
        "area_kinds": [(k, _(v)) for k, v in AREA_LABELS.items()], "area_layers": area_layers(user),
        "resolutions": [(str(r), hexagons.edge_m(r)) for r in hexagons.RESOLUTIONS]}
    if chosen is not None:
        english = (get_language() or "").startswith("en")
        context["title"] = (chosen.layer.title_en or chosen.layer.title_zh) if english else chosen.layer.title_zh
        context["categories"] = [(c.code, c.label(get_language() or "zh-hant")) for c in chosen.categories.all()]
        labels = dict(context["categories"])
        context["category_label"] = labels.get(params["category"]) or _("全部")
        try:
            areas = areas_of(as_api(request, user))
            period = params["period"] if params["period"] in figures.PERIODS else "all"
            category = params["category"] or None
            counts = figures.counts(chosen.layer, areas, period, user, category, per_category=False,
                                    geometry=True)
            times = figures.response_times(chosen.layer, areas, category)
            changes = figures.changes(chosen.layer, districts=district_areas(as_api(request, user)))
        except (APIException, figures.FigureError) as exc:
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
            context.update(counts=counts, times=times, changes=changes, config=viewer_config(user),
                           map_data=map_data(counts),
                           map_url="/?" + urlencode({"layer_dialog": chosen.layer.slug}),
                           unlocated=chosen.unlocated.count(), unlocated_list=list(chosen.unlocated.all()[:50]))
        if signed_in:
            context["hotspot"] = hotspot_context(chosen, english, context["categories"],
                                                 [(layer.slug, _title(layer)) for layer in polygon_layers(user)])
    return render(request, "events/page.html", context)


def as_api(request, user) -> Request:
    """The page's request as the API views read it, for the signed-in user (DRF's wrapper without the API's
    authenticators would see an anonymous one, and the area layers only they may see would be missing)."""
    wrapped = Request(request)
    wrapped.user = user
    return wrapped


def map_data(counts: dict) -> dict:
    """What the page's map draws: the counted areas, coloured by the rate per 1,000 residents when the residents
    are known, else by the count, with the legend's words in the page's language."""
    rates = any(f["properties"]["rate_per_1000"] is not None for f in counts["features"]["features"])
    return {"features": counts["features"], "measure": "rate_per_1000" if rates else "count",
            "title": _("每千人案件數（件/千人）") if rates else _("案件（件）"),
            "words": {"count": _("案件"), "rate": _("每千人"), "population": _("人口"), "unit": _("件"),
                      "rate_unit": _("件/千人"), "people": _("人"), "none": _("無人口資料")}}


def hotspot_context(chosen, english: bool, categories: list[tuple[str, str]], boundaries: list[tuple[str, str]]
                    ) -> dict:
    """What the 熱點分析 section shows: the categories and study areas to choose from, each class's meaning (the
    result layer's legend labels) and the page's words, in the page's language."""
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
        "categories": _("分析的分類：%(list)s"), "all_categories": _("全部分類"),
        "no_category": _("請至少勾選一個分類"),
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
    boundary = next((slug for slug, _t in boundaries if slug == "districts"), boundaries[0][0] if boundaries else "")
    return {"layer": chosen.layer.slug, "categories": categories, "boundaries": boundaries, "boundary": boundary,
            "study_areas": [(k, _(label), _(meaning)) for k, (label, meaning) in hotspot_job.STUDY_AREA_CHOICES.items()
                            if k != "boundary" or boundaries],
            "strings": {"meanings": meanings, "words": words, "categories": dict(categories),
                        "layers": dict(boundaries)}}


def _detail(exc) -> str:
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items())
    return str(detail or exc)
