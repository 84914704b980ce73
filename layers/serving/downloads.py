"""Downloading a layer, or a filtered subset, as GeoJSON, GeoPackage, zipped Shapefile or CSV; the CSV can carry
labels with units as its header (labels=1), the GeoPackage describes its columns (gpkg_schema).

GeoJSON and CSV are streamed from a server-side cursor, a few thousand rows at a time; GeoPackage and
Shapefile are written by ogr2ogr reading PostGIS through its own cursor, then streamed from disk. Either way a
million-feature layer never sits in memory.
"""

import csv
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _
from psycopg2 import sql

from layers import attribute_kinds
from layers.models import DATA_SCHEMA, Layer

from . import gpkg_schema, query
from .access import BadRequest
from .features import feature_sql

FORMATS = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
           "gpkg": "application/geopackage+sqlite3", "shp": "application/zip",
           "html": "text/html; charset=utf-8"}
BATCH = 5000


def selection(layer: Layer, params) -> tuple[list[str], list[sql.Composable], int]:
    """(attributes, filter conditions, output SRID) for a download; fails early on a bad parameter."""
    return query.properties(layer, params), query.where(layer, params), query.output_srid(
        params, default=4326 if params.get("format", "geojson") in ("geojson", "csv") else layer.srid)


def geojson(layer: Layer, params) -> Iterator[bytes]:
    names, conditions, srid = selection(layer, params)
    statement = sql.SQL("SELECT {} FROM {} t{} ORDER BY t.fid").format(
        feature_sql(layer, names, srid), sql.Identifier(DATA_SCHEMA, layer.table_name), query.where_sql(conditions))

    def rows():
        yield f'{{"type":"FeatureCollection","crs":"http://www.opengis.net/def/crs/EPSG/0/{srid}","features":['.encode()
        first = True
        for batch in _batches(statement):
            text = ",".join(row[0] for row in batch)
            yield (text if first else "," + text).encode()
            first = False
        yield b"]}"
    return rows()


def csv_rows(layer: Layer, params) -> Iterator[bytes]:
    """Attributes plus WKT, or X/Y columns for a point layer with coords=xy; UTF-8 with a BOM for Excel. The header
    holds the column names, or with labels=1 what a person reads: each attribute's label and unit in the request's
    language (see csv_header)."""
    names, conditions, srid = selection(layer, params)
    xy = params.get("coords", "wkt") == "xy"
    if xy and layer.geometry_type != "Point":
        raise BadRequest("coords=xy 只適用於點圖層；請改用 coords=wkt")
    described = {a["name"]: attribute_kinds.described(a) for a in layer.attributes}
    columns = [_as_shown(described[n]) if n in described else sql.Identifier("t", n) for n in names]
    if layer.kind == Layer.Kind.VECTOR:
        geom = sql.SQL("ST_Transform(t.geom, {})").format(sql.Literal(srid))
        columns += ([sql.SQL("ST_X({g}), ST_Y({g})").format(g=geom)] if xy
                    else [sql.SQL("ST_AsText({})").format(geom)])
    labelled = params.get("labels", "0").lower() in ("1", "true", "yes")
    header = csv_header(names, described, layer.kind == Layer.Kind.VECTOR, xy, srid, labelled)
    statement = sql.SQL("SELECT {} FROM {} t{} ORDER BY t.fid").format(
        sql.SQL(", ").join(columns), sql.Identifier(DATA_SCHEMA, layer.table_name), query.where_sql(conditions))

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        yield ("\ufeff" + buffer.getvalue()).encode()
        for batch in _batches(statement):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(batch)
            yield buffer.getvalue().encode()
    return rows()


