"""Maximal attendance: open k new sites (besides the existing ones) so that the most demand attends, when each
demand point goes to its nearest open site and only a fraction f(t) of it comes, falling with the travel time t
(`decay`); with capacities a site takes at most its capacity of attendance (demand may then be split).

    maximise Σ w_i f(t_ij) z_ij   s.t.  Σ_j z_ij ≤ 1,   z_ij ≤ x_j,   Σ x_j = k + existing,
                                       [Σ_i w_i f(t_ij) z_ij ≤ cap_j x_j],   x binary,   z ≥ 0

It is a p-median on the attendance lost, 1 − f(t) (1 for demand no open site reaches), so the greedy order and
the model are the p-median's (`assignment`, `greedy.median_order`). With `decay="none"` every pair counts fully:
maximal covering with capacities.
"""

import time

import numpy as np
from scipy import sparse

from . import assignment, decay, greedy
from .result import EXACT_HIGHS, HEURISTIC, Siting

MAX_EXACT_PAIRS = 2_000_000


def max_attendance(cost: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray | None = None,
                   kind: str = "linear", cutoff: float | None = None, beta: float | None = None,
                   capacity: np.ndarray | None = None, method: str = "auto", time_limit: float = 60,
                   gap: float = 0.0) -> Siting:
    """cost: demand × sites travel times, the pairs within the cutoff stored (explicit zeros count)."""
    t0 = time.perf_counter()
    cost, weight, fixed, lost = assignment.prepared(cost, weight, fixed, k)
    m, n = cost.shape
    share = decay.factor(cost.data, kind, cutoff, beta)
    loss = sparse.csr_matrix((1.0 - share, cost.indices, cost.indptr), shape=cost.shape)
    none_yet = np.ones(m)  # a demand point no open site reaches loses all of its attendance
    start_from = assignment.nearest_open(loss, fixed, none_yet)[0]
    order, _ = greedy.median_order(loss, weight, k, ~fixed, start_from)
    seconds = {"greedy": time.perf_counter() - t0}
    status, bound, solved_gap, chosen, note, values = "heuristic", None, None, order, "", None
    if method == "exact" or (method == "auto" and cost.nnz <= MAX_EXACT_PAIRS):
        demand_of = np.repeat(np.arange(m), np.diff(cost.indptr))
        comes = weight[demand_of] * share
        lm = assignment.timed_model(lambda: assignment.model(cost, -comes, k, fixed, capacity, comes, serve_all=False),
                                    seconds)
        found = assignment.exact(lm, fixed, order, seconds, time_limit, gap, warm=capacity is None)
        if "note" in found:
            note = found["note"]
        else:
            solution, chosen, values = found["solution"], found["chosen"], found["values"][n:]
            status, bound, solved_gap = solution.status, -solution.bound, solution.gap
    is_open = fixed.copy()
    is_open[chosen] = True
    nearest = assignment.nearest_open(loss, is_open, none_yet)
    if values is None or capacity is None:
        objective = float(weight @ (1.0 - nearest[0]))
        served_by = nearest[1]
    else:  # with capacities the model's split is the answer
        objective = float(comes @ values)
        served_by = assignment.largest_share(cost, values)
    ranked, gains = greedy.median_order(loss, weight, len(chosen), np.isin(np.arange(n), chosen), start_from)
    nxt = greedy.median_order(loss, weight, 1, ~is_open, nearest[0])[1]
    seconds["total"] = time.perf_counter() - t0
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective, bound=bound,
                  gap=solved_gap, status=status, method=EXACT_HIGHS if status != "heuristic" else HEURISTIC + note,
                  marginal_gain=gains, next_gain=nxt[0] if nxt else 0.0, seconds=seconds, assignment=served_by,
                  already_covered=float(weight @ (1.0 - start_from)), unreachable=lost["points"],
                  unreachable_weight=lost["weight"])
