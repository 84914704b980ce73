"""Writing the demo city into PostGIS (one table per layer in `layerdata`) and its DEM to a GeoTIFF."""

import json
import os
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from django.conf import settings
from django.db import connection, transaction
from psycopg2 import sql

from geo.crs import transform
from layers.pgload import write_features

from .city import SRID, DemoCity
from .terrain import write_dem

DEMO_SCHEMA = "layerdata"
DEM_FILENAME = "demo_dem.tif"


def dem_path() -> Path:
    return Path(settings.MEDIA_ROOT) / "rasters" / DEM_FILENAME


def is_loaded(schema: str = DEMO_SCHEMA) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.parcels"])
        return cur.fetchone()[0] and dem_path().exists()


def store(city: DemoCity, schema: str = DEMO_SCHEMA, progress=print) -> dict[str, int]:
    """Write every layer in one transaction (all or nothing) and the DEM beside it; returns row counts."""
    srid = settings.WORKING_SRID
    counts = {}
    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor  # the psycopg2 cursor, for COPY
        for name, layer in city.layers.items():
            geoms = None if layer.geoms is None else transform(layer.geoms, SRID, srid)
            counts[name] = write_features(raw, schema, name, layer.columns, geoms, layer.geometry_type, srid)
            about = {"title_zh": layer.title_zh, "title_en": layer.title_en,
                     "source": f"civgis demo city, seed {city.seed}, size {city.size}"}
            cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
                sql.Identifier(schema, name), sql.Literal(json.dumps(about, ensure_ascii=False))))
            progress(f"  {name}: {counts[name]:,} rows")
    path = dem_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.tif")
    write_dem(partial, city.terrain, SRID)
    os.replace(partial, path)
    progress(f"  DEM: {path} ({city.terrain.elevation.shape[1]}×{city.terrain.elevation.shape[0]} px)")
    return counts


def write_geopackage(city: DemoCity, path: Path) -> None:
    """Every spatial layer into one GeoPackage (EPSG:3826), e.g. as input for import benchmarks."""
    path.unlink(missing_ok=True)
    for name, layer in city.layers.items():
        if layer.geoms is None:
            continue
        names = list(layer.columns)
        arrays = [_ogr_array(layer.columns[c]) for c in names]
        pyogrio.raw.write(str(path), shapely.to_wkb(layer.geoms), arrays, names, layer=name, driver="GPKG",
                          geometry_type=layer.geometry_type, crs=f"EPSG:{SRID}", append=path.exists())


def _ogr_array(column):
    pgtype, values = column
    if pgtype in ("date", "timestamptz"):
        return np.array([v.isoformat() for v in values], dtype=object)
    return np.asarray(values) if pgtype != "text" else np.array(values, dtype=object)
