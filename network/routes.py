"""Routes (路徑規劃) through ordered stops: the fastest path leg by leg, with turn-by-turn directions in zh-Hant
and English. The result layer has a line per step; the job's summary holds the directions and the totals."""

import shapely
from django.db import connection
from psycopg2 import sql
from psycopg2.extras import execute_values

from analysis.inputs import AnalysisInputError
from geo.messages import text as note
from layers.models import STAGING_SCHEMA

from . import directions, inputs, places, routing

MAX_STOPS = 50


def _legs(options: dict, found: places.Places) -> list[tuple[int, int]]:
    legs = [(i, i + 1) for i in range(len(found.names) - 1)]
    return legs + [(len(found.names) - 1, 0)] if options.get("return_to_start") else legs


def check(data: dict, user) -> dict:
    network = inputs.network_of(data, user)
    found = places.read(data.get("stops"), "stops", user, MAX_STOPS)
    if len(found.names) < 2:
        raise AnalysisInputError("stops：路徑至少要有 2 個停靠點，收到 {n} 個", n=len(found.names))
    limit = places.snap_limit(data)
    snapped = places.snap(network, found, limit, "stops")
    options = {"roads": network.layer.slug, "profile": network.profile, "stops": data["stops"], "snap_limit": limit,
               "return_to_start": bool(data.get("return_to_start", False))}
    nodes = snapped.node.tolist()
    legs = _legs(options, found)
    costs = routing.costs(network, [nodes[a] for a, _ in legs], [nodes[b] for _, b in legs])
    cut = [f"{found.names[a]} → {found.names[b]}" for a, b in legs if (nodes[a], nodes[b]) not in costs]
    if cut:
        raise AnalysisInputError("stops：路網上到不了：{pairs}（道路不相連或單行道方向不對）", pairs=cut)
    return options


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    network = inputs.network_of(options, user)
    found = places.read(options["stops"], "stops", user, MAX_STOPS)
    snapped = places.snap(network, found, options["snap_limit"], "stops")
    nodes = snapped.node.tolist()
    legs = _legs(options, found)
    found_paths = routing.paths(network, [(nodes[a], nodes[b]) for a, b in legs])
    rows, guide = [], []
    total_m = total_s = 0.0
    for leg, (a, b) in enumerate(legs):
        path = found_paths[(nodes[a], nodes[b])]
        if not path and nodes[a] != nodes[b]:  # checked before the job; the network may have been rebuilt since
            raise AnalysisInputError("stops：路網上到不了：{pairs}（道路不相連或單行道方向不對）",
                                     pairs=[f"{found.names[a]} → {found.names[b]}"])
        names = (found.names[a], found.names[b])
        for step in directions.steps(path):
            zh, en = directions.worded(step, names)
            rows.append((leg + 1, len(rows) + 1, step["road"], zh, en, round(step["metres"], 1),
                         inputs.minutes(step["seconds"]), shapely.to_wkb(shapely.LineString(step["coords"]))))
            guide.append({"leg": leg + 1, "road": step["road"], "turn": step["turn"], "instruction": zh,
                          "instruction_en": en, "distance_m": round(step["metres"], 1),
                          "time_min": inputs.minutes(step["seconds"])})
            total_m += step["metres"]
            total_s += step["seconds"]
        total_s += snapped.access_s[a] + snapped.access_s[b]
        zh, en = directions.arrival(found.names[b], leg + 1, leg == len(legs) - 1)
        guide.append({"leg": leg + 1, "turn": "arrive", "instruction": zh, "instruction_en": en})
    if not rows:
        raise AnalysisInputError("stops：所有停靠點都接在路網的同一個節點上，沒有路可走")
    target = sql.Identifier(STAGING_SCHEMA, staging)
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE {} (fid integer NOT NULL, leg integer, step integer, road text, instruction text,"
            " instruction_en text, distance_m float8, time_min float8, geom geometry(LineString, {}))").format(
            target, sql.Literal(network.layer.srid)))
        execute_values(cur, sql.SQL("INSERT INTO {} VALUES %s").format(target).as_string(cur.connection),
                       [(r[1], *r[:2], *r[2:7], r[7]) for r in rows],
                       template=f"(%s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromWKB(%s, {network.layer.srid}))")
    progress(70, note("路徑已規劃"))
    summary = {"stops": found.names, "legs": len(legs), "distance_m": round(total_m, 1),
               "time_min": inputs.minutes(total_s), "directions": guide}
    return [network.layer.slug], [], summary
