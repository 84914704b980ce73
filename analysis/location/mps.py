"""A linear model in matrix form, written as an MPS file with numpy (no per-term modelling objects).

Building a covering model term by term in a modelling layer is what makes the usual tools slow (spopt spends
~2 minutes on a 10k × 2k instance writing a term for every site in every demand row): here the constraint
matrix is a scipy sparse matrix and the file is written column by column in one pass.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse


@dataclass
class LinearModel:
    """minimise cost·v subject to row_lower ≤ A v ≤ row_upper (one side may be ±inf), lower ≤ v ≤ upper;
    the first `n_integer` columns are integer."""

    cost: np.ndarray
    matrix: sparse.spmatrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_integer: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


def _names(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(n).astype(str)).astype(object)


def _row_section(model: LinearModel) -> tuple[list[str], list[str], np.ndarray]:
    lo, up = model.row_lower, model.row_upper
    if np.any(np.isinf(lo) & np.isinf(up)):
        raise ValueError("a free row: every row needs at least one finite bound")
    equal, less = lo == up, np.isinf(lo)
    greater = np.isinf(up) & ~equal
    ranged = ~(equal | less | greater)
    if ranged.any():
        raise ValueError("ranged rows are not written by this model writer")
    kind = np.where(equal, "E", np.where(less, "L", "G"))
    rhs = np.where(less, up, lo)
    names = _names("R", len(kind))
    return [f" {k} {n}" for k, n in zip(kind, names, strict=True)], names, rhs


def write(model: LinearModel, path: Path) -> None:
    rows, row_names, rhs = _row_section(model)
    n_rows, n_cols = model.shape
    # the objective as row 0 of one column-wise matrix: an MPS column's entries must be contiguous
    full = sparse.vstack([sparse.csr_matrix(model.cost.reshape(1, -1)), model.matrix]).tocsc()
    full.sum_duplicates()
    col_names = _names("C", n_cols)
    all_rows = np.concatenate([np.array(["OBJ"], dtype=object), row_names])
    col_of = np.repeat(np.arange(n_cols), np.diff(full.indptr))
    entries = map("    {} {} {!r}".format, col_names[col_of], all_rows[full.indices], full.data.tolist())
    # integer columns first, between markers; the split falls between two columns' entries
    split = int(full.indptr[model.n_integer])
    entries = list(entries)
    lines = ["NAME civgis", "ROWS", " N OBJ", *rows, "COLUMNS"]
    if model.n_integer:
        lines += ["    M1 'MARKER' 'INTORG'", *entries[:split], "    M2 'MARKER' 'INTEND'"]
    lines += entries[split:]
    lines.append("RHS")
    nonzero = np.flatnonzero(rhs)
    lines += [f"    RHS {row_names[i]} {float(rhs[i])!r}" for i in nonzero]
    lines.append("BOUNDS")
    lo, up = model.lower, model.upper
    for j in np.flatnonzero(lo == up):
        lines.append(f" FX BND {col_names[j]} {float(lo[j])!r}")
    free = lo != up
    for j in np.flatnonzero(free & (lo != 0) & np.isfinite(lo)):
        lines.append(f" LO BND {col_names[j]} {float(lo[j])!r}")
    for j in np.flatnonzero(free & np.isfinite(up)):
        lines.append(f" UP BND {col_names[j]} {float(up[j])!r}")
    lines.append("ENDATA\n")
    Path(path).write_text("\n".join(lines))
