"""Service areas on the road network of the demo city: 100 facilities at 5, 10 and 15 minutes by car, computed by
the service-area job (pgr_drivingDistance + reached roads cut and buffered in PostGIS, a result layer) against
the same computed in Python in the same run: networkx (Dijkstra per facility) and a plain heapq Dijkstra, the
polygons drawn with shapely from the same edges. Also the network build and the reach alone, and that the
three agree on which vertices each facility reaches.

Then a network maximal covering (--demand points × --candidates, k new sites, a reach of --cutoff minutes by car):
the travel-time matrix from network.costs (pgr_drivingDistance from every candidate, joined to the demand's
vertices in numpy) and the covering solved to a proven gap ≤ 1 % (demand with the same covering sites merged, a
Lagrangian upper bound, greedy + interchange sites), end to end, against the baseline: the same matrix computed with
networkx (a Dijkstra per candidate on the reversed graph, from the same snapped vertices) and the covering by CBC as
civgis solved it before (time-capped); both matrices must hold the same pairs.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/network.py --size 10
    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/network.py --size 10 --only-covering \
        --demand 100000 --candidates 10000 --k 50

Not part of the test suite.
"""

import argparse
import heapq
import time
from collections import defaultdict

import common
import numpy as np


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=10, help="demo city size (10: ~195k parcels)")
    parser.add_argument("--facilities", type=int, default=100)
    parser.add_argument("--breaks", type=float, nargs="+", default=[5, 10, 15], help="minutes")
    parser.add_argument("--width", type=float, default=50, help="metres the reached roads are buffered by")
    parser.add_argument("--shape", choices=("roads", "hull"), default="hull",
                        help="polygons: the reached roads buffered (detailed, slow) or their concave hull buffered")
    parser.add_argument("--only-covering", action="store_true", help="leave out the service areas")
    parser.add_argument("--demand", type=int, default=20_000, help="demand points of the covering instance")
    parser.add_argument("--candidates", type=int, default=2_000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--cutoff", type=float, default=3.0, help="minutes by car a site reaches")
    parser.add_argument("--baseline-limit", type=float, default=120,
                        help="seconds CBC may take on the baseline covering (0: the baseline matrix only)")
    parser.add_argument("--skip-baseline", action="store_true", help="civgis's side only (no networkx, no CBC)")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

import networkx as nx  # noqa: E402
import shapely  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from psycopg2 import sql  # noqa: E402
from scipy import sparse  # noqa: E402

from analysis import jobs  # noqa: E402
from analysis.location.covering import maximal_covering  # noqa: E402
from layers.models import Layer  # noqa: E402
from network import building, costs, places, routing, service_area  # noqa: E402
from network.models import Network  # noqa: E402


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return out, seconds


def build_network(user) -> Network:
    building.submit = lambda job: job  # built here, in this process, and timed
    network, _ = Network.objects.update_or_create(
        layer=Layer.objects.get(slug="roads"), profile="driving",
        defaults={"speed_attribute": "speed_kmh", "label_attribute": "name", "tolerance_m": 1.0})
    job = building.create_job(network, user)
    job = building.run(job.pk)
    assert job.status == "succeeded", job.errors
    network.refresh_from_db()
    return network


def read_edges(network):
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT source, target, cost, reverse_cost, ST_AsBinary(geom) FROM {} ORDER BY id").format(
            sql.Identifier("network", network.edges_table)))
        rows = cur.fetchall()
    src = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    return src[0], src[1], np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), \
        shapely.from_wkb([bytes(r[4]) for r in rows])


