"""One import job from start to finish.

    expand the upload into sources → read each → clean, reproject → load into a staging table
    → in one transaction: swap the staging tables in and write the catalog rows

Staging tables live in their own schema that nothing serves, so a crash at any point leaves the layer's
previous version served and intact; the staging leftovers are dropped when the job is marked failed.
"""

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg2
import rasterio
import shapely
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from psycopg2 import sql
from pyproj import CRS

from geo import media
from geo.messages import text as note
from jobs import leftovers
from jobs.models import Job
from jobs.reporting import JobReporter
from layers import catalog, new_layer_colors
from layers.models import STAGING_SCHEMA, Layer, LayerVersion, Style, Theme
from layers.naming import column_names, layer_slug, legacy_slug, table_name
from layers.ogc import publishing
from layers.pgload import EWKB, finish_table_auto, load_rows
from layers.serving import tilecache
from layers.serving.tiles import min_zoom_for

from . import area
from .errors import ImportProblem
from .geometry import clean, reproject
from .rasters import prepare_raster
from .readers import read_features
from .sources import Source, expand

log = logging.getLogger(__name__)
# a layer's kind in a message, worded when read (the English catalogue says vector, raster, table)
KIND_WORDS = {"vector": note("向量"), "raster": note("網格"), "table": note("表格")}


@dataclass
class Prepared:
    """A source read, cleaned and loaded into staging, waiting to be swapped in."""

    source: Source
    kind: str
    staging: str  # staging table, or the staged COG's path for rasters
    count: int
    geometry_type: str = ""
    attributes: list[dict] = field(default_factory=list)
    source_crs: str = ""
    messages: list[str] = field(default_factory=list)
    bounds: list[float] | None = None  # native extent, known from loading


def run_job(job_id: int, work=None) -> Job:
    """Run an import job: `work(job, reporter)` (by default a layer import; stats.importing brings statistical
    tables through here too) with the job's start, failure, cancel and clean-up handled the same for all."""
    job = Job.objects.get(pk=job_id)
    reporter = JobReporter(job)
    # a message that comes back while the job runs: the worker that had it died mid-import
    died = note("執行這個匯入的工作程序在完成前停止了；沒有任何變更，仍提供先前的版本 — 請重新匯入")
    if not reporter.start(died=died):
        leftovers.discard_upload(job)  # a redelivered message for a job done already: its worker may have died after
        return job
    with reporter.running():
        try:
            leftovers.upload_here(job)
            (work or _import)(job, reporter)
        except ImportProblem as problem:
            reporter.fail(problem.as_dict())
        except Exception:  # noqa: BLE001 - any failure must end the job as failed, with a reason
            log.exception("import job %s failed", job.pk)  # the details are for the server's log, not the user
            reporter.fail(note("{file}：匯入時發生內部錯誤；沒有任何變更。"
                               "管理者可在伺服器記錄中查到詳情（匯入工作 {job}）。", file=job.source_name, job=job.pk),
                          file=job.source_name)
        finally:
            leftovers.discard_upload(job)
    job.refresh_from_db()
    return job


def _import(job: Job, reporter: JobReporter) -> None:
    with tempfile.TemporaryDirectory(prefix=leftovers.work_folder_prefix(job), dir=leftovers.work_dir()) as work:
        sources = expand(Path(job.source_path), job.source_name, Path(work))
        if job.options.get("layer") and len(sources) > 1:
            raise ImportProblem("重新匯入圖層時，上傳的檔案只能有一個圖層；找到 {n} 個：{names}", n=len(sources),
                                names=", ".join(s.label for s in sources), file=job.source_name)
        reporter.progress(5, note("找到 {n} 個圖層：{names}", n=len(sources),
                                  names=", ".join(s.label for s in sources)))
        prepared = []
        for i, source in enumerate(sources):
            step = (90 - 5) / len(sources)
            prepared.append(prepare(job, source, i, reporter, 5 + i * step, step))
        moved: list[Path] = []
        try:
            with transaction.atomic():
                layers = [publish(job, p, only=len(prepared) == 1, moved=moved) for p in prepared]
                counts = {layer.slug: p.count for layer, p in zip(layers, prepared, strict=True)}
                reporter.finish({**job.counts, "features": counts})
        except BaseException:
            for raster in moved:  # the catalog never pointed at them
                raster.unlink(missing_ok=True)
            raise


