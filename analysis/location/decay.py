"""How demand falls off with travel time (ArcGIS's impedance transformations), as a factor between 0 and 1 of a
demand point's weight: `linear` 1 − t/cutoff, `power` (1 + t)^−β, `exponential` e^−βt (t in the cost's unit,
minutes on a network), `none` 1 within the cutoff (every pair counts fully: capacitated coverage)."""

import numpy as np

KINDS = ("linear", "power", "exponential", "none")
DEFAULT_BETA = {"power": 1.0, "exponential": 0.1}


def factor(cost: np.ndarray, kind: str = "linear", cutoff: float | None = None,
           beta: float | None = None) -> np.ndarray:
    cost = np.asarray(cost, float)
    if kind == "linear":
        if not cutoff:
            raise ValueError("linear decay needs the cutoff")
        return np.clip(1.0 - cost / cutoff, 0.0, 1.0)
    if kind == "power":
        return (1.0 + cost) ** -(DEFAULT_BETA["power"] if beta is None else beta)
    if kind == "exponential":
        return np.exp(-(DEFAULT_BETA["exponential"] if beta is None else beta) * cost)
    if kind == "none":
        return np.ones_like(cost)
    raise ValueError(f"decay {kind!r}: one of {', '.join(KINDS)}")
