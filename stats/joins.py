"""Joining a statistical table to a boundary layer: by code (VILLCODE, TOWNCODE, COUNTYCODE, SEGIS CODEBASE /
CODE1 / CODE2) or, where no code exists, by names (county + town + village, 臺/台 and spaces normalised).

One SQL statement matches every row; the boundary is grouped by its key first, so a village drawn as several
polygons is one area (its areas summed), never a row counted twice. Each match keeps the boundary's geodesic area
and the town and county above it — from the boundary's own attributes, else from the row's code — which is what
indicators aggregate by. Rows that match nothing are listed with their totals.
"""

from django.db import connection, transaction
from psycopg2 import sql

from layers import attribute_kinds
from layers.importing.errors import ImportProblem
from layers.models import DATA_SCHEMA, Layer

from . import parsing
from .models import JoinMatch, StatJoin, StatTable

UNMATCHED_LISTED = 500


def _find(layer: Layer, standard: str) -> str | None:
    for attr in layer.attributes:
        if parsing.standard_of(attr["name"], attr.get("source", "")) == standard:
            return attr["name"]
    return None


def _norm(expr: sql.Composable) -> sql.Composable:
    """A place name compared in SQL as stats.parsing.place compares it in Python."""
    return sql.SQL("replace(regexp_replace(coalesce({}::text, ''), '[[:space:]\u3000]+', '', 'g'), '台', '臺')") \
        .format(expr)


