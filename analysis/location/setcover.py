"""Maximal coverage with the fewest sites (ArcGIS's "minimize facilities", set covering): cover all the demand any
site can reach within the cutoff, opening as few new sites as possible besides the existing ones.

    minimise Σ x_j   s.t.  Σ_{j covers i} x_j ≥ 1 for every demand point some site reaches,   x binary

Demand no site reaches is reported (`unreachable`), not covered; demand the existing sites cover leaves the
model, and demand points with the same covering sites become one row (as in `covering`).
"""

import time

import numpy as np
from scipy import sparse

from . import Unanswerable, assignment, greedy
from .covering import merge_identical_rows
from .distances import pattern
from .mps import LinearModel
from .result import EXACT, HEURISTIC, Siting


def model(cover: sparse.csr_matrix) -> LinearModel:
    m, n = cover.shape
    return LinearModel(cost=np.ones(n), matrix=cover.tocsc(), row_lower=np.ones(m), row_upper=np.full(m, np.inf),
                       lower=np.zeros(n), upper=np.ones(n), n_integer=n)


def min_facilities(coverage: sparse.csr_matrix, weight: np.ndarray, fixed: np.ndarray | None = None,
                   method: str = "auto", time_limit: float = 60, gap: float = 0.0) -> Siting:
    """coverage: demand × sites (a stored pair = within reach); the number of new sites is the answer."""
    t0 = time.perf_counter()
    coverage = pattern(coverage)
    n_sites = coverage.shape[1]
    weight = np.asarray(weight, dtype=float)
    fixed = np.zeros(n_sites, bool) if fixed is None else np.asarray(fixed, bool)
    lost = assignment.unreachable(coverage, weight)
    if lost["points"] == coverage.shape[0]:
        raise Unanswerable("{n} 個需求點都到不了任何場址", n=coverage.shape[0])
    covered_by_fixed = np.asarray(coverage[:, fixed].sum(axis=1)).ravel() > 0
    order, gains = greedy.cover_order(coverage, weight, int((~fixed).sum()), ~fixed, covered_by_fixed)
    needed = int(np.sum(np.asarray(gains) > 0))  # the greedy adds sites until nothing is left to cover
    order = order[:needed]
    seconds = {"greedy": time.perf_counter() - t0}
    status, bound, solved_gap, chosen, note = "heuristic", None, None, order, ""
    candidates = np.flatnonzero(~fixed)
    need = ~covered_by_fixed & ~lost["mask"] & (weight > 0)
    if method in ("auto", "exact") and need.any():
        position = np.full(n_sites, -1)
        position[candidates] = np.arange(len(candidates))
        cover, _w = merge_identical_rows(coverage[need][:, candidates].tocsr(), weight[need])
        lm = assignment.timed_model(lambda: model(cover), seconds)
        found = assignment.exact(lm, np.zeros(len(candidates), bool), [int(position[j]) for j in order], seconds,
                                 time_limit, gap, solver="cbc")
        if "note" in found:
            note = found["note"]
        else:
            solution = found["solution"]
            chosen = [int(candidates[j]) for j in found["chosen"]]
            status, solved_gap = solution.status, solution.gap
            bound = float(np.ceil(solution.bound - 1e-6))  # of the number of new sites
    elif not need.any():
        status, chosen, solved_gap, bound = "optimal", [], 0.0, 0.0  # the existing sites cover it all already
    is_open = fixed.copy()
    is_open[chosen] = True
    covered = np.asarray(coverage[:, is_open].sum(axis=1)).ravel() > 0
    only_chosen = np.zeros(n_sites, bool)
    only_chosen[chosen] = True
    ranked, gains = greedy.cover_order(coverage, weight, len(chosen), only_chosen, covered_by_fixed)
    seconds["total"] = time.perf_counter() - t0
    objective = float(weight[covered].sum())
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective,
                  bound=objective, gap=solved_gap, status=status, method=EXACT if status != "heuristic" else
                  HEURISTIC + note, marginal_gain=gains, next_gain=0.0, seconds=seconds, covered=covered,
                  already_covered=float(weight[covered_by_fixed].sum()), coverage=coverage,
                  unreachable=lost["points"], unreachable_weight=lost["weight"],
                  extra={"facilities": len(ranked), "facilities_bound": bound})
