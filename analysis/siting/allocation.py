"""Location-allocation on map data: demand points, candidate and existing sites (and competitors), straight-line
metres or travel minutes on a road network (pgRouting, network/) — the shared step of facility siting, hotspot
and sensor planning. The six problem types ArcGIS offers:

    covering       maximise coverage: the most demand within the reach with k new sites (capacities: capacitated)
    set_covering   maximise coverage with the fewest sites: everything reachable covered, k is the answer
    p_median       minimise weighted distance or travel time (capacities allowed)
    attendance     maximise attendance: demand falls off with distance or time (decay), capacities allowed
    market_share   maximise market share among competitors (Huff gravity model)
    target_share   the fewest sites capturing a target market share among competitors
"""

import numpy as np

from geo.messages import Worded

from ..inputs import AnalysisInputError, alternatives, distance_m, metres, number, readable_layer
from ..location import decay, distances
from ..location.attendance import max_attendance
from ..location.covering import maximal_covering
from ..location.market_share import max_market_share, target_market_share
from ..location.pmedian import p_median
from ..location.result import Siting
from ..location.setcover import min_facilities

MODELS = ("covering", "set_covering", "p_median", "attendance", "market_share", "target_share")
NO_K = ("set_covering", "target_share")  # the number of sites is the answer
REACH_NEEDED = ("covering", "set_covering")  # a reach (radius or minutes) is the problem
CAPACITATED = ("covering", "p_median", "attendance")
MARKET = ("market_share", "target_share")
DECAYING = ("attendance", "market_share", "target_share")
PROFILES = ("driving", "walking", "cycling")
MAX_MEDIAN_PAIRS = 300_000  # demand points × sites the exact assignment models take in about a minute here
DEMAND_CELL_M = {"covering": 100.0, "set_covering": 100.0}  # areas spread over a grid: coarser for the others
COARSE_CELL_M = 250.0
MAX_CUTOFF_MIN = 120.0


def check(spec, user, n_max: int = 200) -> dict:
    """The allocation options, checked: model, k, reach (radius m or cutoff_min on a network), network layer and
    profile, decay, capacity, competitors, target, time limit, gap."""
    if not isinstance(spec, dict):
        raise AnalysisInputError("allocation：請填含 model、k 與 radius 的物件")
    model = spec.get("model", "covering")
    if model not in MODELS:
        raise AnalysisInputError("allocation.model：請使用 {choices}", choices=alternatives(MODELS))
    out = {**spec, "model": model,
           "demand_cell": metres(spec.get("demand_cell", DEMAND_CELL_M.get(model, COARSE_CELL_M)),
                                 "allocation.demand_cell", 2000)}
    if model not in NO_K or spec.get("k") is not None:
        try:
            k = int(spec.get("k"))
        except (TypeError, ValueError):
            raise AnalysisInputError("allocation.k：請填新設場址的數目（整數）") from None
        if not 1 <= k <= n_max:
            raise AnalysisInputError("allocation.k：{k} 不在 1–{maximum} 之間", k=k, maximum=n_max)
        out["k"] = k
    if spec.get("network"):
        layer = readable_layer(spec["network"], user)
        if layer.geometry_type not in ("LineString", "MultiLineString"):
            raise AnalysisInputError("allocation.network：圖層 {slug} 的圖徵是 {geometry}，不是道路線",
                                     slug=repr(layer.slug), geometry=layer.geometry_type)
        out["profile"] = str(spec.get("profile", "driving"))
        if out["profile"] not in PROFILES:
            raise AnalysisInputError("allocation.profile：請使用 {choices}", choices=alternatives(PROFILES))
        _network_usable(layer, out["profile"], user)
        out.pop("radius", None)
        if model in REACH_NEEDED or spec.get("cutoff_min") is not None:
            out["cutoff_min"] = number(spec.get("cutoff_min"), "allocation.cutoff_min", 0, MAX_CUTOFF_MIN,
                                       low_open=True)
        if spec.get("snap_limit") is not None:
            out["snap_limit"] = metres(spec["snap_limit"], "allocation.snap_limit", 5000)
    elif model in REACH_NEEDED or spec.get("radius") is not None:
        out["radius"] = distance_m(spec.get("radius"), "allocation.radius")
    for key, low, high in (("time_limit", 1, 600), ("gap", 0, 0.5)):
        if spec.get(key) is not None:
            number(spec[key], f"allocation.{key}", low, high)
    if spec.get("min_spacing") is not None:
        if model != "covering":
            raise AnalysisInputError("allocation.min_spacing：最小間距只適用於 covering 模型")
        out["min_spacing"] = distance_m(spec["min_spacing"], "allocation.min_spacing")
    if spec.get("capacity") is not None:
        if model not in CAPACITATED:
            raise AnalysisInputError("allocation.capacity：容量只適用於 {models} 模型",
                                     models=alternatives(CAPACITATED))
        out["capacity"] = number(spec["capacity"], "allocation.capacity", 0, 1e12, low_open=True)
    if model in DECAYING:
        out["decay"] = _decay(spec.get("decay"), model, out)
    if spec.get("competitors") is not None:
        if model not in ("market_share", "target_share"):
            raise AnalysisInputError("allocation.competitors：競爭者只適用於 market_share 與 target_share 模型")
        competitors = spec["competitors"] if isinstance(spec["competitors"], dict) else {"layer": spec["competitors"]}
        readable_layer(competitors.get("layer"), user)
        out["competitors"] = competitors
    if model == "target_share":
        out["target"] = number(spec.get("target"), "allocation.target", 0, 100,
                               low_open=True)
    return out


