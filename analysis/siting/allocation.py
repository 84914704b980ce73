"""Location-allocation on map data: demand points, candidate and existing sites, straight-line or road
distances — the shared step of facility siting, hotspot and sensor planning."""

import numpy as np
import shapely
from django.db import connection
from psycopg2 import sql

from layers.models import DATA_SCHEMA

from ..inputs import AnalysisInputError, distance_m, metres, number, readable_layer
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
        raise AnalysisInputError("allocation: give an object with model, k and radius")
    model = spec.get("model", "covering")
    if model not in MODELS:
        raise AnalysisInputError(f"allocation.model: use {' or '.join(MODELS)}")
    try:
        k = int(spec.get("k"))
    except (TypeError, ValueError):
        raise AnalysisInputError("allocation.k: give the number of new sites (a whole number)") from None
    if not 1 <= k <= n_max:
        raise AnalysisInputError(f"allocation.k: {k} is outside 1–{n_max}")
    out = {**spec, "model": model, "k": k,
           "demand_cell": metres(spec.get("demand_cell", DEMAND_CELL_M[model]), "allocation.demand_cell", 2000)}
    if model == "covering" or spec.get("radius") is not None:
        out["radius"] = distance_m(spec.get("radius"), "allocation.radius")
    if spec.get("network"):
        layer = readable_layer(spec["network"], user)
        if layer.geometry_type not in ("LineString", "MultiLineString"):
            raise AnalysisInputError(f"allocation.network: layer {layer.slug!r} has {layer.geometry_type} features, "
                                     "not road lines")
    for key, low, high in (("time_limit", 1, 600), ("gap", 0, 0.5)):
        if spec.get(key) is not None:
            number(spec[key], f"allocation.{key}", low, high)
    if spec.get("min_spacing") is not None:
        if model != "covering":
            raise AnalysisInputError("allocation.min_spacing: a minimum spacing applies to the covering model")
        out["min_spacing"] = distance_m(spec["min_spacing"], "allocation.min_spacing")
    if spec.get("capacity") is not None and model != "p_median":
        raise AnalysisInputError("allocation.capacity: capacities apply to the p_median model")
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
        raise AnalysisInputError("allocation: there is no demand to serve (no demand point with weight)")
    k = spec["k"]
    if k > int((~fixed).sum()):
        raise AnalysisInputError(f"allocation.k: {k} new sites asked for, but only {int((~fixed).sum())} candidates "
                                 "pass the constraints")
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
                f"allocation: a p-median of {len(demand_xy):,} demand points × {len(site_xy):,} sites ({pairs:,} pairs)"
                f" is more than the exact model takes ({MAX_MEDIAN_PAIRS:,}): lower allocation.pool or make "
                "allocation.demand_cell coarser")
        if graph:  # every site within the limit (all of them in a city, by default)
            dist = graph.distances(demand_xy, site_xy, spec.get("radius") or 50_000)
        else:
            dist = distances.nearest(demand_xy, site_xy, len(site_xy))
        capacity = None
        if spec.get("capacity") is not None:
            capacity = np.full(len(site_xy), float(spec["capacity"]))
        return p_median(dist, weight, k, fixed, capacity=capacity, **options)
    except ValueError as exc:  # the models' own explanations (unreachable demand, capacities too small …)
        raise AnalysisInputError(f"allocation: {exc}") from exc
