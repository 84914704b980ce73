"""Location-allocation against brute force: on small random instances the solver's optimum must equal the best
of every k-subset (itertools.combinations), with existing sites kept and capacities respected."""

import itertools

import numpy as np
import pytest
import shapely
from scipy import sparse

from analysis.location import distances, greedy
from analysis.location.covering import maximal_covering
from analysis.location.pmedian import p_median
from analysis.location.road_network import RoadGraph


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


def test_road_distances_follow_the_streets():
    """An L-shaped street: two points 100 m apart as the crow flies are 200 m apart along it."""
    graph = RoadGraph([shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (100, 100)])])
    far = graph.distances(np.array([[0.0, 0.0]]), np.array([[100.0, 100.0]]), limit=500)
    assert far.toarray()[0, 0] == pytest.approx(200)
    assert graph.distances(np.array([[0.0, 0.0]]), np.array([[100.0, 100.0]]), limit=150).nnz == 0
    off_road = graph.distances(np.array([[0.0, 10.0]]), np.array([[100.0, 90.0]]), limit=500)
    assert off_road.toarray()[0, 0] == pytest.approx(10 + 200 + 10)  # walking to the street at both ends


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
