"""The catalog's hold on layer tables: swapping a new version in, keeping and restoring old ones, removing.

Every change of which rows a layer serves happens inside the caller's transaction, together with the catalog
rows that describe it, so a reader sees either the old version or the new one, never a mix or a gap.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection, transaction
from psycopg2 import sql

from geo import media

from . import attribute_kinds
from .models import DATA_SCHEMA, STAGING_SCHEMA, VERSIONS_SCHEMA, Layer, LayerVersion, Style
from .serving import tilecache

SAMPLE_ROWS = 1000


def _exec(query, params=None):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


def table_exists(schema: str, table: str) -> bool:
    return _exec("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}"."{table}"'])[0][0]


def version_table(layer: Layer, number: int) -> str:
    return f"{layer.table_name}__v{number}"[:63]


def swap_in(layer: Layer, staging_table: str) -> None:
    """Make a staging table the layer's served table; the one it replaces is kept in VERSIONS_SCHEMA.

    Both are renames (no copy), so the swap is instant; an ACCESS EXCLUSIVE lock makes readers wait for it.
    """
    served = sql.Identifier(DATA_SCHEMA, layer.table_name)
    if table_exists(DATA_SCHEMA, layer.table_name):
        _exec(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(served))
        current = layer.current_version
        keep_as = version_table(layer, current.number if current else 0)
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(VERSIONS_SCHEMA, keep_as)))
        _exec(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(served, sql.Identifier(VERSIONS_SCHEMA)))
        _exec(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(VERSIONS_SCHEMA, layer.table_name), sql.Identifier(keep_as)))
        if current:
            LayerVersion.objects.filter(pk=current.pk).update(table_name=keep_as)
    _exec(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(sql.Identifier(STAGING_SCHEMA, staging_table),
                                                       sql.Identifier(DATA_SCHEMA)))
    _exec(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(DATA_SCHEMA, staging_table),
                                                      sql.Identifier(layer.table_name)))
    prune_versions(layer)


def prune_versions(layer: Layer) -> None:
    """Keep the newest LAYER_VERSIONS_KEPT earlier versions' tables; older ones are dropped (their records stay)."""
    old = layer.versions.exclude(table_name="").exclude(table_name=layer.table_name).order_by("-number")
    for version in old[settings.LAYER_VERSIONS_KEPT:]:
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(VERSIONS_SCHEMA, version.table_name)))
        LayerVersion.objects.filter(pk=version.pk).update(table_name="", note=(version.note + " (data pruned)")[:300])


def drop_staging_table(table: str) -> None:
    _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, table)))


def drop_staging(prefix: str) -> None:
    """Drop the staging tables a job made (their names start with the job's prefix)."""
    rows = _exec("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                 [STAGING_SCHEMA, prefix.replace("_", r"\_") + "%"])
    for (table,) in rows or []:
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, table)))


def drop_layer_data(layer: Layer) -> None:
    if layer.kind == Layer.Kind.RASTER and layer.table_name:
        folder = Path(settings.MEDIA_ROOT) / "rasters" / layer.table_name
        transaction.on_commit(lambda: media.remove(folder))
    if layer.table_name and layer.kind != Layer.Kind.RASTER:
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(DATA_SCHEMA, layer.table_name)))
    for version in layer.versions.exclude(table_name=""):
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(VERSIONS_SCHEMA, version.table_name)))


