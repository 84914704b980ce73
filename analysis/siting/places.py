"""Names an officer recognises for a site: a parcel's 地段 and 地號 (or its address or name), and the district and
village it lies in, looked up point-in-polygon in the area layers the user may see (SITING_PLACE_LAYERS)."""

from django.conf import settings
from django.db import connection
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

from ..inputs import AnalysisInputError, readable_layer

# attribute names that hold a site's own name, by what they are (Taiwanese cadastre and common open-data schemas);
# a layer's attributes that say their kind (issue 14's attribute kinds) can replace this guess
NAME_ATTRIBUTES = {
    "section": ("section", "section_name", "段", "地段", "段名", "sect_name"),
    "number": ("parcel_no", "landno", "land_no", "地號"),
    "address": ("address", "addr", "地址", "門牌"),
    "name": ("name", "名稱", "name_zh", "title"),
}
PLACE_NAME_ATTRIBUTES = ("name", "名稱", "villname", "townname", "VILLNAME", "TOWNNAME")


def _first_present(layer: Layer, candidates: tuple[str, ...]) -> str | None:
    names = {a["name"] for a in layer.attributes}
    return next((c for c in candidates if c in names), None)


def own_names(layer: Layer, fids: list[int]) -> dict[int, dict]:
    """Per fid: what the feature's own attributes call it ({"section", "number"}, {"address"} or {"name"})."""
    found = {key: _first_present(layer, candidates) for key, candidates in NAME_ATTRIBUTES.items()}
    found = {k: v for k, v in found.items() if v}
    out = {int(f): {} for f in fids}
    if not found or not fids:
        return out
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid, {} FROM {} WHERE fid = ANY(%s)").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in found.values()),
            sql.Identifier(DATA_SCHEMA, layer.table_name)), [list(out)])
        for fid, *values in cur.fetchall():
            out[fid] = {k: v for k, v in zip(found, values, strict=True) if v}
    return out


def place_layers(user) -> list[tuple[Layer, str]]:
    """The configured area layers this user may read, each with the attribute holding its names."""
    out = []
    for slug in settings.SITING_PLACE_LAYERS:
        try:
            layer = readable_layer(slug, user)
        except AnalysisInputError:  # missing or not for this user: the sites are named without it
            continue
        name = _first_present(layer, PLACE_NAME_ATTRIBUTES)
        if name and layer.geometry_type in ("Polygon", "MultiPolygon"):
            out.append((layer, name))
    return out


def places_of(xy: list[tuple[float, float]], srid: int, user) -> list[list[str]]:
    """Per point, the names of the areas it lies in, in the order of SITING_PLACE_LAYERS (district, village)."""
    out: list[list[str]] = [[] for _ in xy]
    if not xy:
        return out
    with connection.cursor() as cur:
        for layer, name in place_layers(user):
            cur.execute(sql.SQL(
                "SELECT q.ord, (SELECT t.{name}::text FROM {table} t WHERE ST_Contains(t.geom, ST_Transform("
                "ST_SetSRID(ST_MakePoint(q.x, q.y), {srid}), ST_SRID(t.geom))) LIMIT 1) FROM unnest(%s::float8[],"
                " %s::float8[]) WITH ORDINALITY AS q(x, y, ord)").format(
                name=sql.Identifier(name), table=sql.Identifier(DATA_SCHEMA, layer.table_name),
                srid=sql.Literal(srid)), [[float(p[0]) for p in xy], [float(p[1]) for p in xy]])
            for ord_, value in cur.fetchall():
                if value:
                    out[ord_ - 1].append(value)
    return out


def describe(layer: Layer, fids: list[int], xy: list[tuple[float, float]], user) -> list[dict]:
    """Per site: its own names (section and number, address or name) and `places` (district, village …)."""
    names = own_names(layer, fids)
    return [{"fid": int(f), **names[int(f)], "places": p}
            for f, p in zip(fids, places_of(xy, layer.srid, user), strict=True)]
