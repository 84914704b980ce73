"""The facility siting job: suitability of the candidates, location-allocation among the best of them, and
the answer as two layers (ranked candidates; chosen and existing sites) plus a report (HTML map and CSV)."""

import re

import numpy as np
from django.db import connection
from psycopg2 import sql

from geo.messages import text as note
from layers.attribute_kinds import NUMERIC_TYPES as NUMERIC
from layers.models import DATA_SCHEMA, STAGING_SCHEMA

from ..inputs import AnalysisInputError, number, readable_layer
from ..overlay import conditions
from . import allocation, answer, demand, features, places, report, suitability, wording

MAX_POOL = 3000


def _layer_spec(spec, what: str, default: str | None = None) -> dict:
    if spec is None and default:
        return {"layer": default}
    if isinstance(spec, str):
        return {"layer": spec}
    if not isinstance(spec, dict) or not spec.get("layer"):
        raise AnalysisInputError("{what}：請填 {{\"layer\": slug, \"filter\": {{…}}}}", what=what)
    return spec


def check(data: dict, user) -> dict:
    candidates = _layer_spec(data.get("candidates"), "candidates", "parcels")
    layer = readable_layer(candidates["layer"], user)
    conditions(layer, candidates.get("filter"), "t")
    options = {"candidates": candidates, "constraints": suitability.check_constraints(data.get("constraints"), user),
               "factors": suitability.check_factors(data.get("factors"), user)}
    for spec in options["factors"]:
        if spec["kind"] in ("attribute", "category"):
            features.attribute(layer, spec["attribute"], f"factor {spec['name']!r}")
    if data.get("allocation") is not None:
        spec = allocation.check(data["allocation"], user)
        spec["demand"] = check_demand(spec.get("demand"), user)
        if spec.get("existing") is not None:
            spec["existing"] = _layer_spec(spec["existing"], "allocation.existing")
            conditions(readable_layer(spec["existing"]["layer"], user), spec["existing"].get("filter"), "t")
        _check_attractiveness({**spec, "candidates_filter": candidates.get("filter")}, layer, user)
        pool = spec.get("pool", 1000)
        if not isinstance(pool, int) or not 1 <= pool <= MAX_POOL:
            raise AnalysisInputError("allocation.pool：從分數最高的幾個候選地中挑選，1–{maximum}", maximum=MAX_POOL)
        options["allocation"] = spec
    return options


def _check_attractiveness(spec: dict, layer, user) -> None:
    """Market share: the attribute giving each site's attractiveness (a positive number; 1 when none is named) on
    the candidates (`allocation.attractiveness`), the existing sites and the competitors (their `attractiveness`)."""
    named = [("allocation.attractiveness", spec, layer)]
    for part in ("existing", "competitors"):
        if isinstance(spec.get(part), dict):
            named.append((f"allocation.{part}.attractiveness", spec[part],
                          readable_layer(spec[part]["layer"], user)))
    for what, where, on in named:
        name = where.get("attractiveness")
        filters = (spec.get("candidates_filter") if where is spec else where.get("filter"))
        if name is None or name == "":
            where.pop("attractiveness", None)
            continue
        if spec["model"] not in allocation.MARKET:
            raise AnalysisInputError("{what}：吸引力只適用於 market_share 與 target_share 模型", what=what)
        if not isinstance(name, str):
            raise AnalysisInputError("{what}：請填圖層 {slug} 的一個數值屬性名稱", what=what, slug=repr(on.slug))
        features.attribute(on, name, what)
        if not any(a["name"] == name and a.get("type") in NUMERIC for a in on.attributes):
            raise AnalysisInputError("{what}：圖層 {slug} 的屬性 {name} 不是數值", what=what, slug=repr(on.slug),
                                     name=repr(name))
        where_sql = [sql.SQL("(t.{a} IS NULL OR t.{a} <= 0)").format(a=sql.Identifier(name)),
                     *conditions(on, filters, "t")]
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT t.fid, t.{a}, count(*) OVER () FROM {t} t WHERE {w} ORDER BY t.fid LIMIT 1"
                                ).format(a=sql.Identifier(name), t=sql.Identifier(DATA_SCHEMA, on.table_name),
                                         w=sql.SQL(" AND ").join(where_sql)))
            bad = cur.fetchone()
        if bad:
            raise AnalysisInputError(
                "{what}：圖層 {slug} 的圖徵 fid {fid} 吸引力為 {value}，須為正數（共 {count} 筆）", what=what,
                slug=repr(on.slug), fid=bad[0], value="NULL" if bad[1] is None else repr(float(bad[1])), count=bad[2])


