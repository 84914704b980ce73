"""Creating, changing, deleting and restoring single features of a vector layer, with versions and history.

Each write runs in one transaction that locks the feature's row (`FOR UPDATE`), compares the version the client
read with the current one (a stale one is a `Conflict` carrying both), writes the row, records a FeatureChange
with the state before and after, and keeps the catalog right: feature count, extents, `updated_at` (which the
tile ETags name, so cached tiles of the layer are refetched) and `revision_date`. MapServer reads the table
live, so WMS/WFS answers show the change at once without republishing.

Geometry arrives as GeoJSON in EPSG:4326 and is stored in the layer's SRID; attributes are checked against the
table's column types. Every problem a client can fix is a BadRequest naming the field.
"""

import json
import math
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg2 import sql

from layers.catalog import extent_lonlat
from layers.models import DATA_SCHEMA, Layer
from layers.serving import tilecache
from layers.serving.access import BadRequest
from layers.serving.features import feature_sql

from .models import FeatureChange

INTEGER_TYPES = {"integer": 2**31, "bigint": 2**63, "smallint": 2**15}  # → the bound of its range
NUMBER_TYPES = {"double precision", "real", "numeric"}
TEXT_TYPES = {"text", "character varying", "character", "varchar"}
DATE_TYPES = {"date"}
TIME_TYPES = {"timestamp with time zone", "timestamp without time zone", "timestamptz", "timestamp"}
RESERVED = {"fid", "geom"}
LATEST = -1  # an expected version meaning "the current one": writes whose protocol carries no version


class NotFound(Exception):
    pass


@dataclass
class Conflict(Exception):
    """The client read version `theirs`; the feature is at `current` now (`feature`: its state, None if deleted)."""

    theirs: int
    current: int
    feature: dict | None
    change: FeatureChange | None


@dataclass(frozen=True)
class Table:
    identifier: sql.Composable
    geometry_type: str  # POINT, MULTIPOLYGON, GEOMETRY …
    dims: int
    srid: int
    columns: dict[str, tuple[str, int | None]]  # name → (type, max length)
    numbered: bool  # fid has a default (a sequence): imported tables number their rows themselves, without one
    layer_id: int
    name: str


