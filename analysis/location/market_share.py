"""Market share with competitors (the Huff gravity model): a demand point splits its demand among every site in
reach — ours, new and existing, and the competitors' — in proportion to attractiveness × f(travel time). Two
problems: open k new sites to capture the most demand (ArcGIS's "maximize market share"), or open the fewest new
sites that capture a target share of the total demand ("target market share").

The share is a ratio, yet the model stays linear and exact (Haase 2009): with z_ij our site j's share of demand
point i and y_i the competitors', and a_ij, C_i the attractions (C_i summed over the competitors in reach),

    Σ_j z_ij + y_i = 1,   z_ij ≤ (a_ij / C_i) y_i,   z_ij ≤ x_j

make z_ij = a_ij / (Σ_open a + C_i) for the open sites whenever our share is pushed up — the Huff share. A demand
point no competitor reaches is ours entirely once an open site reaches it (Σ_j z_ij ≤ 1, z_ij ≤ x_j).
"""

import time

import numpy as np
from scipy import sparse

from . import Unanswerable, assignment, decay
from .mps import LinearModel
from .result import EXACT_HIGHS, HEURISTIC, Siting


def _ratio(ours: np.ndarray, rival: np.ndarray) -> np.ndarray:
    total = ours + rival
    return np.divide(ours, total, out=np.zeros_like(ours, dtype=float), where=total > 0)


