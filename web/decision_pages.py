"""The decision-support pages — 公有場館選址 (siting wizard), 免費無線上網熱點 and 物聯網感測器: each a page of its
own with its own script, on the viewer's configuration (layers, basemaps, strings) plus what the page asks the
API for and the choices its forms offer."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from layers.models import Layer
from layers.serving.values import attribute_values

from .decision_strings import decision_strings
from .pickers import pickers
from .viewer import viewer_config

# the demo city's form choices, shown first when its layers are chosen: the values an attribute's filter offers
# (labelled by a sibling attribute), the ones ticked or selected at first, and the values read with the page
DEMO_VALUES = (("parcels", "land_use_code", "land_use"), ("facilities", "kind", "kind_zh"))
# land uses offered as candidates at first: where a public facility can usually be built
DEMO_CHOSEN = {"parcels|land_use_code": ["government", "commercial", "residential"],
               "facilities|kind": ["sports_centre"]}


def preloaded_values(visible: dict[str, Layer]) -> dict[str, list[dict]]:
    """The demo layers' filter values the user may see, read with the page (other layers' on demand)."""
    out = {}
    for slug, attribute, label in DEMO_VALUES:
        layer = visible.get(slug)
        names = {a["name"] for a in layer.attributes} if layer else set()
        if attribute in names:
            out[f"{slug}|{attribute}"] = attribute_values(layer, attribute, label if label in names else None)["values"]
    return out


def page_config(request, urls: dict, **extra) -> dict:
    config = viewer_config(request.user, every_layer=True)
    config["strings"] |= decision_strings()
    config["urls"] |= {"features": reverse("layer-features", args=["xslugx"]).replace("xslugx", "{slug}"), **urls}
    config["signed_in"] = request.user.is_authenticated
    visible = list(Layer.objects.visible_to(request.user).exclude(kind=Layer.Kind.SERVICE)
                   .order_by("theme__order", "title_zh"))
    config["pickers"] = pickers(visible, {entry["slug"] for entry in config["layers"]})
    config["urls"]["values"] = reverse("layer-values", args=["xslugx"]).replace("xslugx", "{slug}")
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
        values=preloaded_values(visible), chosen_values=DEMO_CHOSEN)
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
