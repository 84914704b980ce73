"""Travel times between many demand points and many sites on a network, in minutes, as the sparse demand × sites
matrix location-allocation reads (analysis.location): pgRouting's pgr_drivingDistance from every site up to the
cutoff over the edges travelled towards it (demand goes to the site, one-way streets included), joined in the
database to the vertex where each demand point joins the network; only the pairs within the cutoff leave it.

A point farther than the snapping limit from every road joins nothing: demand there is unreachable (the models
report it and never count it as served), a site there serves no one. Both are counted in `Costs`."""

import time
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from scipy import sparse

from . import inputs, places, routing


@dataclass
class Costs:
    minutes: sparse.csr_matrix  # demand × sites, the pairs within the cutoff (explicit zeros kept)
    demand_off_road: np.ndarray  # per demand point: beyond the snapping limit of every road
    sites_off_road: np.ndarray
    seconds: dict = field(default_factory=dict)


def matrix(network, demand_xy: np.ndarray, site_xy: np.ndarray, cutoff_min: float | None,
           snap_limit: float = 500.0) -> Costs:
    """Minutes from each demand point to each site it reaches within `cutoff_min` (all of the city's reach, four
    hours, when None)."""
    t0 = time.perf_counter()
    budget = 60.0 * (inputs.MAX_BREAK_MIN if cutoff_min is None else float(cutoff_min))
    shape = (len(demand_xy), len(site_xy))
    if not len(demand_xy) or not len(site_xy):
        return Costs(sparse.csr_matrix(shape), np.zeros(shape[0], bool), np.zeros(shape[1], bool))
    demand, sites = places.join(network, demand_xy), places.join(network, site_xy)
    demand_ok, sites_ok = demand.offset_m <= snap_limit, sites.offset_m <= snap_limit
    snapped = time.perf_counter()
    rows = []
    if demand_ok.any() and sites_ok.any():
        with transaction.atomic(), connection.cursor() as cur:  # the temp tables live until the commit
            routing.reach_into("net_cost_reach", network, [(int(j), int(sites.node[j]), float(sites.access_s[j]))
                                                           for j in np.flatnonzero(sites_ok)], budget, towards=True)
            kept = np.flatnonzero(demand_ok)
            cur.execute("CREATE TEMP TABLE net_cost_demand ON COMMIT DROP AS SELECT * FROM unnest(%s::integer[],"
                        " %s::bigint[], %s::float8[]) AS d(idx, node, access)",
                        [kept.tolist(), demand.node[kept].tolist(), demand.access_s[kept].tolist()])
            cur.execute("SELECT d.idx, r.fac, r.agg + d.access FROM net_cost_reach r JOIN net_cost_demand d"
                        " USING (node) WHERE r.agg + d.access <= %s", [budget])
            rows = cur.fetchall()
    found = np.array(rows, dtype=float).reshape(-1, 3)
    minutes = sparse.coo_matrix((found[:, 2] / 60.0, (found[:, 0].astype(np.int64), found[:, 1].astype(np.int64))),
                                shape=shape).tocsr()
    minutes.sort_indices()
    return Costs(minutes, ~demand_ok, ~sites_ok, {"snap": snapped - t0, "reach": time.perf_counter() - snapped})
