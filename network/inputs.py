"""What every network tool's request names: the network (a road layer the user may see, and a profile) and
time breaks in minutes."""

from analysis.inputs import AnalysisInputError, number, readable_layer

from .models import Network

MAX_BREAK_MIN = 240.0  # four hours: beyond that a city's network answers nothing useful
MAX_BREAKS = 10


def network_of(data: dict, user) -> Network:
    """The ready network of `roads` for `profile`; a road layer the user may not see answers as a missing one."""
    layer = readable_layer(data.get("roads"), user)
    profile = str(data.get("profile", "driving"))
    network = Network.objects.select_related("layer").filter(layer=layer, profile=profile).first()
    if network is None:
        raise AnalysisInputError("roads：圖層 {slug} 還沒有 {profile} 路網；請先建立（POST /api/v1/analysis/network/）",
                                 slug=repr(layer.slug), profile=profile)
    if network.status == Network.Status.PENDING:
        raise AnalysisInputError("roads：圖層 {slug} 的 {profile} 路網還在建立中；請稍候再試", slug=repr(layer.slug),
                                 profile=profile)
    if network.status == Network.Status.FAILED:
        raise AnalysisInputError("roads：圖層 {slug} 的 {profile} 路網建立失敗：{reason}", slug=repr(layer.slug),
                                 profile=profile, reason=network.error or "?")
    return network


def breaks_min(value) -> list[float]:
    """1–10 positive times in minutes, at most MAX_BREAK_MIN, ascending and distinct."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BREAKS:
        raise AnalysisInputError("breaks：請填 1 到 {n} 個時間（分鐘），例如 [5, 10, 15]", n=MAX_BREAKS)
    return sorted({number(b, "breaks", 0, MAX_BREAK_MIN, low_open=True) for b in value})


def whole_number(value, what: str, low: int, high: int) -> int:
    out = number(value, what, low, high)
    if out != int(out):
        raise AnalysisInputError("{what}：請填整數", what=what)
    return int(out)


def minutes(seconds: float) -> float:
    return round(float(seconds) / 60, 2)

