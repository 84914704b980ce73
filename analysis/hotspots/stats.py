"""The statistics of hot spot analysis, vectorised over all cells at once (numpy/scipy; no per-cell Python loops):
neighbourhoods (distance band or k nearest), Getis-Ord Gi* (also on a space-time cube), the Benjamini–Hochberg
false-discovery-rate correction, confidence classes, local Moran's I with conditional permutations, global Moran's I
(for choosing the distance band) and the Mann-Kendall trend test.

Formulas, as published:

* Gi* (Getis & Ord 1992; Ord & Getis 1995), the form ArcGIS's Hot Spot Analysis reports as a z-score: for a
  location i with weights w_ij (binary here, i itself included),
      Gi* = (Σ_j w_ij x_j − X̄ Σ_j w_ij) / (S √[(n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1)]),
  X̄ = Σ x / n, S = √(Σ x² / n − X̄²), p two-sided from the standard normal.
* Local Moran's I (Anselin 1995) with row-standardised weights: I_i = (z_i / m2) Σ_j w_ij z_j, z = x − x̄,
  m2 = Σ z² / n; the pseudo p-value from conditional permutations (the other n − 1 values shuffled around i):
  (M + 1) / (P + 1), M the permutations at least as extreme on the observed side (as esda's `Moran_Local`).
* Benjamini & Hochberg (1995): with p sorted ascending, q_(i) = min_{j ≥ i} p_(j) m / j; a test is significant at
  level α under FDR control when q ≤ α.
* Mann-Kendall: S = Σ_{i<j} sign(x_j − x_i), Var S = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18 (t_g the sizes
  of tied groups), z = (S − sign S) / √Var S, p two-sided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.stats import norm

CONFIDENCES = (99, 95, 90)  # a class's confidence level, most confident first
ALPHAS = {99: 0.01, 95: 0.05, 90: 0.10}


def two_sided_p(z: np.ndarray) -> np.ndarray:
    return 2.0 * norm.sf(np.abs(z))


# ------------------------------------------------------------------------------------------------------------------
# neighbourhoods
# ------------------------------------------------------------------------------------------------------------------
def distance_band(xy: np.ndarray, band: float, self_included: bool) -> sparse.csr_matrix:
    """Binary weights: 1 between locations whose centres are at most `band` apart (symmetric)."""
    n = len(xy)
    pairs = cKDTree(xy).query_pairs(band * (1 + 1e-9), output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    if self_included:
        rows, cols = np.concatenate([rows, np.arange(n)]), np.concatenate([cols, np.arange(n)])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def k_nearest(xy: np.ndarray, k: int, self_included: bool) -> sparse.csr_matrix:
    """Binary weights: 1 from each location to its k nearest others (not symmetric in general)."""
    n = len(xy)
    k = min(k, n - 1)
    _d, idx = cKDTree(xy).query(xy, k=k + 1)
    drop = idx == np.arange(n)[:, None]  # the location itself, wherever ties put it …
    drop[~drop.any(axis=1), -1] = True  # … or, where it is not among them (duplicates), the farthest
    rows = np.repeat(np.arange(n), k)
    others = idx[~drop].reshape(n, k)
    cols = others.ravel()
    if self_included:
        rows, cols = np.concatenate([rows, np.arange(n)]), np.concatenate([cols, np.arange(n)])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


@dataclass
class Band:
    """The distance band chosen for a set of locations, and how."""

    distance: float
    how: str  # "peak" | "k_nearest"
    start: float
    increment: float
    peaks: list  # [(distance, z)] of the incremental Moran's I
    k: int | None = None
    outliers: int = 0  # locational outliers left out of the start and increment


def global_moran_z(x: np.ndarray, w: sparse.csr_matrix) -> float:
    """Global Moran's I z-score (binary weights without self, randomisation assumption as ArcGIS's Spatial
    Autocorrelation reports it)."""
    n = len(x)
    z = x - x.mean()
    m2 = (z @ z)
    if m2 == 0 or n < 4:
        return 0.0
    s0 = w.sum()
    if s0 == 0:
        return 0.0
    i_stat = n / s0 * (z @ (w @ z)) / m2
    ws = w + w.T
    s1 = 0.5 * ws.multiply(ws).sum()
    s2 = float(((np.asarray(w.sum(axis=1)).ravel() + np.asarray(w.sum(axis=0)).ravel()) ** 2).sum())
    b2 = n * (z ** 4).sum() / m2 ** 2
    return _moran_z(float(i_stat), n, float(s0), float(s1), s2, b2)


def optimized_band(xy: np.ndarray, values: np.ndarray, steps: int = 10) -> Band:
    """The distance band as ArcGIS's Optimized Hot Spot Analysis chooses it ("how Optimized Hot Spot Analysis
    works": the scale of analysis from Incremental Spatial Autocorrelation):

    1. start = the distance at which every location has at least one neighbour (the largest nearest-neighbour
       distance), so no location is analysed alone — locational outliers left out (a nearest-neighbour distance
       more than 3 standard deviations above the mean: a far cell or village would otherwise set the scale of the
       whole analysis; it stays in the analysis, with the neighbours the band gives it);
    2. increment = the mean nearest-neighbour distance (outliers left out);
    3. global Moran's I z-scores at `steps` (10) distances start, start + increment, …; the band is the first peak
       (a z larger than at the distances on both sides), where clustering is most pronounced at the finest scale;
    4. no peak: the mean distance to the k nearest neighbours, k = 5 % of the locations, at least 3, at most 30
       (each location then has about k neighbours).

    On a grid with its empty cells (job.aggregate) every nearest neighbour is one cell away: start = increment =
    the cell size. The pairs within the largest distance are found once and sorted by length: each distance's
    Moran's I is then a prefix of them (binary symmetric weights: S0 = 2P, S1 = 4P, S2 = Σ (2 deg_i)²,
    z'Wz = 2 Σ_pairs z_i z_j).
    """
    n = len(xy)
    tree = cKDTree(xy)
    nearest, _ = tree.query(xy, k=2)
    nn = nearest[:, 1]
    outlier = nn > nn.mean() + 3 * nn.std()
    start, increment = float(nn[~outlier].max()), float(nn[~outlier].mean())
    distances = start + increment * np.arange(steps)
    pairs = tree.query_pairs(float(distances[-1]) * (1 + 1e-9), output_type="ndarray")
    length = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    order = np.argsort(length, kind="stable")
    pairs, length = pairs[order], length[order]
    x = values.astype(float)
    z = x - x.mean()
    m2 = z @ z
    cross = np.cumsum(z[pairs[:, 0]] * z[pairs[:, 1]])
    b2 = n * (z ** 4).sum() / m2 ** 2 if m2 else 0.0
    zs = []
    for d in distances:
        k = int(np.searchsorted(length, d * (1 + 1e-9), side="right"))
        if k == 0 or m2 == 0 or n < 4:
            zs.append(0.0)
            continue
        degree = np.bincount(pairs[:k].ravel(), minlength=n).astype(float)
        s0, s1, s2 = 2.0 * k, 4.0 * k, float(((2 * degree) ** 2).sum())
        i_stat = n / s0 * 2 * cross[k - 1] / m2
        zs.append(_moran_z(i_stat, n, s0, s1, s2, b2))
    peaks = [(float(d), float(z)) for d, z in zip(distances, zs, strict=True)]
    for i in range(1, steps - 1):
        if zs[i] > zs[i - 1] and zs[i] > zs[i + 1]:
            return Band(float(distances[i]), "peak", start, increment, peaks, outliers=int(outlier.sum()))
    k = int(np.clip(round(0.05 * n), 3, 30))
    k = min(k, n - 1)
    d, _ = tree.query(xy, k=k + 1)
    return Band(float(d[:, 1:].mean()), "k_nearest", start, increment, peaks, k, int(outlier.sum()))


def _moran_z(i_stat: float, n: int, s0: float, s1: float, s2: float, b2: float) -> float:
    """Global Moran's I z under the randomisation assumption (Cliff & Ord)."""
    expected = -1.0 / (n - 1)
    var = ((n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0) - b2 * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0))
           / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - expected ** 2)
    return float((i_stat - expected) / np.sqrt(var)) if var > 0 else 0.0


