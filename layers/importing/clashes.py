"""Name clashes of an upload: the layers the user can see that an uploaded dataset would be named after — so the
upload dialog can offer a new version of that layer, a new layer beside it, or to cancel. A layer the user may
not see is no clash (its slug is simply not free: the new layer takes the next one, as for a missing layer)."""

from pathlib import Path

from django.db.models import Q

from layers.models import Layer
from layers.naming import layer_slug

CHOICES = ("new_version", "new_layer", "cancel")


def find(datasets: list[tuple[Path, str]], data: dict, user) -> list[dict]:
    """[{file, slug, title_zh, title_en, can_replace}] for each dataset whose would-be slug, or whose given title,
    is a layer's the user can see."""
    found = []
    visible = Layer.objects.visible_to(user)
    for _path, name in datasets:
        slug = data["slug"] if data.get("slug") and len(datasets) == 1 else layer_slug(Path(name).stem,
                                                                                     data.get("title", ""))
        layer = visible.filter(slug=slug).first()
        if layer is None and data.get("title"):
            layer = visible.filter(Q(title_zh=data["title"]) | Q(title_en=data["title"])).order_by("pk").first()
        if layer is not None:
            found.append({"file": name, "slug": layer.slug, "title_zh": layer.title_zh, "title_en": layer.title_en,
                          "can_replace": layer.may(user, "import") and layer.kind in (Layer.Kind.VECTOR,
                                                                                 Layer.Kind.RASTER)})
    return found


def choices(datasets: list, found: list[dict]) -> list[str]:
    """A new version needs one dataset and a layer the user may change; the other two are always open."""
    replace = len(datasets) == 1 and len(found) == 1 and found[0]["can_replace"]
    return [c for c in CHOICES if c != "new_version" or replace]