def table_of(layer: Layer) -> Table:
    if layer.kind != Layer.Kind.VECTOR or not layer.table_name:
        raise BadRequest("圖層 {slug} 不是向量圖層，不能編輯圖徵", slug=repr(layer.slug))
    with connection.cursor() as cur:
        cur.execute("SELECT column_name, data_type, character_maximum_length, column_default"
                    " FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    [DATA_SCHEMA, layer.table_name])
        rows = cur.fetchall()
        columns = {name: (dtype, length) for name, dtype, length, _default in rows}
        numbered = any(name == "fid" and default for name, _t, _l, default in rows)
        cur.execute("SELECT type, coord_dimension, srid FROM geometry_columns WHERE f_table_schema = %s"
                    " AND f_table_name = %s AND f_geometry_column = 'geom'", [DATA_SCHEMA, layer.table_name])
        found = cur.fetchone()
    if found is None:
        raise BadRequest("圖層 {slug} 不是向量圖層，不能編輯圖徵", slug=repr(layer.slug))
    gtype, dims, srid = found
    return Table(sql.Identifier(DATA_SCHEMA, layer.table_name), gtype.upper(), dims, srid or layer.srid,
                 {k: v for k, v in columns.items() if k not in RESERVED}, numbered, layer.pk, layer.table_name)


# ---------------------------------------------------------------------------------------------------------------
# checking what a client sent
# ---------------------------------------------------------------------------------------------------------------
def geometry_of(value, table: Table, layer: Layer) -> GEOSGeometry:
    """A GeoJSON geometry (lon/lat) checked: readable, not empty, on the earth, of the layer's type, valid. A
    GEOSGeometry with its SRID (what WFS-T reads from GML, in the CRS the client named) is checked the same way."""
    if isinstance(value, GEOSGeometry):
        return _checked_geometry(value, table, layer)
    if not isinstance(value, dict) or "type" not in value:
        raise BadRequest("geometry：請送 GeoJSON 幾何物件（經緯度，EPSG:4326），例如 "
                         "{{\"type\": \"Point\", \"coordinates\": [121.3, 24.99]}}")
    try:
        geom = GEOSGeometry(json.dumps(value))
    except (GDALException, GEOSException, ValueError, TypeError) as exc:
        raise BadRequest("geometry 無法讀取為 GeoJSON：{reason}", reason=str(exc)[:200]) from None
    geom.srid = 4326
    return _checked_geometry(geom, table, layer)


def _checked_geometry(geom: GEOSGeometry, table: Table, layer: Layer) -> GEOSGeometry:
    if geom.empty:
        raise BadRequest("geometry 是空的")
    west, south, east, north = geom.extent
    if geom.srid == 4326 and not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise BadRequest("geometry 的座標不在經緯度範圍內（請用 EPSG:4326 經度、緯度）")
    got, want = geom.geom_type.upper(), table.geometry_type
    if want not in ("GEOMETRY", got, f"MULTI{got}"):
        raise BadRequest("geometry 是 {got}，圖層 {slug} 只收 {want}", got=geom.geom_type, slug=repr(layer.slug),
                         want=want.title().replace("multi", "Multi").replace("string", "String"))
    if not geom.valid:
        raise BadRequest("geometry 無效：{reason}", reason=geom.valid_reason)
    return geom


def _geometry_sql(geom: GEOSGeometry, table: Table) -> sql.Composable:
    expr = sql.SQL("ST_Transform(ST_GeomFromEWKB({}), {})").format(sql.Literal(bytes(geom.ewkb)),
                                                                   sql.Literal(table.srid))
    if table.geometry_type.startswith("MULTI"):
        expr = sql.SQL("ST_Multi({})").format(expr)
    return sql.SQL("ST_Force3D({})" if table.dims == 3 else "ST_Force2D({})").format(expr)


def value_of(name: str, value, table: Table):
    """An attribute value as its column takes it, or a BadRequest naming the attribute."""
    if name not in table.columns:
        raise BadRequest("屬性 {name} 不在這個圖層中；可用的屬性：{names}", name=repr(name),
                         names=", ".join(sorted(table.columns)) or "—")
    if value is None:
        return None
    dtype, length = table.columns[name]
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if dtype in INTEGER_TYPES:
        whole = isinstance(value, int) or numeric and _finite(value) and value.is_integer()
        if numeric and whole and -INTEGER_TYPES[dtype] <= int(value) < INTEGER_TYPES[dtype]:
            return int(value)
        raise _refused("屬性 {name} 是整數，收到 {value}", name, value)
    if dtype in NUMBER_TYPES:
        if numeric and _finite(value) and (dtype != "real" or abs(value) < 3.4e38):
            return value
        raise _refused("屬性 {name} 是數值，收到 {value}", name, value)
    if dtype in DATE_TYPES or dtype in TIME_TYPES:
        try:
            parsed = date.fromisoformat(value) if dtype in DATE_TYPES else datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise _refused("屬性 {name} 是日期（YYYY-MM-DD，時間為 ISO 8601），收到 {value}", name, value) from None
        return parsed
    if dtype == "boolean":
        if isinstance(value, bool):
            return value
        raise BadRequest("屬性 {name} 是是非值（true/false），收到 {value}", name=repr(name),
                         value=json.dumps(value, ensure_ascii=False))
    if dtype in TEXT_TYPES:
        if not isinstance(value, str) or "\x00" in value:
            raise _refused("屬性 {name} 是文字，收到 {value}", name, value)
        if length and len(value) > length:
            raise BadRequest("屬性 {name} 最多 {length} 個字元", name=repr(name), length=length)
        return value
    raise BadRequest("屬性 {name}（{type}）不能經由 API 編輯", name=repr(name), type=dtype)


def _finite(value: int | float) -> bool:
    """A number a float column can hold (an integer of 400 digits is none: converting it overflows)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _refused(msgid: str, name: str, value) -> BadRequest:
    return BadRequest(msgid, name=repr(name), value=json.dumps(value, ensure_ascii=False)[:100])


def checked(body, table: Table, layer: Layer, *, creating: bool) -> tuple[GEOSGeometry | None, dict]:
    """(geometry or None, {column: value}) from a GeoJSON Feature (or {geometry, properties}) body."""
    if not isinstance(body, dict):
        raise BadRequest("請送 GeoJSON Feature：{{\"type\": \"Feature\", \"geometry\": …, \"properties\": {{…}}}}")
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadRequest("properties 必須是物件 {{屬性: 值}}")
    if creating and body.get("geometry") is None:
        raise BadRequest("新增圖徵需要 geometry")
    geom = geometry_of(body["geometry"], table, layer) if body.get("geometry") is not None else None
    values = {name: value_of(name, value, table) for name, value in properties.items()}
    if not creating and geom is None and not values:
        raise BadRequest("沒有要修改的內容：請送 geometry 或 properties")
    return geom, values


def expected_version(if_match: str | None, body) -> int | None:
    """The version the client read: the If-Match ETag, else `version` in the body or query."""
    raw = if_match
    if raw is None and isinstance(body, dict):
        raw = body.get("version")
    if raw is None:
        return None
    text = str(raw).strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        raise BadRequest("version（或 If-Match）應為讀到的版本號，例如 \"3\"，收到 {value}", value=str(raw)[:40]) \
            from None


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
def snapshot(layer: Layer, table: Table, fid: int, lock: bool = False) -> dict | None:
    """{geometry (GeoJSON, 4326), properties} of a feature now, or None; `lock` holds its row to the commit."""
    names = sorted(table.columns)
    query = sql.SQL("SELECT {} FROM {} t WHERE t.fid = {}{}").format(
        feature_sql(layer, names, 4326), table.identifier, sql.Literal(fid),
        sql.SQL(" FOR UPDATE") if lock else sql.SQL(""))
    with connection.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    if row is None:
        return None
    feature = json.loads(row[0])
    return {"geometry": feature["geometry"], "properties": feature["properties"]}


def last_change(layer: Layer, fid: int) -> FeatureChange | None:
    return FeatureChange.objects.filter(layer=layer, fid=fid).order_by("-version").first()


def version_of(layer: Layer, fid: int) -> int:
    change = last_change(layer, fid)
    return change.version if change else 0


def state_at(layer: Layer, fid: int, version: int) -> tuple[bool, dict | None]:
    """(known, state) of a feature at `version`: state None = did not exist then."""
    if version == 0:
        first = FeatureChange.objects.filter(layer=layer, fid=fid, version=1).first()
        return (first is not None, first.before if first else None)
    change = FeatureChange.objects.filter(layer=layer, fid=fid, version=version).first()
    return (change is not None, change.after if change else None)


# ---------------------------------------------------------------------------------------------------------------
# writing (every protocol's writes come through here, and so through the layer's form rules)
# ---------------------------------------------------------------------------------------------------------------
def create(layer: Layer, user, body) -> FeatureChange:
    table = table_of(layer)
    geom, values = checked(body, table, layer, creating=True)
    values = rules.enforce(layer, table, user, values, None)
    with transaction.atomic():
        fid = _insert(table, geom, values)
        after = snapshot(layer, table, fid)
        return _record(layer, table, user, fid, 1, FeatureChange.Action.CREATE, None, after)


def update(layer: Layer, user, fid: int, body, expected: int | None) -> FeatureChange:
    table = table_of(layer)
    geom, values = checked(body, table, layer, creating=False)
    with transaction.atomic():
        before, current = _locked(layer, table, fid, expected, user=user)
        values = rules.enforce(layer, table, user, values, before["properties"])
        old_box = _native_box(table, fid)
        _update(table, fid, geom, values)
        after = snapshot(layer, table, fid)
        return _record(layer, table, user, fid, current + 1, FeatureChange.Action.UPDATE, before, after, old_box)


def delete(layer: Layer, user, fid: int, expected: int | None) -> FeatureChange:
    table = table_of(layer)
    with transaction.atomic():
        before, current = _locked(layer, table, fid, expected, user=user)
        old_box = _native_box(table, fid)
        with connection.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE fid = %s").format(table.identifier), [fid])
        return _record(layer, table, user, fid, current + 1, FeatureChange.Action.DELETE, before, None, old_box)


def restore(layer: Layer, user, fid: int, to_version: int, expected: int | None) -> FeatureChange:
    """Bring a feature back to its state at `to_version` (deleting it if it did not exist then): a new change."""
    table = table_of(layer)
    known, target = state_at(layer, fid, to_version)
    if not known:
        raise BadRequest("圖徵 {fid} 沒有版本 {version}", fid=fid, version=to_version)
    with transaction.atomic():
        before, current = _locked(layer, table, fid, expected, may_be_gone=True, user=user)
        if target is None and before is None:
            raise BadRequest("圖徵 {fid} 在版本 {version} 不存在，現在也不存在：沒有要還原的內容", fid=fid,
                             version=to_version)
        return _bring_back(layer, table, user, fid, target, before, current, to_version)


def _bring_back(layer: Layer, table: Table, user, fid: int, target: dict | None, before: dict | None, current: int,
                to_version: int) -> FeatureChange:
    """Write a recorded state (None: delete) over the feature's row, locked by the caller: a restore change."""
    old_box = _native_box(table, fid)
    if target is None:
        with connection.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE fid = %s").format(table.identifier), [fid])
    else:
        geom = GEOSGeometry(json.dumps(target["geometry"]), srid=4326) if target.get("geometry") else None
        values = {k: value_of(k, v, table) for k, v in target.get("properties", {}).items()
                  if k in table.columns}  # a column dropped since (a re-import) cannot come back
        values.update({k: None for k in table.columns if k not in target.get("properties", {})})
        if before is None:
            _insert(table, geom, values, fid=fid)
        else:
            _update(table, fid, geom, values)
    after = snapshot(layer, table, fid) if target is not None else None
    return _record(layer, table, user, fid, current + 1, FeatureChange.Action.RESTORE, before, after,
                   old_box, restored_from=to_version)


def rollback(layer: Layer, user, moment: datetime) -> list[FeatureChange]:
    """Every feature changed after `moment` brought back to its state then, in one transaction with the layer's
    table locked against other writers: features added since are deleted, deleted ones come back. Each feature
    gets a restore change (restored_from: its version at `moment`); features already as they were are left."""
    table = table_of(layer)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table.identifier))
        first_after: dict[int, FeatureChange] = {}
        for change in FeatureChange.objects.filter(layer=layer, time__gt=moment).order_by("fid", "version"):
            first_after.setdefault(change.fid, change)
        done = []
        for fid, first in sorted(first_after.items()):
            before = snapshot(layer, table, fid, lock=True)
            target = first.before  # the feature as it was at `moment`
            if before == target:
                continue
            done.append(_bring_back(layer, table, user, fid, target, before, version_of(layer, fid),
                                    first.version - 1))
        return done


