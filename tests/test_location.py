"""Location-allocation against brute force: on small random instances the solver's optimum must equal the best
of every k-subset (itertools.combinations), with existing sites kept and capacities respected."""

import itertools

import numpy as np
import pytest
from scipy import sparse

from analysis.location import distances, greedy
from analysis.location.covering import maximal_covering
from analysis.location.pmedian import p_median


def instance(seed, n_demand=25, n_sites=9):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 1000, (n_demand, 2))
    sites = rng.uniform(0, 1000, (n_sites, 2))
    return demand, sites, rng.integers(1, 100, n_demand).astype(float)


def covered_weight(cover, weight, open_sites):
    return weight[np.asarray(cover[:, list(open_sites)].sum(axis=1)).ravel() > 0].sum()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_maximal_covering_matches_brute_force(seed, k):
    demand, sites, weight = instance(seed)
    fixed = np.zeros(len(sites), bool)
    fixed[0] = seed % 2 == 1  # half the cases keep an existing site open
    cover = distances.within(demand, sites, 260)
    free = np.flatnonzero(~fixed)
    best = max(covered_weight(cover, weight, [*np.flatnonzero(fixed), *c]) for c in itertools.combinations(free, k))
    result = maximal_covering(cover, weight, k, fixed)
    assert result.status == "optimal" and result.gap == 0
    assert result.objective == best
    assert covered_weight(cover, weight, [*result.fixed, *result.chosen]) == best
    assert len(result.chosen) == k and not set(result.chosen) & set(result.fixed)
    assert result.bound == pytest.approx(best)
    # the marginal gains add up to what the new sites cover beyond the existing ones
    assert sum(result.marginal_gain) == pytest.approx(best - covered_weight(cover, weight, result.fixed))
    assert result.marginal_gain == sorted(result.marginal_gain, reverse=True)


def weighted_distance(dist, weight, open_sites):
    return float(weight @ dist[:, list(open_sites)].min(axis=1))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_p_median_matches_brute_force(seed, k):
    demand, sites, weight = instance(seed + 100)
    dense = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    fixed = np.zeros(len(sites), bool)
    fixed[1] = seed % 2 == 0
    free = np.flatnonzero(~fixed)
    best = min(weighted_distance(dense, weight, [*np.flatnonzero(fixed), *c]) for c in itertools.combinations(free, k))
    result = p_median(distances.nearest(demand, sites, len(sites)), weight, k, fixed)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert weighted_distance(dense, weight, [*result.fixed, *result.chosen]) == pytest.approx(best, rel=1e-9)
    assert set(result.assignment) <= {*result.fixed, *result.chosen}


def test_capacitated_p_median_matches_brute_force_with_split_demand():
    """With capacities (demand may be split) each subset's best assignment is a transportation LP; brute force
    solves that LP for every subset and the MIP must agree."""
    from scipy.optimize import linprog

    demand, sites, weight = instance(7, n_demand=12, n_sites=7)
    dense = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    capacity = np.full(len(sites), weight.sum() / 2.5)
    k = 3

    def assignment_cost(chosen):
        m, n = len(demand), len(chosen)
        cost = (weight[:, None] * dense[:, chosen]).ravel()
        a_eq = np.kron(np.eye(m), np.ones(n))
        a_ub = np.zeros((n, m * n))
        for j in range(n):
            a_ub[j, j::n] = weight  # what site j serves
        res = linprog(cost, A_ub=a_ub, b_ub=capacity[chosen], A_eq=a_eq, b_eq=np.ones(m), bounds=(0, 1))
        return res.fun if res.status == 0 else np.inf

    best = min(assignment_cost(list(c)) for c in itertools.combinations(range(len(sites)), k))
    result = p_median(sparse.csr_matrix(dense), weight, k, capacity=capacity)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-7)
    uncapacitated = p_median(sparse.csr_matrix(dense), weight, k)
    assert uncapacitated.objective < result.objective  # the capacities bind in this instance


