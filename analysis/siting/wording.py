"""The siting answer in words, in the active language: amounts with their unit ("約 12,345 人"), sites by name and
place, and why each of the best-scoring candidates was or was not chosen. Written once per language when the job
ends (the page shows the stored text; the report is written from it), so both say the same thing."""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from geo import messages


def amount(value: float, demand: dict) -> str:
    number = f"{value:,.{demand['decimals']}f}"
    unit, about = demand.get("unit"), demand.get("estimate")
    if unit == "people":
        return _("約 {n} 人").format(n=number) if about else _("{n} 人").format(n=number)
    if unit == "households":
        return _("約 {n} 戶").format(n=number) if about else _("{n} 戶").format(n=number)
    if unit == "features":
        return _("{n} 處").format(n=number)
    return _("約 {n}").format(n=number) if about else number


def site_label(site: dict) -> str:
    if site.get("section") and site.get("number"):
        own = _("{section} {number} 地號").format(section=site["section"], number=site["number"])
    else:
        own = site.get("address") or site.get("name") or _("宗地 {fid}").format(fid=site["fid"])
    if not site.get("places"):
        return own
    return _("{site}（{places}）").format(site=own, places=_("、").join(site["places"]))


def _reference(ref: dict | None, a: dict) -> str:
    if ref is None:
        return _("已選場址")
    if "new" in ref:
        return _("第 {n} 處新場址").format(n=ref["new"])
    existing = (a.get("existing_sites") or {}).get(str(ref["existing"]))
    name = existing.get("name") or existing.get("address") if existing else None
    return _("既有場館「{name}」").format(name=name) if name else _("既有場館")


def why(item: dict, a: dict) -> str:
    demand = a["demand"]
    reason = item.get("reason")
    if item.get("pick_order") or reason is None:
        return ""
    if reason == "overlap":
        text = _("第 {rank} 名分數較高，但它涵蓋的 {reach} 中有 {shared} 已由{site}涵蓋，多選它只增加 {added}。")
        return text.format(rank=item["rank"], reach=amount(item["reach"], demand),
                           shared=amount(item["shared"], demand), site=_reference(item.get("shared_with"), a),
                           added=amount(item["added"], demand))
    if reason == "spacing":
        return _("第 {rank} 名與{site}的距離小於最小間距 {spacing} 公尺，不能同時選。").format(
            rank=item["rank"], site=_reference(item.get("shared_with"), a), spacing=f"{item['spacing']:,.0f}")
    if reason == "outside_pool":
        return _("第 {rank} 名不在挑選的候選地範圍內。").format(rank=item["rank"])
    if a.get("model") == "attendance":
        return _("第 {rank} 名未入選：選定的組合前來的需求更多。").format(rank=item["rank"])
    if a.get("model") in ("market_share", "target_share"):
        return _("第 {rank} 名未入選：選定的組合取得的市場更大。").format(rank=item["rank"])
    if a.get("unit") == "min":
        return _("第 {rank} 名未入選：選定的組合總加權行駛時間更短。").format(rank=item["rank"])
    return _("第 {rank} 名未入選：選定的組合總加權距離更短。").format(rank=item["rank"])


PROFILE_WORDS = {"driving": lambda: _("開車"), "walking": lambda: _("步行"), "cycling": lambda: _("騎自行車")}


def reach(a: dict) -> str:
    """How far a site reaches, in the answer's own unit: minutes of travel on the roads or metres as the crow flies."""
    minutes, metres = (a.get("reach") or {}).get("minutes"), (a.get("reach") or {}).get("metres")
    how = PROFILE_WORDS.get(a.get("profile") or "driving", PROFILE_WORDS["driving"])()
    if a.get("unit") == "min":
        if minutes:
            return _("距離以道路網上{how}的行駛時間計算：{minutes} 分鐘內可達。").format(
                how=how, minutes=f"{minutes:g}")
        return _("距離以道路網上{how}的行駛時間（分鐘）計算。").format(how=how)
    if metres:
        return _("距離以直線距離計算：{metres} 公尺內。").format(metres=f"{metres:,g}")
    return _("距離以直線距離（公尺）計算。")


def outcome(a: dict) -> str:
    """The problem type's own figure: the sites needed, the share captured, the average trip."""
    demand = a["demand"]
    model = a.get("model")
    if model == "set_covering":
        return _("涵蓋全部可達需求最少需要 {n} 處新場址（合計涵蓋 {covered}）。").format(
            n=a["facilities"], covered=amount(a["objective"], demand))
    if model == "target_share":
        return _("要取得 {target} % 的市場占有率，最少需要 {n} 處新場址；取得 {share} %（{captured}）。").format(
            target=f"{a['target_share'] * 100:g}", n=a["facilities"], share=f"{100 * a['market_share']:.1f}",
            captured=amount(a["objective"], demand))
    if model == "market_share":
        return _("取得 {captured}，市場占有率 {share} %；競爭者取得 {rivals}。").format(
            captured=amount(a["objective"], demand), share=f"{100 * a['market_share']:.1f}",
            rivals=amount(a["competitors_capture"], demand))
    if model == "attendance":
        return _("預期前來 {attending}（需求隨距離或時間遞減）。").format(attending=amount(a["objective"], demand))
    if model == "p_median":
        served = a["demand_total"] - a.get("unreachable_weight", 0)
        mean = a["objective"] / served if served else 0
        if a.get("unit") == "min":
            return _("平均每單位需求的行駛時間 {mean} 分鐘。").format(mean=f"{mean:,.1f}")
        return _("平均每單位需求的距離 {mean} 公尺。").format(mean=f"{mean:,.0f}")
    return ""