def prepare(job: Job, source: Source, index: int, report: JobReporter, start: float, span: float) -> Prepared:
    staging = f"{job.staging_prefix}{index}"
    if source.format == "geotiff":
        report.progress(start, note("{source}：讀取網格", source=source.label))
        staged = prepare_raster(source, staging, job.options.get("crs"), settings.WORKING_SRID)
        for message in staged.messages:
            report.progress(start + span, note("{source}：{text}", source=source.label, text=message))
        return Prepared(source, "raster", str(staged.path), 0, attributes=staged.bands,
                        source_crs=staged.source_crs, messages=staged.messages)

    report.progress(start, note("{source}：讀取中", source=source.label))
    data = read_features(source, job.options.get("crs"), job.options.get("encoding"))
    if source.format == "csv":
        from layers.geocoding import batch  # the geocoder reads the catalog; imported here to keep apps loading

        data = batch.geocode(data, job.created_by, job.options.get("address_column"))
    messages = [note("{source}：{text}", source=source.label, text=m) for m in data.messages]
    names = column_names([c.source_name for c in data.columns])
    for name, column in zip(names, data.columns, strict=True):
        if name != column.source_name.lower():
            messages.append(note("{source}：欄位 {column} 存為 {name}", source=source.label,
                                 column=repr(column.source_name), name=repr(name)))
    if data.has_geometry:
        report.progress(start + span * 0.3, note("{source}：已讀取 {n} 筆圖徵；坐標系統 {crs}（{how}）",
                                                 source=source.label,
                                                 n=f"{len(data):,}", crs=data.crs.name, how=data.crs_note))
    report.progress(start + span * 0.4, note("{source}：載入 {n} 列", source=source.label, n=f"{len(data):,}"))
    loaded = _load(data, names, staging, messages)
    for m in messages:
        report.progress(start + span, m)
    job.counts["repaired"] = job.counts.get("repaired", 0) + loaded.repaired
    job.counts["dropped"] = job.counts.get("dropped", 0) + loaded.dropped
    attributes = [{"name": n, "type": c.pgtype, "label": c.source_name, "source": c.source_name}
                  for n, c in zip(names, data.columns, strict=True)]
    return Prepared(source, "vector" if data.has_geometry else "table", staging, loaded.count, loaded.geometry_type,
                    attributes, _crs_label(data.crs) if data.crs else "", messages, loaded.bounds)


@dataclass
class _Loaded:
    count: int
    geometry_type: str = ""
    repaired: int = 0
    dropped: int = 0
    bounds: list[float] | None = None


