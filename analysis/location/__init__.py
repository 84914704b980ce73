"""Location-allocation: which k sites to choose from candidates (maximal covering, p-median).

Distances are sparse matrices (`distances`, `road_network`); models are written in matrix form straight to MPS
(`mps`) and solved exactly by CBC (`solver`), or by a greedy heuristic that says so (`greedy`).
"""