class Market:
    """The attractions of a problem: ours per pair (`a`, demand × our sites) and the competitors' per demand point
    (`rival`), with the weights; what an open set of sites captures."""

    def __init__(self, cost, weight, competitors, attractiveness, competitor_attractiveness, kind, cutoff, beta):
        cost = sparse.csr_matrix(cost)
        cost.sort_indices()
        self.cost, self.weight = cost, np.asarray(weight, float)
        m, n = cost.shape
        own = np.ones(n) if attractiveness is None else np.asarray(attractiveness, float)
        self.a = sparse.csr_matrix((own[cost.indices] * decay.factor(cost.data, kind, cutoff, beta), cost.indices,
                                    cost.indptr), shape=cost.shape)
        if competitors is None:
            competitors = sparse.csr_matrix((m, 0))
        competitors = sparse.csr_matrix(competitors)
        theirs = (np.ones(competitors.shape[1]) if competitor_attractiveness is None
                  else np.asarray(competitor_attractiveness, float))
        pulls = theirs[competitors.indices] * decay.factor(competitors.data, kind, cutoff, beta)
        self.rival = np.bincount(np.repeat(np.arange(m), np.diff(competitors.indptr)), weights=pulls, minlength=m)
        self.reached_by_rival = np.diff(competitors.indptr) > 0
        self.rows = np.repeat(np.arange(m), np.diff(cost.indptr))

    def pull(self, is_open: np.ndarray) -> np.ndarray:
        """Per demand point, the attraction of our open sites."""
        return np.bincount(self.rows, weights=self.a.data * is_open[self.cost.indices], minlength=self.cost.shape[0])

    def share(self, ours: np.ndarray) -> np.ndarray:
        return _ratio(ours, self.rival)

    def captured(self, is_open: np.ndarray) -> float:
        return float(self.weight @ self.share(self.pull(is_open)))

    def greedy(self, k: int | None, allowed: np.ndarray, is_open: np.ndarray, target: float | None = None):
        """Sites added one at a time, each the one capturing most besides those open; (sites, gains). Stops after
        k sites, or once `target` demand is captured."""
        allowed, is_open = allowed.copy(), is_open.copy()
        ours = self.pull(is_open)
        order, gains = [], []
        while allowed.any() and (k is None or len(order) < k):
            if target is not None and self.weight @ self.share(ours) >= target - 1e-9:
                break
            now = _ratio(ours[self.rows], self.rival[self.rows])
            with_it = _ratio(ours[self.rows] + self.a.data, self.rival[self.rows])
            gain = np.bincount(self.cost.indices, weights=self.weight[self.rows] * (with_it - now),
                               minlength=self.cost.shape[1])
            gain[~allowed] = -np.inf
            j = int(np.argmax(gain))
            order.append(j)
            gains.append(float(gain[j]))
            allowed[j], is_open[j] = False, True
            ours = self.pull(is_open)
        return order, gains

    def model(self, fixed: np.ndarray, k: int | None, target: float | None) -> LinearModel:
        """Columns: x (sites), z (pairs), y (demand points a competitor reaches among those ours reach)."""
        m, n = self.cost.shape
        pairs = self.cost.nnz
        has_pair = np.diff(self.cost.indptr) > 0
        rivalled = has_pair & (self.rival > 0)
        y_of = np.full(m, -1)
        y_of[rivalled] = np.arange(int(rivalled.sum()))
        n_y = int(rivalled.sum())
        width = n + pairs + n_y
        p = np.arange(pairs)
        rows_used = np.flatnonzero(has_pair)
        row_no = np.full(m, -1)
        row_no[rows_used] = np.arange(len(rows_used))
        # one row per demand point: Σ z (+ y) = 1 where a competitor reaches it, ≤ 1 where none does
        split = sparse.csr_matrix(
            (np.r_[np.ones(pairs), np.ones(n_y)],
             (np.r_[row_no[self.rows], row_no[rivalled]], np.r_[n + p, n + pairs + np.arange(n_y)])),
            shape=(len(rows_used), width))
        link = sparse.csr_matrix(
            (np.r_[np.ones(pairs), -np.ones(pairs)], (np.r_[p, p], np.r_[n + p, self.cost.indices])),
            shape=(pairs, width))
        huff_pairs = np.flatnonzero(rivalled[self.rows])
        h = np.arange(len(huff_pairs))
        ratio = self.a.data[huff_pairs] / self.rival[self.rows[huff_pairs]]
        huff = sparse.csr_matrix((np.r_[np.ones(len(h)), -ratio],
                                  (np.r_[h, h], np.r_[n + huff_pairs, n + pairs + y_of[self.rows[huff_pairs]]])),
                                 shape=(len(h), width))
        lower = [np.where(rivalled[rows_used], 1.0, -np.inf), np.full(pairs, -np.inf), np.full(len(h), -np.inf)]
        upper = [np.ones(len(rows_used)), np.zeros(pairs), np.zeros(len(h))]
        captured = np.r_[np.zeros(n), self.weight[self.rows], np.zeros(n_y)]
        if target is None:  # the most captured with k new sites
            extra = sparse.csr_matrix(np.r_[np.ones(n), np.zeros(pairs + n_y)].reshape(1, -1))
            lower.append([k + fixed.sum()])
            upper.append([k + fixed.sum()])
            cost = -captured
        else:  # the fewest new sites capturing the target; among those, the most captured
            extra = sparse.csr_matrix(captured.reshape(1, -1))
            lower.append([target])
            upper.append([np.inf])
            cost = np.r_[(~fixed).astype(float), np.zeros(pairs + n_y)] - 0.5 / max(self.weight.sum(), 1e-9) * captured
        return LinearModel(cost=cost, matrix=sparse.vstack([split, link, huff, extra]).tocsc(),
                           row_lower=np.concatenate(lower), row_upper=np.concatenate(upper),
                           lower=np.r_[fixed.astype(float), np.zeros(pairs + n_y)], upper=np.ones(width), n_integer=n)