def _load(data, names: list[str], staging: str, messages: list[str]) -> _Loaded:
    """Load into a committed staging table, keys, index and statistics included.

    Fast path: when the file's WKB is already in the working CRS and declares a simple geometry type, its bytes
    are copied as they are (PostGIS checks each one's type) and PostGIS checks validity while the GiST index is
    built, on the core that would otherwise idle. Only if that finds an empty or invalid geometry is the table
    dropped and loaded again from geometries cleaned here (parsed, repaired, promoted, reprojected).
    """
    srid = settings.WORKING_SRID
    columns = {n: (c.pgtype, c.values) for n, c in zip(names, data.columns, strict=True)}
    if not data.has_geometry:
        _load_rows(staging, columns, None, None, srid)
        _finish(staging, False)
        return _Loaded(len(data))
    if data.wkb is not None and not data.wkb.null_count and data.declared_type and data.crs == CRS.from_epsg(srid):
        try:
            _load_rows(staging, columns, EWKB.from_arrow(data.wkb, srid), data.declared_type, srid)
        except psycopg2.DataError:
            pass  # e.g. a shapefile "of LineStrings" holding MultiLineStrings: PostGIS refuses them mid-COPY
        else:
            (bad, *bounds), = _finish(staging, True, _validity_scan(staging))
            if not bad and area.total_inside(bounds, data.crs):
                return _Loaded(len(data), data.declared_type, bounds=bounds)
            catalog.drop_staging_table(staging)
    rows, noun = (data.row_numbers, "row") if data.row_numbers is not None else (None, "feature")
    area.check(data.geoms, data.crs, data.source.name, rows, noun)
    geoms, keep, gtype, cleaned = clean(data.geoms)
    messages += [note("{source}：{text}", source=data.source.label, text=m) for m in cleaned.messages]
    if not len(geoms):
        raise ImportProblem("沒有任何圖徵有可用的圖形", file=data.source.name)
    if not keep.all():
        columns = {n: (t, _take(v, keep)) for n, (t, v) in columns.items()}
    geoms = reproject(geoms, data.crs, srid)
    kept_rows = np.asarray(rows if rows is not None else np.arange(1, len(keep) + 1))[keep].tolist()
    area.check(geoms, CRS.from_epsg(srid), data.source.name, kept_rows, noun, working=True)
    _load_rows(staging, columns, EWKB.from_geometries(geoms, srid), gtype, srid)
    _finish(staging, True)
    return _Loaded(len(geoms), gtype, cleaned.repaired, cleaned.dropped_empty,
                   [float(v) for v in shapely.total_bounds(geoms)])


def _validity_scan(staging: str):
    return sql.SQL("SELECT count(*) FILTER (WHERE geom IS NULL OR ST_IsEmpty(geom) OR NOT ST_IsValid(geom)),"
                   " ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)),"
                   " ST_YMax(ST_Extent(geom)) FROM {}").format(sql.Identifier(STAGING_SCHEMA, staging))


def _finish(staging: str, has_geometry: bool, query=None):
    return finish_table_auto(STAGING_SCHEMA, staging, has_geometry, query)


def _load_rows(staging, columns, ewkb, gtype, srid) -> None:
    with transaction.atomic(), connection.cursor() as cur:
        load_rows(cur.cursor, STAGING_SCHEMA, staging, columns, ewkb, gtype, srid)


def _take(values, keep: np.ndarray):
    if isinstance(values, np.ndarray):
        return values[keep]
    if isinstance(values, list):
        return [v for v, k in zip(values, keep, strict=True) if k]
    return values.filter(keep)  # Arrow


def _crs_label(crs) -> str:
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code}" if code else crs.name