# ------------------------------------------------------------------------------------------------------------------
# Gi*
# ------------------------------------------------------------------------------------------------------------------
def gi_star(x: np.ndarray, w: sparse.csr_matrix) -> np.ndarray:
    """Gi* z-scores of `x` with weights `w` (self included in w)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    mean = x.mean()
    s = np.sqrt((x * x).mean() - mean * mean)
    wsum = np.asarray(w.sum(axis=1)).ravel()
    w2sum = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    return _gi_z(w @ x, wsum, w2sum, mean, s, n)


def _gi_z(lag, wsum, w2sum, mean, s, n):
    denominator = s * np.sqrt(np.maximum(n * w2sum - wsum * wsum, 0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lag - mean * wsum) / denominator
    return np.where(denominator > 0, z, 0.0)


def space_time_gi_star(cube: np.ndarray, w: sparse.csr_matrix, time_window: int) -> np.ndarray:
    """Gi* z-scores of every bin of a space-time cube (T steps × N locations) with binary space-time neighbours:
    the bin's spatial neighbours (w, self included) in the same time step and in the `time_window` steps before it
    (Esri's Create Space Time Cube / Emerging Hot Spot Analysis: "Neighborhood Time Step"); the mean and standard
    deviation are those of the whole cube, n = T · N."""
    t_steps, n_loc = cube.shape
    x = cube.astype(float)
    n = x.size
    mean = x.mean()
    s = np.sqrt((x * x).mean() - mean * mean)
    lag = np.asarray((w @ x.T).T)  # spatial lag per step, T × N
    csum = np.cumsum(lag, axis=0)
    window = csum.copy()
    window[time_window + 1:] -= csum[:-time_window - 1]
    steps_in = np.minimum(np.arange(t_steps), time_window) + 1  # fewer steps before the first ones
    degree = np.asarray(w.sum(axis=1)).ravel()
    degree2 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    wsum = steps_in[:, None] * degree[None, :]
    w2sum = steps_in[:, None] * degree2[None, :]
    return _gi_z(window, wsum, w2sum, mean, s, n)


# ------------------------------------------------------------------------------------------------------------------
# FDR and classes
# ------------------------------------------------------------------------------------------------------------------
def fdr_q_values(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the order of `p` (any shape)."""
    p = np.asarray(p, dtype=float)
    flat = p.ravel()
    m = flat.size
    if m == 0:
        return p.copy()
    order = np.argsort(flat, kind="stable")
    scaled = flat[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q.reshape(p.shape)


def confidence(z: np.ndarray, p: np.ndarray, fdr: bool) -> np.ndarray:
    """Signed confidence classes: +99/+95/+90 hot, −99/−95/−90 cold, 0 not significant (p, or with `fdr` the
    Benjamini–Hochberg q, at most 0.01/0.05/0.10)."""
    tested = fdr_q_values(p) if fdr else np.asarray(p)
    level = np.zeros(np.shape(z), dtype=np.int16)
    for c in sorted(CONFIDENCES):  # 90 first, then overwritten by 95 and 99
        level = np.where(tested <= ALPHAS[c], c, level)
    return (np.sign(z) * level).astype(np.int16)


# ------------------------------------------------------------------------------------------------------------------
# local Moran's I
# ------------------------------------------------------------------------------------------------------------------
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}  # as esda's q


@dataclass
class LocalMoran:
    i: np.ndarray  # local I
    lag: np.ndarray  # spatial lag of the standardised values (row-standardised)
    quadrant: np.ndarray  # 1 HH, 2 LH, 3 LL, 4 HL
    p: np.ndarray  # pseudo p-value from permutations


def local_moran(x: np.ndarray, w: sparse.csr_matrix, permutations: int = 499, seed: int = 2026,
                chunk: int = 512) -> LocalMoran:
    """Local Moran's I with row-standardised binary weights `w` (self excluded) and conditional permutations: for
    each permutation one random draw of neighbours from the other n − 1 values is shared by all locations (as
    esda's `crand`), so the permutations are arrays, not loops over locations."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    z = x - x.mean()
    m2 = (z @ z) / n
    w = sparse.csr_matrix(w)
    degree = np.diff(w.indptr)
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = sparse.diags(np.where(degree > 0, 1.0 / np.maximum(degree, 1), 0.0)) @ w
    lag = rs @ z
    stat = z * lag / m2 if m2 > 0 else np.zeros(n)
    quadrant = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
    kmax = int(degree.max()) if n else 0
    p = np.ones(n)
    if permutations > 0 and m2 > 0 and kmax > 0 and n > kmax + 1:
        rng = np.random.default_rng(seed)
        draws = np.stack([rng.permutation(n - 1)[:kmax] for _ in range(permutations)])  # P × kmax
        take = np.arange(kmax)
        for lo in range(0, n, chunk):
            ids = np.arange(lo, min(lo + chunk, n))
            idx = draws[None, :, :] + (draws[None, :, :] >= ids[:, None, None])  # skip location i itself
            values = z[idx]  # c × P × kmax
            used = take[None, None, :] < degree[ids][:, None, None]
            perm_lag = (values * used).sum(axis=2) / np.maximum(degree[ids], 1)[:, None]
            perm_i = z[ids][:, None] * perm_lag / m2
            above = (perm_i >= stat[ids][:, None]).sum(axis=1)
            larger = np.where(permutations - above < above, permutations - above, above)
            p[ids] = (larger + 1.0) / (permutations + 1.0)
        p = np.where(degree > 0, p, 1.0)
    return LocalMoran(stat, lag, quadrant, p)


# ------------------------------------------------------------------------------------------------------------------
# Mann-Kendall
# ------------------------------------------------------------------------------------------------------------------
def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend z and two-sided p for every row of `series` (locations × time steps); a loop over lags,
    not over locations."""
    x = np.asarray(series, dtype=float)
    n_loc, t = x.shape
    s = np.zeros(n_loc)
    for d in range(1, t):
        s += np.sign(x[:, d:] - x[:, :-d]).sum(axis=1)
    # ties: sizes of the groups of equal values in each row
    ordered = np.sort(x, axis=1)
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = np.cumsum(starts.ravel()) - 1
    sizes = np.bincount(run).astype(float)
    row_of_run = np.repeat(np.arange(n_loc), starts.sum(axis=1))
    ties = np.bincount(row_of_run, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=n_loc)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    return z, two_sided_p(z)
