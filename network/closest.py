"""Closest facility (最近設施): for each incident the `count` facilities fastest to reach (travelling to them, or
from them with direction "from"), with the route to each. An incident that reaches fewer is reported in the
summary, never given a facility it cannot reach."""

import numpy as np
import shapely
from django.db import connection
from psycopg2 import sql
from psycopg2.extras import execute_values

from analysis.inputs import AnalysisInputError
from geo.messages import text as note
from layers.models import STAGING_SCHEMA

from . import inputs, places, routing

MAX_COUNT = 20
UNREACHABLE_LISTED = 50


def check(data: dict, user) -> dict:
    network = inputs.network_of(data, user)
    limit = places.snap_limit(data)
    for what in ("incidents", "facilities"):
        places.snap(network, places.read(data.get(what), what, user), limit, what)
    direction = str(data.get("direction", "to"))
    if direction not in ("from", "to"):
        raise AnalysisInputError("direction：請填 to（前往設施）或 from（從設施出發）")
    options = {"roads": network.layer.slug, "profile": network.profile, "incidents": data["incidents"],
               "facilities": data["facilities"], "snap_limit": limit, "direction": direction,
               "count": inputs.whole_number(data.get("count", 1), "count", 1, MAX_COUNT)}
    if data.get("cutoff") is not None:
        options["cutoff"] = inputs.breaks_min([data["cutoff"]])[0]
    return options


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    network = inputs.network_of(options, user)
    incidents = places.read(options["incidents"], "incidents", user)
    facilities = places.read(options["facilities"], "facilities", user)
    at_i = places.snap(network, incidents, options["snap_limit"], "incidents")
    at_f = places.snap(network, facilities, options["snap_limit"], "facilities")
    to = options["direction"] == "to"
    src, dst = (at_i, at_f) if to else (at_f, at_i)
    graph = routing.costs(network, src.node.tolist(), dst.node.tolist())
    cutoff = options.get("cutoff", inputs.MAX_BREAK_MIN) * 60
    chosen, short = [], []
    for i in range(len(incidents.names)):
        times = []
        for f in range(len(facilities.names)):
            pair = (int(at_i.node[i]), int(at_f.node[f])) if to else (int(at_f.node[f]), int(at_i.node[i]))
            if pair in graph:
                seconds = graph[pair] + at_i.access_s[i] + at_f.access_s[f]
                if seconds <= cutoff:
                    times.append((seconds, f, pair))
        times.sort()
        chosen += [(i, rank + 1, f, seconds, pair) for rank, (seconds, f, pair) in enumerate(times[:options["count"]])]
        if len(times) < options["count"]:
            short.append({"incident": incidents.names[i], "reached": len(times)})
    progress(40, note("已找出最近的設施"))
    routes = routing.paths(network, [c[4] for c in chosen])
    rows = []
    for i, rank, f, seconds, pair in chosen:
        path = routes[pair]
        coords = (np.vstack([shapely.get_coordinates(shapely.from_wkb(e["wkb"])) for e in path]) if path
                  else np.array([incidents.xy[i], facilities.xy[f]]))
        rows.append((len(rows) + 1, incidents.names[i], incidents.source_fid[i], facilities.names[f],
                     facilities.source_fid[f], rank, inputs.minutes(seconds), round(sum(e["metres"] for e in path), 1),
                     shapely.to_wkb(shapely.LineString(coords))))
    if not rows:
        raise AnalysisInputError("在時間上限內，沒有任何事件點能到達任何設施（共 {n} 個事件點）",
                                 n=len(incidents.names))
    target = sql.Identifier(STAGING_SCHEMA, staging)
    srid = network.layer.srid
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE {} (fid integer NOT NULL, incident text, incident_fid integer, facility text,"
            " facility_fid integer, rank integer, time_min float8, distance_m float8,"
            " geom geometry(LineString, {}))").format(target, sql.Literal(srid)))
        execute_values(cur, sql.SQL("INSERT INTO {} VALUES %s").format(target).as_string(cur.connection), rows,
                       template=f"(%s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromWKB(%s, {srid}))")
    summary = {"incidents": len(incidents.names), "facilities": len(facilities.names), "count": options["count"],
               "routes": len(rows), "short_of_count": short[:UNREACHABLE_LISTED], "short_total": len(short)}
    return [network.layer.slug], [], summary
