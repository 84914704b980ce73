"""OD cost matrix (起訖時間矩陣): travel time from every origin to every destination. The result layer has a
straight line per reachable pair (as ArcGIS draws them) with its time; unreachable pairs are listed in the
summary, never given a time."""

from django.db import connection
from psycopg2 import sql
from psycopg2.extras import execute_values

from analysis.inputs import AnalysisInputError
from geo.messages import text as note
from layers.models import STAGING_SCHEMA

from . import inputs, places, routing

MAX_PAIRS = 250_000
MATRIX_IN_SUMMARY = 10_000  # cells: a small matrix is also given whole in the job's summary
UNREACHABLE_LISTED = 50


def check(data: dict, user) -> dict:
    network = inputs.network_of(data, user)
    limit = places.snap_limit(data)
    counts = []
    for what in ("origins", "destinations"):
        found = places.read(data.get(what), what, user)
        places.snap(network, found, limit, what)
        counts.append(len(found.names))
    if counts[0] * counts[1] > MAX_PAIRS:
        raise AnalysisInputError("起訖組合最多 {maximum} 組，收到 {origins} × {destinations}", maximum=f"{MAX_PAIRS:,}",
                                 origins=counts[0], destinations=counts[1])
    return {"roads": network.layer.slug, "profile": network.profile, "origins": data["origins"],
            "destinations": data["destinations"], "snap_limit": limit}


def matrix(options: dict, user) -> tuple[object, list, list, list[list[float | None]]]:
    """(network, origins, destinations, minutes[origin][destination] or None where unreachable)."""
    network = inputs.network_of(options, user)
    origins = places.read(options["origins"], "origins", user)
    destinations = places.read(options["destinations"], "destinations", user)
    at_o = places.snap(network, origins, options["snap_limit"], "origins")
    at_d = places.snap(network, destinations, options["snap_limit"], "destinations")
    graph = routing.costs(network, at_o.node.tolist(), at_d.node.tolist(), restricted=False)
    out = []
    for i, o in enumerate(at_o.node.tolist()):
        row = []
        for j, d in enumerate(at_d.node.tolist()):
            seconds = graph.get((o, d))
            row.append(None if seconds is None else seconds + at_o.access_s[i] + at_d.access_s[j])
        out.append(row)
    return network, origins, destinations, out


def build(staging: str, options: dict, user, progress) -> tuple[list[str], list, dict]:
    network, origins, destinations, seconds = matrix(options, user)
    progress(50, note("起訖時間已算出"))
    rows, unreachable = [], []
    for i, row in enumerate(seconds):
        for j, s in enumerate(row):
            if s is None:
                unreachable.append([origins.names[i], destinations.names[j]])
                continue
            rows.append((len(rows) + 1, origins.names[i], origins.source_fid[i], destinations.names[j],
                         destinations.source_fid[j], inputs.minutes(s), *map(float, origins.xy[i]),
                         *map(float, destinations.xy[j])))
    if not rows:
        raise AnalysisInputError("路網上沒有任何起點能到達任何終點（{origins} × {destinations} 組都到不了）",
                                 origins=len(origins.names), destinations=len(destinations.names))
    target = sql.Identifier(STAGING_SCHEMA, staging)
    srid = network.layer.srid
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE {} (fid integer NOT NULL, origin text, origin_fid integer, destination text,"
            " destination_fid integer, time_min float8, geom geometry(LineString, {}))").format(
            target, sql.Literal(srid)))
        execute_values(cur, sql.SQL("INSERT INTO {} VALUES %s").format(target).as_string(cur.connection), rows,
                       template=f"(%s, %s, %s, %s, %s, %s, ST_SetSRID(ST_MakeLine(ST_MakePoint(%s, %s),"
                                f" ST_MakePoint(%s, %s)), {srid}))")
    summary = {"origins": len(origins.names), "destinations": len(destinations.names), "reachable_pairs": len(rows),
               "unreachable_pairs": len(unreachable), "unreachable": unreachable[:UNREACHABLE_LISTED]}
    if network.has_turns:  # many-to-many times are one search per origin: pgr_trsp pair by pair would not scale
        summary["turn_restrictions"] = "ignored"
    if len(origins.names) * len(destinations.names) <= MATRIX_IN_SUMMARY:
        summary["matrix_min"] = [[None if s is None else inputs.minutes(s) for s in row] for row in seconds]
        summary["origin_names"], summary["destination_names"] = origins.names, destinations.names
    return [network.layer.slug], [], summary
