"""Straight-line demand × site relations as sparse matrices, from a KD-tree (no dense n × m matrix is built)."""

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree


def _csr_from_lists(lists, n_rows: int, n_cols: int, values=None) -> sparse.csr_matrix:
    lengths = np.fromiter((len(row) for row in lists), np.int64, n_rows)
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.fromiter((j for row in lists for j in row), np.int64, int(indptr[-1]))
    data = np.ones(len(indices)) if values is None else values
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
    matrix.sort_indices()
    return matrix


def within(demand_xy: np.ndarray, site_xy: np.ndarray, radius: float) -> sparse.csr_matrix:
    """Coverage: a 1 where site j is within `radius` of demand point i."""
    if len(site_xy) == 0 or len(demand_xy) == 0:
        return sparse.csr_matrix((len(demand_xy), len(site_xy)))
    lists = cKDTree(site_xy).query_ball_point(demand_xy, radius, return_sorted=False)
    return _csr_from_lists(lists, len(demand_xy), len(site_xy))


def within_distance(demand_xy: np.ndarray, site_xy: np.ndarray, radius: float) -> sparse.csr_matrix:
    """Distances of the demand–site pairs within `radius` (explicit zeros kept: a site on the point is at 0 m)."""
    if len(site_xy) == 0 or len(demand_xy) == 0:
        return sparse.csr_matrix((len(demand_xy), len(site_xy)))
    lists = cKDTree(site_xy).query_ball_point(demand_xy, radius, return_sorted=True)
    cols = np.fromiter((j for row in lists for j in row), np.int64)
    rows = np.repeat(np.arange(len(demand_xy)), [len(row) for row in lists])
    return _csr_from_lists(lists, len(demand_xy), len(site_xy), np.hypot(*(demand_xy[rows] - site_xy[cols]).T))


def nearest(demand_xy: np.ndarray, site_xy: np.ndarray, k: int) -> sparse.csr_matrix:
    """Distances to each demand point's k nearest sites (explicit zeros kept: a site on the point is at 0 m)."""
    k = min(k, len(site_xy))
    dist, idx = cKDTree(site_xy).query(demand_xy, k=k)
    dist, idx = np.asarray(dist).reshape(len(demand_xy), k), np.asarray(idx).reshape(len(demand_xy), k)
    indptr = np.arange(0, len(demand_xy) * k + 1, k)
    matrix = sparse.csr_matrix((dist.ravel(), idx.ravel(), indptr), shape=(len(demand_xy), len(site_xy)))
    matrix.sort_indices()
    return matrix


def pattern(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    """The matrix's stored pairs as ones: a distance matrix's explicit zeros (a site on the point) stay pairs."""
    matrix = sparse.csr_matrix(matrix)
    out = sparse.csr_matrix((np.ones(len(matrix.indices)), matrix.indices, matrix.indptr), shape=matrix.shape)
    out.sum_duplicates()
    return out


def closer_than(site_xy: np.ndarray, spacing: float) -> sparse.csr_matrix:
    """Sites × sites, 1 where two different sites are closer than `spacing` (a minimum spacing's conflicts)."""
    pairs = cKDTree(site_xy).query_pairs(spacing, output_type="ndarray") if len(site_xy) else np.zeros((0, 2), int)
    pairs = pairs[np.hypot(*(site_xy[pairs[:, 0]] - site_xy[pairs[:, 1]]).T) < spacing]
    rows, cols = np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(site_xy), len(site_xy)))
