"""Maximal covering against PySAL spopt (what an analyst would use instead), and CBC against HiGHS.

    .venv/bin/python bench/location_allocation.py            # everything (spopt's ~2 minutes once)
    .venv/bin/python bench/location_allocation.py --no-spopt # ours and HiGHS only

Instances: demand points spread uniformly (as spopt's simulated points are) with integer weights 1–1,000,
candidate sites uniform, service radius 1.5 km, on a square sized so each demand point has ~13 candidates in
reach (10,000 × 2,000 on 32 km × 32 km: ~131k pairs, like the DESIGN.md instance with 136k).

1. 10,000 × 2,000, k = 30: ours end to end (KD-tree coverage, model, CBC to proven optimality) vs spopt
   (`MCLP.from_cost_matrix` on the distance matrix + PuLP/CBC), objectives compared; the same reduced model
   solved by HiGHS (highspy) to show why CBC was chosen.
2. 100,000 × 10,000, k = 50: ours to a proven gap ≤ 1 %.
3. The same 10k × 2k with clustered demand (towns): a harder instance, reported as it comes out.
4. p-median, 720 demand × 300 candidates (+ 3 existing), k = 3, all pairs: HiGHS (ours) vs CBC, same model.
Not part of the test suite.
"""

import argparse
import time

import common
import numpy as np

from analysis.location import distances, pmedian  # noqa: E402
from analysis.location.covering import maximal_covering, model, reduced  # noqa: E402
from analysis.location.solver import SolverError, solve  # noqa: E402

RADIUS = 1500.0


def instance(n_demand: int, n_sites: int, seed: int = 2026, clustered: bool = False):
    rng = np.random.default_rng(seed)
    side = 32_000 * (n_sites / 2000) ** 0.5
    demand = rng.uniform(0, side, (n_demand, 2))
    if clustered:  # 70 % of the demand around towns of 0.8–3 km spread
        towns = rng.uniform(0, side, (max(8, n_demand // 500), 2))
        spread = rng.uniform(800, 3000, len(towns))
        which = rng.integers(0, len(towns), n_demand)
        near = rng.random(n_demand) < 0.7
        demand[near] = np.clip(towns[which[near]] + rng.normal(0, 1, (near.sum(), 2)) * spread[which[near], None],
                               0, side)
    weight = rng.integers(1, 1001, n_demand).astype(float)
    return demand, weight, rng.uniform(0, side, (n_sites, 2))


def ours(demand, weight, sites, k, gap=0.0, time_limit=120.0):
    t0 = time.perf_counter()
    cover = distances.within(demand, sites, RADIUS)
    t_dist = time.perf_counter() - t0
    result = maximal_covering(cover, weight, k, gap=gap, time_limit=time_limit)
    return result, time.perf_counter() - t0, t_dist, cover


def spopt_mclp(demand, weight, sites, k):
    import pulp
    from scipy.spatial.distance import cdist
    from spopt.locate import MCLP

    t0 = time.perf_counter()
    cost = cdist(demand, sites)
    mclp = MCLP.from_cost_matrix(cost, weight, RADIUS, p_facilities=k)
    t_build = time.perf_counter() - t0
    mclp.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    total = time.perf_counter() - t0
    chosen = [j for j, v in enumerate(mclp.fac_vars) if v.value() > 0.5]
    return float(pulp.value(mclp.problem.objective)), chosen, total, t_build


def highs(cover, weight, k, time_limit=120.0):
    rows, w, own, _candidates, _base = reduced(cover, weight, np.zeros(cover.shape[1], bool))
    solution = solve(model(rows, w, own, k), time_limit=time_limit, solver="highs")
    return -solution.objective, solution.gap, solution.status, solution.seconds


def median_solvers(time_limit=60.0):
    rng = np.random.default_rng(2029)
    demand, weight = rng.uniform(0, 7000, (720, 2)), rng.integers(1, 201, 720).astype(float)
    sites = rng.uniform(0, 7000, (303, 2))
    fixed = np.r_[np.zeros(300, bool), np.ones(3, bool)]
    lm = pmedian.model(distances.nearest(demand, sites, len(sites)), weight, 3, fixed, None)
    for name in ("highs", "cbc"):
        try:
            s = solve(lm, time_limit=time_limit, solver=name)
            print(f"  {name}: {s.objective:,.0f} ({s.status}, gap {100 * s.gap:.3f} %) in {s.seconds:.2f} s",
                  flush=True)
        except SolverError as exc:
            print(f"  {name}: {exc}", flush=True)


def line(label, result, seconds):
    print(f"  {label}: covered {result.objective:,.0f} (bound {result.bound:,.0f}, gap {100 * result.gap:.3f} %, "
          f"{result.status}) in {seconds:.2f} s  [{', '.join(f'{k} {v:.2f}' for k, v in result.seconds.items())}]",
          flush=True)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-spopt", action="store_true", help="leave out spopt (its ~2 minutes)")
    parser.add_argument("--no-large", action="store_true", help="leave out the 100,000 × 10,000 instance")
    return parser


def main():
    args = common.start(__doc__, arguments(), django=False)  # numbers only: no database

    print("1. 10,000 demand × 2,000 candidates, r = 1.5 km, k = 30", flush=True)
    demand, weight, sites = instance(10_000, 2_000)
    result, total, t_dist, cover = ours(demand, weight, sites, 30)
    print(f"  {cover.nnz:,} demand–site pairs within reach (KD-tree {t_dist:.3f} s)")
    line("civgis (CBC)", result, total)
    value, gap, status, seconds = highs(cover, weight, 30)
    print(f"  HiGHS on the same reduced model: {value:,.0f}, gap {100 * gap:.3f} %, {status}, solve {seconds:.2f} s"
          f"  → HiGHS / CBC solve = {seconds / result.seconds['solve']:.1f}×", flush=True)
    if not args.no_spopt:
        objective, chosen, spopt_total, spopt_build = spopt_mclp(demand, weight, sites, 30)
        print(f"  spopt (PuLP + CBC): covered {objective:,.0f} in {spopt_total:.1f} s "
              f"({spopt_build:.1f} s building the model)", flush=True)
        print(f"  objectives equal: {objective == result.objective}; spopt / civgis end to end = "
              f"{spopt_total / total:.0f}×; same sites: {sorted(chosen) == sorted(result.chosen)}")
    if not args.no_large:
        print("2. 100,000 demand × 10,000 candidates, r = 1.5 km, k = 50, gap ≤ 1 %", flush=True)
        demand, weight, sites = instance(100_000, 10_000, seed=2027)
        result, total, t_dist, cover = ours(demand, weight, sites, 50, gap=0.01, time_limit=55)
        print(f"  {cover.nnz:,} pairs (KD-tree {t_dist:.2f} s)")
        line("civgis (CBC)", result, total)
    print("3. 10,000 × 2,000, k = 30, clustered demand (harder: overlapping towns), 60 s limit", flush=True)
    demand, weight, sites = instance(10_000, 2_000, seed=2028, clustered=True)
    result, total, _t, _cover = ours(demand, weight, sites, 30, time_limit=60)
    line("civgis (CBC)", result, total)
    print("4. p-median, 720 × 300 (+ 3 existing), k = 3, all 218,160 pairs", flush=True)
    median_solvers()


if __name__ == "__main__":
    main()
