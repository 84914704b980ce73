"""Solving a LinearModel with CBC (python-mip, in process, from our MPS file) or HiGHS (highspy, the matrix
passed as arrays), reporting the proven optimality gap.

Each model has the solver that measured best on it (README, "Solver choice"): on maximal covering CBC proves
optimality ~20× sooner than HiGHS (whose root LP is slow there); on p-median HiGHS solves in seconds what CBC
does not finish in a minute.
"""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .mps import LinearModel, write


@dataclass
class Solution:
    values: np.ndarray  # one per column
    objective: float  # of the minimisation as written
    bound: float  # the best proven lower bound of that minimisation
    status: str  # "optimal", "feasible" (stopped by time or gap) or "infeasible"
    seconds: float  # search
    load_seconds: float = 0.0  # writing the MPS file and reading it into CBC

    @property
    def gap(self) -> float:
        """Relative distance between the solution and the proven bound (0 = proven optimal)."""
        if self.status == "infeasible":
            return float("inf")
        return max(0.0, self.objective - self.bound) / max(abs(self.objective), 1e-9)


class SolverError(RuntimeError):
    pass


def solve(model: LinearModel, time_limit: float = 60, gap: float = 0.0, start: list[int] | None = None,
          solver: str = "cbc") -> Solution:
    """Proven optimal when `gap` is 0 and time allows; otherwise the best solution and its proven gap.
    `start` names integer columns set to 1 in a known feasible solution (a warm start, e.g. the greedy one)."""
    if solver == "highs":
        return _highs(model, time_limit, gap, start)
    return _cbc(model, time_limit, gap, start)


def _cbc(model: LinearModel, time_limit: float, gap: float, start: list[int] | None) -> Solution:
    import mip  # here, not at module level: importing it prints a banner into every manage.py command

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="civgis-mip-") as folder:
        path = Path(folder) / "model.mps"
        write(model, path)
        cbc = mip.Model(sense=mip.MINIMIZE, solver_name=mip.CBC)
        cbc.verbose = 0
        cbc.threads = 1
        cbc.read(str(path))
    loaded = time.perf_counter()
    columns = cbc.vars
    if start:
        cbc.start = [(columns[int(j)], 1.0) for j in start]
    cbc.max_mip_gap = gap
    cbc.max_mip_gap_abs = 1e-6
    status = cbc.optimize(max_seconds=time_limit)
    seconds, load = time.perf_counter() - loaded, loaded - t0
    if status == mip.OptimizationStatus.INFEASIBLE:
        return Solution(np.zeros(model.shape[1]), float("inf"), float("inf"), "infeasible", seconds, load)
    if status not in (mip.OptimizationStatus.OPTIMAL, mip.OptimizationStatus.FEASIBLE):
        raise SolverError(f"CBC stopped without a solution ({status.name}) after {seconds:.1f} s")
    values = np.array([v.x for v in columns], dtype=float)
    objective, bound = float(cbc.objective_value), float(cbc.objective_bound)
    # CBC's "optimal" means "within the gap asked for": only a closed gap is reported as proven optimal
    closed = status == mip.OptimizationStatus.OPTIMAL and (gap == 0 or objective - bound <= 1e-9 * abs(objective))
    return Solution(values, objective, objective if closed else bound, "optimal" if closed else "feasible", seconds,
                    load)


def _highs(model: LinearModel, time_limit: float, gap: float, start: list[int] | None) -> Solution:
    import highspy

    t0 = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", 1)
    n_rows, n_cols = model.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = model.cost, model.lower, model.upper
    lp.row_lower_ = np.where(np.isinf(model.row_lower), -highspy.kHighsInf, model.row_lower)
    lp.row_upper_ = np.where(np.isinf(model.row_upper), highspy.kHighsInf, model.row_upper)
    matrix = model.matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * model.n_integer + [highspy.HighsVarType.kContinuous] * (
        n_cols - model.n_integer)
    h.passModel(lp)
    if start:  # a partial solution: the integer columns; HiGHS completes the rest
        ones = np.zeros(model.n_integer)
        ones[np.asarray(start, dtype=int)] = 1.0
        h.setSolution(model.n_integer, np.arange(model.n_integer, dtype=np.int32), ones)
    loaded = time.perf_counter()
    h.run()
    seconds, load = time.perf_counter() - loaded, loaded - t0
    status, info = h.getModelStatus(), h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return Solution(np.zeros(n_cols), float("inf"), float("inf"), "infeasible", seconds, load)
    if info.primal_solution_status != 2:  # 2 = feasible
        raise SolverError(f"HiGHS stopped without a solution ({h.modelStatusToString(status)}) after {seconds:.1f} s")
    values = np.asarray(h.getSolution().col_value, dtype=float)
    objective, bound = float(info.objective_function_value), float(info.mip_dual_bound)
    closed = status == highspy.HighsModelStatus.kOptimal and (gap == 0 or objective - bound <= 1e-9 * abs(objective))
    return Solution(values, objective, objective if closed else bound, "optimal" if closed else "feasible", seconds,
                    load)