def describe_table(schema: str, table: str, labels: dict[str, str] | None = None,
                   known: tuple[int, list[float] | None] | None = None, previous: list[dict] | None = None) -> dict:
    """Columns, count, geometry type and extents of a table, for the catalog. Each column is described
    (labels, unit, kind: layers.attribute_kinds) from its name, its original name in `labels` and a sample of its
    values; `previous` descriptions of the same columns are kept. `known` (count, native extent), when the caller
    has them from loading the rows, saves a scan of the table."""
    labels = labels or {}
    before = {a["name"]: a for a in previous or []}
    columns = _exec(
        "SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END"
        " FROM information_schema.columns WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [schema, table])
    target = sql.Identifier(schema, table)
    described = [(name, dtype) for name, dtype in columns if name not in ("fid", "geom")]
    samples = _samples(target, [name for name, _t in described])
    attrs = [attribute_kinds.describe(name, dtype, labels.get(name, ""), samples.get(name), before.get(name))
             for name, dtype in described]
    has_geom = any(name == "geom" for name, _t in columns)
    info = {"attributes": attrs, "geometry_type": "", "native_extent": None, "extent": None}
    if has_geom:
        (gtype, srid), = _exec("SELECT type, srid FROM geometry_columns WHERE f_table_schema = %s"
                               " AND f_table_name = %s AND f_geometry_column = 'geom'", [schema, table])
        if known:
            count, (xmin, ymin, xmax, ymax) = known[0], known[1] or (None,) * 4
        else:
            (count, xmin, ymin, xmax, ymax), = _exec(sql.SQL(
                "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                " FROM (SELECT count(*) n, ST_Extent(geom) e FROM {}) s").format(target))
        info.update(feature_count=count, geometry_type=_geometry_type_name(gtype), srid=srid)
        if xmin is not None:
            info["native_extent"] = [xmin, ymin, xmax, ymax]
            info["extent"] = extent_lonlat(info["native_extent"], srid)
    else:
        info["feature_count"] = known[0] if known else _exec(sql.SQL("SELECT count(*) FROM {}").format(target))[0][0]
    return info


def _samples(target: sql.Composable, names: list[str]) -> dict[str, list]:
    """Up to SAMPLE_ROWS values of each column (the first rows: enough to tell years, codes and decimals apart)."""
    if not names:
        return {}
    rows = _exec(sql.SQL("SELECT {} FROM {} LIMIT {}").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in names), target, sql.Literal(SAMPLE_ROWS)))
    return {name: [_plain(row[i]) for row in rows] for i, name in enumerate(names)}


def _plain(value):
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else value


def _geometry_type_name(pg_type: str | None) -> str:
    names = {"POINT": "Point", "MULTIPOINT": "MultiPoint", "LINESTRING": "LineString",
             "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon",
             "GEOMETRY": "Geometry"}
    return names.get((pg_type or "").upper(), pg_type or "")


def extent_lonlat(native: list[float], srid: int) -> Polygon:
    """The lon/lat bounding box of a native extent (densified edges, so curved TM2 edges are covered)."""
    import shapely

    from geo.crs import transform

    west, south, east, north = native
    # a single point (or a straight N-S/E-W line) has no area: pad it by half a metre so the box is a polygon
    pad = 0.5 if srid != 4326 else 5e-6
    if east - west <= 0:
        west, east = west - pad, east + pad
    if north - south <= 0:
        south, north = south - pad, north + pad
    box = shapely.segmentize(shapely.box(west, south, east, north), max(east - west, north - south) / 16)
    lonlat = transform(box, srid, 4326)
    poly = Polygon.from_bbox(lonlat.bounds)
    poly.srid = 4326
    return poly


def default_style(layer: Layer) -> Style:
    style, _created = Style.objects.get_or_create(layer=layer)
    return style


def restore(layer: Layer, version: LayerVersion, user) -> LayerVersion:
    """Serve an earlier version again, as a new version (history stays linear). Moves tables, copies nothing."""
    number = layer.versions.order_by("-number").values_list("number", flat=True).first() + 1
    if layer.kind == Layer.Kind.RASTER:
        layer.raster_path = version.raster_path
    else:
        staging = f"restore{layer.pk}_{version.number}"
        _exec(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, staging)))
        _exec(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
            sql.Identifier(VERSIONS_SCHEMA, version.table_name), sql.Identifier(STAGING_SCHEMA)))
        _exec(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(STAGING_SCHEMA, version.table_name), sql.Identifier(staging)))
        LayerVersion.objects.filter(pk=version.pk).update(
            table_name="", note=(version.note + f" (data now served as version {number})").strip()[:300])
        swap_in(layer, staging)
        info = describe_table(DATA_SCHEMA, layer.table_name, previous=layer.attributes)
        layer.attributes = info["attributes"]
        layer.geometry_type = info["geometry_type"]
        layer.native_extent = info["native_extent"]
        layer.extent = info["extent"]
    restored = LayerVersion.objects.create(
        layer=layer, number=number, table_name=layer.table_name if layer.kind != Layer.Kind.RASTER else "",
        raster_path=version.raster_path, feature_count=version.feature_count, source_name=version.source_name,
        note=f"restored from version {version.number}", created_by=user if user and user.is_authenticated else None)
    layer.feature_count = version.feature_count
    layer.current_version = restored
    layer.save()
    tilecache.invalidate(layer)
    return restored
