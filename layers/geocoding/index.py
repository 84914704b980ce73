"""Reading an address-point layer into the address index.

A layer is an address-point layer when it is a point layer whose keywords include 門牌 (or "address points") and
whose columns name the parts of an address: road/street (路街) or area (地區), number (號), and optionally city,
district, village, lane (巷), alley (弄); a layer with only a full-address column (地址) is parsed row by row.
The index is rebuilt when the layer's data changes (a new version), not when its title or style does.
"""

from django.db import connection, transaction
from psycopg2 import sql
from psycopg2.extras import execute_values

from layers.models import DATA_SCHEMA, Layer

from . import address
from .models import AddressIndex, AddressPoint

KEYWORDS = ["門牌", "address points"]
ROLE_NAMES = {
    "city": {"city", "county", "縣市", "縣市名稱", "countyname"},
    "district": {"district", "town", "township", "鄉鎮市區", "區", "townname", "鄉鎮"},
    "village": {"village", "村里", "里", "villname", "村里名稱"},
    "road": {"road", "street", "路街", "街路", "街路段", "路段", "路名", "roadname"},
    "area": {"area", "地區", "區域"},
    "lane": {"lane", "巷"},
    "alley": {"alley", "弄"},
    "number": {"number", "號", "門牌號", "門牌號碼", "號碼", "housenumber"},
    "address": {"address", "地址", "門牌", "完整門牌", "門牌地址", "addr", "fulladdress"},
}


def roles(layer: Layer) -> dict[str, str]:
    """role → column of the layer (text columns only)."""
    found = {}
    for attribute in layer.attributes:
        key = attribute["name"].lower().replace("_", "")
        for role, names in ROLE_NAMES.items():
            if role not in found and (key in names or attribute.get("label", "").lower() in names):
                found[role] = attribute["name"]
    return found


def is_address_layer(layer: Layer) -> bool:
    if layer.kind != Layer.Kind.VECTOR or not layer.table_name or "Point" not in (layer.geometry_type or ""):
        return False
    if not set(KEYWORDS) & set(layer.keywords or []):
        return False
    found = roles(layer)
    return ("number" in found and ("road" in found or "area" in found)) or "address" in found


def stamp(layer: Layer) -> str:
    return f"{layer.table_name}:{layer.current_version_id}:{layer.feature_count}"


# a stale or missing index of a layer this small is rebuilt on the spot (about a second); a bigger one is left to
# the rebuild that follows its import (signals), so that no web request waits minutes
BUILD_INLINE_MAX = 20_000


def address_layers(layers) -> list[Layer]:
    """The address-point layers among `layers` (a queryset of what the user may see), their index current."""
    found = [layer for layer in layers.filter(kind=Layer.Kind.VECTOR, keywords__overlap=KEYWORDS)
             if is_address_layer(layer)]
    for layer in found:
        ensure(layer, inline_max=BUILD_INLINE_MAX)
    return found


def ensure(layer: Layer, inline_max: int | None = None) -> int:
    """The index of `layer` current (rebuilt if its data changed); with `inline_max`, only when the layer has at
    most that many features (else the index stays as it is until the rebuild after the import)."""
    current = AddressIndex.objects.filter(layer=layer).first()
    if current and current.stamp == stamp(layer):
        return current.count
    if inline_max is not None and layer.feature_count > inline_max:
        return current.count if current else 0
    return build(layer)


def _read(layer: Layer, found: dict[str, str]):
    columns = [sql.SQL("NULL::text") if role not in found else sql.SQL("{}::text").format(sql.Identifier(found[role]))
               for role in ("city", "district", "village", "road", "area", "lane", "alley", "number", "address")]
    query = sql.SQL("SELECT fid, {cols}, ST_X(p), ST_Y(p), ST_X(ST_Transform(p, 4326)), ST_Y(ST_Transform(p, 4326)) "
                    "FROM (SELECT *, ST_PointOnSurface(geom) p FROM {t} WHERE geom IS NOT NULL) s").format(
        cols=sql.SQL(", ").join(columns), t=sql.Identifier(DATA_SCHEMA, layer.table_name))
    with connection.cursor() as cur:
        cur.execute(query)
        yield from cur.fetchall()


def _row(layer_id: int, row) -> tuple:
    fid, city, district, village, road, area, lane, alley, number, full, x, y, lon, lat = row
    if number or not full:
        parts = address.Address(city=address.normalise(city or ""), district=address.normalise(district or ""),
                                village=address.normalise(village or ""))
        parts.road, parts.section = address.split_road(road or area or "")
        parts.lane = address.strip_unit(lane or "", "巷")
        parts.alley = address.strip_unit(alley or "", "弄")
        parts.number, parts.sub = address.parse_number(number or "")
    else:
        parts = address.parse(full)
    return (layer_id, fid, parts.city, parts.district, parts.village, parts.road[:60], parts.section,
            parts.lane[:20], parts.alley[:20], parts.number, parts.sub, parts.label()[:200], x, y, lon, lat)


def build(layer: Layer) -> int:
    found = roles(layer)
    rows = [_row(layer.pk, r) for r in _read(layer, found)]
    table = AddressPoint._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        AddressPoint.objects.filter(layer=layer).delete()
        execute_values(cur.cursor, sql.SQL(
            "INSERT INTO {} (layer_id, fid, city, district, village, road, section, lane, alley, number, sub, "
            "label, x, y, lon, lat) VALUES %s").format(sql.Identifier(table)).as_string(cur.cursor), rows,
            page_size=5000)
        AddressIndex.objects.update_or_create(layer=layer, defaults={"stamp": stamp(layer), "count": len(rows)})
    return len(rows)
