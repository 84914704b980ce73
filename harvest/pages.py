"""/harvest/: 外部服務匯集 — the registered remote sources, a form to register one, a run on demand and the latest runs'
reports, for administrators (superusers; a missing page for everyone else). The same rules as /api/v1/harvest/."""

from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from geo.hidden_routes import is_superuser
from layers.models import Layer, Theme

from . import runner
from .api import SourceSerializer
from .models import HarvestRun, HarvestSource

FIELD_LABELS = {"name": gettext_lazy("名稱"), "slug": gettext_lazy("代稱"), "kind": gettext_lazy("服務類型"),
                "url": gettext_lazy("網址"), "theme": gettext_lazy("主題"), "visibility": gettext_lazy("可見範圍"),
                "every_hours": gettext_lazy("匯集間隔（小時）")}


def harvest_page(request):
    if not is_superuser(request.user):
        raise Http404("no such page")
    problem = ""
    if request.method == "POST":
        form = request.POST.get("form")
        if form == "add":
            data = {k: request.POST.get(k, "") for k in ("name", "slug", "kind", "url", "visibility", "every_hours")}
            data["theme"] = request.POST.get("theme") or None
            serializer = SourceSerializer(data=data)
            if serializer.is_valid():
                with transaction.atomic():
                    source = serializer.save(created_by=request.user,
                                             owner_agency=request.user.groups.order_by("name").first())
                    source.schedule_next()
                    source.save(update_fields=["next_run_at"])
                    runner.start(source, "demand")
                request.session["harvest_saved"] = _("已登錄「%(name)s」，第一次匯集已開始") % {"name": source.name}
                return redirect("harvest-page")
            problem = "；".join(f"{FIELD_LABELS.get(field, field)}：{' '.join(str(m) for m in messages)}"
                                for field, messages in serializer.errors.items())
        elif form == "run":
            source = HarvestSource.objects.filter(pk=request.POST.get("source") or 0).first() \
                if (request.POST.get("source") or "").isdigit() else None
            if source is None:
                problem = _("沒有這個來源")
            elif source.runs.filter(state__in=[HarvestRun.State.QUEUED, HarvestRun.State.RUNNING]).exists():
                problem = _("「%(name)s」正在匯集中，請稍候") % {"name": source.name}
            else:
                with transaction.atomic():
                    runner.start(source, "demand")
                request.session["harvest_saved"] = _("「%(name)s」的匯集已開始") % {"name": source.name}
                return redirect("harvest-page")
        else:
            problem = _("不明的表單")
    sources = list(HarvestSource.objects.select_related("theme").order_by("name"))
    for source in sources:
        source.last = source.runs.first()
        source.held = source.layers.count()
    return render(request, "harvest/sources.html", {
        "sources": sources, "runs": HarvestRun.objects.select_related("source")[:15],
        "kinds": HarvestSource.Kind.choices, "visibilities": Layer.Visibility.choices,
        "themes": Theme.objects.select_related("parent").order_by("order", "name_zh"),
        "form": request.POST if problem else {}, "problem": problem,
        "saved": request.session.pop("harvest_saved", "")}, status=400 if problem else 200)