# ---------------------------------------------------------------------------------------------------------------
# split and merge: several features in one transaction, each with its version checked and its history kept
# ---------------------------------------------------------------------------------------------------------------
SPLIT_RULES = ("copy", "clear", "proportional")  # a form rule's `split`: what each piece gets of the attribute
MAX_MERGE = 100


def split(layer: Layer, user, fid: int, body, expected: int | None) -> list[FeatureChange]:
    """Cut a line or polygon feature by a drawn line (PostGIS ST_Split): the original is removed (a `split` change
    naming the new fids) and each piece becomes a new feature (a `create` change naming the original). Each piece
    gets the original's attributes as the form rule `split` of each attribute says: `copy` (the default), `clear`,
    or `proportional` (a number shared by the pieces' area or length, e.g. a population or a cost); the form's
    other rules are checked on each piece. Returns the original's change, then the pieces'."""
    table = table_of(layer)
    if table.geometry_type.removeprefix("MULTI") not in ("LINESTRING", "POLYGON"):
        raise BadRequest("只有線或面圖層的圖徵可以分割；圖層 {slug} 是 {type}", slug=repr(layer.slug),
                         type=table.geometry_type.title())
    if not isinstance(body, dict) or body.get("geometry") is None:
        raise BadRequest("分割需要一條切割線 geometry（GeoJSON LineString，經緯度）")
    blade = geometry_of(body["geometry"], replace(table, geometry_type="LINESTRING"), layer)
    with transaction.atomic():
        before, current = _locked(layer, table, fid, expected, user=user)
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT ST_AsEWKB(d.geom), CASE WHEN ST_Dimension(d.geom) = 2 THEN ST_Area(d.geom)"
                                " ELSE ST_Length(d.geom) END FROM {} t, ST_Dump(ST_Split(ST_Force2D(t.geom),"
                                " ST_Transform(ST_GeomFromEWKB(%s), %s))) d WHERE t.fid = %s ORDER BY d.path")
                        .format(table.identifier), [bytes(blade.ewkb), table.srid, fid])
            pieces = [(GEOSGeometry(memoryview(ewkb)), measure) for ewkb, measure in cur.fetchall()]
        pieces = [(g, m) for g, m in pieces if m > 0]
        if len(pieces) < 2:
            raise BadRequest("切割線沒有把圖徵 {fid} 切成兩塊以上：請畫一條完整穿過它的線", fid=fid)
        whole = sum(m for _g, m in pieces)
        originals = {name: value_of(name, value, table) for name, value in before["properties"].items()
                     if name in table.columns}
        form_rules = rules.rules_of(layer)
        old_box = _native_box(table, fid)
        made = []
        for geom, measure in pieces:
            values = dict(originals)
            for name, rule in form_rules.items():
                how = rule.get("split", "copy")
                if name not in values or values[name] is None or how == "copy":
                    continue
                if how == "clear":
                    values[name] = None
                else:
                    share = values[name] * measure / whole
                    values[name] = round(share) if table.columns[name][0] in INTEGER_TYPES else share
            changed = {k: v for k, v in values.items() if v != originals.get(k) and not
                       form_rules.get(k, {}).get("read_only")}  # the server shares read-only values, not a client
            values.update(rules.enforce(layer, table, user, changed, before["properties"]))
            made.append(_insert(table, geom, values))
        with connection.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE fid = %s").format(table.identifier), [fid])
        changes = [_record(layer, table, user, fid, current + 1, FeatureChange.Action.SPLIT, before, None, old_box,
                           related=made)]
        for new in made:
            changes.append(_record(layer, table, user, new, 1, FeatureChange.Action.CREATE, None,
                                   snapshot(layer, table, new), related=[fid]))
        return changes