def attractiveness(found: dict, layer, what: str) -> np.ndarray:
    """Per feature (fid order of `found`), the named attribute as a positive number; a 400 naming the first
    feature whose value is missing, zero or negative."""
    values = found.get("attractiveness")
    if values is None:
        return np.ones(len(found["fid"]))
    bad = [i for i, v in enumerate(values) if v is None or not float(v) > 0]
    if bad:
        raise AnalysisInputError("{what}：圖層 {slug} 的圖徵 fid {fid} 吸引力為 {value}，須為正數（共 {count} 筆）",
                                 what=what, slug=repr(layer.slug), fid=int(found["fid"][bad[0]]),
                                 value=repr(values[bad[0]]), count=len(bad))
    return values.astype(float)


def check_demand(value, user) -> list[dict]:
    """One demand source or several (e.g. population and pollution sources), each scaled by `scale`."""
    specs = value if isinstance(value, list) else [value]
    if not 1 <= len(specs) <= 5:
        raise AnalysisInputError("allocation.demand：請填 1 到 5 個需求來源")
    out = []
    for i, spec in enumerate(specs):
        what = "allocation.demand" if len(specs) == 1 else f"allocation.demand[{i}]"
        spec = _layer_spec(spec, what)
        demand.check_source(spec, user, what)
        out.append({**spec, "scale": number(spec.get("scale", 1), f"{what}.scale", 0, 1e6, True)})
    return out


