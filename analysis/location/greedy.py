"""Greedy site picking: the heuristic fallback for huge instances, the warm start for the exact solver, and
the order in which chosen sites are credited with their marginal gain (so k can be argued)."""

import numpy as np
from scipy import sparse


def cover_order(coverage: sparse.csr_matrix, weight: np.ndarray, k: int, allowed: np.ndarray,
                covered: np.ndarray, conflicts: sparse.csr_matrix | None = None,
                by_site: sparse.csc_matrix | None = None) -> tuple[list[int], list[float]]:
    """Up to k allowed columns, each the one adding the most uncovered weight (and not in conflict with one
    already picked); (columns, gains). `by_site`: the same coverage by columns, if already at hand."""
    coverage = coverage.tocsr()
    by_site = coverage.tocsc() if by_site is None else by_site
    open_weight = np.where(covered, 0.0, weight)
    gains = np.asarray(coverage.T @ open_weight).ravel()
    gains[~allowed] = -np.inf
    order, added = [], []
    for _ in range(min(k, int(allowed.sum()))):
        j = int(np.argmax(gains))
        if gains[j] == -np.inf:
            break  # nothing allowed is left (the spacing rules out the rest)
        rows = by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]]
        fresh = rows[open_weight[rows] > 0]
        order.append(j)
        added.append(float(gains[j]))
        gains[j] = -np.inf
        if conflicts is not None:
            gains[conflicts.indices[conflicts.indptr[j]:conflicts.indptr[j + 1]]] = -np.inf
        if len(fresh):
            gains -= np.asarray(coverage[fresh].T @ open_weight[fresh]).ravel()
            open_weight[fresh] = 0.0
    return order, added


def median_order(distance: sparse.csr_matrix, weight: np.ndarray, k: int, allowed: np.ndarray,
                 current: np.ndarray) -> tuple[list[int], list[float]]:
    """Up to k allowed columns, each the one cutting the weighted distance most given `current` (each demand
    point's distance to its nearest open site, or a penalty); (columns, reductions)."""
    by_site = distance.tocsc()
    rows, dist = by_site.indices, by_site.data
    col_of = np.repeat(np.arange(by_site.shape[1]), np.diff(by_site.indptr))
    current = current.astype(float).copy()
    allowed = allowed.copy()
    order, cut = [], []
    for _ in range(min(k, int(allowed.sum()))):
        saving = np.bincount(col_of, weights=weight[rows] * np.maximum(0.0, current[rows] - dist),
                             minlength=by_site.shape[1])
        saving[~allowed] = -np.inf
        j = int(np.argmax(saving))
        order.append(j)
        cut.append(float(saving[j]))
        allowed[j] = False
        span = slice(by_site.indptr[j], by_site.indptr[j + 1])
        current[rows[span]] = np.minimum(current[rows[span]], dist[span])
    return order, cut