def merge_request(body) -> tuple[dict[int, int | None], int, dict]:
    """({fid: version read}, the fid to keep, properties to set) of a merge body:
    {"features": [{"fid": 3, "version": 0}, …], "keep": 3, "properties": {…}}."""
    if not isinstance(body, dict) or not isinstance(body.get("features"), list):
        raise BadRequest("合併請送 {{\"features\": [{{\"fid\": 圖徵編號, \"version\": 讀到的版本}}, …], "
                         "\"keep\": 保留屬性的圖徵編號}}")
    read: dict[int, int | None] = {}
    for i, entry in enumerate(body["features"]):
        fid = entry.get("fid") if isinstance(entry, dict) else None
        if not isinstance(fid, int) or isinstance(fid, bool) or not 0 < fid < 2**63:
            raise BadRequest("features[{i}].fid：請填圖徵編號", i=i)
        if fid in read:
            raise BadRequest("features[{i}]：圖徵 {fid} 重複", i=i, fid=fid)
        read[fid] = expected_version(None, entry)
    if not 2 <= len(read) <= MAX_MERGE:
        raise BadRequest("合併需要 2 到 {n} 個圖徵", n=MAX_MERGE)
    keep = body.get("keep", next(iter(read)))
    if keep not in read:
        raise BadRequest("keep：保留屬性的圖徵必須是要合併的圖徵之一")
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadRequest("properties 必須是物件 {{屬性: 值}}")
    return read, keep, properties


