"""A dashboard printed to PDF (GET /api/v1/dashboards/<slug>/pdf/): its title, the date, the filter state and
every widget the viewer may see with its figures and units, for the filter state given — the same answers the page
draws (dashboards.batch), laid out by the map prints' machinery (web.printing: ReportLab, the embedded CJK font,
A4). Charts become what they show on paper: bars with their values, a table's rows, a line's points, a map's areas
ranked; the live sources (sensors, Wi-Fi, coverage) their figures at the time of printing."""

import io

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from web.printing import MARGIN, _fit, _font, _wrap

from . import batch
from . import spec as specs

ROWS = 12  # the most rows of a chart, list or table printed (the rest counted)
BAR = (0.13, 0.40, 0.75)
NEGATIVE = (0.78, 0.16, 0.16)  # a fall (a change below zero): its bar in red


def _num(value, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}"


class Page:
    """A4 portrait, written top to bottom; a new page when the next block does not fit."""

    def __init__(self, title: str):
        self.out = io.BytesIO()
        self.font = _font()
        self.width, self.height = A4
        self.pdf = canvas.Canvas(self.out, pagesize=A4)
        self.pdf.setTitle(title)
        self.pdf.setAuthor("civgis")
        self.y = self.height - MARGIN
        self.pages = 1

    def need(self, points: float):
        if self.y - points < MARGIN + 16:
            self.footer()
            self.pdf.showPage()
            self.pages += 1
            self.y = self.height - MARGIN

    def text(self, words: str, size: float = 9, grey: float = 0.1, indent: float = 0, gap: float = 3):
        width = self.width - 2 * MARGIN - indent
        for line in _wrap(words, self.font, size, width) or [""]:
            self.need(size + gap)
            self.pdf.setFillColorRGB(grey, grey, grey)
            self.pdf.setFont(self.font, size)
            self.pdf.drawString(MARGIN + indent, self.y - size, line)
            self.y -= size + gap

    def bars(self, rows: list[tuple[str, float | None, str]]):
        """Horizontal bars: label, bar to scale, value with its unit."""
        top = max([abs(v) for _, v, _ in rows if v is not None] or [1]) or 1
        label_w, value_w = 130, 120
        track = self.width - 2 * MARGIN - label_w - value_w - 12
        for label, value, shown in rows:
            self.need(13)
            self.pdf.setFillColorRGB(0.1, 0.1, 0.1)
            self.pdf.setFont(self.font, 8.5)
            self.pdf.drawString(MARGIN + 8, self.y - 9, _fit(label, self.font, 8.5, label_w - 10))
            if value is not None:
                self.pdf.setFillColorRGB(*(BAR if value >= 0 else NEGATIVE))
                self.pdf.rect(MARGIN + label_w, self.y - 10, max(0.5, abs(value) / top * track), 8, stroke=0, fill=1)
            self.pdf.setFillColorRGB(0.1, 0.1, 0.1)
            self.pdf.drawRightString(self.width - MARGIN, self.y - 9, shown)
            self.y -= 13

    def footer(self):
        self.pdf.setFillColorRGB(0.4, 0.4, 0.4)
        self.pdf.setFont(self.font, 7.5)
        self.pdf.drawRightString(self.width - MARGIN, MARGIN - 4, _("第 {n} 頁").format(n=self.pages))

    def done(self) -> bytes:
        self.footer()
        self.pdf.showPage()
        self.pdf.save()
        return self.out.getvalue()


def render(board, user, chosen: batch.Filter, language: str, names: dict[str, str]) -> bytes:
    with translation.override(language):
        return _render(board, user, chosen, language == "en", names)


