"""Sites serve demand through pairs: the model and the solve that p-median, maximal attendance and capacitated
coverage share. Only the pairs stored in the demand × sites matrix exist (those within the cutoff).

    minimise Σ c_p z_p   s.t.  Σ_{p of i} z_p (= 1, or ≤ 1 when demand may stay unserved),   z_p ≤ x_j(p),
                              Σ x_j = k + existing,   [Σ_{p at j} load_p z_p ≤ cap_j x_j],
                              x binary (existing fixed at 1),   z ≥ 0

p-median: c = w·d, every demand point served. Attendance: c = −w·f(d), a demand point goes to at most one site.
With capacities demand may be split between sites (z fractional), as in ArcGIS's capacitated problems.
"""

import time

import numpy as np
from scipy import sparse

from . import Unanswerable
from .mps import LinearModel
from .solver import SolverError, solve


def model(pairs: sparse.csr_matrix, cost: np.ndarray, k: int, fixed: np.ndarray, capacity: np.ndarray | None = None,
          load: np.ndarray | None = None, serve_all: bool = True) -> LinearModel:
    """pairs: demand × sites (sorted CSR; its stored pairs are the z columns, in that order); cost and load per
    pair; capacity per site."""
    m, n = pairs.shape
    n_pairs = pairs.nnz
    demand_of = np.repeat(np.arange(m), np.diff(pairs.indptr))
    site_of = pairs.indices
    p = np.arange(n_pairs)
    # columns: x (n sites, integer) then z (one per pair); rows: assignment (m), linking (pairs), count, capacity
    assign = sparse.csr_matrix((np.ones(n_pairs), (demand_of, n + p)), shape=(m, n + n_pairs))
    link = sparse.csr_matrix((np.concatenate([np.ones(n_pairs), -np.ones(n_pairs)]),
                              (np.concatenate([p, p]), np.concatenate([n + p, site_of]))), shape=(n_pairs, n + n_pairs))
    count = sparse.csr_matrix((np.ones(n), (np.zeros(n, int), np.arange(n))), shape=(1, n + n_pairs))
    blocks = [assign, link, count]
    opened = k + int(fixed.sum())
    lower = [np.ones(m) if serve_all else np.full(m, -np.inf), np.full(n_pairs, -np.inf), [opened]]
    upper = [np.ones(m), np.zeros(n_pairs), [opened]]
    if capacity is not None:
        cap = sparse.csr_matrix((np.concatenate([load, -np.asarray(capacity, float)]),
                                 (np.concatenate([site_of, np.arange(n)]), np.concatenate([n + p, np.arange(n)]))),
                                shape=(n, n + n_pairs))
        blocks.append(cap)
        lower.append(np.full(n, -np.inf))
        upper.append(np.zeros(n))
    return LinearModel(cost=np.concatenate([np.zeros(n), cost]), matrix=sparse.vstack(blocks).tocsc(),
                       row_lower=np.concatenate(lower), row_upper=np.concatenate(upper),
                       lower=np.concatenate([fixed.astype(float), np.zeros(n_pairs)]),
                       upper=np.ones(n + n_pairs), n_integer=n)


def prepared(cost, weight, fixed, k: int | None) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, dict]:
    """The instance as the models read it: sorted CSR costs, float weights, the existing sites' mask (k checked
    against the candidates), and the demand no site reaches."""
    cost = sparse.csr_matrix(cost)
    cost.sort_indices()
    weight = np.asarray(weight, dtype=float)
    fixed = np.zeros(cost.shape[1], bool) if fixed is None else np.asarray(fixed, bool)
    if k is not None:
        check_k(k, fixed)
    return cost, weight, fixed, unreachable(cost, weight)


def check_k(k: int, fixed: np.ndarray) -> None:
    if not 0 <= k <= int((~fixed).sum()):
        raise Unanswerable("k = {k}：只有 {candidates} 個候選場址", k=k, candidates=int((~fixed).sum()))


def exact(lm: LinearModel, fixed: np.ndarray, greedy_pick: list[int], seconds: dict, time_limit: float, gap: float,
          solver: str = "highs", warm: bool = True, infeasible: str = "沒有任何場址組合能滿足限制") -> dict | None:
    """Solve `lm`, whose first n columns open the sites; the open new sites and what the solver proved, or None
    when the solver found nothing in time (the caller's greedy answer stands, labelled; `note` says why).
    A model the greedy pick does not satisfy (capacities) is solved cold (`warm` False)."""
    n = len(fixed)
    try:
        solution = solve(lm, time_limit=time_limit, gap=gap, solver=solver,
                         start=[*np.flatnonzero(fixed), *greedy_pick] if warm else None)
    except SolverError as exc:
        if not warm:  # the greedy pick ignores capacities: it is no answer here
            raise Unanswerable("{reason}；有容量限制時只有精確模型能回答，請給更多時間", reason=str(exc)) from exc
        return {"note": f" ({exc})"}  # the greedy answer stands, labelled as such
    if solution.status == "infeasible":
        raise Unanswerable(infeasible)
    seconds["model"] = seconds.get("model", 0.0) + solution.load_seconds
    seconds["solve"] = solution.seconds
    return {"chosen": [int(j) for j in np.flatnonzero(solution.values[:n] > 0.5) if not fixed[j]],
            "solution": solution, "values": solution.values}


def timed_model(build, seconds: dict):
    t0 = time.perf_counter()
    out = build()
    seconds["model"] = seconds.get("model", 0.0) + time.perf_counter() - t0
    return out


def nearest_open(cost: sparse.csr_matrix, is_open: np.ndarray, penalty: np.ndarray):
    """Each demand point's least cost to an open site (penalty when none) and that site (or -1)."""
    best, site = penalty.astype(float).copy(), np.full(cost.shape[0], -1)
    rows = np.repeat(np.arange(cost.shape[0]), np.diff(cost.indptr))
    usable = is_open[cost.indices]
    order = np.lexsort((cost.data[usable], rows[usable]))
    r, d, s = rows[usable][order], cost.data[usable][order], cost.indices[usable][order]
    first = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, bool)
    best[r[first]], site[r[first]] = d[first], s[first]
    return best, site


def largest_share(pairs: sparse.csr_matrix, shares: np.ndarray) -> np.ndarray:
    """Per demand point, the site taking its largest share (-1 when none takes any)."""
    rows = np.repeat(np.arange(pairs.shape[0]), np.diff(pairs.indptr))
    order = np.lexsort((-shares, rows))
    first = np.r_[True, rows[order][1:] != rows[order][:-1]] if len(rows) else np.zeros(0, bool)
    out = np.full(pairs.shape[0], -1)
    taken = first & (shares[order] > 1e-9)
    out[rows[order][taken]] = pairs.indices[order][taken]
    return out


def unreachable(pairs: sparse.csr_matrix, weight: np.ndarray) -> dict:
    """The demand no site (new, existing or a competitor's) reaches within the cutoff: reported, never served."""
    none = np.diff(sparse.csr_matrix(pairs).indptr) == 0
    return {"points": int(none.sum()), "weight": float(np.asarray(weight)[none].sum()), "mask": none}
