"""Location-allocation: which k sites to choose from candidates (maximal covering, p-median).

Distances are sparse matrices (`distances`, `road_network`); models are written in matrix form straight to MPS
(`mps`) and solved exactly by CBC (`solver`), or by a greedy heuristic that says so (`greedy`).
"""

from geo.messages import Worded


class Unanswerable(Worded, ValueError):
    """The instance has no answer (too few candidates, demand out of reach, capacities too small): a message for the
    person who asked, a msgid with {named} fields (geo.messages)."""
