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

from . import Unanswerable, greedy
from .mps import LinearModel
from .result import EXACT_HIGHS, HEURISTIC, Siting
from .solver import SolverError, solve

MAX_EXACT_PAIRS = 2_000_000


def model(distance: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray,
          capacity: np.ndarray | None) -> LinearModel:
    m, n = distance.shape
    pairs = distance.nnz
    demand_of = np.repeat(np.arange(m), np.diff(distance.indptr))
    site_of = distance.indices
    p = np.arange(pairs)
    # columns: x (n sites, integer) then z (one per pair); rows: assignment (m), linking (pairs), count, capacity
    assign = sparse.csr_matrix((np.ones(pairs), (demand_of, n + p)), shape=(m, n + pairs))
    link = sparse.csr_matrix((np.concatenate([np.ones(pairs), -np.ones(pairs)]),
                              (np.concatenate([p, p]), np.concatenate([n + p, site_of]))), shape=(pairs, n + pairs))
    count = sparse.csr_matrix((np.ones(n), (np.zeros(n, int), np.arange(n))), shape=(1, n + pairs))
    blocks = [assign, link, count]
    lower = [np.ones(m), np.full(pairs, -np.inf), [k + fixed.sum()]]
    upper = [np.ones(m), np.zeros(pairs), [k + fixed.sum()]]
    if capacity is not None:
        cap = sparse.csr_matrix((np.concatenate([weight[demand_of], -np.asarray(capacity, float)]),
                                 (np.concatenate([site_of, np.arange(n)]), np.concatenate([n + p, np.arange(n)]))),
                                shape=(n, n + pairs))
        blocks.append(cap)
        lower.append(np.full(n, -np.inf))
        upper.append(np.zeros(n))
    return LinearModel(cost=np.concatenate([np.zeros(n), weight[demand_of] * distance.data]),
                       matrix=sparse.vstack(blocks).tocsc(), row_lower=np.concatenate(lower),
                       row_upper=np.concatenate(upper), lower=np.concatenate([fixed.astype(float), np.zeros(pairs)]),
                       upper=np.ones(n + pairs), n_integer=n)


def p_median(distance: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray | None = None,
             capacity: np.ndarray | None = None, method: str = "auto", time_limit: float = 60,
             gap: float = 0.0) -> Siting:
    """distance: demand × sites, the allowed pairs stored (explicit zeros count); weight per demand point."""
    t0 = time.perf_counter()
    distance = sparse.csr_matrix(distance)
    distance.sort_indices()
    m, n = distance.shape
    weight = np.asarray(weight, dtype=float)
    fixed = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
    if not 0 <= k <= int((~fixed).sum()):
        raise Unanswerable("k = {k}：只有 {candidates} 個候選場址", k=k, candidates=int((~fixed).sum()))
    if np.any(np.diff(distance.indptr) == 0):
        raise Unanswerable("有 {n} 個需求點在可及範圍內沒有任何場址", n=int(np.sum(np.diff(distance.indptr) == 0)))
    if capacity is not None and float(np.sum(np.asarray(capacity)[fixed])) + np.sort(
            np.asarray(capacity)[~fixed])[::-1][:k].sum() < weight.sum():
        raise Unanswerable("任何 k 個新場址加上既有場址的容量都無法服務全部需求")
    penalty = np.full(m, 10 * float(distance.data.max(initial=1.0)) + 1)  # "not yet served"
    start_from = _nearest_open(distance, fixed, penalty)
    order, _ = greedy.median_order(distance, weight, k, ~fixed, start_from)
    seconds = {"greedy": time.perf_counter() - t0}
    status, bound, solved_gap, chosen, note = "heuristic", None, None, order, ""
    if method == "exact" or (method == "auto" and distance.nnz <= MAX_EXACT_PAIRS):
        t1 = time.perf_counter()
        lm = model(distance, weight, k, fixed, capacity)
        seconds["model"] = time.perf_counter() - t1
        try:
            solution = solve(lm, time_limit=time_limit, gap=gap, solver="highs",
                             start=[*np.flatnonzero(fixed), *order] if capacity is None else None)
        except SolverError as exc:
            if capacity is not None:  # the greedy pick ignores capacities: it is no answer here
                raise Unanswerable("{reason}；有容量限制時只有精確模型能回答，請給更多時間", reason=str(exc)) from exc
            note = f" ({exc})"  # the greedy answer stands, labelled as such
        else:
            if solution.status == "infeasible":
                raise Unanswerable("沒有任何場址組合能在容量內服務全部需求" if capacity is not None
                                   else "沒有任何場址組合能透過其配對服務每個需求點")
            seconds["model"] += solution.load_seconds
            seconds["solve"] = solution.seconds
            chosen = [j for j in np.flatnonzero(solution.values[:n] > 0.5) if not fixed[j]]
            status, bound, solved_gap = solution.status, solution.bound, solution.gap
            shares = solution.values[n:]
    is_open = fixed.copy()
    is_open[chosen] = True
    nearest = _nearest_open(distance, is_open, penalty, want_site=True)
    if status == "heuristic" or capacity is None:
        objective = float(weight @ nearest[0])
        assignment = nearest[1]
    else:  # with capacities the model's split assignment is the answer, not the nearest site
        objective = float(weight[np.repeat(np.arange(m), np.diff(distance.indptr))] * distance.data @ shares)
        assignment = _largest_share(distance, shares)
    ranked, cuts = greedy.median_order(distance, weight, len(chosen), np.isin(np.arange(n), chosen), start_from)
    nxt = greedy.median_order(distance, weight, 1, ~is_open, nearest[0])[1]
    seconds["total"] = time.perf_counter() - t0
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective, bound=bound,
                  gap=solved_gap, status=status, method=EXACT_HIGHS if status != "heuristic" else HEURISTIC + note,
                  marginal_gain=cuts, next_gain=nxt[0] if nxt else 0.0, seconds=seconds, assignment=assignment)


def _nearest_open(distance: sparse.csr_matrix, is_open: np.ndarray, penalty: np.ndarray, want_site: bool = False):
    """Each demand point's distance to its nearest open site (penalty when none), and that site (or -1)."""
    best, site = penalty.copy(), np.full(distance.shape[0], -1)
    rows = np.repeat(np.arange(distance.shape[0]), np.diff(distance.indptr))
    usable = is_open[distance.indices]
    order = np.lexsort((distance.data[usable], rows[usable]))
    r, d, s = rows[usable][order], distance.data[usable][order], distance.indices[usable][order]
    first = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, bool)
    best[r[first]], site[r[first]] = d[first], s[first]
    return (best, site) if want_site else best


def _largest_share(distance: sparse.csr_matrix, shares: np.ndarray) -> np.ndarray:
    rows = np.repeat(np.arange(distance.shape[0]), np.diff(distance.indptr))
    order = np.lexsort((-shares, rows))
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    out = np.full(distance.shape[0], -1)
    out[rows[order][first]] = distance.indices[order][first]
    return out
