"""The decision-support pages — 公有場館選址 (siting wizard), 免費無線上網熱點 and 物聯網感測器: each a page of its
own with its own script, on the viewer's configuration (layers, basemaps, strings) plus what the page asks the
API for and the choices its forms offer."""

from django.db import connection
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.csrf import ensure_csrf_cookie
from psycopg2 import sql

from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer

from .decision_strings import decision_strings
from .viewer import viewer_config

MAX_CHOICES = 50
# land uses offered as candidates at first: where a public facility can usually be built
CANDIDATE_USES = ("government", "commercial", "residential")


def _value_label(layer: Layer | None, attribute: str, value, shown=None):
    """A category value as the page's language says it (the attribute's value labels: 住宅區 → Residential zone,
    sports_centre → 運動中心 / Sports centre); else `shown` (a label column's text) or the value itself."""
    described = next((a for a in (layer.attributes if layer else []) if a["name"] == attribute), {})
    said = attribute_kinds.value_label(described, value, english=not (get_language() or "zh").startswith("zh"))
    return shown if said == value and shown is not None else said


def distinct_values(layer: Layer | None, attribute: str, label: str | None = None) -> list[dict]:
    """A layer's values of one attribute (with a label attribute, e.g. kind and kind_zh), for a form's options."""
    names = {a["name"] for a in layer.attributes} if layer else set()
    if attribute not in names:
        return []
    label = label if label in names else attribute
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {a}::text, min({l}::text), count(*) FROM {t} WHERE {a} IS NOT NULL GROUP BY 1"
                            " ORDER BY 3 DESC LIMIT %s").format(
            a=sql.Identifier(attribute), l=sql.Identifier(label), t=sql.Identifier(DATA_SCHEMA, layer.table_name)),
            [MAX_CHOICES])
        return [{"value": v, "label": lab, "count": n} for v, lab, n in cur.fetchall()]


def page_config(request, urls: dict, **extra) -> dict:
    config = viewer_config(request.user)
    config["strings"] |= decision_strings()
    config["urls"] |= {"job": reverse("importjob-detail", args=[0]).replace("/0/", "/{id}/"),
                       "features": reverse("layer-features", args=["xslugx"]).replace("xslugx", "{slug}"), **urls}
    config["signed_in"] = request.user.is_authenticated
    return config | extra


def _render(request, template: str, config: dict):
    return render(request, template, {"config": config, "sign_in_failed": request.session.pop("sign_in_failed", False)})


@ensure_csrf_cookie  # the page POSTs to the API with the session: DRF wants the CSRF token
def siting_page(request):
    visible = {layer.slug: layer for layer in Layer.objects.visible_to(request.user)}
    config = page_config(
        request, {"siting": reverse("analysis-siting"),
                  "siting_report": reverse("analysis-siting-report", args=[0, "xnamex"]).replace("/0/", "/{id}/")
                  .replace("xnamex", "{name}")},
        facility_kinds=[{**k, "label": _value_label(visible.get("facilities"), "kind", k["value"], k["label"])}
                        for k in distinct_values(visible.get("facilities"), "kind", "kind_zh")],
        land_uses=[{**u, "label": _value_label(visible.get("parcels"), "land_use", u["label"]),
                    "checked": u["value"] in CANDIDATE_USES}
                   for u in distinct_values(visible.get("parcels"), "land_use_code", "land_use")])
    return _render(request, "web/siting.html", config)


@ensure_csrf_cookie
def wifi_page(request):
    config = page_config(request, {"wifi_usage": reverse("analysis-wifi-usage"),
                                   "wifi_coverage": reverse("analysis-wifi-coverage"),
                                   "wifi_recommend": reverse("analysis-wifi-recommend")})
    return _render(request, "web/wifi.html", config)


@ensure_csrf_cookie
def sensors_page(request):
    config = page_config(request, {
        "siting": reverse("analysis-siting"), "iot_latest": reverse("iot-latest"), "iot_alerts": reverse("iot-alerts"),
        "iot_rejects": reverse("iot-rejects"),
        "iot_series": reverse("iot-series", args=["xidx"]).replace("xidx", "{id}")})
    return _render(request, "web/sensors.html", config)
