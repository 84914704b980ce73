"""What the hotspots reach: per hotspot the area, the people (area counts spread on a fine grid) and the
points of interest within its radius; overall the people reached once or more; and the gaps — squares of
the city where people live out of reach — ranked by how many live there."""

import math

import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo.crs import transform

from ..inputs import AnalysisInputError, metres, readable_layer
from ..siting import features
from ..siting.job import check_demand, demand_of
from .usage import COLUMNS

MAX_RADIUS_M = 2000
GAPS_LISTED = 50


def check(data: dict, user) -> dict:
    radius = metres(data.get("radius", 100), "radius", MAX_RADIUS_M)
    gap_cell = metres(data.get("gap_cell", 250), "gap_cell", 5000)
    pois = data.get("pois", [])
    if not isinstance(pois, list):
        raise AnalysisInputError("pois：請填 {\"layer\", \"filter\", \"label\"} 的清單")
    for i, poi in enumerate(pois):
        if not isinstance(poi, dict):
            raise AnalysisInputError("pois[{i}]：請填 {{\"layer\": slug, \"filter\": {{…}}, \"label\": …}}", i=i)
        readable_layer(poi.get("layer"), user)
    demand = check_demand(data.get("demand", {"layer": "villages", "attribute": "population"}), user)
    return {"radius": radius, "gap_cell": gap_cell, "pois": pois, "demand": demand}


def hotspot_points(data: dict, user) -> dict:
    layer = readable_layer(data.get("hotspots", "wifi-hotspots"), user)
    id_column = (data.get("columns") or {}).get("id", COLUMNS["id"])
    found = features.points(layer, data.get("filter"), [id_column], "hotspots")
    if not len(found["fid"]):
        raise AnalysisInputError("hotspots：圖層 {slug} 沒有符合篩選條件的熱點", slug=repr(layer.slug))
    return {"layer": layer, "fid": found["fid"], "xy": found["xy"], "id": [str(v) for v in found[id_column]]}


def report(data: dict, user) -> dict:
    spec = check(data, user)
    spots = hotspot_points(data, user)
    radius = spec["radius"]
    dxy, weight, _used = demand_of(spec["demand"], user, cell=max(10.0, min(100.0, radius / 4)))
    reach = cKDTree(dxy).query_ball_point(spots["xy"], radius) if len(dxy) else [[] for _ in spots["fid"]]
    per = [{"id": hid, "fid": int(fid), "area_m2": round(math.pi * radius**2, 1),
            "population": round(float(weight[hits].sum()), 1), "pois": {}}
           for hid, fid, hits in zip(spots["id"], spots["fid"], reach, strict=True)]
    for poi in spec["pois"]:
        layer = readable_layer(poi["layer"], user)
        label = str(poi.get("label") or layer.slug)
        pxy = features.points(layer, poi.get("filter"), [], "pois")["xy"]
        counts = [len(h) for h in cKDTree(pxy).query_ball_point(spots["xy"], radius)] if len(pxy) else [0] * len(per)
        for entry, n in zip(per, counts, strict=True):
            entry["pois"][label] = n
    covered = np.zeros(len(dxy), bool)
    for hits in reach:
        covered[hits] = True
    union = shapely.union_all(shapely.buffer(shapely.points(spots["xy"]), radius, quad_segs=16))
    return {"radius_m": radius, "hotspots": per, "total": {
        "population": round(float(weight.sum()), 1), "covered_population": round(float(weight[covered].sum()), 1),
        "covered_share": round(float(weight[covered].sum() / weight.sum()), 4) if weight.sum() else None,
        "covered_area_m2": round(float(union.area), 1)},
        "gaps": gaps(dxy[~covered], weight[~covered], spec["gap_cell"], spots["layer"].srid),
        "note": "people are area counts spread evenly over each area (an estimate)"}


def gaps(xy: np.ndarray, weight: np.ndarray, cell: float, srid: int) -> list[dict]:
    """Squares of `cell` m with people out of reach, most people first (lon/lat GeoJSON for the map)."""
    if not len(xy):
        return []
    keys = np.floor(xy / cell).astype(np.int64)
    squares, which = np.unique(keys, axis=0, return_inverse=True)
    totals = np.bincount(which.ravel(), weights=weight)
    out = []
    for i in np.argsort(-totals)[:GAPS_LISTED]:
        if totals[i] <= 0:
            break
        x0, y0 = squares[i] * cell
        box = transform(shapely.box(x0, y0, x0 + cell, y0 + cell), srid, 4326)
        out.append({"rank": len(out) + 1, "population": round(float(totals[i]), 1),
                    "geometry": shapely.geometry.mapping(box)})
    return out
