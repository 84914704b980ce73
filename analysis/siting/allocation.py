"""Location-allocation on map data: demand points, candidate and existing sites, straight-line or road
distances — the shared step of facility siting, hotspot and sensor planning."""

import numpy as np
import shapely
from django.db import connection
from psycopg2 import sql

from geo.messages import Worded
from layers.models import DATA_SCHEMA

from ..inputs import AnalysisInputError, alternatives, distance_m, metres, number, readable_layer
from ..location import distances
from ..location.covering import maximal_covering
from ..location.pmedian import p_median
from ..location.result import Siting
from ..location.road_network import RoadGraph

MODELS = ("covering", "p_median")
MAX_MEDIAN_PAIRS = 300_000  # demand points × sites the exact p-median takes in about a minute here (README)
DEMAND_CELL_M = {"covering": 100.0, "p_median": 250.0}  # areas spread over a grid: coarser for the p-median


def check(spec, user, n_max: int = 200) -> dict:
    """The allocation options, checked: model, k, radius, network layer, time limit, gap."""
    if not isinstance(spec, dict):
        raise AnalysisInputError("allocation：請填含 model、k 與 radius 的物件")
    model = spec.get("model", "covering")
    if model not in MODELS:
        raise AnalysisInputError("allocation.model：請使用 {choices}", choices=alternatives(MODELS))
    try:
        k = int(spec.get("k"))
    except (TypeError, ValueError):
        raise AnalysisInputError("allocation.k：請填新設場址的數目（整數）") from None
    if not 1 <= k <= n_max:
        raise AnalysisInputError("allocation.k：{k} 不在 1–{maximum} 之間", k=k, maximum=n_max)
    out = {**spec, "model": model, "k": k,
           "demand_cell": metres(spec.get("demand_cell", DEMAND_CELL_M[model]), "allocation.demand_cell", 2000)}
    if model == "covering" or spec.get("radius") is not None:
        out["radius"] = distance_m(spec.get("radius"), "allocation.radius")
    if spec.get("network"):
        layer = readable_layer(spec["network"], user)
        if layer.geometry_type not in ("LineString", "MultiLineString"):
            raise AnalysisInputError("allocation.network：圖層 {slug} 的圖徵是 {geometry}，不是道路線",
                                     slug=repr(layer.slug), geometry=layer.geometry_type)
    for key, low, high in (("time_limit", 1, 600), ("gap", 0, 0.5)):
        if spec.get(key) is not None:
            number(spec[key], f"allocation.{key}", low, high)
    if spec.get("min_spacing") is not None:
        if model != "covering":
            raise AnalysisInputError("allocation.min_spacing：最小間距只適用於 covering 模型")
        out["min_spacing"] = distance_m(spec["min_spacing"], "allocation.min_spacing")
    if spec.get("capacity") is not None and model != "p_median":
        raise AnalysisInputError("allocation.capacity：容量只適用於 p_median 模型")
    return out


def road_graph(slug: str, user) -> RoadGraph:
    layer = readable_layer(slug, user)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_AsBinary(geom) FROM {}").format(sql.Identifier(DATA_SCHEMA, layer.table_name)))
        lines = shapely.from_wkb([bytes(r[0]) for r in cur.fetchall()])
    return RoadGraph(lines)


def allocate(spec: dict, demand_xy: np.ndarray, weight: np.ndarray, site_xy: np.ndarray, fixed: np.ndarray,
             user) -> Siting:
    """Sites 0…n-1 of `site_xy`; `fixed` marks the existing ones, kept open."""
    if not len(demand_xy):
        raise AnalysisInputError("allocation：沒有需要服務的需求（沒有帶權重的需求點）")
    k = spec["k"]
    if k > int((~fixed).sum()):
        raise AnalysisInputError("allocation.k：要求新設 {k} 處場址，但只有 {candidates} 個候選地符合限制條件", k=k,
                                 candidates=int((~fixed).sum()))
    graph = road_graph(spec["network"], user) if spec.get("network") else None
    options = {"time_limit": float(spec.get("time_limit") or 60), "gap": float(spec.get("gap") or 0)}
    try:
        if spec["model"] == "covering":
            radius = spec["radius"]
            cover = graph.distances(demand_xy, site_xy, radius) if graph else distances.within(demand_xy, site_xy,
                                                                                                radius)
            conflicts = distances.closer_than(site_xy, spec["min_spacing"]) if spec.get("min_spacing") else None
            return maximal_covering(cover, weight, k, fixed, conflicts=conflicts, **options)
        pairs = len(demand_xy) * len(site_xy)
        if pairs > MAX_MEDIAN_PAIRS:
            raise AnalysisInputError(
                "allocation：{demand} 個需求點 × {sites} 個場址（{pairs} 組）的 p-median "
                "超過精確模型能處理的 {maximum} 組：請調低 allocation.pool，或把 allocation.demand_cell 設得粗一些",
                demand=f"{len(demand_xy):,}", sites=f"{len(site_xy):,}", pairs=f"{pairs:,}",
                maximum=f"{MAX_MEDIAN_PAIRS:,}")
        if graph:  # every site within the limit (all of them in a city, by default)
            dist = graph.distances(demand_xy, site_xy, spec.get("radius") or 50_000)
        else:
            dist = distances.nearest(demand_xy, site_xy, len(site_xy))
        capacity = None
        if spec.get("capacity") is not None:
            capacity = np.full(len(site_xy), float(spec["capacity"]))
        return p_median(dist, weight, k, fixed, capacity=capacity, **options)
    except AnalysisInputError:
        raise  # worded already (it is a ValueError too: not to be wrapped twice)
    except ValueError as exc:  # the models' own explanations (unreachable demand, capacities too small …)
        raise AnalysisInputError("allocation：{reason}",
                                 reason=exc.text() if isinstance(exc, Worded) else str(exc)) from exc
