"""The one search box: coordinates, addresses, places, layers of the catalog and features, grouped by kind,
only from the layers a user may see.

Coordinates (TWD97 X,Y, lon/lat, degrees-minutes-seconds) are read first; text that looks like coordinates but
cannot be used is refused with what was expected. Addresses are matched by the geocoder over the address-point
layers (TGOS when configured and the catalog has no match). Layers are found by title (both languages), keywords
and abstract, read from the catalog at each search, so an uploaded or edited layer is found at once. Places are
features of the place layers (settings.SEARCH_PLACE_LAYERS: districts, villages, roads); features are the others.

Feature search: only the attributes a layer shows at overview zooms (`tile_attributes`) are searched — names of
villages, roads, facilities … — so a search never scans every text column of every table. Road segments sharing
a name come back as one match whose extent covers them all.
"""

from django.conf import settings
from django.db.models import F, Func, Q, TextField, Value
from psycopg2 import sql

from geo.dbrouter import reading
from geo.messages import text as note
from layers.geocoding import address, coordinates, index, tgos
from layers.geocoding.geocoder import Geocoder
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


def feature_matches(layers, text: str) -> list[dict]:
    """Matches of `text` (case-insensitive, anywhere in the value) in the given layers, best first: exact, then
    starting with it, then shorter values."""
    text = text.strip()
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH:
        raise BadRequest("q：請填 {low}–{high} 個字元來搜尋", low=MIN_LENGTH, high=MAX_LENGTH)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = []
    with reading().cursor() as cur:  # the replica when allowed (geo.dbrouter)
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


MAX_LAYERS = 10
ADDRESS_HINT = ("號", "巷", "弄")


def layer_matches(layers, text: str) -> list[dict]:
    """Catalog entries whose title, keywords or abstract hold `text`: title matches first."""
    keywords = Func(F("keywords"), Value(" "), function="array_to_string", output_field=TextField())
    found = layers.annotate(keyword_text=keywords).filter(
        Q(title_zh__icontains=text) | Q(title_en__icontains=text) | Q(keyword_text__icontains=text)
        | Q(abstract__icontains=text) | Q(slug__iexact=text))
    lowered = text.lower()

    def rank(layer):
        titles = (layer.title_zh.lower(), layer.title_en.lower())
        return (lowered not in titles, not any(t.startswith(lowered) for t in titles),
                not any(lowered in t for t in titles), lowered not in layer.keyword_text.lower(), layer.title_zh)

    out = []
    for layer in sorted(found[:200], key=rank)[:MAX_LAYERS]:
        titles = f"{layer.title_zh} {layer.title_en}".lower()
        matched = ("title" if lowered in titles else "keywords" if lowered in layer.keyword_text.lower()
                   else "abstract")
        out.append({"kind": "layer", "layer": layer.slug, "layer_title_zh": layer.title_zh,
                    "layer_title_en": layer.title_en, "value": layer.title_zh, "matched": matched,
                    "keywords": layer.keywords, "bbox": list(layer.extent.extent) if layer.extent else None})
    return out


def looks_like_address(parsed: address.Address) -> bool:
    return bool(parsed.road and (parsed.number is not None or parsed.lane)) or any(
        h in parsed.text for h in ADDRESS_HINT) or bool(parsed.road and (parsed.district or parsed.city))


def address_matches(layers, text: str) -> list[dict]:
    geocoder = Geocoder(index.address_layers(layers))
    found = geocoder.geocode(text) if geocoder else None
    if found is None or found.level not in ("exact", "nearest_number"):
        found = tgos.geocode(text) or found
    if found is None:
        return []
    slugs = {layer.pk: layer.slug for layer in layers.filter(pk=found.layer_id)}
    return [{"kind": "address", **found.as_dict(), "layer": slugs.get(found.layer_id),
             "provider": "tgos" if found.layer_id == 0 else "catalog", "value": found.label}]


def search_all(layers, text: str) -> dict:
    """Every kind of match for `text` in the `layers` a user may see, grouped, with a note when there is none."""
    text = text.strip()
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH:
        raise BadRequest("q：請填 {low}–{high} 個字元來搜尋", low=MIN_LENGTH, high=MAX_LENGTH)
    groups = {"coordinates": [], "addresses": [], "places": [], "layers": [], "features": []}
    position = coordinates.read(text)  # raises CoordinateProblem for unusable coordinates
    if position is not None:
        groups["coordinates"].append({"kind": "coordinate", **position.as_dict(), "value": text})
        return {"q": text, "groups": groups, "results": [], "note": None}
    parsed = address.parse(text)
    wants_address = looks_like_address(parsed)
    if wants_address:
        groups["addresses"] = address_matches(layers, text)
    vectors = layers.filter(kind=Layer.Kind.VECTOR)
    features = feature_matches(vectors, text)
    places = set(settings.SEARCH_PLACE_LAYERS)
    for hit in features:
        hit["kind"] = "place" if hit["layer"] in places else "feature"
        groups["places" if hit["kind"] == "place" else "features"].append(hit)
    groups["layers"] = layer_matches(layers, text)
    message = None
    if wants_address and not groups["addresses"]:
        message = note("找不到地址「{q}」：請寫出路街與門牌號，例如 桃園市中壢區中正路100號（可省略縣市與區）", q=text)
    elif not any(groups.values()):
        message = note("找不到「{q}」：可搜尋圖層名稱、地名（區、村里、道路）、地址（例如 中正路100號）或坐標（例如 "
                       "121.5,25.04）", q=text)
    return {"q": text, "groups": groups, "results": features, "note": message}