def merge(layer: Layer, user, read: dict[int, int | None], keep: int, properties: dict) -> list[FeatureChange]:
    """Merge features of one layer into the one kept (PostGIS ST_Union; lines joined with ST_LineMerge): it keeps
    its fid and attributes (with `properties` set over them, checked by the form's rules) and gets the union's
    geometry; the others are removed. Each gets a `merge` change naming the others. Every version read is checked
    (rows locked in fid order, so two merges never deadlock). Returns the kept one's change first."""
    table = table_of(layer)
    values = {name: value_of(name, value, table) for name, value in properties.items()}
    with transaction.atomic():
        states = {}
        for fid in sorted(read):
            states[fid] = _locked(layer, table, fid, read[fid], user=user)
        single = table.geometry_type in ("POINT", "LINESTRING", "POLYGON")
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT ST_AsEWKB(u), ST_NumGeometries(u), ST_IsValid(u) FROM (SELECT CASE WHEN"
                                " ST_Dimension(ST_Collect(geom)) = 1 THEN ST_LineMerge(ST_Union(geom)) ELSE"
                                " ST_Union(geom) END u FROM {} WHERE fid = ANY(%s)) s").format(table.identifier),
                        [list(read)])
            ewkb, parts, valid = cur.fetchone()
        geom = GEOSGeometry(memoryview(ewkb))
        if single and parts > 1:
            raise BadRequest("這些圖徵沒有相連，合併後是 {parts} 塊，而圖層 {slug} 只收單一的 {want}：請選相接的圖徵",
                             parts=parts, slug=repr(layer.slug), want=table.geometry_type.title()
                             .replace("string", "String"))
        if single and geom.geom_type.startswith("Multi"):
            geom = geom[0]
            geom.srid = table.srid
        if not valid:
            raise BadRequest("合併後的幾何無效")
        before, current = states[keep]
        values = rules.enforce(layer, table, user, values, before["properties"])
        old_box = _native_box(table, keep)
        others = [fid for fid in sorted(read) if fid != keep]
        gone = {fid: _native_box(table, fid) for fid in others}
        _update(table, keep, geom, values)
        with connection.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE fid = ANY(%s)").format(table.identifier), [others])
        changes = [_record(layer, table, user, keep, current + 1, FeatureChange.Action.MERGE, before,
                           snapshot(layer, table, keep), old_box, related=others)]
        for fid in others:
            state, version = states[fid]
            changes.append(_record(layer, table, user, fid, version + 1, FeatureChange.Action.MERGE, state, None,
                                   gone[fid], related=[keep]))
        return changes


