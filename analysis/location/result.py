"""What a location-allocation run answers: the sites, the objective, how sure we are, and what each site adds."""

from dataclasses import dataclass, field

import numpy as np

EXACT = "exact (CBC)"
EXACT_HIGHS = "exact (HiGHS)"
LAGRANGIAN = "Lagrangian bound + interchange heuristic"
HEURISTIC = "greedy heuristic: no optimality proven"


@dataclass
class Siting:
    chosen: list[int]  # new sites, ordered by marginal gain (the first adds most)
    fixed: list[int]  # existing sites kept open
    objective: float  # covered weight (covering, set covering), total weighted distance (p-median), attendance or
    # captured demand (market share)
    bound: float | None  # best proven bound on the objective (None for the heuristic)
    gap: float | None  # relative optimality gap proven by the solver (0 = optimal; None for the heuristic)
    status: str  # optimal, feasible (within the gap or time asked), heuristic
    method: str
    marginal_gain: list[float]  # per chosen site, in order; they add up to the new sites' total effect
    next_gain: float  # what the best further site would add (the k + 1-th, given the chosen ones)
    seconds: dict = field(default_factory=dict)
    assignment: np.ndarray | None = None  # per demand point: the serving site (p-median) or -1
    covered: np.ndarray | None = None  # per demand point: covered or not (covering)
    # covering: the demand the existing sites reach on their own; it plus the marginal gains is the objective
    already_covered: float | None = None
    coverage: object = None  # covering: the demand × sites reach pattern (scipy sparse), to explain the choice
    unreachable: int = 0  # demand points no site reaches within the cutoff (never counted as served or covered)
    unreachable_weight: float = 0.0
    extra: dict = field(default_factory=dict)  # what a problem type adds (market share, target reached …)

    def summary(self) -> dict:
        return {"chosen": [int(j) for j in self.chosen], "fixed": [int(j) for j in self.fixed],
                "objective": round(self.objective, 6), "bound": None if self.bound is None else round(self.bound, 6),
                "gap": self.gap, "status": self.status, "method": self.method,
                "marginal_gain": [round(g, 6) for g in self.marginal_gain], "next_gain": round(self.next_gain, 6),
                "already_covered": None if self.already_covered is None else round(self.already_covered, 6),
                "unreachable": self.unreachable, "unreachable_weight": round(self.unreachable_weight, 6),
                **self.extra,
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}