def _render(board, user, chosen: batch.Filter, english: bool, names: dict[str, str]) -> bytes:
    shown = specs.for_viewer(board.spec, user)
    answers = batch.answer(board.spec, user, chosen, set())["answers"]
    title = board.title_en if english and board.title_en else board.title_zh
    page = Page(title)
    page.text(title, size=18, gap=8)
    what = [names.get("town") or chosen.town, names.get("area") or chosen.area, chosen.period,
            names.get("pick") or chosen.pick.split("|")[-1] if chosen.pick else ""]
    what = [w for w in what if w]
    page.text(_("列印日期 {date} · {filter}").format(
        date=formats.date_format(timezone.localtime(), "Y-m-d H:i"),
        filter=_("篩選：{what}").format(what=" · ".join(what)) if what else _("未篩選：全市")), size=9, grey=0.3)
    description = board.description_en if english and board.description_en else board.description
    if description:
        page.text(description, size=8.5, grey=0.3)
    page.y -= 6
    for widget in shown["widgets"]:
        described = shown["indicators"]
        source = shown["sources"].get(widget.get("id"))
        heading = _widget_title(widget, described, source, english)
        page.need(40)
        page.pdf.setStrokeColorRGB(0.8, 0.8, 0.8)
        page.pdf.line(MARGIN, page.y, page.width - MARGIN, page.y)
        page.y -= 4
        page.text(heading, size=11.5, gap=5)
        _widget(page, widget, described, source, answers, chosen, english,
                [s for s in shown["selectors"] if s["kind"] == "category"])
        page.y -= 6
    return page.done()


def _title_of(info: dict, english: bool) -> str:
    return info.get("title_en") if english and info.get("title_en") else info.get("title", "")


def _unit_of(info: dict, english: bool) -> str:
    return (info.get("unit_en") if english else info.get("unit")) or ""


def _widget_title(widget: dict, described: dict, source: dict | None, english: bool) -> str:
    own = widget.get("title_en") if english and widget.get("title_en") else widget.get("title")
    if own:
        return own
    if source:
        what = _("資料筆數") if source["agg"] == "count" else (source["field_label_en"] if english else
                                                          source["field_label"])
        return f"{_title_of({'title': source['layer_title'], 'title_en': source['layer_title_en']}, english)}：{what}"
    slug = widget.get("indicator") or (widget.get("indicators") or [None])[0]
    if slug in described:
        return _title_of(described[slug], english)
    return {"sensor": _("感測器即時值"), "sensor_week": _("本週每日平均"), "wifi": _("Wi-Fi 使用量"),
            "coverage": _("設施服務涵蓋率"), "text": ""}.get(widget["type"], widget["type"])


def _with_unit(value, info: dict, english: bool) -> str:
    unit = _unit_of(info, english)
    shown = _num(value, info.get("decimals", 0))
    return f"{shown} {unit}" if unit and value is not None else shown


def _area_name(row: dict, level: str) -> str:
    parts = str(row.get("name") or row.get("key")).split(" ")
    return parts[-1] if level == "town" else " ".join(parts[-2:])


