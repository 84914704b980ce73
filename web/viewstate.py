"""A map view as the viewer describes it (centre, zoom, 2D/3D, layers with opacity and filter, markers), checked.

The same description is stored behind a share link and sent to the print service; `visible_part` cuts it down
to what the person opening it may see, so a link made by a signed-in user shows only public layers to
someone signed out.
"""

from layers.models import Layer
from layers.serving import filters
from layers.serving.access import BadRequest

MAX_LAYERS = 200
MAX_MARKERS = 500
MODES = ("2d", "3d")


class ViewStateError(ValueError):
    """A view description that cannot be used: the message names the field (answered 400)."""


def _number(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ViewStateError(f"{field}: give a number")
    if not low <= value <= high:
        raise ViewStateError(f"{field}: {value} is outside {low}–{high}")
    return float(value)


def clean(state) -> dict:
    if not isinstance(state, dict):
        raise ViewStateError("state: give an object with center, zoom and layers")
    center = state.get("center")
    if not isinstance(center, list | tuple) or len(center) != 2:
        raise ViewStateError("state.center: give [longitude, latitude]")
    out = {
        "center": [_number(center[0], "state.center[0] (longitude)", -180, 180),
                   _number(center[1], "state.center[1] (latitude)", -85, 85)],
        "zoom": _number(state.get("zoom"), "state.zoom", 0, 22),
        "mode": state.get("mode", "2d"),
        "bearing": _number(state.get("bearing", 0), "state.bearing", -360, 360),
        "pitch": _number(state.get("pitch", 0), "state.pitch", 0, 85),
        "basemap": str(state.get("basemap", ""))[:60],
        "layers": [],
    }
    if out["mode"] not in MODES:
        raise ViewStateError(f"state.mode: use {' or '.join(MODES)}")
    layers = state.get("layers", [])
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
        raise ViewStateError(f"state.layers: give a list of at most {MAX_LAYERS} layers")
    for i, entry in enumerate(layers):
        if isinstance(entry, str):
            entry = {"slug": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("slug"), str):
            raise ViewStateError(f"state.layers[{i}]: give {{slug, opacity, visible}}")
        kept = {"slug": entry["slug"][:50],
                "opacity": _number(entry.get("opacity", 1), f"state.layers[{i}].opacity", 0, 1),
                "visible": bool(entry.get("visible", True))}
        try:  # a layer's filter travels with the view; checked against the layer where it is applied
            layer_filter = filters.check_shape(entry.get("filter"), f"state.layers[{i}].filter")
        except BadRequest as exc:
            raise ViewStateError(str(exc)) from None
        if layer_filter:
            kept["filter"] = layer_filter
        out["layers"].append(kept)
    return out


def visible_part(state: dict, user) -> dict:
    """The view with only the layers `user` may see and the markers shared with them (the others are left out
    without a word): a marker a link keeps with a group shows only to that group's members."""
    wanted = [entry["slug"] for entry in state.get("layers", [])]
    allowed = set(Layer.objects.visible_to(user).filter(slug__in=wanted).values_list("slug", flat=True))
    groups = set(user.groups.values_list("pk", flat=True)) if user is not None and user.is_authenticated else set()
    markers = [{k: v for k, v in m.items() if k != "group"} for m in state.get("markers", [])
               if m.get("group") is None or m["group"] in groups]
    return {**state, "layers": [entry for entry in state.get("layers", []) if entry["slug"] in allowed],
            **({"markers": markers} if "markers" in state else {})}
