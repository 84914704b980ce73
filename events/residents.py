"""Residents of areas that have none of their own (grid and H3 cells, an area layer without a population),
apportioned from the villages' residents — dasymetric apportioning: a village's residents are shared among the
areas by the share of its door numbers (the address-point layers the caller may see) that fall in each; a village
without any door number, or every village when no address layer is visible, by the share of its area.

The villages are the boundary layer `villages` the caller may see, their residents as events.figures.population
finds them (the statistics tables joined to the villages, else the layer's own population). A point or a village
on a shared boundary belongs to the lowest one, as the events do.
"""

from collections import defaultdict

from django.db import connection
from psycopg2 import sql

from layers.geocoding.index import KEYWORDS, is_address_layer
from layers.models import Layer

from .figures import AREA_KINDS, Areas, FigureError, name_column, population, table_sql

BY_ADDRESS_POINTS = "apportioned from villages by address points"
BY_AREA = "apportioned from villages by area"


def village_layer(user) -> Layer | None:
    layer = Layer.objects.visible_to(user if user and user.is_authenticated else None).filter(
        slug=AREA_KINDS["village"], kind=Layer.Kind.VECTOR).first()
    return layer if layer and "Polygon" in (layer.geometry_type or "") else None


def address_layers(user) -> list[Layer]:
    visible = Layer.objects.visible_to(user if user and user.is_authenticated else None)
    return [layer for layer in visible.filter(kind=Layer.Kind.VECTOR, keywords__overlap=KEYWORDS).order_by("slug")
            if is_address_layer(layer)]


def _keys(zones: sql.Composable) -> list[str]:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT key FROM ({}) z").format(zones))
        return [r[0] for r in cur.fetchall()]


def apportion(zones: sql.Composable, user) -> tuple[dict[str, float], dict]:
    """zone key → residents for the zones of `zones` (a SELECT of key, rank, geom in the working CRS), and where
    they come from (`source` names the method)."""
    villages = village_layer(user)
    if villages is None:
        return {}, {"source": "none"}
    try:
        people, origin = population(Areas("village", villages, name_column(villages)), user)
    except FigureError:
        return {}, {"source": "none"}
    if not people:
        return {}, {"source": "none"}
    addresses = address_layers(user)
    shares: dict[tuple[str, str], float] = defaultdict(float)  # (zone, village) → share of the village's residents
    points_in: dict[tuple[str, str], int] = defaultdict(int)
    points_of: dict[str, int] = defaultdict(int)
    with connection.cursor() as cur:
        for layer in addresses:
            cur.execute(sql.SQL(
                "WITH z AS ({zones}), hits AS (SELECT DISTINCT ON (a.fid) a.fid, a.geom, z.key FROM z JOIN {a} a "
                "ON ST_Intersects(a.geom, z.geom) ORDER BY a.fid, z.rank) "
                "SELECT h.key, v.fid::text, count(*) FROM hits h JOIN LATERAL (SELECT b.fid FROM {v} b WHERE "
                "ST_Intersects(b.geom, h.geom) ORDER BY b.fid LIMIT 1) v ON TRUE GROUP BY 1, 2").format(
                zones=zones, a=table_sql(layer), v=table_sql(villages)))
            for key, village, n in cur.fetchall():
                points_in[key, village] += n
        touched = sorted({v for _k, v in points_in})
        for layer in addresses:  # each touched village's door numbers, wherever they are
            cur.execute(sql.SQL(
                "SELECT v.fid::text, count(*) FROM {v} v JOIN {a} a ON ST_Intersects(v.geom, a.geom) "
                "WHERE v.fid::text = ANY(%s) AND NOT EXISTS (SELECT 1 FROM {v} b WHERE b.fid < v.fid AND "
                "ST_Intersects(b.geom, a.geom)) GROUP BY 1").format(v=table_sql(villages), a=table_sql(layer)),
                [touched])
            for village, n in cur.fetchall():
                points_of[village] += n
        for (key, village), n in points_in.items():
            shares[key, village] += n / points_of[village]
        # the villages without a door number (all of them when no address layer is visible): by area
        without = sql.SQL(" ").join(sql.SQL("AND NOT EXISTS (SELECT 1 FROM {a} a WHERE ST_Intersects(v.geom, a.geom))")
                                    .format(a=table_sql(layer)) for layer in addresses)
        cur.execute(sql.SQL(
            "WITH z AS ({zones}) SELECT z.key, v.fid::text, ST_Area(ST_Intersection(z.geom, v.geom)) / "
            "nullif(ST_Area(v.geom), 0) FROM z JOIN {v} v ON ST_Intersects(z.geom, v.geom) WHERE TRUE {without}"
        ).format(zones=zones, v=table_sql(villages), without=without))
        by_area = cur.fetchall()
    for key, village, share in by_area:
        if share:
            shares[key, village] += share
    out: dict[str, float] = {key: 0.0 for key in _keys(zones)}  # no door number, no village area: nobody
    for (key, village), share in shares.items():
        if people.get(village) is not None:
            out[key] = out.get(key, 0.0) + people[village] * share
    method = BY_ADDRESS_POINTS if addresses else BY_AREA
    return out, {"source": method, "villages": villages.slug, "address_layers": [a.slug for a in addresses],
                       "villages_by_area": len({v for _k, v, s in by_area if s}), "residents": origin,
                       "title": origin.get("title"), "period": origin.get("period")}
