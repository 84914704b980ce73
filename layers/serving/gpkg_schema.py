"""A downloaded GeoPackage's columns described through the GeoPackage Schema extension (`gpkg_schema`, OGC 12-128r18
§F.9): one `gpkg_data_columns` row per attribute with its label (`name`, the alias GDAL ≥ 3.7 and QGIS show), its
label with unit (`title`) and both languages, unit and kind (`description`), so the file says what its columns
are wherever it goes. The table's own column names stay the machine names.
"""

import sqlite3
from pathlib import Path

from layers import attribute_kinds

SCHEMA_EXTENSION = "http://www.geopackage.org/spec/#extension_schema"
DATA_COLUMNS = """CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT,
  constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name))"""
EXTENSIONS = """CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"""
CONSTRAINTS = """CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN,
  max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"""


def description(attribute: dict) -> str:
    """'人口數（人）／Population (people) · kind: count · 0 decimals'"""
    zh, en = attribute_kinds.title_of(attribute), attribute_kinds.title_of(attribute, english=True)
    return f"{zh}／{en} · kind: {attribute.get('kind', '')} · {attribute.get('decimals', 0)} decimals"


def rows(table: str, attributes: list[dict], names: list[str], english: bool) -> list[tuple]:
    """(table_name, column_name, name, title, description) for the columns `names`; a label two columns share gets
    the column name after it (the extension wants names unique in a table)."""
    described = {a["name"]: attribute_kinds.described(a) for a in attributes}
    chosen = [n for n in names if n in described]
    labels = [(described[n].get("label_en") if english else None) or described[n].get("label") or n for n in chosen]
    labels = [f"{label} [{n}]" if labels.count(label) > 1 else label for label, n in zip(labels, chosen, strict=True)]
    return [(table, n, label, attribute_kinds.title_of(described[n], english), description(described[n]))
            for n, label in zip(chosen, labels, strict=True)]


def describe_columns(path: Path, table: str, attributes: list[dict], names: list[str], english: bool) -> int:
    """Write the rows into the GeoPackage at `path` and register the extension; the number of columns described."""
    described = rows(table, attributes, names, english)
    with sqlite3.connect(path) as db:
        for statement in (DATA_COLUMNS, CONSTRAINTS, EXTENSIONS):
            db.execute(statement)
        db.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, "
                       "description) VALUES (?, ?, ?, ?, ?)", described)
        for registered in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            db.execute("INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
                       (registered, SCHEMA_EXTENSION))
    return len(described)