def test_greedy_is_labelled_a_heuristic_and_is_never_better_than_the_optimum():
    demand, sites, weight = instance(3, n_demand=200, n_sites=30)
    cover = distances.within(demand, sites, 180)
    exact = maximal_covering(cover, weight, 4)
    heuristic = maximal_covering(cover, weight, 4, method="greedy")
    assert heuristic.status == "heuristic" and "no optimality proven" in heuristic.method
    assert heuristic.gap is None and heuristic.objective <= exact.objective


def test_next_gain_is_what_one_more_site_would_add():
    demand, sites, weight = instance(4, n_demand=60, n_sites=12)
    cover = distances.within(demand, sites, 220)
    three = maximal_covering(cover, weight, 3)
    order, gains = greedy.cover_order(cover, weight, 1, ~np.isin(np.arange(12), three.chosen), three.covered)
    assert three.next_gain == gains[0] and three.next_gain >= 0
    assert maximal_covering(cover, weight, 4).objective >= three.objective + three.next_gain


def test_explicit_zero_distance_counts_as_a_pair():
    """A site standing on a demand point is at 0 m: that pair must not vanish from the sparse matrix."""
    dist = sparse.csr_matrix((np.array([0.0, 5.0]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2))
    result = p_median(dist, np.array([1.0, 1.0]), 2)
    assert result.objective == pytest.approx(5.0)


@pytest.mark.parametrize("seed", range(5))
def test_minimum_spacing_matches_brute_force(seed):
    """Sensors must stand ≥ 300 m apart (and from the existing one): the optimum over spaced subsets only."""
    demand, sites, weight = instance(seed + 200, n_demand=30, n_sites=10)
    fixed = np.zeros(len(sites), bool)
    fixed[0] = True
    cover = distances.within(demand, sites, 250)
    conflicts = distances.closer_than(sites, 300)
    close = conflicts.toarray() > 0
    k = 2
    spaced = [c for c in itertools.combinations(range(1, len(sites)), k)
              if not any(close[a, b] for a, b in itertools.combinations((0, *c), 2))]
    best = max(covered_weight(cover, weight, [0, *c]) for c in spaced)
    result = maximal_covering(cover, weight, k, fixed, conflicts=conflicts)
    assert result.objective == best and result.status == "optimal"
    assert not any(close[a, b] for a, b in itertools.combinations([0, *result.chosen], 2))
    assert result.objective <= maximal_covering(cover, weight, k, fixed).objective


# --- the other problem types (ArcGIS's six), each against brute force on small instances -----------------------


def minutes(seed, n_demand=18, n_sites=8, cutoff=6.0):
    """Travel times (straight line at 20 km/h, in minutes) kept within the cutoff; a dense copy with inf beyond.
    The last demand point is far from every site: unreachable."""
    demand, sites, weight = instance(seed, n_demand, n_sites)
    demand, weight = np.vstack([demand, [[50_000, 50_000]]]), np.r_[weight, 77.0]
    dense = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) / (20_000 / 60)
    kept = np.where(dense <= cutoff, dense, np.inf)
    rows, cols = np.nonzero(np.isfinite(kept))
    return sparse.csr_matrix((kept[rows, cols], (rows, cols)), shape=kept.shape), kept, weight


@pytest.mark.parametrize("seed", range(4))
def test_fewest_sites_covering_all_reachable_demand_matches_brute_force(seed):
    from analysis.location.setcover import min_facilities

    cost, dense, weight = minutes(seed + 300, cutoff=1.2)
    reach = np.isfinite(dense)
    fixed = np.zeros(dense.shape[1], bool)
    fixed[2] = seed % 2 == 0
    coverable = reach.any(axis=1)
    free = np.flatnonzero(~fixed)
    best = next(c for size in range(len(free) + 1) for c in itertools.combinations(free, size)
                if (reach[:, [*np.flatnonzero(fixed), *c]].any(axis=1) == coverable).all())
    result = min_facilities(cost, weight, fixed)
    assert result.status == "optimal" and len(result.chosen) == len(best)
    assert (reach[:, [*result.fixed, *result.chosen]].any(axis=1) == coverable).all()
    assert result.objective == pytest.approx(weight[coverable].sum())
    # demand no site reaches is reported, never counted as covered
    assert result.unreachable == int((~coverable).sum()) > 0
    assert result.unreachable_weight == pytest.approx(weight[~coverable].sum())
    assert not result.covered[~coverable].any()


