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
    return _("第 {rank} 名未入選：選定的組合總加權距離更短。").format(rank=item["rank"])


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
           "top": [{"site": site_label(t["site"]), "why": why(t, a),
                    "chosen": _("✓ 第 {n} 處").format(n=t["pick_order"]) if t["pick_order"] else ""}
                   for t in a["top"]]}
    if demand.get("estimate"):
        out["note"] = _("需求為面圖層的數量平均分布於網格的面積加權估計，四捨五入為整數，各項相加等於合計。")
    if any(t["why"] for t in out["top"]):
        out["why_intro"] = _("分數看的是每塊候選地本身的條件；選址挑的是合起來涵蓋最多需求的一組場址。"
                             "分數高、但與已選場址涵蓋同一批需求的候選地，多選它增加有限，所以沒有入選。")
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
            "sum": _("既有 {already} + 新設 {gains} = 合計涵蓋 {covered}").format(
                already=amount(money["already_covered"], demand),
                gains=" + ".join(amount(g, demand) for g in money["gains"]), covered=amount(money["covered"], demand))}
        out["unique"] = [_("{site}：分數排第 {rank} 名，獨自涵蓋其他場址都沒涵蓋的 {unique}。").format(
            site=label, rank=rank, unique=amount(u, demand))
            for label, rank, u in zip(out["sites"], a.get("site_ranks", []), a.get("unique", []), strict=False)]
    return out


def in_every_language(summary: dict) -> dict[str, dict]:
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out[code] = explain(summary)
    return out