def _solve(cost, weight, k, target_share, fixed, competitors, attractiveness, competitor_attractiveness, kind,
           cutoff, beta, time_limit, gap, method) -> Siting:
    t0 = time.perf_counter()
    market = Market(cost, weight, competitors, attractiveness, competitor_attractiveness, kind, cutoff, beta)
    m, n = market.cost.shape
    fixed = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
    reach = sparse.hstack([sparse.csr_matrix(market.cost), sparse.csr_matrix(
        (np.ones(int(market.reached_by_rival.sum())), (np.flatnonzero(market.reached_by_rival),
                                                       np.zeros(int(market.reached_by_rival.sum()), int))),
        shape=(m, 1))]).tocsr()
    lost = assignment.unreachable(reach, market.weight)
    total = float(market.weight.sum())
    target = None
    if target_share is None:
        assignment.check_k(k, fixed)
    else:
        target = target_share * total
        best = market.captured(np.ones(n, bool))
        if best < target - 1e-9:
            raise Unanswerable("即使開設全部 {n} 個候選場址，也只能取得 {best} 的市場占有率，達不到目標 {target}",
                               n=int((~fixed).sum()), best=f"{100 * best / total:.1f} %",
                               target=f"{100 * target_share:.1f} %")
    order, _ = market.greedy(k, ~fixed, fixed, target)
    seconds = {"greedy": time.perf_counter() - t0}
    status, bound, solved_gap, chosen, note = "heuristic", None, None, order, ""
    if method in ("auto", "exact"):
        lm = assignment.timed_model(lambda: market.model(fixed, k, target), seconds)
        found = assignment.exact(lm, fixed, order, seconds, time_limit, gap)
        if "note" in found:
            note = found["note"]
        else:
            solution, chosen = found["solution"], found["chosen"]
            status, solved_gap = solution.status, solution.gap
            bound = -solution.bound if target is None else float(np.ceil(solution.bound - 1e-6))
    is_open = fixed.copy()
    is_open[chosen] = True
    only_chosen = np.isin(np.arange(n), chosen)
    ranked, gains = market.greedy(len(chosen), only_chosen, fixed)
    nxt = market.greedy(1, ~is_open, is_open)[1]
    objective = market.captured(is_open)
    seconds["total"] = time.perf_counter() - t0
    rival_share = float(market.weight @ _ratio(market.rival, market.pull(is_open)))
    extra = {"market_share": round(objective / total, 6) if total else 0.0,
             "competitors_capture": round(rival_share, 6)}
    if target is not None:
        extra |= {"facilities": len(chosen), "facilities_bound": bound, "target_share": target_share}
    return Siting(chosen=ranked, fixed=[int(j) for j in np.flatnonzero(fixed)], objective=objective,
                  bound=bound if target is None else None, gap=solved_gap, status=status,
                  method=EXACT_HIGHS if status != "heuristic" else HEURISTIC + note, marginal_gain=gains,
                  next_gain=nxt[0] if nxt else 0.0, seconds=seconds, already_covered=market.captured(fixed),
                  unreachable=lost["points"], unreachable_weight=lost["weight"], extra=extra)


def max_market_share(cost, weight, k: int, fixed=None, competitors=None, attractiveness=None,
                     competitor_attractiveness=None, kind: str = "power", cutoff: float | None = None,
                     beta: float | None = None, time_limit: float = 60, gap: float = 0.0,
                     method: str = "auto") -> Siting:
    """cost: demand × our sites (new candidates and existing), competitors: demand × competitors' sites, travel
    times of the pairs within the cutoff; attractiveness per site (1 each by default)."""
    return _solve(cost, weight, k, None, fixed, competitors, attractiveness, competitor_attractiveness, kind, cutoff,
                  beta, time_limit, gap, method)


def target_market_share(cost, weight, target: float, fixed=None, competitors=None, attractiveness=None,
                        competitor_attractiveness=None, kind: str = "power", cutoff: float | None = None,
                        beta: float | None = None, time_limit: float = 60, gap: float = 0.0,
                        method: str = "auto") -> Siting:
    """The fewest new sites capturing `target` (0–1) of the total demand weight."""
    if not 0 < target <= 1:
        raise Unanswerable("目標市場占有率 {target} 要在 0 到 100 % 之間", target=target)
    return _solve(cost, weight, None, target, fixed, competitors, attractiveness, competitor_attractiveness, kind,
                  cutoff, beta, time_limit, gap, method)
