"""The 詮釋資料 report page: every layer the visitor may see with its metadata completeness and what it lacks,
sortable and filtered by agency and theme, each row opening the layer's dialog on the map (layers.metadata_report
gives the rows; the API /api/v1/metadata/report/ gives the same)."""

from django.contrib.auth.models import Group
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from rest_framework.exceptions import ValidationError

from layers import metadata_report
from layers.models import Layer, Theme


def metadata_report_page(request):
    params = {k: request.GET.get(k, "") for k in ("agency", "theme", "missing")}
    ordering = request.GET.get("ordering", "score")
    problem = None
    try:
        found = metadata_report.report(request.user, ordering=ordering, **params)
    except ValidationError as exc:  # a hand-edited address: the whole list, and what was wrong with it
        problem = "; ".join(str(m) for messages in exc.detail.values() for m in messages)
        params, ordering = {"agency": "", "theme": "", "missing": ""}, "score"
        found = metadata_report.report(request.user)
    visible = Layer.objects.visible_to(request.user)
    agencies = Group.objects.filter(owned_layers__in=visible).distinct().order_by("name")
    english = not (get_language() or "zh").startswith("zh")
    themes = [(t.slug, " › ".join((a.name_en if english and a.name_en else a.name_zh) for a in t.ancestry()))
              for t in Theme.objects.select_related("parent").order_by("order", "name_zh")]
    home = reverse("home")
    for row in found["results"]:
        row["open_url"] = f"{home}?{urlencode({'layer_dialog': row['slug'], 'tab': 'metadata'})}"
    sort_links = {key: f"?{urlencode({**params, 'ordering': key})}" for key in metadata_report.ORDERINGS}
    return render(request, "web/metadata_report.html", {
        "report": found, "params": params, "ordering": ordering, "problem": problem, "agencies": agencies,
        "themes": themes, "sort_links": sort_links,
        "score_link": sort_links["-score" if ordering == "score" else "score"], "fields": found["missing_counts"],
        "sign_in_failed": request.session.pop("sign_in_failed", False)})
