"""p-median: open k new sites (besides the existing ones) so that the total weighted distance from each demand
point to the site serving it is least, optionally with site capacities (demand may then be split).

    minimise Σ w_i d_ij z_ij   s.t.  Σ_j z_ij = 1,   z_ij ≤ x_j,   Σ x_j = k + existing,
                                    [Σ_i w_i z_ij ≤ cap_j x_j],   x binary (existing fixed at 1),   z ≥ 0

Only the pairs in the distance matrix exist (all pairs for small instances; the nearest sites or those within
reach for large ones — the caller says which, and the answer is exact for that restriction).
"""

import time

import numpy as np
from scipy import sparse

from . import Unanswerable, assignment, greedy
from .mps import LinearModel
from .result import EXACT_HIGHS, HEURISTIC, Siting

MAX_EXACT_PAIRS = 2_000_000


def model(distance: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray,
          capacity: np.ndarray | None) -> LinearModel:
    demand_of = np.repeat(np.arange(distance.shape[0]), np.diff(distance.indptr))
    return assignment.model(distance, weight[demand_of] * distance.data, k, fixed, capacity, weight[demand_of])


def p_median(distance: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray | None = None,
             capacity: np.ndarray | None = None, method: str = "auto", time_limit: float = 60,
             gap: float = 0.0) -> Siting:
    """distance: demand × sites, the allowed pairs stored (explicit zeros count); weight per demand point. Demand
    no site reaches (no stored pair) is left out and reported (`unreachable`), never assigned."""
    t0 = time.perf_counter()
    distance, weight, fixed, lost = assignment.prepared(distance, weight, fixed, k)
    m, n = distance.shape
    if lost["points"] == m:
        raise Unanswerable("{n} 個需求點都到不了任何場址", n=m)
    served = weight * ~lost["mask"]
    if capacity is not None and float(np.sum(np.asarray(capacity)[fixed])) + np.sort(
            np.asarray(capacity)[~fixed])[::-1][:k].sum() < served.sum():
        raise Unanswerable("任何 k 個新場址加上既有場址的容量都無法服務全部需求")
    penalty = np.full(m, 10 * float(distance.data.max(initial=1.0)) + 1)  # "not yet served"
    start_from = assignment.nearest_open(distance, fixed, penalty)[0]
    order, _ = greedy.median_order(distance, served, k, ~fixed, start_from)
    seconds = {"greedy": time.perf_counter() - t0}
    status, bound, solved_gap, chosen, note = "heuristic", None, None, order, ""
    if method == "exact" or (method == "auto" and distance.nnz <= MAX_EXACT_PAIRS):
        keep = ~lost["mask"]
        reached = distance[keep]
        lm = assignment.timed_model(lambda: model(reached, weight[keep], k, fixed, capacity), seconds)
        found = assignment.exact(lm, fixed, order, seconds, time_limit, gap, warm=capacity is None,
                                 infeasible="沒有任何場址組合能在容量內服務全部需求" if capacity is not None
                                 else "沒有任何場址組合能透過其配對服務每個需求點")
        if "note" in found:
            note = found["note"]
        else:
            solution, chosen = found["solution"], found["chosen"]
            status, bound, solved_gap = solution.status, solution.bound, solution.gap
            shares = np.zeros(distance.nnz)
            shares[np.repeat(keep, np.diff(distance.indptr))] = found["values"][n:]
    is_open = fixed.copy()
    is_open[chosen] = True
    nearest = assignment.nearest_open(distance, is_open, penalty)
    if status == "heuristic" or capacity is None:
        objective = float(served @ np.where(lost["mask"], 0.0, nearest[0]))
        assignment_of = nearest[1]
    else:  # with capacities the model's split assignment is the answer, not the nearest site
        objective = float(weight[np.repeat(np.arange(m), np.diff(distance.indptr))] * distance.data @ shares)
        assignment_of = assignment.largest_share(distance, shares)
    ranked, cuts = greedy.median_order(distance, served, len(chosen), np.isin(np.arange(n), chosen), start_from)
    nxt = greedy.median_order(distance, served, 1, ~is_open, nearest[0])[1]
    seconds["total"] = time.perf_counter() - t0
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective, bound=bound,
                  gap=solved_gap, status=status, method=EXACT_HIGHS if status != "heuristic" else HEURISTIC + note,
                  marginal_gain=cuts, next_gain=nxt[0] if nxt else 0.0, seconds=seconds, assignment=assignment_of,
                  unreachable=lost["points"], unreachable_weight=lost["weight"])