def _locked(layer: Layer, table: Table, fid: int, expected: int | None, may_be_gone: bool = False, user=None):
    """(state, version) of the feature, its row locked until the commit; NotFound, or Conflict when stale
    (`expected` LATEST: whatever version is current, for a protocol that has none to send, as WFS 1.1.0)."""
    if expected is None:
        raise BadRequest("請附上讀到的版本：If-Match 標頭（GET 回應的 ETag）或 version 欄位")
    before = snapshot(layer, table, fid, lock=True)
    locks.check(layer.pk, fid, user)  # a WFS lock of another writer holds the feature
    change = last_change(layer, fid)
    current = change.version if change else 0
    if expected == LATEST:
        expected = current
    if before is None and not may_be_gone:
        if change is None or expected == current:
            raise NotFound
        raise Conflict(expected, current, None, change)
    if before is None and change is None:
        raise NotFound
    if expected != current:
        raise Conflict(expected, current, before, change)
    return before, current


def _number_new_features(table: Table) -> None:
    """Give an imported table's fid a sequence on its first new feature, starting after every fid it has or
    ever had (a deleted feature's fid is never reused: its history stays its own)."""
    sequence = sql.Identifier(DATA_SCHEMA, f"{table.name[:50]}_fid_seq")
    highest = FeatureChange.objects.filter(layer_id=table.layer_id).order_by("-fid").values_list("fid", flat=True)
    with connection.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table.identifier))
        cur.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} OWNED BY {}.fid").format(sequence, table.identifier))
        cur.execute(sql.SQL("SELECT setval({}, GREATEST((SELECT max(fid) FROM {}), %s, 1))").format(
            sql.Literal(f"{DATA_SCHEMA}.{table.name[:50]}_fid_seq"), table.identifier), [highest.first() or 0])
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN fid SET DEFAULT nextval({})").format(
            table.identifier, sql.Literal(f"{DATA_SCHEMA}.{table.name[:50]}_fid_seq")))