def demand_of(specs: list[dict], user, cell: float = demand.GRID_M) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All demand sources' points and scaled weights together (areas spread on a grid of `cell` m); the layers
    used."""
    xy, weight, used = [np.zeros((0, 2))], [np.zeros(0)], []
    for spec in specs:
        layer = readable_layer(spec["layer"], user)
        points, values = demand.demand_points(layer, spec.get("attribute"), spec.get("filter"), cell)
        xy.append(points)
        weight.append(values * spec["scale"])
        used.append(layer.slug)
    return np.concatenate(xy), np.concatenate(weight), used


def _column(name: str, prefix: str) -> str:
    return f"{prefix}_{re.sub(r'[^0-9a-z]+', '_', name.lower()).strip('_') or 'factor'}"[:60]


def create_from_arrays(target: sql.Composable, columns: list[tuple[str, str, list]], geometry: sql.Composable,
                        source: sql.Composable, source_key: str) -> None:
    """CREATE TABLE target AS the arrays (one row per element) joined to `source` on its fid for the geometry."""
    names = [c[0] for c in columns]
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE {target} AS SELECT (row_number() OVER (ORDER BY u.{key}))::integer AS fid, {cols}, {geom}"
            " AS geom FROM unnest({arrays}) AS u({names}) JOIN {source} s ON s.fid = u.{key}").format(
            target=target, key=sql.Identifier(source_key),
            cols=sql.SQL(", ").join(sql.SQL("u.{}").format(sql.Identifier(n)) for n in names), geom=geometry,
            arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(c[1])) for c in columns),
            names=sql.SQL(", ").join(sql.Identifier(n) for n in names), source=source),
            [c[2] for c in columns])
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET NOT NULL").format(target))


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list[tuple[str, str, str]], dict]:
    """(input layer slugs, extra result tables as (table, title suffix, slug suffix), summary)."""
    layer = readable_layer(options["candidates"]["layer"], user)
    found = suitability.assess(layer, options["candidates"].get("filter"), options["constraints"],
                               options["factors"], user)
    feasible, score, rank = found.feasible, found.score, found.rank()
    worded = dict(suitability.exclusion_reasons(options["constraints"], user))
    progress(40, note("候選地 {n} 筆，{feasible} 筆符合限制條件；排除：{excluded}", n=f"{len(found.fid):,}",
                      feasible=f"{int(feasible.sum()):,}",
                      excluded=[wording.exclusion_text({**worded[reason], "count": int(m.sum())})
                                for reason, m in found.excluded.items()] or note("無")))
    inputs = [layer.slug] + [f["layer"] for f in options["factors"] if f.get("layer")]
    summary = {"candidates": len(found.fid), "feasible": int(feasible.sum()),
               "excluded": {reason: int(m.sum()) for reason, m in found.excluded.items()},
               "weights": {f["name"]: f["weight"] for f in options["factors"]}}
    n = len(found.fid)
    chosen_order = np.zeros(n, np.int64)
    gain = np.full(n, np.nan)
    extras, sites = [], None
    if options.get("allocation"):
        spec = options["allocation"]
        pool = np.flatnonzero((rank >= 1) & (rank <= spec.get("pool", 1000)))
        dxy, weight, demand_layers = demand_of(spec["demand"], user, spec["demand_cell"])
        existing = {"fid": np.zeros(0, np.int64), "xy": np.zeros((0, 2))}
        pull = {}  # market share: the sites' attractiveness (1 each unless an attribute is named)
        if spec.get("attractiveness"):
            named = features.points(layer, options["candidates"].get("filter"), [spec["attractiveness"]],
                                    "allocation.attractiveness")
            by_fid = dict(zip(named["fid"].tolist(), attractiveness(
                {"fid": named["fid"], "attractiveness": named[spec["attractiveness"]]}, layer,
                "allocation.attractiveness").tolist(), strict=True))
            pull["candidates"] = np.array([by_fid[int(f)] for f in found.fid[pool]])
        if spec.get("existing"):
            existing_layer = readable_layer(spec["existing"]["layer"], user)
            name = spec["existing"].get("attractiveness")
            existing = features.points(existing_layer, spec["existing"].get("filter"), [name] if name else [],
                                       "allocation.existing")
            if name:
                pull["existing"] = attractiveness({**existing, "attractiveness": existing[name]}, existing_layer,
                                                  "allocation.existing.attractiveness")
            inputs.append(existing_layer.slug)
        competitors = None
        if spec.get("competitors"):
            rival_layer = readable_layer(spec["competitors"]["layer"], user)
            name = spec["competitors"].get("attractiveness")
            rivals = features.points(rival_layer, spec["competitors"].get("filter"), [name] if name else [],
                                     "allocation.competitors")
            competitors = rivals["xy"]
            if name:
                pull["competitors"] = attractiveness({**rivals, "attractiveness": rivals[name]}, rival_layer,
                                                     "allocation.competitors.attractiveness")
            inputs.append(rival_layer.slug)
        pulls = (np.concatenate([pull.get("candidates", np.ones(len(pool))),
                                 pull.get("existing", np.ones(len(existing["fid"])))]) if pull else None,
                 pull.get("competitors"))
        site_xy = np.concatenate([found.xy[pool], existing["xy"]])
        fixed = np.r_[np.zeros(len(pool), bool), np.ones(len(existing["fid"]), bool)]
        progress(55, note("從分數最高的 {pool} 筆候選地中選出 {k} 處，需求點 {points} 個（合計 {total}），"
                          "保留既有場址 {kept} 處",
                          k=spec.get("k", "?"), pool=f"{len(pool):,}", points=f"{len(dxy):,}",
                          total=f"{weight.sum():,.0f}", kept=len(existing["fid"])))
        sites = allocation.allocate(spec, dxy, weight, site_xy, fixed, user, competitors, pulls)
        for order, (j, g) in enumerate(zip(sites.chosen, sites.marginal_gain, strict=True), start=1):
            chosen_order[pool[j]], gain[pool[j]] = order, g
        summary["allocation"] = sites.summary() | {
            "model": spec["model"], "k": spec.get("k", len(sites.chosen)), "demand_total": float(weight.sum()),
            "chosen": [int(found.fid[pool[j]]) for j in sites.chosen],
            "fixed": [int(existing["fid"][j - len(pool)]) for j in sites.fixed],
            "reach": {"minutes": spec.get("cutoff_min")} if spec.get("network") else {"metres": spec.get("radius")},
            "profile": spec.get("profile") if spec.get("network") else None}
        if spec["model"] in allocation.REACH_NEEDED:
            summary["allocation"]["uncovered"] = float(weight.sum()) - sites.objective
        summary["allocation"] |= _explained(spec, layer, found, rank, pool, sites, weight, site_xy, existing, user)
        if spec.get("network") and spec.get("cutoff_min"):  # where each site reaches, for the maps
            summary["allocation"]["reach_outlines"] = allocation.reach_outlines(
                spec, site_xy[list(sites.chosen)], existing["xy"], user)
        inputs += demand_layers
        progress(75, _allocation_message(summary["allocation"]))
    summary["exclusions"] = [{**what, "count": summary["excluded"].get(reason, 0)}
                             for reason, what in suitability.exclusion_reasons(options["constraints"], user)]
    summary["wording"] = wording.in_every_language(summary)
    reasons = np.array(["; ".join(r for r, m in found.excluded.items() if m[i]) for i in range(n)], dtype=object)
    columns = [("source_fid", "integer", found.fid.tolist()), ("feasible", "boolean", feasible.tolist()),
               ("excluded_by", "text", [r or None for r in reasons]),
               ("score", "float8", [None if np.isnan(s) else round(float(s), 6) for s in score]),
               ("rank", "integer", [int(r) or None for r in rank]),
               ("chosen", "boolean", (chosen_order > 0).tolist()),
               ("pick_order", "integer", [int(o) or None for o in chosen_order]),
               ("marginal_gain", "float8", [None if np.isnan(g) else float(g) for g in gain])]
    for name, raw in found.raw.items():
        columns.append((_column(name, "value"), "float8", [None if not np.isfinite(v) else float(v) for v in raw]))
        columns.append((_column(name, "contrib"), "float8", [round(float(v), 6) for v in found.contribution[name]]))
    for name, values in found.attributes.items():
        columns.append((name, "text", [None if v is None else str(v) for v in values]))
    source = sql.Identifier(DATA_SCHEMA, layer.table_name)
    create_from_arrays(sql.Identifier(STAGING_SCHEMA, staging), columns, sql.SQL("s.geom"), source, "source_fid")
    if sites is not None:
        extras.append(_sites_table(staging, found, pool, sites, existing, source, layer.srid))
    summary["report"] = report.write(report.folder(staging), found, summary, sites,
                                     pool if sites is not None else None, existing if sites is not None else None,
                                     layer.srid, options.get("allocation"), report.context_areas(user))
    return inputs, extras, summary


def _explained(spec, layer, found, rank, pool, sites, weight, site_xy, existing, user) -> dict:
    """What the page and the report need to explain the answer: the demand's unit, the covered demand as
    existing coverage plus each site's gain (adding up), the sites by name and place, and score versus coverage."""
    unit = answer.demand_unit([(readable_layer(s["layer"], user), s) for s in spec["demand"]])
    decimals = unit["decimals"]
    out = {"demand": unit, "top": answer.score_versus_coverage(
        rank, found.fid, found.score, pool, sites, weight, site_xy, spec.get("min_spacing"), decimals)}
    if spec["model"] != "p_median":  # what the existing sites bring plus each new site's gain
        out["accounting"] = answer.accounting(float(weight.sum()), sites.already_covered, sites.marginal_gain,
                                              sites.next_gain, decimals)
        out["unique"] = answer.unique_reach(sites, weight, decimals)
    named = sorted({int(found.fid[pool[j]]) for j in sites.chosen} | {t["fid"] for t in out["top"]})
    where = {int(f): i for i, f in enumerate(found.fid)}
    names = {d["fid"]: d for d in places.describe(layer, named, [tuple(found.xy[where[f]]) for f in named], user)}
    out["sites"] = [names[int(found.fid[pool[j]])] for j in sites.chosen]
    out["site_ranks"] = [int(rank[pool[j]]) for j in sites.chosen]
    for item in out["top"]:
        item["site"] = names[item["fid"]]
    referenced = sorted({t["shared_with"]["existing"] for t in out["top"] if (t.get("shared_with") or {}).get(
        "existing") is not None})
    if referenced and spec.get("existing"):
        existing_layer = readable_layer(spec["existing"]["layer"], user)
        fids = [int(existing["fid"][e]) for e in referenced]
        described = places.describe(existing_layer, fids, [tuple(existing["xy"][e]) for e in referenced], user)
        out["existing_sites"] = {str(e): d for e, d in zip(referenced, described, strict=True)}
    return out


