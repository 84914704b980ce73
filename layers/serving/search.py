"""Finding places by name: a text search over the layers a user may see, answering each match with its extent.

Only the attributes a layer shows at overview zooms (`tile_attributes`) are searched — names of villages, roads,
facilities … — so a search never scans every text column of every table. Road segments sharing a name come back
as one match whose extent covers them all.
"""

from django.db import connection
from psycopg2 import sql

from layers.models import DATA_SCHEMA, Layer

from .access import BadRequest

TEXT_TYPES = {"text", "character varying"}
PER_LAYER = 5
MAX_RESULTS = 20
MIN_LENGTH = 1
MAX_LENGTH = 100


def searchable_attributes(layer: Layer) -> list[str]:
    types = {a["name"]: a["type"] for a in layer.attributes}
    return [name for name in layer.tile_attributes if types.get(name) in TEXT_TYPES]


def _layer_sql(layer: Layer, attribute: str, pattern: str) -> sql.Composable:
    column = sql.Identifier(attribute)
    return sql.SQL(
        "SELECT v::text, n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
        "SELECT {c} AS v, count(*) AS n, ST_Extent(ST_Transform(geom, 4326)) e "
        "FROM {t} "
        "WHERE {c} ILIKE {p} GROUP BY {c} ORDER BY length({c}), {c} LIMIT {n}) m"
    ).format(c=column, t=sql.Identifier(DATA_SCHEMA, layer.table_name),
             p=sql.Literal(pattern), n=sql.Literal(PER_LAYER))


def search(layers, text: str) -> list[dict]:
    """Matches of `text` (case-insensitive, anywhere in the value) in the given layers, best first: exact, then
    starting with it, then shorter values."""
    text = text.strip()
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH:
        raise BadRequest("q：請填 {low}–{high} 個字元來搜尋", low=MIN_LENGTH, high=MAX_LENGTH)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = []
    with connection.cursor() as cur:
        for layer in layers:
            if layer.kind != Layer.Kind.VECTOR or not layer.table_name:
                continue
            for attribute in searchable_attributes(layer):
                cur.execute(_layer_sql(layer, attribute, pattern))
                for value, count, west, south, east, north in cur.fetchall():
                    found.append({"layer": layer.slug, "layer_title_zh": layer.title_zh,
                                  "layer_title_en": layer.title_en, "attribute": attribute, "value": value,
                                  "count": count, "bbox": [west, south, east, north]})
    lowered = text.lower()
    found.sort(key=lambda m: (m["value"].lower() != lowered, not m["value"].lower().startswith(lowered),
                              len(m["value"])))
    return found[:MAX_RESULTS]