def join(table: StatTable, boundary: Layer, key: str | None = None, boundary_column: str | None = None,
         user=None, crosswalk: dict | None = None) -> StatJoin:
    """Match every row of `table` to the current version of `boundary`; raises ImportProblem (a 400) naming what
    is missing: a key column, the boundary's rows.

    `crosswalk` ({layer: Layer, from, to?, county?, town?, village?}) looks each row's code up in a table layer
    first (its `from` column): the boundary is then matched by the crosswalk's `to` code or its names."""
    key = key or table.key
    if crosswalk:
        key = "name" if not crosswalk.get("to") else key if key != table.key else "code"
    if key not in StatJoin.Key.values:
        raise ImportProblem("join 的 key 應為 {keys} 其中之一", keys=", ".join(StatJoin.Key.values), field="key")
    if not boundary.table_name or boundary.kind not in (Layer.Kind.VECTOR, Layer.Kind.TABLE):
        raise ImportProblem("圖層 {slug} 沒有可以連結的資料表", slug=boundary.slug, field="boundary")
    own = _find(table.layer, key) if key in ("code1", "code2", "towncode", "countycode") else None
    if key not in ("name", "code") and table.key != key and own is None and not crosswalk:
        raise ImportProblem("統計表的列以 {have} 標示地區，不能以 {key} 連結", have=table.key.upper(), key=key.upper(),
                            field="key")
    has_geom = bool(boundary.geometry_type) and "Polygon" in boundary.geometry_type
    stat = sql.Identifier(DATA_SCHEMA, table.layer.table_name)
    rows = _through(stat, crosswalk) if crosswalk else stat
    bnd = sql.Identifier(DATA_SCHEMA, boundary.table_name)
    b = {s: _find(boundary, s) for s in ("villcode", "towncode", "countycode", "county", "town", "village",
                                         "codebase", "code1", "code2")}
    if key == "name":
        column = boundary_column or b["village"] or b["town"] or b["county"]
        parts = [(s, b[s]) for s in ("county", "town", "village") if b[s]]
        if column is None or not parts:
            raise ImportProblem("圖層 {slug} 沒有縣市、鄉鎮市區或村里名稱欄位", slug=boundary.slug, field="boundary")
        wanted = {"village": ("county", "town", "village"), "town": ("county", "town"),
                  "county": ("county",)}.get(table.level, ("county", "town", "village"))
        parts = [(s, c) for s, c in parts if s in wanted]
        b_key = sql.SQL(" || '|' || ").join(_norm(sql.SQL("b.{}").format(sql.Identifier(c))) for _s, c in parts)
        s_key = sql.SQL(" || '|' || ").join(_norm(sql.SQL("s.{}").format(sql.Identifier(f"{s}_name")))
                                          for s, _c in parts)
    else:
        column = boundary_column or b.get(key)
        if column is None or column not in {a["name"] for a in boundary.attributes}:
            raise ImportProblem("圖層 {slug} 沒有 {key} 欄位；請指定 boundary_column", slug=boundary.slug,
                                key=key.upper(), field="boundary_column")
        b_key = sql.SQL("b.{}::text").format(sql.Identifier(column))
        s_key = sql.SQL("s.xw_code") if crosswalk else sql.SQL("s.area_code") if table.key == key else \
            sql.SQL("s.{}").format(sql.Identifier(own))
    area = sql.SQL("sum(ST_Area(ST_Transform(b.geom, 4326)::geography)) / 1e6") if has_geom else \
        sql.SQL("NULL::double precision")

    def first(standard, fallback):
        column_ = b.get(standard)
        own = sql.SQL("min(b.{}::text)").format(sql.Identifier(column_)) if column_ else sql.SQL("NULL")
        return sql.SQL("coalesce(bk.{}, {})").format(sql.Identifier(standard), fallback) if column_ else fallback, own

    code = sql.SQL("s.xw_code") if crosswalk else sql.SQL("s.area_code")
    town_fallback = {"villcode": sql.SQL("left({}, 8)").format(code), "towncode": code}.get(
        key, sql.SQL("nullif(coalesce(s.county_name, '') || coalesce(s.town_name, ''), '')"))
    county_fallback = {"villcode": sql.SQL("left({}, 5)").format(code), "towncode": sql.SQL("left({}, 5)").format(code),
                       "countycode": code}.get(key, sql.SQL("s.county_name"))
    town_key, town_own = first("towncode", town_fallback)
    county_key, county_own = first("countycode", county_fallback)
    town_name, town_name_own = first("town", sql.SQL("s.town_name"))
    county_name, county_name_own = first("county", sql.SQL("s.county_name"))

    with transaction.atomic():
        record = StatJoin.objects.create(
            table=table, boundary=boundary, boundary_version=boundary.current_version,
            boundary_version_number=boundary.current_version.number if boundary.current_version else 0,
            table_version_number=table.layer.current_version.number if table.layer.current_version else 0,
            key=key, boundary_column=column, created_by=user if user and user.is_authenticated else None,
            crosswalk={k: v for k, v in (crosswalk or {}).items() if k != "layer"} | (
                {"layer": crosswalk["layer"].slug, "version": crosswalk["layer"].current_version.number
                 if crosswalk["layer"].current_version else 0} if crosswalk else {}))
        query = sql.SQL("""
            WITH bk AS (SELECT {b_key} AS k, min(b.fid) AS fid, {area} AS area_km2, {town_own} AS towncode,
                               {county_own} AS countycode, {town_name_own} AS town, {county_name_own} AS county
                        FROM {bnd} b GROUP BY 1)
            INSERT INTO {matches} (join_id, row_fid, boundary_fid, area_key, area_km2, town_key, town_name,
                                   county_key, county_name)
            SELECT %s, s.fid, bk.fid, bk.k,
                   CASE WHEN row_number() OVER (PARTITION BY bk.fid, s.period ORDER BY s.fid) = 1
                        THEN bk.area_km2 END, coalesce({town_key}, ''), coalesce({town_name}, ''),
                   coalesce({county_key}, ''), coalesce({county_name}, '')
            FROM {rows} s JOIN bk ON bk.k = {s_key}""").format(
            b_key=b_key, area=area, town_own=town_own, county_own=county_own, town_name_own=town_name_own,
            county_name_own=county_name_own, bnd=bnd, matches=sql.Identifier(JoinMatch._meta.db_table),
            town_key=town_key, town_name=town_name, county_key=county_key, county_name=county_name, rows=rows,
            s_key=s_key)
        with connection.cursor() as cur:
            cur.execute(query, [record.pk])
            # the planner must know a join's thousands of matches, or it nests loops over "31 rows"
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(JoinMatch._meta.db_table)))
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(stat))
            record.rows = cur.fetchone()[0]
            record.matched_rows = JoinMatch.objects.filter(join=record).count()
            record.unmatched_rows = record.rows - record.matched_rows
            cur.execute(sql.SQL("SELECT count(DISTINCT {b_key}) FROM {bnd} b WHERE {b_key} IS NOT NULL AND {b_key}"
                                " NOT IN (SELECT {s_key} FROM {rows} s WHERE {s_key} IS NOT NULL)").format(
                b_key=b_key, bnd=bnd, s_key=s_key, rows=rows))
            record.areas_without_data = cur.fetchone()[0]
            record.unmatched, record.unmatched_totals = _unmatched(cur, table, record)
        record.save()
    return record


def rejoin(old: StatJoin) -> StatJoin:
    """The same join again, against the table's and the boundary's current versions (a re-import moved the rows):
    its indicators follow it, the old one goes."""
    crosswalk = dict(old.crosswalk)
    if crosswalk:
        crosswalk["layer"] = Layer.objects.filter(slug=crosswalk.get("layer")).first()
        if crosswalk["layer"] is None:
            raise ImportProblem("代碼對照表 {slug} 已不存在；請重新連結", slug=old.crosswalk.get("layer", ""),
                                field="crosswalk")
    new = join(old.table, old.boundary, old.key, old.boundary_column, old.created_by, crosswalk or None)
    old.indicators.update(join=new)
    old.delete()
    return new