def _sites_table(staging, found, pool, sites, existing, source, srid: int) -> tuple[str, str, str]:
    """The chosen new sites and the existing ones, as points, with what each adds."""
    table = f"{staging}_sites"
    new = [int(found.fid[pool[j]]) for j in sites.chosen]
    create_from_arrays(sql.Identifier(STAGING_SCHEMA, table), [
        ("status", "text", ["new"] * len(new)), ("pick_order", "integer", list(range(1, len(new) + 1))),
        ("source_fid", "integer", new), ("marginal_gain", "float8", [float(g) for g in sites.marginal_gain])],
        sql.SQL("ST_PointOnSurface(s.geom)"), source, "source_fid")
    with connection.cursor() as cur:
        if len(existing["fid"]):
            cur.execute(sql.SQL(
                "INSERT INTO {t} (fid, status, pick_order, source_fid, marginal_gain, geom)"
                " SELECT {n} + row_number() OVER (ORDER BY u.x, u.y), 'existing', NULL, u.fid, NULL,"
                " ST_SetSRID(ST_MakePoint(u.x, u.y), {srid}) FROM unnest(%s::int[], %s::float8[], %s::float8[])"
                " AS u(fid, x, y)").format(t=sql.Identifier(STAGING_SCHEMA, table), n=sql.Literal(len(new)),
                                          srid=sql.Literal(srid)),
                [existing["fid"].tolist(), existing["xy"][:, 0].tolist(), existing["xy"][:, 1].tolist()])
    return table, " — 選定與既有場址", "sites"