def heapq_dijkstra(adjacency, root, cutoff):
    best = {root: 0.0}
    queue = [(0.0, root)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > best.get(node, float("inf")):
            continue
        for nxt, w in adjacency[node]:
            nd = d + w
            if nd <= cutoff and nd < best.get(nxt, float("inf")):
                best[nxt] = nd
                heapq.heappush(queue, (nd, nxt))
    return best


def shapely_zones(trees, edges, breaks_s, width, shape):
    """The service-area polygons from reached times, as the job draws them (the demo's edges are straight)."""
    source, target, cost, reverse, geoms = edges
    start, end = shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)
    sxy, exy = shapely.get_coordinates(start), shapely.get_coordinates(end)
    zones = []
    for tree in trees:
        ds = np.array([tree.get(s, np.inf) for s in source])
        dt = np.array([tree.get(t, np.inf) for t in target])
        for b in breaks_s:
            pieces = []
            f1 = np.where(cost > 0, np.clip((b - ds) / np.where(cost > 0, cost, 1), 0, 1), 1.0)
            ok = (ds <= b) & (cost >= 0)
            pieces.append(np.stack([sxy[ok], sxy[ok] + (exy[ok] - sxy[ok]) * f1[ok, None]], axis=1))
            f2 = np.where(reverse > 0, np.clip((b - dt) / np.where(reverse > 0, reverse, 1), 0, 1), 1.0)
            ok = (dt <= b) & (reverse >= 0)
            pieces.append(np.stack([exy[ok], exy[ok] + (sxy[ok] - exy[ok]) * f2[ok, None]], axis=1))
            reached = shapely.multilinestrings(shapely.linestrings(np.concatenate(pieces)))
            if shape == "hull":
                reached = shapely.concave_hull(reached, service_area.HULL_CONCAVITY)
            zones.append(shapely.buffer(reached, width, quad_segs=4))
    return zones


