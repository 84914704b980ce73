"""Bulk-loading features into one PostGIS table per layer (schema `layerdata`).

Tables get an integer primary key `fid`, typed attribute columns and a `geom` column in the working CRS with a
GiST index; keys and indexes are built after the COPY, which is faster and gives smaller indexes than
loading into an indexed table. All SQL identifiers go through psycopg2.sql.
"""

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import numpy as np
import shapely
from psycopg2 import sql

GEOMETRY_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Geometry"}


def _text_value(value) -> str:
    """A value in PostgreSQL COPY text format."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return r"\N"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return "t" if value else "f"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def create_table(cur, schema: str, table: str, columns: Sequence[tuple[str, str]], geometry_type: str | None,
                 srid: int) -> None:
    """Create (replacing) `schema.table` with `fid`, the given (name, PostgreSQL type) columns and `geom`."""
    if geometry_type is not None and geometry_type not in GEOMETRY_TYPES:
        raise ValueError(f"unsupported geometry type {geometry_type!r}")
    target = sql.Identifier(schema, table)
    fields = [sql.SQL("fid integer NOT NULL")]
    fields += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_pg_type(pgtype))) for name, pgtype in columns]
    if geometry_type:
        fields.append(sql.SQL("geom geometry({}, {})").format(sql.SQL(geometry_type), sql.Literal(int(srid))))
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(fields)))


_ALLOWED_TYPES = {"integer", "bigint", "double precision", "text", "date", "timestamptz", "boolean", "numeric"}


def _pg_type(pgtype: str) -> str:
    # Types are composed into SQL as keywords, so only a known list is accepted.
    if pgtype not in _ALLOWED_TYPES:
        raise ValueError(f"unsupported column type {pgtype!r}")
    return pgtype


def copy_rows(cur, schema: str, table: str, column_names: Sequence[str], rows: Iterable[Sequence],
              batch_rows: int = 50_000) -> int:
    """COPY rows (already in column order) into the table; returns the number of rows written."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, column_names)))
    stmt = stmt.as_string(cur.connection)
    total = 0
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(map(_text_value, row)))
        buf.write("\n")
        total += 1
        if total % batch_rows == 0:
            buf.seek(0)
            cur.copy_expert(stmt, buf)
            buf = io.StringIO()
    if buf.tell():
        buf.seek(0)
        cur.copy_expert(stmt, buf)
    return total


def finish_table(cur, schema: str, table: str, has_geometry: bool) -> None:
    """Primary key, spatial index and planner statistics, built after the data is in."""
    target = sql.Identifier(schema, table)
    cur.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (fid)").format(target))
    if has_geometry:
        cur.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{table}_geom_gist"), target))
    cur.execute(sql.SQL("ANALYZE {}").format(target))


def ewkb_hex(geoms: np.ndarray, srid: int) -> np.ndarray:
    return shapely.to_wkb(shapely.set_srid(geoms, int(srid)), hex=True, include_srid=True)


def write_features(cur, schema: str, table: str, columns: dict[str, tuple[str, Sequence]],
                   geoms: np.ndarray | None, geometry_type: str | None, srid: int) -> int:
    """Create `schema.table` and fill it: columns maps name → (PostgreSQL type, values)."""
    create_table(cur, schema, table, [(name, t) for name, (t, _v) in columns.items()],
                 geometry_type if geoms is not None else None, srid)
    values = [list(v) if isinstance(v, np.ndarray) else v for _t, v in columns.values()]
    n = len(values[0]) if values else len(geoms)
    names = ["fid", *columns]
    series = [range(1, n + 1), *values]
    if geoms is not None:
        names.append("geom")
        series.append(ewkb_hex(geoms, srid))
    count = copy_rows(cur, schema, table, names, zip(*series, strict=True))
    finish_table(cur, schema, table, geoms is not None)
    return count
