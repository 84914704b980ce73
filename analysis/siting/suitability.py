"""Suitability of candidate sites: constraints exclude (each with its reason), weighted factors score.

Each factor's raw value (a distance, a population, an attribute) is normalised to 0–1 over the candidates that
pass the constraints (1 = best, whichever way "best" points), multiplied by its share of the total weight, and
added: the score is 0–1 and each factor's contribution is kept, so the user sees why a parcel ranks where it does.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from django.conf import settings

from geo import media
from geo.crs import transformer

from ..inputs import AnalysisInputError, alternatives, distance_m, number, readable_layer
from ..location.distances import within
from . import demand, features

FACTOR_KINDS = ("distance", "population", "attribute", "category")
PREFER = {"distance": ("near", "far"), "attribute": ("high", "low")}


@dataclass
class Assessment:
    fid: np.ndarray
    xy: np.ndarray
    excluded: dict[str, np.ndarray]  # reason → mask
    raw: dict[str, np.ndarray] = field(default_factory=dict)  # factor name → its value per candidate
    contribution: dict[str, np.ndarray] = field(default_factory=dict)  # factor name → weighted normalised value
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def feasible(self) -> np.ndarray:
        out = np.ones(len(self.fid), bool)
        for mask in self.excluded.values():
            out &= ~mask
        return out

    @property
    def score(self) -> np.ndarray:
        total = np.zeros(len(self.fid))
        for part in self.contribution.values():
            total += np.nan_to_num(part)
        return np.where(self.feasible, total, np.nan)

    def rank(self) -> np.ndarray:
        """1 for the best feasible candidate (ties broken by fid), 0 for excluded ones."""
        score = self.score
        order = np.lexsort((self.fid, -np.nan_to_num(score, nan=-np.inf)))
        rank = np.zeros(len(score), np.int64)
        feasible = order[self.feasible[order]]
        rank[feasible] = np.arange(1, len(feasible) + 1)
        return rank


def check_factors(factors, user) -> list[dict]:
    """The factor list, checked: kinds, layers, directions, weights and unique names."""
    if not isinstance(factors, list) or not 1 <= len(factors) <= 12:
        raise AnalysisInputError("factors：請填 1 到 12 個因子的清單")
    seen, out = set(), []
    for i, spec in enumerate(factors):
        what = f"factors[{i}]"
        if not isinstance(spec, dict):
            raise AnalysisInputError("{what}：每個因子都是含 kind 的物件", what=what)
        kind = spec.get("kind")
        if kind not in FACTOR_KINDS:
            raise AnalysisInputError("{what}.kind：請使用 {choices} 其中之一", what=what,
                                     choices=", ".join(FACTOR_KINDS))
        name = str(spec.get("name") or spec.get("layer") or spec.get("attribute") or kind)
        if name in seen:
            raise AnalysisInputError("{what}.name：{name} 用了兩次；請給每個因子不同的名稱", what=what, name=repr(name))
        seen.add(name)
        if kind in PREFER and spec.get("prefer", PREFER[kind][0]) not in PREFER[kind]:
            raise AnalysisInputError("{what}.prefer：請使用 {choices}", what=what, choices=alternatives(PREFER[kind]))
        if kind == "distance":
            readable_layer(spec.get("layer"), user)
        if kind == "population":
            demand.check_source(spec, user, what)
            distance_m(spec.get("radius"), f"{what}.radius")
        if kind in ("attribute", "category") and not spec.get("attribute"):
            raise AnalysisInputError("{what}.attribute：請指定候選地要評分的屬性", what=what)
        if kind == "category" and not isinstance(spec.get("scores"), dict):
            raise AnalysisInputError("{what}.scores：請為每個類別給分（0–1），例如 {{\"住宅區\": 1}}", what=what)
        out.append({**spec, "name": name, "weight": number(spec.get("weight", 1), f"{what}.weight", 0, 1000, True)})
    return out


def slope_degrees(dem_slug: str, user, xy: np.ndarray, srid: int) -> np.ndarray:
    """Slope (degrees) of the DEM at each point, from its elevation gradient; NaN outside the raster."""
    layer = readable_layer(dem_slug, user, kinds=("raster",))
    path = Path(settings.MEDIA_ROOT) / layer.raster_path
    media.local(path)  # from the media store when this worker has no copy yet (geo.media)
    with rasterio.open(path) as ds:
        elevation = ds.read(1, masked=True).astype(float).filled(np.nan)
        dem_srid = ds.crs.to_epsg() if ds.crs else srid
        tf = ds.transform
    dz_dy, dz_dx = np.gradient(elevation, abs(tf.e), abs(tf.a))
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    x, y = xy[:, 0], xy[:, 1]
    if dem_srid != srid:
        x, y = transformer(srid, dem_srid).transform(x, y)
    row, col = rasterio.transform.rowcol(tf, np.asarray(x), np.asarray(y), op=np.floor)
    row, col = np.asarray(row, dtype=int), np.asarray(col, dtype=int)
    inside = (row >= 0) & (row < slope.shape[0]) & (col >= 0) & (col < slope.shape[1])
    out = np.full(len(xy), np.nan)
    out[inside] = slope[row[inside], col[inside]]
    return out


def exclusion_reasons(spec: dict, user) -> list[tuple[str, dict]]:
    """Each constraint as (its reason, stored in `excluded_by`; what it means, for wording in any language)."""
    out = []
    for slug in spec.get("exclude_layers", []):
        other = readable_layer(slug, user)
        out.append((f"in {other.slug}", {"kind": "in_layer", "slug": other.slug, "title_zh": other.title_zh,
                                         "title_en": other.title_en or other.title_zh}))
    if spec.get("min_area_m2") is not None:
        minimum = float(spec["min_area_m2"])
        out.append((f"smaller than {minimum:g} m²", {"kind": "min_area", "value": minimum}))
    if spec.get("max_slope_deg") is not None:
        limit = float(spec["max_slope_deg"])
        out.append((f"slope over {limit:g}°", {"kind": "max_slope", "value": limit}))
    return out


def constraints(layer, fid: np.ndarray, xy: np.ndarray, spec: dict, user) -> dict[str, np.ndarray]:
    out = {}
    for reason, what in exclusion_reasons(spec, user):
        if what["kind"] == "in_layer":
            out[reason] = features.intersecting(layer, fid, readable_layer(what["slug"], user))
        elif what["kind"] == "min_area":
            out[reason] = features.areas(layer, fid) < what["value"]
        else:
            slope = slope_degrees(spec.get("dem", "demo-dem"), user, xy, layer.srid)
            out[reason] = ~(slope <= what["value"])  # NaN (outside the DEM) is excluded too
    return out


def check_constraints(spec, user) -> dict:
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise AnalysisInputError("constraints：請填物件（exclude_layers、min_area_m2、max_slope_deg、dem）")
    unknown = set(spec) - {"exclude_layers", "min_area_m2", "max_slope_deg", "dem"}
    if unknown:
        raise AnalysisInputError("constraints：不認得的鍵 {keys}", keys=sorted(unknown))
    if not isinstance(spec.get("exclude_layers", []), list):
        raise AnalysisInputError("constraints.exclude_layers：請填圖層代碼（slug）的清單")
    for slug in spec.get("exclude_layers", []):
        readable_layer(slug, user)
    for key, top in (("min_area_m2", 1e7), ("max_slope_deg", 90)):
        if spec.get(key) is not None:
            number(spec[key], f"constraints.{key}", 0, top)
    if spec.get("max_slope_deg") is not None:
        readable_layer(spec.get("dem", "demo-dem"), user, kinds=("raster",))
    return spec


def _normalised(values: np.ndarray, feasible: np.ndarray, higher_is_better: bool) -> np.ndarray:
    pool = values[feasible & np.isfinite(values)]
    if not len(pool) or pool.max() == pool.min():
        return np.where(np.isfinite(values), 1.0, 0.0)
    norm = (values - pool.min()) / (pool.max() - pool.min())
    norm = np.clip(np.nan_to_num(norm, nan=0.0 if higher_is_better else 1.0), 0, 1)
    return norm if higher_is_better else 1 - norm


def factor_values(spec: dict, found: dict, user) -> tuple[np.ndarray, bool]:
    """(raw value per candidate, higher is better)."""
    kind, xy = spec["kind"], found["xy"]
    if kind == "distance":
        layer = readable_layer(spec["layer"], user)
        return features.nearest_distance(xy, layer, spec.get("filter")), spec.get("prefer", "near") == "far"
    if kind == "population":
        layer = readable_layer(spec["layer"], user)
        dxy, weight = demand.demand_points(layer, spec.get("attribute"), spec.get("filter"))
        return np.asarray(within(xy, dxy, float(spec["radius"])) @ weight).ravel(), True
    values = found[spec["attribute"]]
    if kind == "attribute":
        try:
            numbers = np.array([np.nan if v is None else float(v) for v in values])
        except (TypeError, ValueError):
            raise AnalysisInputError("因子 {name}：屬性 {attribute} 不是數值；請改用 kind category 並給 scores",
                                     name=repr(spec["name"]), attribute=repr(spec["attribute"])) from None
        return numbers, spec.get("prefer", "high") == "high"
    scores = {str(k): float(v) for k, v in spec["scores"].items()}
    return np.array([scores.get(str(v), 0.0) for v in values]), True


def assess(layer, filters: dict | None, constraint_spec: dict, factors: list[dict], user) -> Assessment:
    wanted = sorted({f["attribute"] for f in factors if f["kind"] in ("attribute", "category")})
    found = features.points(layer, filters, wanted, "candidates")
    if not len(found["fid"]):
        raise AnalysisInputError("candidates：{slug} 沒有符合篩選條件的圖徵", slug=repr(layer.slug))
    result = Assessment(found["fid"], found["xy"], constraints(layer, found["fid"], found["xy"], constraint_spec, user),
                        attributes={n: found[n] for n in wanted})
    feasible = result.feasible
    total_weight = sum(f["weight"] for f in factors)
    for spec in factors:
        raw, higher = factor_values(spec, found, user)
        result.raw[spec["name"]] = raw
        result.contribution[spec["name"]] = spec["weight"] / total_weight * _normalised(raw, feasible, higher)
    return result