def unreachable(a: dict) -> str:
    if not a.get("unreachable"):
        return ""
    return _("{n} 個需求點（{amount}）在範圍內到不了任何場址，不計入涵蓋或服務。").format(
        n=f"{a['unreachable']:,}", amount=amount(a["unreachable_weight"], a["demand"]))


def exclusion(what: dict) -> str:
    count = f"{what['count']:,}"
    if what["kind"] == "in_layer":
        title = what["title_zh"] if translation.get_language().startswith("zh") else what["title_en"]
        return _("位於「{title}」內：{n} 筆").format(title=title, n=count)
    if what["kind"] == "min_area":
        return _("面積小於 {value} 平方公尺：{n} 筆").format(value=f"{what['value']:,g}", n=count)
    return _("坡度大於 {value} 度：{n} 筆").format(value=f"{what['value']:g}", n=count)


def exclusion_text(what: dict) -> dict:
    """The same words as `exclusion`, kept to be worded when read (a job's progress note)."""
    count = f"{what['count']:,}"
    if what["kind"] == "in_layer":
        title = messages.by_language(**{"zh-hant": what["title_zh"], "en": what["title_en"]})
        return messages.text("位於「{title}」內：{n} 筆", title=title, n=count)
    if what["kind"] == "min_area":
        return messages.text("面積小於 {value} 平方公尺：{n} 筆", value=f"{what['value']:,g}", n=count)
    return messages.text("坡度大於 {value} 度：{n} 筆", value=f"{what['value']:g}", n=count)


def explain(summary: dict) -> dict:
    """The answer's words in the active language (see the module's docstring)."""
    out = {"exclusions": [exclusion(w) for w in summary.get("exclusions", [])]}
    if summary.get("allocation"):
        out |= explain_allocation(summary["allocation"])
    return out


def explain_allocation(a: dict) -> dict:
    demand = a["demand"]
    out = {"sites": [site_label(s) for s in a["sites"]], "demand_total": amount(a["demand_total"], demand),
           "reach": reach(a), "outcome": outcome(a), "unreachable": unreachable(a),
           "top": [{"site": site_label(t["site"]), "why": why(t, a),
                    "chosen": _("✓ 第 {n} 處").format(n=t["pick_order"]) if t["pick_order"] else ""}
                   for t in a["top"]]}
    if demand.get("estimate"):
        out["note"] = _("需求為面圖層的數量平均分布於網格的面積加權估計，四捨五入為整數，各項相加等於合計。")
    if any(t["why"] for t in out["top"]):
        out["why_intro"] = _("分數看的是每塊候選地本身的條件；選址挑的是合起來涵蓋最多需求的一組場址。"
                             "分數高、但與已選場址涵蓋同一批需求的候選地，多選它增加有限，所以沒有入選。")
    if a.get("by_break"):  # travel time: demand within each break of the existing sites, and with the new ones
        out["by_break"] = [{"minutes": _("{minutes} 分鐘內").format(minutes=f"{b['break_min']:g}"),
                            "existing": amount(b["existing"], demand), "with_new": amount(b["with_new"], demand),
                            "added": amount(b["with_new"] - b["existing"], demand)} for b in a["by_break"]]
    money = a.get("accounting")
    if money:
        running, cumulative = money["already_covered"], []
        for gain in money["gains"]:
            running += gain
            cumulative.append(amount(running, demand))
        out["accounting"] = {
            "already": amount(money["already_covered"], demand), "covered": amount(money["covered"], demand),
            "uncovered": amount(money["uncovered"], demand), "total": amount(money["total"], demand),
            "gains": [amount(g, demand) for g in money["gains"]], "cumulative": cumulative,
            "next": amount(money["next_gain"], demand),
            "sum": SUMS.get(a.get("model"), SUMS["covering"])().format(
                already=amount(money["already_covered"], demand),
                gains=" + ".join(amount(g, demand) for g in money["gains"]), covered=amount(money["covered"], demand))}
        out["unique"] = [_("{site}：分數排第 {rank} 名，獨自涵蓋其他場址都沒涵蓋的 {unique}。").format(
            site=label, rank=rank, unique=amount(u, demand))
            for label, rank, u in zip(out["sites"], a.get("site_ranks", []), a.get("unique", []), strict=False)]
    return out


SUMS = {  # called when worded, in the active language
    "covering": lambda: _("既有 {already} + 新設 {gains} = 合計涵蓋 {covered}"),
    "set_covering": lambda: _("既有 {already} + 新設 {gains} = 合計涵蓋 {covered}"),
    "attendance": lambda: _("既有 {already} + 新設 {gains} = 合計前來 {covered}"),
    "market_share": lambda: _("既有 {already} + 新設 {gains} = 合計取得 {covered}"),
    "target_share": lambda: _("既有 {already} + 新設 {gains} = 合計取得 {covered}"),
}


def in_every_language(summary: dict) -> dict[str, dict]:
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out[code] = explain(summary)
    return out
