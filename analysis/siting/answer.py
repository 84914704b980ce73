"""The siting answer in terms that can be defended in a council meeting: the demand's unit, covered demand as
what the existing facilities already reach plus each new site's gain (rounded so the parts add up to the total
shown), and why the chosen sites are not simply the best-scoring candidates (score is one parcel's merit;
coverage is what a set of sites reaches together)."""

import numpy as np

from layers.models import Layer

TOP_EXPLAINED = 10  # the page's and the report's list of best-scoring candidates
# attribute names that count people or households (Taiwanese registry and census schemas among them); a layer's
# attributes that carry their own unit (issue 14's attribute kinds) win over this guess
UNIT_NAMES = {
    "people": ("population", "pop", "people", "persons", "residents", "p_cnt", "人口", "人口數", "居民", "人數"),
    "households": ("households", "household", "h_cnt", "戶數", "戶"),
}
UNIT_SYMBOLS = {"人": "people", "person": "people", "people": "people", "戶": "households",
                "household": "households", "households": "households"}


def attribute_unit(layer: Layer, attribute: str | None) -> str | None:
    """'people', 'households', 'features' (a point layer counted one by one) or None (unknown)."""
    if not attribute:
        return "features"
    meta = next((a for a in layer.attributes if a["name"] == attribute), {})
    if meta.get("unit") in UNIT_SYMBOLS:
        return UNIT_SYMBOLS[meta["unit"]]
    name = attribute.lower()
    for unit, names in UNIT_NAMES.items():
        if name in names or any(n in name for n in names if len(n) > 3 or not n.isascii()):
            return unit
    return None


def demand_unit(sources: list[tuple[Layer, dict]]) -> dict:
    """The unit all demand sources share (None when they differ or are scaled), and whether the figures are
    area-weighted estimates (an area's count spread evenly over its grid: 'about')."""
    units = {attribute_unit(layer, spec.get("attribute")) if spec.get("scale", 1) == 1 else None
             for layer, spec in sources}
    estimate = any(layer.geometry_type in ("Polygon", "MultiPolygon") for layer, _spec in sources)
    unit = units.pop() if len(units) == 1 else None
    return {"unit": unit, "estimate": estimate, "decimals": 0 if unit else 1}


def parts_that_add_up(parts: list[float], decimals: int) -> list[float]:
    """Each part rounded so the rounded parts add up to the rounded total (cumulative rounding): the officer sees
    a sum that checks, and no part moves by more than one unit of the last digit."""
    scale = 10.0 ** decimals
    cumulative = np.rint(np.cumsum(np.asarray(parts, float)) * scale)
    rounded = np.diff(np.concatenate([[0.0], cumulative])) / scale
    return [round(float(v), decimals) for v in rounded]


def accounting(demand_total: float, already: float, gains: list[float], next_gain: float, decimals: int) -> dict:
    """Covered demand = already covered by existing facilities + each new site's gain, all rounded together."""
    rounded = parts_that_add_up([already, *gains, demand_total - already - sum(gains)], decimals)
    covered = round(sum(rounded[:-1]), decimals)
    return {"already_covered": rounded[0], "gains": rounded[1:-1], "covered": covered,
            "uncovered": rounded[-1], "total": round(covered + rounded[-1], decimals),
            "next_gain": round(float(next_gain), decimals)}


def _reach(coverage, j: int) -> np.ndarray:
    column = coverage[:, [j]].tocoo()
    return column.row


def score_versus_coverage(rank: np.ndarray, fid: np.ndarray, score: np.ndarray, pool: np.ndarray, sites,
                          weight: np.ndarray, site_xy: np.ndarray, min_spacing: float | None,
                          decimals: int) -> list[dict]:
    """The best-scoring candidates and, for each, whether it was chosen and if not why: what it reaches, how much
    of that an open site (new or existing) already covers, and what choosing it as well would add."""
    position = {int(i): p for p, i in enumerate(pool)}
    chosen = {int(j): order for order, j in enumerate(sites.chosen, start=1)}
    n_pool = len(pool)
    open_sites = [*sites.chosen, *sites.fixed]
    coverage = sites.coverage.tocsc() if sites.coverage is not None else None
    out = []
    best = np.flatnonzero((rank > 0) & (rank <= TOP_EXPLAINED))
    for i in best[np.argsort(rank[best])]:
        item = {"rank": int(rank[i]), "fid": int(fid[i]), "score": round(float(score[i]), 6), "pick_order": None}
        j = position.get(int(i))
        if j is None:
            item["reason"] = "outside_pool"
        elif j in chosen:
            item["pick_order"] = chosen[j]
        elif coverage is None:
            item["reason"] = "objective"  # p-median: the set with the least total distance, not a coverage
        else:
            reach = _reach(coverage, j)
            shared, best = 0.0, None
            for s in open_sites:
                both = float(weight[np.intersect1d(reach, _reach(coverage, s), assume_unique=True)].sum())
                if both > shared:
                    shared, best = both, s
            item |= {"reason": "overlap", "reach": round(float(weight[reach].sum()), decimals),
                     "added": round(float(weight[reach[~sites.covered[reach]]].sum()), decimals),
                     "shared": round(shared, decimals), "shared_with": _site_ref(best, chosen, n_pool)}
            if min_spacing:
                near = [s for s in open_sites if np.hypot(*(site_xy[s] - site_xy[j])) < min_spacing]
                if near:
                    item |= {"reason": "spacing", "shared_with": _site_ref(near[0], chosen, n_pool),
                             "spacing": min_spacing}
        out.append(item)
    return out


def _site_ref(s: int | None, chosen: dict[int, int], n_pool: int) -> dict | None:
    if s is None:
        return None
    return {"new": chosen[s]} if s < n_pool else {"existing": s - n_pool}


def unique_reach(sites, weight: np.ndarray, decimals: int) -> list[float]:
    """Per chosen site (in pick order): the demand no other open site reaches — what is lost without it."""
    if sites.coverage is None:
        return []
    coverage = sites.coverage.tocsr()
    is_open = np.zeros(coverage.shape[1], bool)
    is_open[[*sites.chosen, *sites.fixed]] = True
    reached_by = np.asarray(coverage[:, is_open].sum(axis=1)).ravel()
    by_site = coverage.tocsc()
    out = []
    for j in sites.chosen:
        rows = _reach(by_site, j)
        out.append(round(float(weight[rows[reached_by[rows] == 1]].sum()), decimals))
    return out