def is_stale(record: StatJoin) -> bool:
    """The boundary or the table has a newer version than the one the rows were matched against."""
    boundary = record.boundary.current_version.number if record.boundary.current_version else 0
    table = record.table.layer.current_version.number if record.table.layer.current_version else 0
    return boundary != record.boundary_version_number or table != record.table_version_number


def _through(stat: sql.Identifier, crosswalk: dict) -> sql.Composable:
    """The table's rows with the crosswalk's names (where it has them) and code (`xw_code`) in place of theirs."""
    layer = crosswalk["layer"]
    columns = {a["name"] for a in layer.attributes}
    for field in ("from", "to", "county", "town", "village"):
        if crosswalk.get(field) and crosswalk[field] not in columns:
            raise ImportProblem("代碼對照表 {slug} 沒有欄位 {column}", slug=layer.slug, column=repr(crosswalk[field]),
                                field=f"crosswalk.{field}")
    if not crosswalk.get("from"):
        raise ImportProblem("代碼對照表需要 from（對照表中與統計表代碼相同的欄位）", field="crosswalk.from")

    def pick(field, own):
        if not crosswalk.get(field):
            return sql.SQL("s.{}").format(sql.Identifier(own))
        return sql.SQL("coalesce(x.{}::text, s.{})").format(sql.Identifier(crosswalk[field]), sql.Identifier(own))

    to = sql.SQL("x.{}::text").format(sql.Identifier(crosswalk["to"])) if crosswalk.get("to") else sql.SQL("NULL")
    return sql.SQL("(SELECT s.fid, s.area_code, s.period, {county} AS county_name, {town} AS town_name, "
                   "{village} AS village_name, {to} AS xw_code FROM {stat} s LEFT JOIN (SELECT DISTINCT ON ({frm}) * "
                   "FROM {xw} ORDER BY {frm}, fid) x ON x.{frm}::text = s.area_code)").format(
        county=pick("county", "county_name"), town=pick("town", "town_name"), village=pick("village", "village_name"),
        to=to, stat=stat, frm=sql.Identifier(crosswalk["from"]), xw=sql.Identifier(DATA_SCHEMA, layer.table_name))


def summable(table: StatTable) -> list[dict]:
    """The table's columns whose values add up (people, households, areas …: layers.attribute_kinds)."""
    return [a for a in map(attribute_kinds.described, table.layer.attributes)
            if a.get("aggregate") == "sum" and a["type"] in attribute_kinds.NUMERIC_TYPES]


def _unmatched(cur, table: StatTable, record: StatJoin) -> tuple[list, dict]:
    stat = sql.Identifier(DATA_SCHEMA, table.layer.table_name)
    columns = summable(table)
    missing = sql.SQL("NOT EXISTS (SELECT 1 FROM {m} m WHERE m.join_id = %s AND m.row_fid = s.fid)").format(
        m=sql.Identifier(JoinMatch._meta.db_table))
    listed = [sql.Identifier(a["name"]) for a in columns[:6]]
    cur.execute(sql.SQL("SELECT s.fid, s.area_code, s.county_name, s.town_name, s.village_name, s.period{} "
                        "FROM {} s WHERE {} ORDER BY s.fid LIMIT {}").format(
        sql.SQL("").join(sql.SQL(", s.{}").format(c) for c in listed), stat, missing,
        sql.Literal(UNMATCHED_LISTED)), [record.pk])
    rows = []
    for fid, code, county, town, village, period, *values in cur.fetchall():
        rows.append({"fid": fid, "code": code, "county": county, "town": town, "village": village,
                     "period": period.isoformat() if period else None,
                     "values": {a["name"]: attribute_kinds.round_value(a, _plain(v))
                                for a, v in zip(columns, values, strict=False)}})
    totals = {}
    if columns:
        cur.execute(sql.SQL("SELECT {} FROM {} s WHERE {}").format(
            sql.SQL(", ").join(sql.SQL("coalesce(sum(s.{}), 0)").format(sql.Identifier(a["name"]))
                               for a in columns), stat, missing), [record.pk])
        totals = {a["name"]: attribute_kinds.round_value(a, _plain(v))
                  for a, v in zip(columns, cur.fetchone(), strict=True)}
    return rows, totals


def _plain(value):
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else value