def _decay(value, model: str, spec: dict) -> dict:
    value = value if isinstance(value, dict) else {"kind": value} if value else {}
    reach = spec.get("cutoff_min") or spec.get("radius")
    kind = value.get("kind") or ("linear" if model == "attendance" and reach else "power")
    if kind not in decay.KINDS:
        raise AnalysisInputError("allocation.decay.kind：請使用 {choices}", choices=alternatives(decay.KINDS))
    if kind == "linear" and not reach:
        raise AnalysisInputError("allocation.decay：線性遞減需要涵蓋範圍（radius 公尺或 cutoff_min 分鐘）")
    out = {"kind": kind}
    if value.get("beta") is not None:
        out["beta"] = number(value["beta"], "allocation.decay.beta", 0, 10, low_open=True)
    return out


def _network_usable(layer, profile: str, user) -> None:
    """A network being built or whose build failed is a 400 now; a missing one is built by the job."""
    from network import inputs
    from network.models import Network

    if Network.objects.filter(layer=layer, profile=profile).exists():
        inputs.network_of({"roads": layer.slug, "profile": profile}, user)


def unit(spec: dict) -> str:
    """The unit of the impedance: minutes on a network, metres in a straight line."""
    return "min" if spec.get("network") else "m"


def costs(spec: dict, demand_xy: np.ndarray, site_xy: np.ndarray, user) -> tuple:
    """Demand × sites impedances (the pairs within the reach; all pairs without one) and the demand and sites off
    the network (beyond its snapping limit: unreachable)."""
    reach = spec.get("cutoff_min") if spec.get("network") else spec.get("radius")
    if spec.get("network"):
        from network import building
        from network import costs as network_costs

        network = building.ready(readable_layer(spec["network"], user), spec.get("profile", "driving"), user)
        found = network_costs.matrix(network, demand_xy, site_xy, reach, spec.get("snap_limit", 500.0))
        return found.minutes, int(found.demand_off_road.sum()), int(found.sites_off_road.sum())
    if spec["model"] in REACH_NEEDED and not spec.get("capacity"):
        return distances.within(demand_xy, site_xy, reach), 0, 0
    if reach:
        return distances.within_distance(demand_xy, site_xy, reach), 0, 0
    return distances.nearest(demand_xy, site_xy, len(site_xy)), 0, 0


def reach_outlines(spec: dict, new_xy: np.ndarray, existing_xy: np.ndarray, user) -> dict:
    """The area whence demand reaches each new and each existing site within `cutoff_min` on the network (lon/lat
    GeoJSON, a service area's generalised hull; None for a site off the network): drawn around the sites on the
    page's map and the report's."""
    from network import building, service_area

    network = building.ready(readable_layer(spec["network"], user), spec.get("profile", "driving"), user)
    both = service_area.outlines(network, np.concatenate([np.reshape(new_xy, (-1, 2)),
                                                          np.reshape(existing_xy, (-1, 2))]), spec["cutoff_min"])
    return {"minutes": spec["cutoff_min"], "new": both[:len(new_xy)], "existing": both[len(new_xy):]}