def attendance_of(dense, weight, open_sites, cutoff):
    nearest = dense[:, list(open_sites)].min(axis=1)
    return float(weight @ np.where(np.isfinite(nearest), 1 - nearest / cutoff, 0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_maximal_attendance_with_linear_decay_matches_brute_force(seed, k):
    from analysis.location.attendance import max_attendance

    cost, dense, weight = minutes(seed + 400)
    fixed = np.zeros(dense.shape[1], bool)
    fixed[0] = seed % 2 == 1
    free = np.flatnonzero(~fixed)
    best = max(attendance_of(dense, weight, [*np.flatnonzero(fixed), *c], 6.0) for c in itertools.combinations(free, k))
    result = max_attendance(cost, weight, k, fixed, kind="linear", cutoff=6.0)
    assert result.status == "optimal" and result.objective == pytest.approx(best, rel=1e-9)
    assert result.bound == pytest.approx(best, rel=1e-6)
    assert attendance_of(dense, weight, [*result.fixed, *result.chosen], 6.0) == pytest.approx(best, rel=1e-9)
    assert result.already_covered + sum(result.marginal_gain) == pytest.approx(best, rel=1e-9)
    lost = ~np.isfinite(dense).any(axis=1)
    assert result.unreachable == int(lost.sum()) and np.all(result.assignment[lost] == -1)


def test_capacitated_coverage_matches_brute_force():
    """decay "none" with capacities: ArcGIS's capacitated coverage; each subset's best is a transportation LP."""
    from scipy.optimize import linprog

    from analysis.location.attendance import max_attendance

    cost, dense, weight = minutes(11, n_demand=12, n_sites=6, cutoff=2.0)
    capacity = np.full(6, weight.sum() / 5)
    reach = np.isfinite(dense)

    def served(chosen):
        pairs = [(i, j) for i in range(len(weight)) for j in chosen if reach[i, j]]
        if not pairs:
            return 0.0
        a_ub = np.zeros((len(weight) + len(chosen), len(pairs)))
        for p, (i, j) in enumerate(pairs):
            a_ub[i, p] = 1
            a_ub[len(weight) + chosen.index(j), p] = weight[i]
        res = linprog(-np.array([weight[i] for i, _ in pairs]), A_ub=a_ub,
                      b_ub=np.r_[np.ones(len(weight)), capacity[chosen]], bounds=(0, 1))
        return -res.fun

    best = max(served(list(c)) for c in itertools.combinations(range(6), 2))
    result = max_attendance(cost, weight, 2, kind="none", capacity=capacity)
    assert result.objective == pytest.approx(best, rel=1e-7)
    assert result.objective < max_attendance(cost, weight, 2, kind="none").objective  # the capacities bind


def huff(dense, weight, open_sites, rivals, beta=1.0):
    pull = lambda d: np.where(np.isfinite(d), (1 + d) ** -beta, 0).sum(axis=1)  # noqa: E731
    ours, theirs = pull(dense[:, list(open_sites)]), pull(rivals)
    return float(weight @ np.divide(ours, ours + theirs, out=np.zeros_like(ours), where=ours + theirs > 0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_maximal_market_share_with_competitors_matches_brute_force(seed, k):
    from analysis.location.market_share import max_market_share

    cost, dense, weight = minutes(seed + 500, n_sites=10)
    ours, rivals = slice(0, 7), slice(7, 10)  # three of the sites are the competitors'
    fixed = np.zeros(7, bool)
    fixed[1] = seed % 2 == 0
    free = np.flatnonzero(~fixed)
    best = max(huff(dense[:, ours], weight, [*np.flatnonzero(fixed), *c], dense[:, rivals])
               for c in itertools.combinations(free, k))
    result = max_market_share(cost[:, ours], weight, k, fixed, competitors=cost[:, rivals], cutoff=6.0)
    assert result.status == "optimal" and result.objective == pytest.approx(best, rel=1e-7)
    assert huff(dense[:, ours], weight, [*result.fixed, *result.chosen], dense[:, rivals]) == pytest.approx(best,
                                                                                                          rel=1e-7)
    assert result.extra["market_share"] == pytest.approx(best / weight.sum(), abs=1e-6)
    assert result.already_covered + sum(result.marginal_gain) == pytest.approx(best, rel=1e-7)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("target", [0.3, 0.5])
def test_target_market_share_opens_the_fewest_sites_that_reach_it(seed, target):
    from analysis.location.market_share import target_market_share

    cost, dense, weight = minutes(seed + 600, n_sites=10)
    rivals = dense[:, 7:]
    sets = ((c, huff(dense[:, :7], weight, c, rivals)) for size in range(8)
            for c in itertools.combinations(range(7), size))
    best = next((c, got) for c, got in sets if got >= target * weight.sum())
    result = target_market_share(cost[:, :7], weight, target, competitors=cost[:, 7:], cutoff=6.0)
    assert len(result.chosen) == len(best[0]) and result.extra["facilities"] == len(best[0])
    assert result.objective >= target * weight.sum() - 1e-6
    # among the smallest sets, the one capturing most
    assert result.objective == pytest.approx(max(huff(dense[:, :7], weight, c, rivals) for c in itertools.combinations(
        range(7), len(best[0]))), rel=1e-7)


def test_a_target_share_out_of_reach_is_refused_with_the_most_there_is():
    from analysis.location import Unanswerable
    from analysis.location.market_share import target_market_share

    cost, _dense, weight = minutes(601, n_sites=10)
    with pytest.raises(Unanswerable) as refused:
        target_market_share(cost[:, :7], weight, 0.99, competitors=cost[:, 7:], cutoff=6.0)
    assert "99.0 %" in str(refused.value)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3])
def test_lagrangian_covering_bound_and_gap_are_honest(seed, k):
    """The MIP-free maximal covering (Lagrangian bound + interchange): its bound is never below the brute-force
    optimum, its siting is what it claims, and the gap it reports is what separates the two."""
    demand, sites, weight = instance(seed + 300, n_demand=40, n_sites=10)
    fixed = np.zeros(len(sites), bool)
    fixed[2] = seed % 2 == 0
    cover = distances.within(demand, sites, 300)
    free = np.flatnonzero(~fixed)
    best = max(covered_weight(cover, weight, [*np.flatnonzero(fixed), *c]) for c in itertools.combinations(free, k))
    result = maximal_covering(cover, weight, k, fixed, method="lagrangian", gap=0.0, time_limit=5)
    assert result.method.startswith("Lagrangian") and result.status in ("optimal", "feasible")
    assert result.objective == covered_weight(cover, weight, [*result.fixed, *result.chosen]) <= best
    assert result.bound >= best - 1e-6
    reduced_objective = result.objective - result.already_covered
    assert result.gap == pytest.approx((result.bound - result.objective) / (result.bound - result.already_covered))
    assert reduced_objective >= (1 - result.gap) * (result.bound - result.already_covered) - 1e-6
    assert len(result.chosen) == k and not set(result.chosen) & set(result.fixed)


def test_lagrangian_covering_proves_one_percent_on_a_large_instance():
    """100,000 demand points × 2,000 candidates, k = 50: the gap asked for (1 %) proven in seconds, no MIP."""
    rng = np.random.default_rng(7)
    demand, sites = rng.uniform(0, 40_000, (100_000, 2)), rng.uniform(0, 40_000, (2_000, 2))
    weight = rng.integers(1, 1001, len(demand)).astype(float)
    cover = distances.within(demand, sites, 1200)
    result = maximal_covering(cover, weight, 50, gap=0.01, time_limit=30)
    assert result.method.startswith("Lagrangian") and result.gap <= 0.01
    assert result.bound >= result.objective == covered_weight(cover, weight, result.chosen)
    assert result.seconds["total"] < 20
