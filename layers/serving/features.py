"""GeoJSON features of a layer, built by PostgreSQL (one query for the page, one for the total)."""

from psycopg2 import sql

from geo.dbrouter import reading
from layers.models import DATA_SCHEMA, Layer

from . import query


def _precision(srid: int) -> int:
    return 7 if srid in (4326, 3824, 4258) else 2  # ~1 cm either way


def feature_sql(layer: Layer, names: list[str], srid: int, flip: bool = False) -> sql.Composable:
    """One feature's GeoJSON text; `flip` writes y before x (EPSG:4326 in its own axis order, as OGC API asks)."""
    props = sql.SQL(", ").join(sql.Identifier("t", n) for n in names) if names else sql.SQL("")
    props_json = sql.SQL("(SELECT to_json(p) FROM (SELECT {}) p)").format(props) if names else sql.SQL("'{}'::json")
    geometry = sql.SQL("NULL")
    if layer.kind == Layer.Kind.VECTOR:
        geometry = sql.SQL("ST_AsGeoJSON({}(ST_Transform(t.geom, {})), {})::json").format(
            sql.SQL("ST_FlipCoordinates" if flip else ""), sql.Literal(srid), sql.Literal(_precision(srid)))
    return sql.SQL("json_build_object('type', 'Feature', 'id', t.fid, 'geometry', {}, 'properties', {})::text").format(
        geometry, props_json)


def page(layer: Layer, params, srid: int | None = None, flip: bool = False, extra=(),
         default_limit: int = 100) -> tuple[list[str], int]:
    """(the page's features as GeoJSON texts, number matched): the filters of `params` (serving.query) AND-ed with
    `extra` conditions on alias t (OGC API's CQL2 and bbox-crs), in `srid` (default: the `crs` parameter)."""
    names = query.properties(layer, params)
    srid = query.output_srid(params) if srid is None else srid
    limit, offset = query.page(params, default=default_limit)
    conditions = query.where(layer, params) + list(extra)
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    # Page first (an index scan when sorted by id), then build JSON for those rows only: PostgreSQL would
    # otherwise build every matching row's JSON before sorting (1 s per 10k-row page of 200k parcels, not 0.1 s).
    page_sql = sql.SQL("SELECT {} FROM (SELECT t.* FROM {} t{}{} LIMIT {} OFFSET {}) t{}").format(
        feature_sql(layer, names, srid, flip), table, query.where_sql(conditions), query.order_by(layer, params),
        sql.Literal(limit), sql.Literal(offset), query.order_by(layer, params))
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(page_sql)
        features = [row[0] for row in cur.fetchall()]
        if conditions or offset or len(features) == limit:
            cur.execute(sql.SQL("SELECT count(*) FROM {} t{}").format(table, query.where_sql(conditions)))
            matched = cur.fetchone()[0]
        else:
            matched = len(features)
    return features, matched


def collection(layer: Layer, params) -> tuple[str, int, int]:
    """(FeatureCollection JSON, number matched, number returned) for one page."""
    srid = query.output_srid(params)
    features, matched = page(layer, params, srid)
    crs = f"http://www.opengis.net/def/crs/EPSG/0/{srid}"
    body = (f'{{"type":"FeatureCollection","numberMatched":{matched},"numberReturned":{len(features)},'
            f'"crs":"{crs}","features":[' + ",".join(features) + "]")
    return body, matched, len(features)


def one(layer: Layer, fid: int, params, srid: int | None = None, flip: bool = False) -> str | None:
    names = query.properties(layer, params)
    srid = query.output_srid(params) if srid is None else srid
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
        cur.execute(sql.SQL("SELECT {} FROM {} t WHERE t.fid = {}").format(
            feature_sql(layer, names, srid, flip), sql.Identifier(DATA_SCHEMA, layer.table_name), sql.Literal(fid)))
        row = cur.fetchone()
    return row[0] if row else None