def allocate(spec: dict, demand_xy: np.ndarray, weight: np.ndarray, site_xy: np.ndarray, fixed: np.ndarray,
             user, competitor_xy: np.ndarray | None = None, attractiveness: tuple = (None, None)) -> Siting:
    """Sites 0…n-1 of `site_xy`; `fixed` marks the existing ones, kept open; competitors (market share) apart;
    attractiveness (market share): per site and per competitor, or None for 1 each."""
    if not len(demand_xy):
        raise AnalysisInputError("allocation：沒有需要服務的需求（沒有帶權重的需求點）")
    model, k = spec["model"], spec.get("k")
    if k is not None and k > int((~fixed).sum()):
        raise AnalysisInputError("allocation.k：要求新設 {k} 處場址，但只有 {candidates} 個候選地符合限制條件", k=k,
                                 candidates=int((~fixed).sum()))
    rivals = np.zeros((0, 2)) if competitor_xy is None else competitor_xy
    everything = np.concatenate([site_xy, rivals])
    assigning = model not in REACH_NEEDED or spec.get("capacity")  # a model with a column per pair
    if assigning and not (spec.get("cutoff_min") or spec.get("radius")):
        _check_size(len(demand_xy) * len(everything))
    matrix, demand_off, sites_off = costs(spec, demand_xy, everything, user)
    if assigning:
        _check_size(matrix.nnz)
    if not spec.get("network") and model in DECAYING:
        matrix = matrix.multiply(1 / 1000).tocsr()  # decay reads kilometres in a straight line
    ours, theirs = matrix[:, :len(site_xy)].tocsr(), matrix[:, len(site_xy):].tocsr()
    reach = spec.get("cutoff_min") or (spec.get("radius", 0) / 1000 if model in DECAYING else spec.get("radius"))
    options = {"time_limit": float(spec.get("time_limit") or 60), "gap": float(spec.get("gap") or 0)}
    capacity = np.full(len(site_xy), float(spec["capacity"])) if spec.get("capacity") else None
    shape = spec.get("decay", {})
    try:
        if model == "covering" and capacity is not None:
            sites = max_attendance(ours, weight, k, fixed, kind="none", capacity=capacity, **options)
        elif model == "covering":
            conflicts = distances.closer_than(site_xy, spec["min_spacing"]) if spec.get("min_spacing") else None
            sites = maximal_covering(ours, weight, k, fixed, conflicts=conflicts, **options)
        elif model == "set_covering":
            sites = min_facilities(ours, weight, fixed, **options)
        elif model == "p_median":
            sites = p_median(ours, weight, k, fixed, capacity=capacity, **options)
        elif model == "attendance":
            sites = max_attendance(ours, weight, k, fixed, kind=shape["kind"], cutoff=reach, beta=shape.get("beta"),
                                   capacity=capacity, **options)
        else:
            ours_pull, theirs_pull = attractiveness
            market = {"competitors": theirs, "kind": shape["kind"], "cutoff": reach, "beta": shape.get("beta"),
                      "fixed": fixed, "attractiveness": ours_pull, "competitor_attractiveness": theirs_pull, **options}
            sites = (max_market_share(ours, weight, k, **market) if model == "market_share"
                     else target_market_share(ours, weight, spec["target"] / 100, **market))
    except AnalysisInputError:
        raise  # worded already (it is a ValueError too: not to be wrapped twice)
    except ValueError as exc:  # the models' own explanations (unreachable demand, capacities too small …)
        raise AnalysisInputError("allocation：{reason}",
                                 reason=exc.text() if isinstance(exc, Worded) else str(exc)) from exc
    sites.extra |= {"unit": unit(spec), "demand_off_road": demand_off, "sites_off_road": sites_off}
    if spec.get("network") and spec.get("cutoff_min"):
        sites.extra["by_break"] = reach_by_break(ours, weight, fixed, sites.chosen, spec["cutoff_min"])
    return sites


BREAK_STEPS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180)


def breaks_up_to(cutoff: float) -> list[float]:
    """The answer's time breaks: the two usual ones below the cutoff (5, 10, 15 … minutes) and the cutoff itself."""
    return [*[b for b in BREAK_STEPS if b < cutoff][-2:], float(cutoff)]


def reach_by_break(minutes, weight: np.ndarray, fixed: np.ndarray, chosen, cutoff: float) -> list[dict]:
    """Demand (people, when the demand counts them) within each break of the existing sites, and of the existing
    and the new sites together — read from the travel-time matrix the models solved on, so the cutoff's figure is
    the page's covered demand (the service-area tool's per-break population, on the demand's own points)."""
    def nearest(columns) -> np.ndarray:
        best = np.full(minutes.shape[0], np.inf)
        if len(columns):
            sub = minutes[:, list(columns)].tocoo()
            np.minimum.at(best, sub.row, sub.data)
        return best

    existing = nearest(np.flatnonzero(fixed))
    both = nearest([*np.flatnonzero(fixed), *chosen])
    return [{"break_min": b, "existing": round(float(weight[existing <= b].sum()), 6),
             "with_new": round(float(weight[both <= b].sum()), 6)} for b in breaks_up_to(cutoff)]


def _check_size(pairs: int) -> None:
    if pairs > MAX_MEDIAN_PAIRS:
        raise AnalysisInputError(
            "allocation：{pairs} 組需求點與場址的配對超過精確模型能處理的 {maximum} 組：請調低 allocation.pool、"
            "縮小涵蓋範圍，或把 allocation.demand_cell 設得粗一些", pairs=f"{pairs:,}", maximum=f"{MAX_MEDIAN_PAIRS:,}")