def covering(network, args):
    """The network maximal covering instance, ours against networkx (see the module's docstring)."""
    rng = np.random.default_rng(common.SEED + 1)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e"
                            " FROM {}) x").format(sql.Identifier("network", network.edges_table)))
        x0, y0, x1, y1 = cur.fetchone()
    demand = rng.uniform((x0, y0), (x1, y1), (args.demand, 2))
    sites = rng.uniform((x0, y0), (x1, y1), (args.candidates, 2))
    weight = rng.integers(1, 1001, args.demand).astype(float)
    print(f"network maximal covering: {args.demand:,} demand × {args.candidates:,} candidates, k = {args.k}, "
          f"{args.cutoff:g} min by car, gap ≤ 1 %:", flush=True)

    found, matrix_s = timed("civgis: travel-time matrix (network.costs, pgRouting)",
                            lambda: costs.matrix(network, demand, sites, args.cutoff))
    result, solve_s = timed("civgis: maximal covering (Lagrangian bound + interchange, gap ≤ 1 %)",
                            lambda: maximal_covering(found.minutes, weight, args.k, gap=0.01, time_limit=55))
    ours_s = matrix_s + solve_s
    parts = ", ".join(f"{k} {found.seconds[k]:.2f} s" for k in ("search", "copy", "join") if k in found.seconds)
    print(f"  {found.minutes.nnz:,} pairs within {args.cutoff:g} min (snap {found.seconds['snap']:.2f} s, reach "
          f"{found.seconds['reach']:.2f} s: {parts}); {int(found.demand_off_road.sum()):,} demand points off the "
          f"roads; "
          f"covered {result.objective:,.0f} of {weight.sum():,.0f}, proven bound {result.bound:,.0f}, "
          f"{result.status}, {result.method}, "
          f"{'gap ' + format(100 * result.gap, '.3f') + ' %' if result.gap is not None else 'no gap'}, "
          f"[{', '.join(f'{k} {v:.2f}' for k, v in result.seconds.items())}]", flush=True)
    print(f"  end to end (matrix + covering): {ours_s:.2f} s — target < 60 s with a proven gap ≤ 1 %: "
          f"{ours_s < 60 and result.gap is not None and result.gap <= 0.01}", flush=True)

    if args.skip_baseline:
        return

    def baseline_matrix():
        source, target, cost, reverse, _geoms = read_edges(network)
        towards = nx.DiGraph()  # edges reversed: a Dijkstra from a site gives the times *to* it
        towards.add_weighted_edges_from((t, s, c) for s, t, c in zip(source, target, cost, strict=True) if c >= 0)
        towards.add_weighted_edges_from((s, t, c) for s, t, c in zip(source, target, reverse, strict=True) if c >= 0)
        at_d, at_s = places.join(network, demand), places.join(network, sites)
        on_road = at_d.offset_m <= 500
        by_node = defaultdict(list)
        for i in np.flatnonzero(on_road):
            by_node[int(at_d.node[i])].append(i)
        rows, cols, vals, budget = [], [], [], args.cutoff * 60
        for j in np.flatnonzero(at_s.offset_m <= 500):
            start = float(at_s.access_s[j])
            for node, agg in nx.single_source_dijkstra_path_length(towards, int(at_s.node[j]),
                                                                   cutoff=budget - start).items():
                for i in by_node.get(node, ()):
                    if agg + start + at_d.access_s[i] <= budget:
                        rows.append(i)
                        cols.append(j)
                        vals.append((agg + start + at_d.access_s[i]) / 60)
        return sparse.coo_matrix((vals, (rows, cols)), shape=(len(demand), len(sites))).tocsr()
    nx_minutes, nx_matrix_s = timed("baseline: travel-time matrix (networkx Dijkstra per candidate)", baseline_matrix)
    apart = abs(nx_minutes - found.minutes)
    same = nx_minutes.nnz == found.minutes.nnz and (apart.max() if apart.nnz else 0) < 1e-6
    print(f"  same pairs and minutes: {same}", flush=True)
    if args.baseline_limit > 0:
        nx_result, nx_solve_s = timed(f"baseline: the same covering by CBC (as before, gap ≤ 1 %, at most "
                                      f"{args.baseline_limit:g} s)", lambda: maximal_covering(
            nx_minutes, weight, args.k, gap=0.01, time_limit=args.baseline_limit, method="exact"))
        nx_s = nx_matrix_s + nx_solve_s
        finished = nx_result.gap is not None and nx_result.gap <= 0.01
        quality = f"gap {100 * nx_result.gap:.3f} %" if nx_result.gap is not None else nx_result.method
        print(f"  covered {nx_result.objective:,.0f} ({nx_result.status}, {quality})"
              f"{'' if finished else ': no 1 % gap proven within the limit, so the ratio below is a lower bound'}")
        print(f"travel-time matrix: civgis {matrix_s:.2f} s, networkx {nx_matrix_s:.2f} s (ratio "
              f"{nx_matrix_s / matrix_s:.2f}×); covering: civgis {solve_s:.2f} s, CBC {nx_solve_s:.2f} s (ratio "
              f"{nx_solve_s / solve_s:.2f}×); end to end: civgis {ours_s:.2f} s, baseline {nx_s:.2f} s "
              f"(ratio {'≥ ' if not finished else ''}{nx_s / ours_s:.2f}×)")


