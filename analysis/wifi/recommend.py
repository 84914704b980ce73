"""Where to add k hotspots, or move the under-used ones: maximal covering of people (and points of interest,
each counted as `poi_weight` people) with the other hotspots kept, and the coverage gained."""

import numpy as np
from psycopg2 import sql

from geo.messages import text as note
from layers.models import DATA_SCHEMA, STAGING_SCHEMA

from ..inputs import AnalysisInputError, number, readable_layer
from ..location import distances
from ..overlay import conditions
from ..siting import allocation, features
from ..siting.job import create_from_arrays, demand_of
from . import coverage, usage

DEFAULT_CANDIDATES = {"layer": "parcels", "filter": {"land_use_code__in": "commercial,government,school,park"}}


def check(data: dict, user) -> dict:
    options = coverage.check(data, user)
    candidates = data.get("candidates", DEFAULT_CANDIDATES)
    if not isinstance(candidates, dict) or not candidates.get("layer"):
        raise AnalysisInputError("candidates：請填 {\"layer\": slug, \"filter\": {…}}")
    conditions(readable_layer(candidates["layer"], user), candidates.get("filter"), "t")
    spec = allocation.check({"model": "covering", "k": data.get("k"), "radius": options["radius"],
                             "time_limit": data.get("time_limit"), "gap": data.get("gap")}, user)
    if data.get("relocate_underused"):
        usage.sources(data, user)
    poi_weight = number(data.get("poi_weight", 100), "poi_weight (people a point of interest counts as)", 0, 1e6)
    coverage.hotspot_points(data, user)
    keep = ("hotspots", "usage", "columns", "filter", "relocate_underused", "under_share", "overload_share")
    return {**{k: data[k] for k in keep if k in data}, **options, "candidates": candidates, "allocation": spec,
            "poi_weight": poi_weight}


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    spots = coverage.hotspot_points(options, user)
    moved = []
    if options.get("relocate_underused"):
        flagged = {h["id"] for h in usage.stats(options, user)["hotspots"] if "under-used" in h["flags"]}
        moved = [hid for hid in spots["id"] if hid in flagged]
    kept = np.array([hid not in moved for hid in spots["id"]])
    layer = readable_layer(options["candidates"]["layer"], user)
    found = features.points(layer, options["candidates"].get("filter"), [], "candidates")
    radius = options["radius"]
    dxy, weight, used = demand_of(options["demand"], user, cell=max(10.0, min(100.0, radius / 4)))
    for poi in options["pois"]:
        pxy = features.points(readable_layer(poi["layer"], user), poi.get("filter"), [], "pois")["xy"]
        dxy, weight = np.concatenate([dxy, pxy]), np.concatenate([weight, np.full(len(pxy), options["poi_weight"])])
    now = distances.within(dxy, spots["xy"], radius)
    before = float(weight[np.asarray(now.sum(axis=1)).ravel() > 0].sum())
    spec = {**options["allocation"], "k": options["allocation"]["k"] + len(moved)}
    progress(40, note("候選地點 {n} 處，保留熱點 {kept} 處，遷移 {moved} 處（{which}）；需涵蓋的人口與重要地點 {total}",
                      n=f"{len(found['fid']):,}", kept=int(kept.sum()), moved=len(moved),
                      which=", ".join(moved) or note("無"), total=f"{weight.sum():,.0f}"))
    sites = allocation.allocate(spec, dxy, weight, np.concatenate([found["xy"], spots["xy"][kept]]),
                                np.r_[np.zeros(len(found["fid"]), bool), np.ones(int(kept.sum()), bool)], user)
    chosen = [int(found["fid"][j]) for j in sites.chosen]
    create_from_arrays(sql.Identifier(STAGING_SCHEMA, staging), [
        ("source_fid", "integer", chosen), ("pick_order", "integer", list(range(1, len(chosen) + 1))),
        ("marginal_gain", "float8", [round(g, 3) for g in sites.marginal_gain])],
        sql.SQL("ST_PointOnSurface(s.geom)"), sql.Identifier(DATA_SCHEMA, layer.table_name), "source_fid")
    summary = {"before": round(before, 1), "after": round(sites.objective, 1),
               "gain": round(sites.objective - before, 1), "moved": moved, "chosen": chosen,
               "allocation": sites.summary()}
    progress(75, note("新增 {n} 處熱點後涵蓋 {before} → {after}（增加 {gain}）", before=f"{before:,.0f}",
                      after=f"{sites.objective:,.0f}", gain=f"{sites.objective - before:,.0f}", n=len(chosen)))
    return [spots["layer"].slug, layer.slug, *used], [], summary
