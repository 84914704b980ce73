"""How fast a profile moves on a road, and which way a one-way road may be travelled — as SQL expressions over a
road layer's row (alias `t`), checked against the layer's attributes before a build starts."""

from psycopg2 import sql

from analysis.inputs import AnalysisInputError, number
from layers import attribute_kinds
from layers.models import Layer

# km/h when the layer says nothing; walking and cycling never go faster than this, whatever a road's car speed
DEFAULT_KMH = {"walking": 5.0, "cycling": 15.0, "driving": 40.0}
MAX_KMH = 200.0
MAX_TOLERANCE_M = 10.0
FORWARD = ("yes", "y", "true", "1", "ft", "f", "forward", "oneway", "單行", "順向")
BACKWARD = ("-1", "tf", "reverse", "backward", "逆向")
SETTINGS = ("tolerance", "speed_attribute", "class_attribute", "speeds", "oneway_attribute", "label_attribute",
            "restrictions", "road_id_attribute")


def _attribute(layer: Layer, name, what: str, numeric: bool = False) -> str:
    found = {a["name"]: a for a in layer.attributes}
    if name not in found:
        raise AnalysisInputError("{what}：圖層 {slug} 沒有屬性 {name}", what=what, slug=repr(layer.slug),
                                 name=repr(name))
    if numeric and found[name]["type"] not in attribute_kinds.NUMERIC_TYPES:
        raise AnalysisInputError("{what}：圖層 {slug} 沒有數值屬性 {name}", what=what, slug=repr(layer.slug),
                                 name=repr(name))
    return name


def check(layer: Layer, data: dict) -> dict:
    """The build settings of a request, each checked: a 400 names the field and the layer."""
    if layer.geometry_type not in ("LineString", "MultiLineString"):
        raise AnalysisInputError("圖層 {slug} 的圖徵是 {geometry}；路網需要線圖層（道路中心線）",
                                 slug=repr(layer.slug), geometry=layer.geometry_type or "?")
    profile = str(data.get("profile", "driving"))
    if profile not in DEFAULT_KMH:
        raise AnalysisInputError("profile：請填 {choices}", choices=", ".join(DEFAULT_KMH))
    out = {"profile": profile,
           "tolerance_m": number(data.get("tolerance", 1.0), "tolerance", 0, MAX_TOLERANCE_M, low_open=True),
           "speed_attribute": "", "class_attribute": "", "speeds": {}, "oneway_attribute": "", "label_attribute": ""}
    if data.get("speed_attribute"):
        out["speed_attribute"] = _attribute(layer, data["speed_attribute"], "speed_attribute", numeric=True)
    if data.get("class_attribute"):
        out["class_attribute"] = _attribute(layer, data["class_attribute"], "class_attribute")
        speeds = data.get("speeds")
        if not isinstance(speeds, dict) or not speeds:
            raise AnalysisInputError("speeds：請填各道路等級的時速（公里），例如 {\"arterial\": 60, \"local\": 30}")
        out["speeds"] = {str(k): number(v, f"speeds.{k}", 0, MAX_KMH, low_open=True) for k, v in speeds.items()}
    if data.get("oneway_attribute"):
        out["oneway_attribute"] = _attribute(layer, data["oneway_attribute"], "oneway_attribute")
    label = data.get("label_attribute")
    if label:
        out["label_attribute"] = _attribute(layer, label, "label_attribute")
    else:  # the road's name, when the layer has the usual column
        out["label_attribute"] = next((n for n in ("name", "road_name", "name_zh", "路名", "道路名稱")
                                       if any(a["name"] == n for a in layer.attributes)), "")
    return out


SPEED_NAMES = ("speed_kmh", "speed", "maxspeed", "max_speed", "速限", "速率")


def guessed(layer: Layer, profile: str) -> dict:
    """Build settings for a layer nobody has set up yet: its usual speed column (km/h), if it has one."""
    numeric = {a["name"] for a in layer.attributes if a["type"] in attribute_kinds.NUMERIC_TYPES}
    speed = next((n for n in SPEED_NAMES if n in numeric), None)
    return {"profile": profile, **({"speed_attribute": speed} if speed else {})}


def speed_kmh(network) -> sql.Composable:
    """The speed of a row of the road table `t` in km/h: the speed attribute, else the class's speed, else the
    profile's; never above the profile's for walking and cycling; a missing or non-positive value → default."""
    default = sql.Literal(DEFAULT_KMH[network.profile])
    given = default
    if network.speed_attribute:
        given = sql.SQL("coalesce(NULLIF(greatest({}::float8, 0), 0), {})").format(
            sql.Identifier("t", network.speed_attribute), default)
    elif network.class_attribute and network.speeds:
        cases = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(float(v)))
                                  for k, v in network.speeds.items())
        given = sql.SQL("(CASE {}::text {} ELSE {} END)").format(
            sql.Identifier("t", network.class_attribute), cases, default)
    if network.profile in ("walking", "cycling"):
        return sql.SQL("least({}, {})").format(given, default)
    return given


def direction(network) -> sql.Composable:
    """1 one-way along the line's drawing direction, -1 against it, 0 both ways (walking ignores one-way)."""
    if not network.oneway_attribute or network.profile == "walking":
        return sql.SQL("0")
    value = sql.SQL("lower(trim({}::text))").format(sql.Identifier("t", network.oneway_attribute))
    return sql.SQL("(CASE WHEN {v} = ANY({f}) THEN 1 WHEN {v} = ANY({b}) THEN -1 ELSE 0 END)").format(
        v=value, f=sql.Literal(list(FORWARD)), b=sql.Literal(list(BACKWARD)))


def label(network) -> sql.Composable:
    if not network.label_attribute:
        return sql.SQL("NULL::text")
    return sql.SQL("NULLIF(trim({}::text), '')").format(sql.Identifier("t", network.label_attribute))