def publish(job: Job, prepared: Prepared, only: bool = True, moved: list | None = None) -> Layer:
    """Inside the job's transaction: create or find the layer, swap its data in, record the version."""
    layer = _target_layer(job, prepared, only)
    if layer.current_version_id and layer.kind != prepared.kind:
        raise ImportProblem("圖層 {slug} 是{kind}圖層；重新匯入必須是{kind}資料，而不是{other}", slug=repr(layer.slug),
                            kind=KIND_WORDS[layer.kind], other=KIND_WORDS[prepared.kind], file=prepared.source.name)
    number = (layer.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    if prepared.kind == "raster":
        final = Path(settings.MEDIA_ROOT) / "rasters" / layer.table_name / f"v{number}.tif"
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(prepared.staging, final)
        if moved is not None:
            moved.append(final)  # removed again if the transaction does not commit
        layer.raster_path = str(final.relative_to(settings.MEDIA_ROOT))
        media.put(final)  # every web server and worker finds it there (MEDIA_STORAGE=s3)
        with rasterio.open(final) as ds:
            native = list(ds.bounds)
        info = {"attributes": prepared.attributes, "feature_count": 0, "geometry_type": "",
                "native_extent": native, "extent": catalog.extent_lonlat(native, settings.WORKING_SRID)}
    else:
        catalog.swap_in(layer, prepared.staging)
        labels = {a["name"]: a["label"] for a in prepared.attributes}
        info = catalog.describe_table("layerdata", layer.table_name, labels, known=(prepared.count, prepared.bounds),
                                      previous=layer.attributes)
        for attr in info["attributes"]:
            attr["source"] = next((a["source"] for a in prepared.attributes if a["name"] == attr["name"]), "")
    version = LayerVersion.objects.create(
        layer=layer, number=number, table_name=layer.table_name if prepared.kind != "raster" else "",
        raster_path=layer.raster_path if prepared.kind == "raster" else "", feature_count=info["feature_count"],
        source_name=prepared.source.label, job=job, created_by=job.created_by)
    layer.kind = prepared.kind
    layer.feature_count = info["feature_count"]
    layer.geometry_type = info["geometry_type"]
    layer.attributes = info["attributes"]
    layer.native_extent = info["native_extent"]
    layer.extent = info["extent"]
    layer.source_crs = prepared.source_crs
    layer.srid = settings.WORKING_SRID
    layer.current_version = version
    if prepared.kind == "vector":
        layer.min_zoom = min_zoom_for(layer.feature_count, layer.native_extent)
    layer.save()
    tilecache.invalidate(layer)  # a new version: every tile of the old one goes
    catalog.default_style(layer)
    publishing.follow(layer, publishing.PUBLISH)
    job.layers.add(layer)
    return layer


def _target_layer(job: Job, prepared: Prepared, only: bool) -> Layer:
    options = job.options
    if options.get("layer"):
        return Layer.objects.select_for_update(of=("self",)).get(slug=options["layer"])
    stem = Path(prepared.source.name.split("/")[-1]).stem
    if prepared.source.layer and prepared.source.layer != stem and not only:
        title = f"{stem} {prepared.source.layer}"
    else:
        title = stem
    # a slug given with the upload names its only layer; files with several layers get one slug each, from the
    # file's name (or, when that gives nothing readable, the title the user gave)
    slug = options["slug"] if options.get("slug") and only else layer_slug(title, options.get("title", ""))
    existing = Layer.objects.select_for_update(of=("self",)).filter(slug=slug).first()
    if existing is None and options.get("mode") == "upsert" and not options.get("slug"):
        existing = Layer.objects.select_for_update(of=("self",)).filter(slug=legacy_slug(title)).first()
    if existing and options.get("mode") == "upsert" and _may_replace(job.created_by, existing):
        return existing  # a batch import, or its editors, bring a new version
    # a slug held by any other layer — one the user may see or not — gives the same answer: the next free one
    free = Layer.objects.free_slug(slug)
    if free != slug:
        job.messages.append(note("{source}：代稱 {slug} 已被使用；圖層為 {free}", source=prepared.source.label,
                                 slug=repr(slug), free=repr(free)))
        slug = free
    theme = Theme.objects.filter(slug=options["theme"]).first() if options.get("theme") else None
    fields = dict(
        title_zh=options.get("title") or title,
        title_en=options.get("title_en", ""), abstract=options.get("abstract", ""),
        keywords=options.get("keywords", []), theme=theme,
        visibility=options.get("visibility", Layer.Visibility.INTERNAL),
        owner_agency_id=options.get("owner_agency"), source=options.get("source") or prepared.source.name,
        license=options.get("license", ""), created_by=job.created_by)
    layer = create_with_free_slug(slug, **fields)
    if new_layer_colors.HEX.match(options.get("color") or ""):  # its own colour, not everyone's default blue
        Style.objects.create(layer=layer, fill_color=options["color"],
                             stroke_color=new_layer_colors.outline_of(options["color"]))
    return layer


def create_with_free_slug(slug: str, with_table: bool = True, **fields) -> Layer:
    """A new layer under `slug` or, if a concurrent request took it meanwhile, the next free one."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Layer.objects.create(slug=slug, table_name=table_name(slug) if with_table else "", **fields)
        except IntegrityError:
            slug = Layer.objects.free_slug(slug)
    raise ImportProblem("找不到新圖層可用的代稱；請再試一次")


def _may_replace(user, layer: Layer) -> bool:
    return user is None or layer.may(user, "import")  # may() is never true on a layer the user may not see
