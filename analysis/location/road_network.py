"""Distances along a road network: a graph from road centre lines, Dijkstra from each site up to a limit.

Vertices that coincide (within 0.1 m) are one node, so segments that share an end are connected; points are
snapped to their nearest node and the snap distance is added at both ends (walking to the road and back).
"""

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

SNAP_GRID_M = 0.1
BLOCK_CELLS = 20_000_000  # Dijkstra answers a dense sites × nodes block: at most this many float64s (160 MB)


class RoadGraph:
    def __init__(self, lines):
        coords, owner = shapely.get_coordinates(np.asarray(lines), return_index=True)
        if len(coords) < 2:
            raise ValueError("the road layer has no line to build a network from")
        keys = np.round(coords / SNAP_GRID_M).astype(np.int64)
        self.nodes_xy, first, node_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        self.nodes_xy = coords[first]
        node_of = node_of.ravel()
        same_line = owner[1:] == owner[:-1]  # consecutive vertices of one line (or part) form an edge
        a, b = node_of[:-1][same_line], node_of[1:][same_line]
        length = np.hypot(*(coords[1:][same_line] - coords[:-1][same_line]).T)
        keep = a != b
        n = len(self.nodes_xy)
        self.graph = sparse.coo_matrix((length[keep], (a[keep], b[keep])), shape=(n, n)).tocsr()
        self._tree = cKDTree(self.nodes_xy)

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offset, node = self._tree.query(xy)
        return node, offset

    def distances(self, demand_xy: np.ndarray, site_xy: np.ndarray, limit: float) -> sparse.csr_matrix:
        """Road distance from each demand point to each site, kept where it is ≤ `limit` (explicit zeros kept)."""
        d_node, d_off = self.snap(demand_xy)
        s_node, s_off = self.snap(site_xy)
        rows, cols, vals = [], [], []
        per_pass = max(1, min(256, BLOCK_CELLS // len(self.nodes_xy)))
        for start in range(0, len(site_xy), per_pass):
            block = slice(start, start + per_pass)
            reach = csgraph.dijkstra(self.graph, directed=False, indices=s_node[block], limit=limit)
            along = reach[:, d_node] + d_off[None, :] + s_off[block, None]  # sites × demand
            site_i, demand_i = np.nonzero(along <= limit)
            rows.append(demand_i)
            cols.append(site_i + start)
            vals.append(along[site_i, demand_i])
        shape = (len(demand_xy), len(site_xy))
        if not rows:
            return sparse.csr_matrix(shape)
        matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
        matrix.sort_indices()
        return matrix
