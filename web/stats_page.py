"""The 統計資料 page (/stats/): the statistical tables the visitor may see, each table's joins to boundary layers
with their match reports in words, its indicators with their formulas and units; a signed-in officer joins a table
to a boundary, defines an indicator and draws one on the map (a share link of the new choropleth layer, opened in
the viewer). The forms post to this page, which does what /api/v1/stats/ does with the same checks and the same
visibility (a table one may not see is missing: 404 like one that does not exist)."""

import json
import math

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.exceptions import APIException, ValidationError

from layers import attribute_kinds, integrity, styles
from layers.importing.errors import ImportProblem
from layers.models import Layer, Style
from stats import indicators, joins, maps
from stats.models import Indicator, Level, StatJoin
from stats.views import (
    IndicatorForm,
    JoinForm,
    MapForm,
    define_indicator,
    edit_indicator,
    start_import,
    visible_indicators,
    visible_joins,
    visible_tables,
)

from .models import SharedView


def _english() -> bool:
    return not (get_language() or "zh").startswith("zh")


def _number(value, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}" if decimals or not float(value).is_integer() else f"{int(value):,}"


def _columns(layer: Layer, english: bool) -> list[dict]:
    """The table's numeric columns that can be figures (not codes or dates), labelled with their units."""
    out = []
    for raw in layer.attributes:
        attr = attribute_kinds.described(raw)
        if attr.get("type") in attribute_kinds.NUMERIC_TYPES and attr.get("kind") not in ("identifier", "date") \
                and attr["name"] != "fid":
            out.append({"name": attr["name"], "title": attribute_kinds.title_of(attr, english),
                        "label": (attr.get("label_en") if english else None) or attr.get("label") or attr["name"],
                        "unit": attr.get("unit_en" if english else "unit") or ""})
    return out


def match_report(record: StatJoin, columns: dict[str, dict]) -> dict:
    """「已連結 7,745 列（99.67%），未連結 26 列，共 101,385 人」: the join's report in words, with units."""
    totals = []
    for name, total in (record.unmatched_totals or {}).items():
        col = columns.get(name, {"label": name, "unit": ""})
        totals.append({"label": col["label"], "value": _number(total), "unit": col["unit"]})
    return {"matched": _number(record.matched_rows), "rate": f"{record.match_rate * 100:.2f}",
            "unmatched": _number(record.unmatched_rows), "rows": _number(record.rows),
            "without_data": _number(record.areas_without_data), "totals": totals,
            "listed": record.unmatched[:20]}


def _boundaries(user, english: bool) -> list[dict]:
    found = Layer.objects.visible_to(user).filter(kind=Layer.Kind.VECTOR, geometry_type__icontains="polygon") \
        .exclude(slug__startswith="ind-").order_by("title_zh")
    return [{"slug": b.slug, "title": (b.title_en if english and b.title_en else b.title_zh)} for b in found]


def page_context(request) -> dict:
    english, user = _english(), request.user
    tables = []
    all_joins = list(visible_joins(user).order_by("-created_at"))
    all_indicators = list(visible_indicators(user))
    for table in visible_tables(user).order_by("layer__title_zh"):
        layer = table.layer
        columns = _columns(layer, english)
        by_name = {c["name"]: c for c in columns}
        table_joins = []
        for record in (j for j in all_joins if j.table_id == table.pk):
            boundary = record.boundary
            table_joins.append({
                "id": record.pk, "boundary": boundary.title_en if english and boundary.title_en else boundary.title_zh,
                "boundary_version": record.boundary_version_number, "key": record.get_key_display(),
                "stale": joins.is_stale(record), "report": match_report(record, by_name),
                "indicators": [_indicator(i, english) for i in all_indicators if i.join_id == record.pk]})
        tables.append({
            "slug": layer.slug, "title": layer.title_en if english and layer.title_en else layer.title_zh,
            "level": table.get_level_display(), "rows": _number(layer.feature_count), "periods": table.periods,
            "columns": columns, "joins": table_joins, "can_edit": layer.can_edit(user)})
    return {"tables": tables, "boundaries": _boundaries(user, english) if user.is_authenticated else [],
            "keys": [("", _("依統計表本身的代碼"))] + [(k, str(label)) for k, label in StatJoin.Key.choices
                                                  if k != StatJoin.Key.CODE],
            "formulas": [(k, str(label)) for k, label in Indicator.Formula.choices],
            "methods": [(m, str(Style.Method(m).label)) for m in styles.METHODS[:-1]],
            "units": [("", _("依公式（預設）"))] + [(k, (words[1] if english else words[0]) or k)
                                                   for k, words in indicators.UNIT_WORDS.items() if k],
            "levels": [(k, str(label)) for k, label in Level.choices],
            "visibilities": Layer.Visibility.choices, "job": request.GET.get("job", "")}


