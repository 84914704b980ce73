"""Location-allocation: which sites to choose from candidates — the six problem types ArcGIS offers: maximal
covering (`covering`), the fewest sites covering all (`setcover`), p-median (`pmedian`), maximal attendance with
distance decay (`attendance`, `decay`), market share and target market share among competitors
(`market_share`); existing sites kept open, capacities where the problem has them.

Impedances are sparse demand × sites matrices: straight-line metres (`distances`) or travel minutes on a road
network (network.costs, pgRouting); a demand point with no stored pair is unreachable, reported and never served.
Models are written in matrix form (`mps`, `assignment` for the pair-assignment ones) and solved exactly by CBC or
HiGHS (`solver`), or by a greedy heuristic that says so (`greedy`).
"""

from geo.messages import Worded


class Unanswerable(Worded, ValueError):
    """The instance has no answer (too few candidates, demand out of reach, capacities too small): a message for the
    person who asked, a msgid with {named} fields (geo.messages)."""