def _allocation_message(a: dict) -> dict:
    quality = (note("已證明為最佳解") if a["status"] == "optimal" else
               note("差距 ≤ {gap} %（已證明）", gap=f"{100 * a['gap']:.2f}") if a["gap"] is not None else a["method"])
    figures = {"covered": f"{a['objective']:,.0f}", "total": f"{a['demand_total']:,.0f}"}
    if a["model"] in ("covering", "set_covering"):
        what = note("涵蓋需求 {covered}／{total}", **figures)
    elif a["model"] == "attendance":
        what = note("前來需求 {covered}／{total}", **figures)
    elif a["model"] in ("market_share", "target_share"):
        what = note("取得需求 {covered}／{total}", **figures)
    elif a["unit"] == "min":
        what = note("需求 {total} 的總加權行駛時間 {distance} 分鐘", distance=figures["covered"],
                    total=figures["total"])
    else:
        what = note("需求 {total} 的總加權距離 {distance}", distance=figures["covered"], total=figures["total"])
    return note("選出 {k} 處：{what}，{quality}；各處增加 {gains}；再多一處可增加 {next}", k=a["k"], what=what,
                quality=quality, gains=", ".join(f"{g:,.0f}" for g in a["marginal_gain"]),
                next=f"{a['next_gain']:,.0f}")