def _widget(page: Page, w: dict, described: dict, source, answers: dict, chosen: batch.Filter, english: bool,
            selectors: list):
    kind = w["type"]
    if kind == "text":
        page.text((w.get("text_en") if english and w.get("text_en") else w.get("text")) or "", size=9)
        return
    if source:
        answer = answers.get(batch.live_key(w)) or {}
        info = {**source, "decimals": source["decimals"]}
        total = (answer.get("total") or {}).get("value")
        page.text(_("全部：{value}").format(value=_with_unit(total, info, english)), size=10)
        rows = answer.get("rows") or []
        if rows:
            page.bars([(r["name_en"] if english else r["name"], r["value"], _with_unit(r["value"], info, english))
                       for r in rows[:ROWS]])
            if len(rows) > ROWS:
                page.text(_("（另有 {n} 項未列出）").format(n=len(rows) - ROWS), size=8, grey=0.4)
        return
    if kind in specs.LIVE:
        _live(page, w, answers.get(batch.live_key(w)), english)
        return
    queries = batch.queries({"selectors": selectors, "widgets": [w]}, described, chosen)
    found = [answers.get(batch.key(*q[:5])) for q in queries]
    slug = queries[0][0] if queries else None
    info = described.get(slug, {})
    first = found[0] if found else None
    if not first:
        page.text(_("沒有資料"), size=9, grey=0.4)
        return
    if kind in ("kpi", "gauge"):
        line = f"{_with_unit(first['total']['value'], info, english)} · {first.get('period') or ''}"
        if kind == "gauge" and w.get("target") is not None:
            line += " · " + _("目標 {target}").format(target=_with_unit(w["target"], info, english))
        page.text(line, size=13, gap=5)
    elif kind == "line":
        points = [(q[2], a) for q, a in zip(queries, found, strict=True) if a]
        page.bars([(p, a["total"]["value"], _with_unit(a["total"]["value"], info, english)) for p, a in points])
    elif kind == "table":
        columns = [described.get(q[0], {}) for q in queries]
        header = " · ".join(f"{_title_of(c, english)}（{_unit_of(c, english) or '—'}）" for c in columns)
        page.text(header, size=8.5, grey=0.3)
        first_rows = sorted(first["values"], key=lambda r: -(r["value"] or 0))[:ROWS]
        by_key = [{r["key"]: r["value"] for r in (a or {}).get("values", [])} for a in found]
        for row in first_rows:
            cells = [_num(k.get(row["key"]), c.get("decimals", 0)) for k, c in zip(by_key, columns, strict=True)]
            page.text(f"{_area_name(row, w.get('level', 'town'))}：{' · '.join(cells)}", size=8.5, indent=8, gap=2)
        if len(first["values"]) > ROWS:
            page.text(_("（另有 {n} 項未列出）").format(n=len(first["values"]) - ROWS), size=8, grey=0.4)
    else:  # bar, pie, list, map: the areas ranked, with their values
        level = "area" if kind == "map" else w.get("level", "town")
        rows = [r for r in first["values"] if not (kind == "map" and chosen.town and r.get("town_key") != chosen.town)]
        rows = sorted(rows, key=lambda r: -(r["value"] if r["value"] is not None else float("-inf")))
        whole = sum(r["value"] or 0 for r in rows)

        def shown(r):
            text = _with_unit(r["value"], info, english)
            return f"{text} · {r['value'] / whole * 100:.1f}%" if kind == "pie" and whole and r["value"] else text
        page.text(f"{_title_of(info, english)}（{_unit_of(info, english) or '—'}）· {first.get('period') or ''}",
                  size=8.5, grey=0.3)
        page.bars([(_area_name(r, level), r["value"], shown(r)) for r in rows[:w.get("limit") or ROWS][:ROWS]])
        if len(rows) > ROWS:
            page.text(_("（另有 {n} 項未列出）").format(n=len(rows) - ROWS), size=8, grey=0.4)


def _live(page: Page, w: dict, a: dict | None, english: bool):
    if not a:
        page.text(_("沒有資料"), size=9, grey=0.4)
        return
    kind = w["type"]
    if kind == "sensor" and not a.get("devices"):
        page.text(_("沒有您可查看的感測器"), size=9, grey=0.4)
    elif kind == "sensor":
        unit = a.get("unit") or ""
        page.text(f"{_num(a.get('mean'), 1)} {unit}", size=13, gap=5)
        page.text(_("{n} 個感測器 · 最低 {low} · 最高 {high}").format(
            n=a.get("devices", 0), low=f"{_num(a.get('min'), 1)} {unit}", high=f"{_num(a.get('max'), 1)} {unit}"),
            size=8.5, grey=0.3)
    elif kind == "sensor_week":
        unit = a.get("unit") or ""
        page.bars([(d["day"], d["mean"], f"{_num(d['mean'], 1)} {unit}" if d["mean"] is not None else "—")
                   for d in a.get("days", [])])
    elif kind == "wifi":
        page.text(_("{n} 人次").format(n=_num(a.get("sessions"))) + f" · {a.get('day') or '—'}", size=13, gap=5)
    elif kind == "coverage":
        page.text(f"{_num(a.get('share'), 1)} %", size=13, gap=5)
        page.text(_("{covered} 人 / {people} 人在 {layer} {distance} 公尺（直線距離）內；各村里人口依面積平均分布估算")
                  .format(covered=_num(a.get("covered")), people=_num(a.get("people")),
                          layer=a.get("layer_title_en") if english else a.get("layer_title"),
                          distance=_num(a.get("distance_m"))), size=8.5, grey=0.3)
