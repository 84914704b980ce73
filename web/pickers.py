"""What the decision pages' pickers offer: for each role a layer can play in an analysis (candidates, demand,
constraints, existing facilities, a DEM, a road network, hotspots and their usage, a sensor registry), the layers
this user may see that can play it — by geometry and by the kinds of their attributes (layers/attribute_kinds.py)
— and which layer is chosen first (the demo city's, when present, so the pages open as they always did)."""

from layers import attribute_kinds
from layers.models import Layer

SHAPES = {"Point": "point", "MultiPoint": "point", "LineString": "line", "MultiLineString": "line",
          "Polygon": "polygon", "MultiPolygon": "polygon"}
# role → (shapes it takes, attribute kinds the layer needs, each at least once)
ROLES = {
    "candidates": (("polygon", "point"), ()),
    "demand": (("polygon", "point"), ("count",)),
    "constraints": (("polygon",), ()),
    "existing": (("point",), ()),
    "distance": (("point", "line", "polygon"), ()),
    "dem": (("raster",), ()),
    "network": (("line",), ()),
    "competitors": (("point",), ()),
    "hotspots": (("point",), ()),
    "usage": (("table",), ("date", "count")),  # daily records: a day and counts
    "sensors": (("point",), ()),
}
# which attributes a picker offers for a chosen layer, by kind (the page lists them with labels and units)
ATTRIBUTE_KINDS = {
    "demand": ["count"],
    "filter": ["category"],
    "score": ["count", "measure", "ratio", "money"],
    "category": ["category"],
}
# the demo city's layers, chosen first when the user may see them
DEFAULTS = {"candidates": "parcels", "demand": "villages", "constraints": ["flood-zones"], "existing": "facilities",
            "distance": "roads", "dem": "demo-dem", "network": "roads", "hotspots": "wifi-hotspots",
            "usage": "wifi-usage", "sensors": "air-sensors"}
# roles a page can leave empty (no existing facilities, straight-line distances, no slope limit, no competitors)
OPTIONAL = ("existing", "dem", "network", "competitors")
# the demo city's attributes, chosen first when the chosen layer has them
DEFAULT_ATTRIBUTES = {"demand": "population", "candidates_filter": "land_use_code", "existing_filter": "kind",
                      "score": "land_value"}


def shape_of(layer: Layer) -> str | None:
    if layer.kind == Layer.Kind.RASTER:
        return "raster"
    if layer.kind == Layer.Kind.TABLE:
        return "table"
    if layer.kind == Layer.Kind.VECTOR:
        return SHAPES.get(layer.geometry_type)
    return None  # another agency's service: nothing to analyse here


def kinds_of(layer: Layer) -> set[str]:
    return {attribute_kinds.described(a).get("kind") for a in layer.attributes}


def roles_of(layer: Layer) -> list[str]:
    shape = shape_of(layer)
    kinds = kinds_of(layer)
    return [role for role, (shapes, needed) in ROLES.items()
            if shape in shapes and set(needed) <= kinds]


def table_entry(layer: Layer) -> dict:
    from .viewer import attribute_entry

    return {"slug": layer.slug, "title_zh": layer.title_zh, "title_en": layer.title_en, "kind": layer.kind,
            "geometry_type": "", "attributes": [attribute_entry(a) for a in layer.attributes]}


def pickers(layers: list[Layer], drawn: set[str]) -> dict:
    """The pickers' choices among `layers` (what the user may see; vectors and rasters only when the page's
    configuration carries their entry, `drawn`), the attribute tables' entries (the viewer's list has none) and
    the defaults that are present."""
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    tables = []
    for layer in layers:
        if layer.kind == Layer.Kind.TABLE:
            tables.append(table_entry(layer))
        elif layer.slug not in drawn:
            continue
        for role in roles_of(layer):
            roles[role].append(layer.slug)
    defaults = {}
    for role, default in DEFAULTS.items():
        if isinstance(default, list):
            defaults[role] = [s for s in default if s in roles[role]]
        else:
            fallback = None if role in OPTIONAL or not roles[role] else roles[role][0]
            defaults[role] = default if default in roles[role] else fallback
    return {"roles": roles, "defaults": defaults, "default_attributes": DEFAULT_ATTRIBUTES,
            "attribute_kinds": ATTRIBUTE_KINDS, "tables": tables}
