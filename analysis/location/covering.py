"""Maximal covering: open k new sites (besides the existing ones) to cover the most demand weight within reach.

    maximise Σ w_i y_i   s.t.  y_i ≤ Σ_{j covers i} x_j,   Σ x_j = k,   x binary,   0 ≤ y ≤ 1

y may be continuous: with x integer the best y_i is min(1, Σ x_j), itself 0 or 1. Before solving, demand the
existing sites already cover (and demand nothing can cover) leaves the model, demand points with the same set of
covering sites become one row (weights added), and a row one site alone covers becomes that site's own
objective term — the same optimum with fewer rows.
"""

import time

import numpy as np
from scipy import sparse

from . import greedy
from .distances import pattern
from .mps import LinearModel
from .result import EXACT, HEURISTIC, Siting
from .solver import solve

MAX_EXACT_PAIRS = 20_000_000  # above this the greedy heuristic answers (and says so)


def _merge_identical_rows(cover: sparse.csr_matrix, weight: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    keys = [cover.indices[a:b].tobytes() for a, b in zip(cover.indptr[:-1], cover.indptr[1:], strict=True)]
    group: dict[bytes, int] = {}
    which = np.fromiter((group.setdefault(k, len(group)) for k in keys), np.int64, len(keys))
    first = np.full(len(group), len(keys))
    np.minimum.at(first, which, np.arange(len(keys)))
    return cover[first], np.bincount(which, weights=weight, minlength=len(group))


def reduced(coverage: sparse.csr_matrix, weight: np.ndarray, fixed: np.ndarray):
    """(rows × candidate columns, row weights, per-candidate own weight, candidate → site index, base weight)."""
    coverage = pattern(coverage)
    by_fixed = np.asarray(coverage[:, fixed].sum(axis=1)).ravel() > 0
    base = float(weight[by_fixed].sum())
    candidates = np.flatnonzero(~fixed)
    cover = coverage[:, candidates].tocsr()
    keep = ~by_fixed & (np.diff(cover.indptr) > 0) & (weight > 0)
    cover, w = _merge_identical_rows(cover[keep], weight[keep])
    single = np.diff(cover.indptr) == 1
    own = np.bincount(cover.indices[cover.indptr[:-1][single]], weights=w[single], minlength=len(candidates))
    return cover[~single], w[~single], own, candidates, base


def model(cover: sparse.csr_matrix, w: np.ndarray, own: np.ndarray, k: int) -> LinearModel:
    m, n = cover.shape
    matrix = sparse.vstack([sparse.hstack([-cover, sparse.identity(m)]),
                            sparse.hstack([sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, m))])]).tocsc()
    return LinearModel(cost=np.concatenate([-own, -w]), matrix=matrix,
                       row_lower=np.concatenate([np.full(m, -np.inf), [k]]),
                       row_upper=np.concatenate([np.zeros(m), [k]]),
                       lower=np.zeros(n + m), upper=np.ones(n + m), n_integer=n)


def maximal_covering(coverage: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray | None = None,
                     method: str = "auto", time_limit: float = 60, gap: float = 0.0) -> Siting:
    """coverage: demand × sites (nonzero = within reach); weight per demand point; fixed: mask of open sites."""
    t0 = time.perf_counter()
    n_sites = coverage.shape[1]
    weight = np.asarray(weight, dtype=float)
    fixed = np.zeros(n_sites, bool) if fixed is None else np.asarray(fixed, bool)
    if not 0 <= k <= int((~fixed).sum()):
        raise ValueError(f"k = {k}: there are {int((~fixed).sum())} candidate sites")
    coverage = pattern(coverage)
    covered_by_fixed = np.asarray(coverage[:, fixed].sum(axis=1)).ravel() > 0
    allowed = ~fixed
    order, _ = greedy.cover_order(coverage, weight, k, allowed, covered_by_fixed)
    seconds = {"greedy": time.perf_counter() - t0}
    exact = method == "exact" or (method == "auto" and coverage.nnz <= MAX_EXACT_PAIRS)
    bound = solved_gap = None
    status = "heuristic"
    chosen = order
    if exact and k > 0:
        t1 = time.perf_counter()
        cover, w, own, candidates, base = reduced(coverage, weight, fixed)
        lm = model(cover, w, own, k)
        position = np.full(n_sites, -1)
        position[candidates] = np.arange(len(candidates))
        seconds["model"] = time.perf_counter() - t1
        solution = solve(lm, time_limit=time_limit, gap=gap, start=[int(position[j]) for j in order])
        seconds["model"] += solution.load_seconds
        seconds["solve"] = solution.seconds
        chosen = [int(candidates[j]) for j in np.flatnonzero(solution.values[:len(candidates)] > 0.5)]
        bound, solved_gap, status = base - solution.bound, solution.gap, solution.status
    is_open = fixed.copy()
    is_open[chosen] = True
    covered = np.asarray(coverage[:, is_open].sum(axis=1)).ravel() > 0
    objective = float(weight[covered].sum())
    only_chosen = np.zeros(n_sites, bool)
    only_chosen[chosen] = True
    ranked, gains = greedy.cover_order(coverage, weight, len(chosen), only_chosen, covered_by_fixed)
    nxt = greedy.cover_order(coverage, weight, 1, ~is_open, covered)[1]
    seconds["total"] = time.perf_counter() - t0
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective,
                  bound=bound, gap=solved_gap, status=status, method=EXACT if status != "heuristic" else HEURISTIC,
                  marginal_gain=gains, next_gain=nxt[0] if nxt else 0.0, seconds=seconds, covered=covered)
