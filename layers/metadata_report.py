"""The catalog-wide 詮釋資料 report: per layer the caller may see, its completeness score and what is missing —
the city's list for cleaning up its layer metadata. One function for the API and the page alike."""

from django.contrib.auth.models import Group
from django.utils.translation import get_language
from rest_framework.exceptions import ValidationError

from accounts import rights
from geo.messages import worded

from . import metadata
from .models import Layer, Theme

ORDERINGS = ("score", "-score", "title")


def _title(layer: Layer, english: bool) -> str:
    return layer.title_en if english and layer.title_en else layer.title_zh


def report(user, agency: str = "", theme: str = "", ordering: str = "score", missing: str = "") -> dict:
    """{count, mean_score, complete, missing_counts: [{field, label, weight, count}], results: [row …]}.

    agency: an owner agency's name; theme: a theme's slug (its sub-themes included); missing: only layers that
    lack this recommended field; ordering: score (lowest first: most to do), -score, or title."""
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": worded("請使用 {choices} 其中之一", choices=", ".join(ORDERINGS))})
    fields = [field for field, _weight, _test in metadata.RECOMMENDED]
    if missing and missing not in fields:
        raise ValidationError({"missing": worded("請使用 {choices} 其中之一", choices=", ".join(fields))})
    layers = Layer.objects.visible_to(user).select_related("theme", "owner_agency")
    if agency:
        group = Group.objects.filter(name=agency).first()
        if group is None:
            raise ValidationError({"agency": worded("沒有機關 {agency}", agency=repr(agency))})
        layers = layers.filter(owner_agency=group)
    if theme:
        node = Theme.objects.filter(slug=theme).first()
        if node is None:
            raise ValidationError({"theme": worded("沒有主題 {theme}", theme=repr(theme))})
        layers = layers.filter(theme_id__in=node.descendant_ids())
    english = not (get_language() or "zh").startswith("zh")
    editable = set(rights.layers_where(user, "publish", layers).values_list("pk", flat=True))
    rows = []
    for layer in layers:
        found = metadata.completeness(layer)
        if missing and missing not in found["missing"]:
            continue
        rows.append({
            "slug": layer.slug, "title": _title(layer, english), "title_zh": layer.title_zh,
            "title_en": layer.title_en, "kind": layer.kind,
            "theme_path": [(t.name_en if english and t.name_en else t.name_zh) for t in layer.theme.ancestry()]
            if layer.theme else [],
            "owner_agency": layer.owner_agency.name if layer.owner_agency else None,
            "visibility": layer.visibility, "score": found["score"],
            "missing": metadata.labelled(found["missing"]),
            "can_edit": layer.pk in editable,
        })
    key = {"score": lambda r: (r["score"], r["title"]), "-score": lambda r: (-r["score"], r["title"]),
           "title": lambda r: r["title"]}[ordering]
    rows.sort(key=key)
    counts = {field: sum(1 for r in rows if any(m["field"] == field for m in r["missing"])) for field in fields}
    return {
        "count": len(rows),
        "mean_score": round(sum(r["score"] for r in rows) / len(rows), 1) if rows else None,
        "complete": sum(1 for r in rows if r["score"] == 100),
        "missing_counts": [{**item, "count": counts[item["field"]]} for item in metadata.labelled(fields)],
        "results": rows,
    }