def main(args):
    common.demo_city(args.size)
    user, _ = User.objects.get_or_create(username="bench-router", defaults={"is_superuser": True})
    print("network build (noding, travel times, components):")
    network, build_s = timed("pgRouting network build", lambda: build_network(user))
    report = network.report
    print(f"  {report['edges']:,} edges, {report['vertices']:,} vertices, {report['length_km']:,} km, "
          f"{report['components']} components")
    if args.only_covering:
        covering(network, args)
        return
    rng = np.random.default_rng(common.SEED)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT id, ST_X(geom), ST_Y(geom) FROM {} ORDER BY id").format(
            sql.Identifier("network", network.vertices_table)))
        vertices = cur.fetchall()
    chosen = [vertices[i] for i in sorted(rng.choice(len(vertices), args.facilities, replace=False))]
    roots = [v[0] for v in chosen]
    breaks_s = [b * 60 for b in args.breaks]
    body = {"roads": "roads", "profile": "driving", "breaks": args.breaks, "width": args.width, "shape": args.shape,
            "facilities": {"geometry": {"type": "MultiPoint", "coordinates": [[v[1], v[2]] for v in chosen]},
                           "crs": 3826}}

    print(f"{args.facilities} facilities, breaks {args.breaks} min, shape {args.shape}:")
    with transaction.atomic():  # the reach as the job makes it: a table in the database (read after, untimed)
        _none, pg_reach_s = timed("pgRouting reach (pgr_drivingDistance into a table, all facilities)",
                                  lambda: routing.reach_into("net_bench", network, [
                                      (i, r, 0.0) for i, r in enumerate(roots)], breaks_s[-1], False))
        reach = defaultdict(dict)
        with connection.cursor() as cur:
            cur.execute("SELECT fac, node, agg FROM net_bench")
            for fac, node, agg in cur.fetchall():
                reach[roots[fac]][node] = agg
    options = service_area.check(body, user)

    def job_run():
        job = jobs.create("bench service areas", {**options, "analysis": "network_service_area", "mode": "create",
                                                  "title": "bench", "theme": "analysis-results",
                                                  "visibility": "internal"}, user)
        job.options["slug"] = f"bench-service-areas-{job.pk}"
        job.save(update_fields=["options"])
        job = jobs.run(job.pk)
        assert job.status == "succeeded", job.errors
        return job
    job, pg_total_s = timed("pgRouting service-area job end to end (reach + polygons + result layer)", job_run)

    edges, read_s = timed("baseline: read the edges into Python", lambda: read_edges(network))
    source, target, cost, reverse, _geoms = edges

    def nx_graph():
        graph = nx.DiGraph()
        graph.add_weighted_edges_from((s, t, c) for s, t, c in zip(source, target, cost, strict=True) if c >= 0)
        graph.add_weighted_edges_from((t, s, c) for s, t, c in zip(source, target, reverse, strict=True) if c >= 0)
        return graph
    graph, nx_build_s = timed("networkx: graph", nx_graph)
    nx_trees, nx_reach_s = timed("networkx: Dijkstra per facility", lambda: [
        nx.single_source_dijkstra_path_length(graph, r, cutoff=breaks_s[-1]) for r in roots])

    def adjacency():
        adj = defaultdict(list)
        for s, t, c, rc in zip(source.tolist(), target.tolist(), cost.tolist(), reverse.tolist(), strict=True):
            if c >= 0:
                adj[s].append((t, c))
            if rc >= 0:
                adj[t].append((s, rc))
        return adj
    adj, py_build_s = timed("Python heapq Dijkstra: adjacency", adjacency)
    py_trees, py_reach_s = timed("Python heapq Dijkstra per facility", lambda: [
        heapq_dijkstra(adj, r, breaks_s[-1]) for r in roots])
    _zones, poly_s = timed("shapely: polygons from the networkx reach", lambda: shapely_zones(
        nx_trees, edges, breaks_s, args.width, args.shape))

    agree = all(set(reach[r]) == set(nx_trees[i]) == set(py_trees[i]) for i, r in enumerate(roots))
    worst = max(abs(reach[r][n] - nx_trees[i][n]) for i, r in enumerate(roots) for n in nx_trees[i])
    print(f"reached vertices agree (pgRouting = networkx = heapq): {agree}; largest time difference {worst:.2e} s")
    nx_total = read_s + nx_build_s + nx_reach_s + poly_s
    py_total = read_s + py_build_s + py_reach_s + poly_s
    print(f"reach only: pgRouting {pg_reach_s:.2f} s, networkx {nx_reach_s:.2f} s "
          f"({nx_reach_s / pg_reach_s:.1f}×), heapq {py_reach_s:.2f} s ({py_reach_s / pg_reach_s:.1f}×)")
    print(f"end to end: pgRouting job {pg_total_s:.2f} s; networkx + shapely {nx_total:.2f} s "
          f"(ratio {nx_total / pg_total_s:.2f}×); heapq + shapely {py_total:.2f} s "
          f"(ratio {py_total / pg_total_s:.2f}×)")
    print(f"network build {build_s:.2f} s; result rows {sum(job.counts['features'].values())}")
    covering(network, args)


if __name__ == "__main__":
    main(ARGS)