def csv_header(names: list[str], described: dict, vector: bool, xy: bool, srid: int, labelled: bool) -> list[str]:
    """One header row (Excel filters and sorts on one): the column names, or labels with units in the request's
    language — '人口密度（人/平方公里）' — where a label two columns share gets its column name after it, so every
    header stays unique and can be traced back to the column (the column names are in the default download, the
    GeoPackage and the catalog API)."""
    geometry = ((["x", "y"] if xy else ["wkt"]) if vector else [])
    if not labelled:
        return names + geometry
    english = translation.get_language() == "en"
    titles = [attribute_kinds.title_of(described[n], english) if n in described else n for n in names]
    repeated = {t for t in titles if titles.count(t) > 1}
    titles = [f"{t} [{n}]" if t in repeated else t for t, n in zip(titles, names, strict=True)]
    crs = f"EPSG:{srid}"
    return titles + ([_("X 坐標（{crs}）").format(crs=crs), _("Y 坐標（{crs}）").format(crs=crs)] if xy
                     else [_("幾何（WKT，{crs}）").format(crs=crs)] if vector else [])


def _as_shown(attribute: dict) -> sql.Composable:
    """A fractional column rounded to the attribute's decimals: a CSV holds 2226.7, not 2226.7000000000003."""
    column = sql.Identifier("t", attribute["name"])
    if attribute["type"] not in ("double precision", "real", "numeric"):
        return column
    return sql.SQL("round({}::numeric, {})").format(column, sql.Literal(int(attribute.get("decimals", 2))))


def _batches(statement: sql.Composable):
    """Rows in batches from a server-side cursor on a connection of its own (the response streams on after the
    view has returned and Django has closed the request's connection)."""
    from django.db import connections

    wrapper = connections.create_connection("default")
    try:
        wrapper.ensure_connection()
        raw = wrapper.connection
        raw.autocommit = False  # server-side (named) cursors live in a transaction
        with raw.cursor(name="civgis_download") as cur:
            cur.itersize = BATCH
            cur.execute(statement)
            while batch := cur.fetchmany(BATCH):
                yield batch
        raw.rollback()
    finally:
        wrapper.close()


def ogr_file(layer: Layer, params, driver: str) -> Path:
    """A GeoPackage or zipped Shapefile written by ogr2ogr from PostGIS; the caller deletes its folder."""
    names, conditions, srid = selection(layer, params)
    columns = [sql.Identifier("t", n) for n in ["fid", *names]]
    if layer.kind == Layer.Kind.VECTOR:
        columns.append(sql.SQL("ST_Transform(t.geom, {}) AS geom").format(sql.Literal(srid)))
    statement = sql.SQL("SELECT {} FROM {} t{} ORDER BY t.fid").format(
        sql.SQL(", ").join(columns), sql.Identifier(DATA_SCHEMA, layer.table_name), query.where_sql(conditions))
    connection.ensure_connection()
    statement_text = statement.as_string(connection.connection)
    folder = Path(tempfile.mkdtemp(prefix="download-", dir=_tmp()))
    try:
        target = folder / (f"{layer.table_name}.gpkg" if driver == "GPKG" else layer.table_name)
        command = ["ogr2ogr", "-f", driver, str(target), _pg_source(), "-sql", statement_text,
                   "-nln", layer.table_name, "-a_srs", f"EPSG:{srid}"]
        if driver == "ESRI Shapefile":
            command += ["-lco", "ENCODING=UTF-8"]  # writes the .cpg
        env = {**os.environ, "PGPASSWORD": settings.DATABASES["default"].get("PASSWORD") or ""}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        if done.returncode:
            raise RuntimeError(f"ogr2ogr failed: {done.stderr[-500:]}")
        if driver == "GPKG":  # labels, units and descriptions travel with the file (GeoPackage Schema extension)
            gpkg_schema.describe_columns(target, layer.table_name, layer.attributes, names,
                                         translation.get_language() == "en")
            return target
        archive = folder / f"{layer.table_name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(target.iterdir()):
                zf.write(part, part.name)
        return archive
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _pg_source() -> str:
    db = settings.DATABASES["default"]
    parts = [f"dbname={db['NAME']}", f"user={db['USER']}"]
    if db.get("HOST"):
        parts.append(f"host={db['HOST']}")
    if db.get("PORT"):
        parts.append(f"port={db['PORT']}")
    return "PG:" + " ".join(parts)


def _tmp() -> str:
    path = Path(settings.DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