def _indicator(indicator: Indicator, english: bool) -> dict:
    unit, unit_en = indicators.unit_of(indicator)
    return {"slug": indicator.slug, "title": indicator.title_en if english and indicator.title_en
            else indicator.title_zh, "formula": indicators.formula_text(indicator, english=english),
            "unit": (unit_en if english else unit) or "—", "period": indicator.period,
            "base_period": indicator.base_period,
            # the edit form's current values
            "title_zh": indicator.title_zh, "title_en": indicator.title_en, "formula_key": indicator.formula,
            "numerator": indicator.numerator, "denominator": indicator.denominator, "unit_key": indicator.unit,
            "decimals": indicator.decimals}


def _field_names() -> dict[str, str]:
    return {"files": _("檔案"), "title": _("名稱"), "level": _("層級"), "code_column": _("代碼欄位"),
            "unit": _("單位"), "decimals": _("小數位數"), "visibility": _("公開程度"),
            "boundary": _("邊界圖層"), "key": _("對應方式"), "title_zh": _("指標名稱"), "title_en": _("英文名稱"),
            "formula": _("公式"), "numerator": _("分子（欄位）"), "denominator": _("分母（比例、比值、每千人）"),
            "period": _("期別"), "base_period": _("比較的前期（兩期變化）"), "method": _("分級方法")}


