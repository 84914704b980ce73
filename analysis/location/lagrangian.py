"""Maximal covering without a MIP: a Lagrangian relaxation gives a proven upper bound, greedy + interchange (and
the relaxation's own choices) give the sites; the gap between them is proven (Galvão & ReVelle 1996).

On the reduced model of `covering` (rows: groups of demand with the same covering candidates, weight w; own:
weight only one candidate covers), relax y_i ≤ Σ_{j ∈ N_i} x_j with multipliers 0 ≤ λ_i ≤ w_i:

    L(λ) = Σ_i max(0, w_i − λ_i) + (the k largest of own_j + Σ_{i ∈ M_j} λ_i)

is an upper bound of the covered weight for every λ (the relaxed problem splits into y and a top-k choice of x).
Subgradient steps lower it towards the LP bound. Every relaxed answer's k sites are also a feasible siting: the
best of them, and of the greedy one, is improved by interchange (swap an open site for a closed one while that
covers more). Two sparse products per step: a 100,000 × 10,000 instance takes seconds, where CBC's search did
not finish in a minute.
"""

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass
class Relaxed:
    chosen: np.ndarray  # candidate columns (of the reduced model) open in the best siting found
    value: float  # its covered weight (rows + own)
    bound: float  # the best proven upper bound
    iterations: int
    seconds: float

    @property
    def gap(self) -> float:
        return max(0.0, self.bound - self.value) / max(abs(self.bound), 1e-9)


def times_covered(by_site: sparse.csc_matrix, chosen: np.ndarray) -> np.ndarray:
    """Per row, how many of the chosen columns cover it (from the k columns alone, not a product over all)."""
    rows = np.concatenate([by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]] for j in chosen]) if len(
        chosen) else np.zeros(0, np.int64)
    return np.bincount(rows, minlength=by_site.shape[0])


def value(by_site: sparse.csc_matrix, w: np.ndarray, own: np.ndarray, chosen: np.ndarray) -> float:
    return float(own[chosen].sum() + w[times_covered(by_site, chosen) > 0].sum())


def interchange(cover: sparse.csr_matrix, by_site: sparse.csc_matrix, w: np.ndarray, own: np.ndarray,
                chosen: np.ndarray, allowed: np.ndarray, deadline: float) -> np.ndarray:
    """Swap an open site for the closed one that then adds most, while it gains (first improvement, in passes).
    What each closed site would add is kept up to date from the rows whose cover changes, not recomputed."""
    chosen = np.array(chosen, dtype=np.int64)
    times = times_covered(by_site, chosen)
    gains = own + cover.T @ np.where(times > 0, 0.0, w)  # what each site adds to the current siting

    def shift(rows, sign):
        if len(rows):
            gains[:] += sign * (cover[rows].T @ w[rows])

    def column(j):
        return by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]]

    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for slot in range(len(chosen)):
            a = chosen[slot]
            rows = column(a)
            alone = rows[times[rows] == 1]
            lost = own[a] + w[alone].sum()
            times[rows] -= 1
            shift(alone, +1)  # rows only a covered are open again
            pick = gains.copy()
            pick[~allowed] = -np.inf
            pick[chosen] = -np.inf
            b = int(np.argmax(pick))
            if pick[b] > lost * (1 + 1e-12) + 1e-9:
                chosen[slot] = b
                rows_b = column(b)
                shift(rows_b[times[rows_b] == 0], -1)
                times[rows_b] += 1
                improved = True
            else:
                times[rows] += 1
                shift(alone, -1)
            if time.perf_counter() >= deadline:
                break
    return chosen


def solve(cover: sparse.csr_matrix, w: np.ndarray, own: np.ndarray, k: int, allowed: np.ndarray,
          start: np.ndarray, gap: float = 0.01, time_limit: float = 30.0, max_iterations: int = 2000) -> Relaxed:
    """The best siting found and the best proven bound, stopping once the gap is within `gap` (or at the
    limits). `start`: a feasible siting to begin from (the greedy one)."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    cover = cover.tocsr()
    by_site = cover.tocsc()
    k = min(k, int(allowed.sum()))
    best = interchange(cover, by_site, w, own, np.asarray(start, dtype=np.int64), allowed, deadline)
    lower = value(by_site, w, own, best)
    tried = {tuple(sorted(best.tolist()))}
    # start the multipliers at each row's weight shared among the candidates covering it
    per_row = np.maximum(np.diff(cover.indptr), 1)
    lam = w / per_row
    upper, theta, stale, it = np.inf, 2.0, 0, 0
    while it < max_iterations:
        it += 1
        reduced_cost = own + cover.T @ lam
        reduced_cost[~allowed] = -np.inf
        top = np.argpartition(-reduced_cost, k - 1)[:k] if k else np.zeros(0, np.int64)
        bound = float(np.maximum(0.0, w - lam).sum() + reduced_cost[top].sum())
        if bound < upper - 1e-9 * abs(bound):
            upper, stale = bound, 0
        else:
            stale += 1
            if stale >= 20:
                theta, stale = theta / 2, 0
        times = times_covered(by_site, top)
        key = tuple(sorted(top.tolist()))
        if key not in tried:  # the relaxation's own sites, a feasible siting too
            tried.add(key)
            found = float(own[top].sum() + w[times > 0].sum())
            if found > lower:
                lower, best = found, top.astype(np.int64)
        if upper - lower <= gap * upper or theta < 1e-4 or time.perf_counter() >= deadline:
            break
        subgradient = times - (w > lam)
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break  # the relaxed answer is feasible and complementary: the bound is met
        lam = np.clip(lam - theta * (bound - lower) / norm * subgradient, 0.0, w)
    if upper - lower > gap * upper and time.perf_counter() < deadline:  # one more interchange on the best
        improved = interchange(cover, by_site, w, own, best, allowed, deadline)
        found = value(by_site, w, own, improved)
        if found > lower:
            lower, best = found, improved
    return Relaxed(np.sort(best), lower, max(upper, lower), it, time.perf_counter() - t0)
