"""Travel times between many demand points and many sites on a network, in minutes, as the sparse demand × sites
matrix location-allocation reads (analysis.location): pgRouting's pgr_drivingDistance from every site up to the
cutoff over the edges travelled towards it (demand goes to the site, one-way streets included), joined in the
database to the vertex where each demand point joins the network; only the pairs within the cutoff leave it.

A point farther than the snapping limit from every road joins nothing: demand there is unreachable (the models
report it and never count it as served), a site there serves no one. Both are counted in `Costs`."""

import io
import time
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from psycopg2 import sql
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
    pairs = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if demand_ok.any() and sites_ok.any():
        with transaction.atomic():  # the temp table lives until the commit
            routing.reach_into("net_cost_reach", network, [(int(j), int(sites.node[j]), float(sites.access_s[j]))
                                                           for j in np.flatnonzero(sites_ok)], budget, towards=True)
            searched = time.perf_counter()
            reach = _copied("net_cost_reach")
        copied = time.perf_counter()
        pairs = _join(reach, np.flatnonzero(demand_ok), demand, budget)
    minutes = sparse.coo_matrix((pairs[2] / 60.0, (pairs[0], pairs[1])), shape=shape).tocsr()
    minutes.sort_indices()
    seconds = {"snap": snapped - t0, "reach": time.perf_counter() - snapped}
    if demand_ok.any() and sites_ok.any():
        seconds |= {"search": searched - snapped, "copy": copied - searched, "join": time.perf_counter() - copied}
    return Costs(minutes, ~demand_ok, ~sites_ok, seconds)


REACH_ROW = np.dtype([("n", ">i2"), ("fac_len", ">i4"), ("fac", ">i4"), ("node_len", ">i4"), ("node", ">i8"),
                      ("agg_len", ">i4"), ("agg", ">f8")])


def _copied(table: str) -> np.ndarray:
    """The reach rows (fac, node, agg) as an array, through a binary COPY read straight into numpy (millions of rows:
    tuples, or text parsed line by line, would take most of the time)."""
    buffer = io.BytesIO()
    with connection.cursor() as cur:
        cur.copy_expert(sql.SQL("COPY (SELECT fac::int4, node::int8, agg::float8 FROM {}) TO STDOUT (FORMAT binary)"
                                ).format(sql.Identifier("pg_temp", table)).as_string(cur.connection), buffer)
    data = buffer.getbuffer()
    header = 11 + 4 + 4 + int.from_bytes(data[15:19], "big")  # signature, flags, header extension
    rows = np.frombuffer(data, REACH_ROW, count=(len(data) - header - 2) // REACH_ROW.itemsize, offset=header)
    return np.column_stack([rows["fac"], rows["node"], rows["agg"]]).astype(float) if len(rows) else np.zeros((0, 3))


def _join(reach: np.ndarray, kept: np.ndarray, demand, budget: float):
    """(demand index, site index, seconds) for each reached vertex and each demand point joining there, within
    the budget — the join done in numpy on the vertices' sorted order."""
    order = kept[np.argsort(demand.node[kept], kind="stable")]
    nodes = demand.node[order]
    lo = np.searchsorted(nodes, reach[:, 1].astype(np.int64), "left")
    counts = np.searchsorted(nodes, reach[:, 1].astype(np.int64), "right") - lo
    total = int(counts.sum())
    offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(total)
    who = order[offsets]
    seconds = np.repeat(reach[:, 2], counts) + demand.access_s[who]
    inside = seconds <= budget
    return who[inside], np.repeat(reach[:, 0].astype(np.int64), counts)[inside], seconds[inside]