def _problem(exc) -> str:
    """A DRF error as one line: 'field label: message; …' (what the API answers with 400, named as the form is)."""
    detail, names = getattr(exc, "detail", exc), _field_names()
    if isinstance(detail, dict):
        return "; ".join(f"{names.get(k, k)}: {' '.join(str(m) for m in (v if isinstance(v, list) else [v]))}"
                         for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(str(m) for m in detail)
    return str(detail)


def _join(request, data: dict) -> str:
    slug = data.get("target", "")
    table = visible_tables(request.user).filter(layer__slug=slug).first()
    if table is None:
        raise Http404("no such table")
    form = JoinForm(data={k: v for k, v in data.items() if k in ("boundary", "key") and v})
    form.is_valid(raise_exception=True)
    boundary = Layer.objects.visible_to(request.user).filter(slug=form.validated_data["boundary"]).first()
    if boundary is None:
        raise Http404("no such layer")
    try:
        record = joins.join(table, boundary, form.validated_data.get("key"), None, request.user, None)
    except ImportProblem as problem:
        raise ValidationError(problem.as_answer()) from problem
    return f"#join-{record.pk}"


def _new_indicator(request, posted: dict) -> str:
    data = {k: v for k, v in posted.items() if k in (
        "title_zh", "title_en", "join", "formula", "numerator", "denominator", "period", "base_period") and v}
    try:
        join = visible_joins(request.user).filter(pk=int(data.get("join", ""))).first()
    except ValueError:
        join = None
    if join is None:
        raise Http404("no such join")
    if not join.table.layer.can_edit(request.user):
        raise ValidationError({"join": _("只有統計表的權責機關與管理者可以定義它的指標")})
    wanted = slugify(posted.get("slug") or f"{join.table.layer.slug}-{data.get('formula', '')}-"
                     f"{data.get('numerator', '')}")[:40].strip("-") or "indicator"
    form = IndicatorForm(data={**data, "slug": wanted})
    form.is_valid(raise_exception=True)
    values = dict(form.validated_data)
    values.pop("join")
    indicator = define_indicator(join, request.user, values)
    return f"#indicator-{indicator.slug}"


def _draw(request, data: dict) -> str:
    """Publish the indicator's choropleth and open the viewer on it: a share link of a view with that layer only,
    framed on its extent (the viewer's own `?view=` parameter)."""
    indicator = visible_indicators(request.user).filter(slug=data.get("target", "")).first()
    if indicator is None:
        raise Http404("no such indicator")
    form = MapForm(data={k: v for k, v in data.items() if k in ("method", "class_count") and v})
    form.is_valid(raise_exception=True)
    try:
        layer = maps.publish(indicator, request.user, **form.validated_data)
    except (indicators.IndicatorProblem, styles.StyleError) as problem:
        raise ValidationError({problem.field: str(problem)}) from None
    west, south, east, north = integrity.lonlat_bbox(layer, 6) or (120.0, 22.0, 122.0, 25.3)
    span = max(east - west, north - south, 1e-4)
    zoom = max(6.0, min(16.0, math.floor(math.log2(500 * 360 / 256 / span) * 10) / 10))  # ~500 px: a phone too
    shared = SharedView.objects.create(state={
        "center": [round((west + east) / 2, 6), round((south + north) / 2, 6)], "zoom": zoom, "mode": "2d",
        "bearing": 0, "pitch": 0, "basemap": "", "layers": [{"slug": layer.slug, "opacity": 0.85, "visible": True}]},
        created_by=request.user)
    return f"{reverse('home')}?view={shared.code}"


def _posted(request) -> dict[str, str]:
    """The form's fields (or the same as a JSON object: scripts and the permission matrix post that)."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {k: v for k, v in request.POST.items()}


def _delete_indicator(request, data: dict) -> str:
    """Delete an indicator (its table's owner agency, its maker, admins), as DELETE /api/v1/stats/indicators/{slug}/."""
    indicator = visible_indicators(request.user).filter(slug=data.get("target", "")).first()
    if indicator is None:
        raise Http404("no such indicator")
    if not indicator.join.table.layer.can_edit(request.user):
        raise ValidationError({"target": _("只有統計表的權責機關與管理者可以刪除它的指標")})
    table = indicator.join.table.layer.slug
    indicator.delete()
    return f"#table-{table}"


def _edit_indicator(request, data: dict) -> str:
    """Change an indicator's names, unit and formula (its table's owner agency), as PATCH
    /api/v1/stats/indicators/{slug}/."""
    indicator = visible_indicators(request.user).filter(slug=data.get("target", "")).first()
    if indicator is None:
        raise Http404("no such indicator")
    if not indicator.join.table.layer.can_edit(request.user):
        raise ValidationError({"target": _("只有統計表的權責機關與管理者可以修改它的指標")})
    fields = ("title_zh", "title_en", "formula", "numerator", "denominator", "period", "base_period", "unit",
              "decimals")
    edit_indicator(indicator, {k: (v or None) if k in ("period", "base_period") else v
                               for k, v in data.items() if k in fields})
    return f"#indicator-{indicator.slug}"


class _Upload:
    """The page's multipart form as the API's request (data with the files, FILES, user) for start_import."""

    def __init__(self, request):
        self.data = request.POST.copy()
        self.data.setlist("files", request.FILES.getlist("files"))
        self.FILES, self.user = request.FILES, request.user
        self._request = request

    def __getattr__(self, name):
        return getattr(self._request, name)


def _upload(request, data: dict) -> str:
    """Import a statistical table from the page (as POST /api/v1/stats/tables/): back to the page, which names the
    import job (its table appears when the job has run)."""
    if not request.FILES.getlist("files"):
        raise ValidationError({"files": _("請選擇要上傳的檔案")})
    job = start_import(_Upload(request))
    return f"{reverse('stats-page')}?job={job.pk}#upload"


ACTIONS = {"join": _join, "indicator": _new_indicator, "draw": _draw, "delete_indicator": _delete_indicator,
           "edit_indicator": _edit_indicator, "upload": _upload}


@ensure_csrf_cookie
def stats_page(request):
    problem = None
    if request.method == "POST":
        data = _posted(request)
        action = ACTIONS.get(data.get("action", ""))
        if action is None or not request.user.is_authenticated:
            problem = _("請先登入") if not request.user.is_authenticated else _("不明的操作")
            return render(request, "web/stats.html", {**page_context(request), "problem": problem,
                                                     "sign_in_failed": False}, status=400)
        try:  # each action writes once (a join in its own transaction), as the API does
            target = action(request, data)
        except APIException as exc:
            problem = _problem(exc)
        else:
            return redirect(target if target.startswith("/") else reverse("stats-page") + target)
        return render(request, "web/stats.html", {**page_context(request), "problem": problem,
                                                 "sign_in_failed": False}, status=400)
    return render(request, "web/stats.html", {**page_context(request), "problem": problem,
                                             "sign_in_failed": request.session.pop("sign_in_failed", False)})
