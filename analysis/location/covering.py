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

from . import Unanswerable, assignment, greedy, lagrangian
from .distances import pattern
from .mps import LinearModel
from .result import EXACT, HEURISTIC, LAGRANGIAN, Siting
from .solver import SolverError, solve

MAX_EXACT_PAIRS = 20_000_000  # above this the greedy heuristic answers (and says so)


def merge_identical_rows(cover: sparse.csr_matrix, weight: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Rows with the same columns (every row has one at least) become one, weights added. Rows are grouped by a
    random 64-bit sum of their columns and their length (sorted columns: equal rows, equal sums); a second,
    independent sum must agree within each group (else the exact, slower grouping is used): odds of merging two
    different rows ~2^-128."""
    cover = cover.tocsr()
    cover.sort_indices()
    if not cover.shape[0]:
        return cover, np.zeros(0)
    rng = np.random.default_rng(0)
    sums = []
    with np.errstate(over="ignore"):
        for _ in range(2):
            salt = rng.integers(0, 2**63, cover.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            sums.append(np.add.reduceat(salt[cover.indices], cover.indptr[:-1]))
        key = sums[0] ^ (np.diff(cover.indptr).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    _, first, which = np.unique(key, return_index=True, return_inverse=True)
    which = which.ravel()
    if not np.array_equal(sums[1][first[which]], sums[1]):  # two different rows share a key: group exactly
        keys = [cover.indices[a:b].tobytes() for a, b in zip(cover.indptr[:-1], cover.indptr[1:], strict=True)]
        group: dict[bytes, int] = {}
        which = np.fromiter((group.setdefault(k, len(group)) for k in keys), np.int64, len(keys))
        first = np.full(len(group), len(keys))
        np.minimum.at(first, which, np.arange(len(keys)))
    return cover[first], np.bincount(which, weights=weight, minlength=len(first))


def reduced(coverage: sparse.csr_matrix, weight: np.ndarray, fixed: np.ndarray):
    """(rows × candidate columns, row weights, per-candidate own weight, candidate → site index, base weight)."""
    coverage = pattern(coverage)
    by_fixed = (np.asarray(coverage[:, fixed].sum(axis=1)).ravel() > 0 if fixed.any()
                else np.zeros(coverage.shape[0], bool))
    base = float(weight[by_fixed].sum())
    candidates = np.flatnonzero(~fixed)
    cover = coverage[:, candidates].tocsr() if fixed.any() else coverage
    keep = ~by_fixed & (np.diff(cover.indptr) > 0) & (weight > 0)
    cover, w = merge_identical_rows(cover[keep], weight[keep])
    single = np.diff(cover.indptr) == 1
    own = np.bincount(cover.indices[cover.indptr[:-1][single]], weights=w[single], minlength=len(candidates))
    return cover[~single], w[~single], own, candidates, base


def model(cover: sparse.csr_matrix, w: np.ndarray, own: np.ndarray, k: int, too_close: np.ndarray | None = None,
          blocked: np.ndarray | None = None) -> LinearModel:
    """too_close: candidate pairs (a, b) that may not both open (x_a + x_b ≤ 1); blocked: candidates that may
    not open at all (too close to an existing site)."""
    m, n = cover.shape
    blocks = [sparse.hstack([-cover, sparse.identity(m)]),
              sparse.hstack([sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, m))])]
    lower, upper = [np.full(m, -np.inf), [k]], [np.zeros(m), [k]]
    if too_close is not None and len(too_close):
        rows = np.repeat(np.arange(len(too_close)), 2)
        blocks.append(sparse.csr_matrix((np.ones(rows.size), (rows, too_close.ravel())), shape=(len(too_close), n + m)))
        lower.append(np.full(len(too_close), -np.inf))
        upper.append(np.ones(len(too_close)))
    column_upper = np.ones(n + m)
    if blocked is not None:
        column_upper[:n][blocked] = 0
    return LinearModel(cost=np.concatenate([-own, -w]), matrix=sparse.vstack(blocks).tocsc(),
                       row_lower=np.concatenate(lower), row_upper=np.concatenate(upper),
                       lower=np.zeros(n + m), upper=column_upper, n_integer=n)


def maximal_covering(coverage: sparse.csr_matrix, weight: np.ndarray, k: int, fixed: np.ndarray | None = None,
                     method: str = "auto", time_limit: float = 60, gap: float = 0.0,
                     conflicts: sparse.spmatrix | None = None) -> Siting:
    """coverage: demand × sites (nonzero = within reach); weight per demand point; fixed: mask of open sites;
    conflicts: sites × sites, nonzero where two sites are too close to both be open (a minimum spacing)."""
    t0 = time.perf_counter()
    n_sites = coverage.shape[1]
    weight = np.asarray(weight, dtype=float)
    fixed = np.zeros(n_sites, bool) if fixed is None else np.asarray(fixed, bool)
    if not 0 <= k <= int((~fixed).sum()):
        raise Unanswerable("k = {k}：只有 {candidates} 個候選場址", k=k, candidates=int((~fixed).sum()))
    coverage = pattern(coverage)
    by_site = coverage.tocsc()  # once: every step below reads the sites' columns
    covered_by_fixed = lagrangian.times_covered(by_site, np.flatnonzero(fixed)) > 0
    allowed = ~fixed
    if conflicts is not None:
        conflicts = pattern(conflicts)
        allowed &= ~(np.asarray(conflicts[:, fixed].sum(axis=1)).ravel() > 0)
    order, _ = greedy.cover_order(coverage, weight, k, allowed, covered_by_fixed, conflicts, by_site)
    seconds = {"greedy": time.perf_counter() - t0}
    exact = method == "exact" or (method == "auto" and coverage.nnz <= MAX_EXACT_PAIRS)
    # the Lagrangian bound first where a gap is allowed (or the MIP is out of reach): it proves 1 % on instances
    # CBC does not finish; conflicts (a minimum spacing) are left to the MIP
    relax = k > 0 and conflicts is None and (method == "lagrangian" or (method == "auto" and (gap > 0 or not exact)))
    bound = solved_gap = None
    status, note = "heuristic", ""
    chosen = order
    if (exact or relax) and k > 0:
        t1 = time.perf_counter()
        cover, w, own, candidates, base = reduced(coverage, weight, fixed)
        position = np.full(n_sites, -1)
        position[candidates] = np.arange(len(candidates))
        seconds["model"] = time.perf_counter() - t1
        start = [int(position[j]) for j in order]
        if relax:
            relaxed = lagrangian.solve(cover, w, own, k, allowed[candidates], np.array(start, dtype=np.int64),
                                       gap=gap, time_limit=time_limit / 2 if exact else time_limit)
            seconds["lagrangian"] = relaxed.seconds
            chosen, start = [int(candidates[j]) for j in relaxed.chosen], relaxed.chosen.tolist()
            bound, solved_gap = base + relaxed.bound, relaxed.gap
            status = "optimal" if relaxed.gap <= 1e-9 else "feasible"
            exact = exact and relaxed.gap > gap
        if exact:
            too_close = None
            if conflicts is not None:
                pairs = sparse.triu(conflicts, k=1).tocoo()
                free = ~fixed[pairs.row] & ~fixed[pairs.col]
                too_close = np.column_stack([position[pairs.row[free]], position[pairs.col[free]]])
            lm = model(cover, w, own, k, too_close, ~allowed[candidates])
            seconds["model"] = time.perf_counter() - t1 - seconds.get("lagrangian", 0)
            try:
                solution = solve(lm, time_limit=time_limit - seconds.get("lagrangian", 0), gap=gap, start=start)
            except SolverError as exc:  # nothing found in time: the greedy (or Lagrangian) answer stands, labelled
                note = f" ({exc})"
            else:
                seconds["model"] += solution.load_seconds
                seconds["solve"] = solution.seconds
                if solution.status == "infeasible":
                    raise Unanswerable("沒有 {k} 個場址能彼此之間、以及與既有場址之間保持最小間距", k=k)
                chosen = [int(candidates[j]) for j in np.flatnonzero(solution.values[:len(candidates)] > 0.5)]
                bound, solved_gap, status = base - solution.bound, solution.gap, solution.status
                relax = False
    is_open = fixed.copy()
    is_open[chosen] = True
    covered = lagrangian.times_covered(by_site, np.flatnonzero(is_open)) > 0
    objective = float(weight[covered].sum())
    only_chosen = np.zeros(n_sites, bool)
    only_chosen[chosen] = True
    ranked, gains = greedy.cover_order(coverage, weight, len(chosen), only_chosen, covered_by_fixed,
                                       by_site=by_site)
    further = ~is_open
    if conflicts is not None:
        further &= ~(np.asarray(conflicts[:, is_open].sum(axis=1)).ravel() > 0)
    nxt = greedy.cover_order(coverage, weight, 1, further, covered, by_site=by_site)[1]
    seconds["total"] = time.perf_counter() - t0
    lost = assignment.unreachable(coverage, weight)
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective,
                  bound=bound, gap=solved_gap, status=status,
                  method=(LAGRANGIAN if relax else EXACT) if status != "heuristic" else HEURISTIC + note,
                  marginal_gain=gains,
                  next_gain=nxt[0] if nxt else 0.0, seconds=seconds, covered=covered,
                  already_covered=float(weight[covered_by_fixed].sum()), coverage=coverage,
                  unreachable=lost["points"], unreachable_weight=lost["weight"])