def _insert(table: Table, geom: GEOSGeometry | None, values: dict, fid: int | None = None) -> int:
    if fid is None and not table.numbered:
        _number_new_features(table)
    names = list(values)
    columns = [sql.Identifier(n) for n in names] + [sql.Identifier("geom")]
    params = [sql.Placeholder()] * len(names) + [_geometry_sql(geom, table)]
    args = [values[n] for n in names]
    if fid is not None:
        columns.insert(0, sql.Identifier("fid"))
        params.insert(0, sql.Literal(fid))
    with connection.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING fid").format(
            table.identifier, sql.SQL(", ").join(columns), sql.SQL(", ").join(params)), args)
        return cur.fetchone()[0]


def _update(table: Table, fid: int, geom: GEOSGeometry | None, values: dict) -> None:
    sets = [sql.SQL("{} = %s").format(sql.Identifier(n)) for n in values]
    args = list(values.values())
    if geom is not None:
        sets.append(sql.SQL("geom = {}").format(_geometry_sql(geom, table)))
    with connection.cursor() as cur:
        cur.execute(sql.SQL("UPDATE {} SET {} WHERE fid = %s").format(table.identifier, sql.SQL(", ").join(sets)),
                    [*args, fid])


def _record(layer: Layer, table: Table, user, fid: int, version: int, action: str, before, after,
            old_box=None, restored_from: int | None = None, related: list[int] | None = None) -> FeatureChange:
    change = FeatureChange.objects.create(
        layer=layer, fid=fid, version=version, action=action, user=user if user and user.is_authenticated else None,
        username=user.get_username() if user and user.is_authenticated else "", before=before, after=after,
        restored_from=restored_from, related=related or [])
    _keep_catalog(layer, table, old_box, fid, (after is not None) - (before is not None))
    live.announce(layer, change)
    return change


def _keep_catalog(layer: Layer, table: Table, old_box, fid: int, delta: int) -> None:
    """Feature count, extents, updated_at (the tile ETag) and revision date after one feature changed. The extent
    grows with a new geometry; when the old one touched its edge, it is measured again."""
    new_box = _native_box(table, fid)
    current = Layer.objects.select_for_update().filter(pk=layer.pk).order_by().values_list(
        "native_extent", flat=True).first()
    native = list(current) if current else None
    if native and old_box and any(abs(a - b) <= 1e-6 * max(1.0, abs(b))
                                  for a, b in zip(old_box, native, strict=True)):
        native = _measured(table)
    elif new_box is not None:
        native = new_box if native is None else [min(native[0], new_box[0]), min(native[1], new_box[1]),
                                                 max(native[2], new_box[2]), max(native[3], new_box[3])]
    tilecache.invalidate(layer, [old_box, new_box], table.srid)  # the tiles under the feature, before and after
    Layer.objects.filter(pk=layer.pk).update(
        feature_count=F("feature_count") + delta, native_extent=native,
        extent=extent_lonlat(native, table.srid) if native else None, updated_at=timezone.now(),
        revision_date=timezone.localdate())


def _native_box(table: Table, fid: int) -> list[float] | None:
    """The feature's bounding box in the stored CRS (None: no such feature, or no geometry)."""
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM {}"
                            " WHERE fid = %s").format(table.identifier), [fid])
        row = cur.fetchone()
    return list(row) if row and row[0] is not None else None


def _measured(table: Table) -> list[float] | None:
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e"
                            " FROM {}) s").format(table.identifier))
        row = cur.fetchone()
    return list(row) if row and row[0] is not None else None


from . import live, locks, rules  # noqa: E402  (rules uses this module's checks)
