"""Long analyses as jobs: the same job rows, reporting (jobs.reporting: progress, heartbeat, cancel, clean-up) as
imports, and results that become catalog layers through the same staging-and-swap path as imported files (with
provenance: inputs, parameters, who, when)."""

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import sql

from geo.messages import in_english
from geo.messages import text as note
from jobs import control
from jobs.models import Job
from jobs.reporting import JobReporter
from layers import catalog
from layers.importing.pipeline import Prepared, publish
from layers.importing.sources import Source
from layers.models import STAGING_SCHEMA, Layer
from layers.pgload import finish_table_auto

from . import buffer, overlay, widening
from .hotspots import job as hotspot_job
from .inputs import AnalysisInputError, readable_layer, recording_reads
from .siting import job as siting_job
from .wifi import recommend as wifi_recommend

log = logging.getLogger(__name__)
HOTSPOTS = ("hotspots", "emerging_hotspots")


def create(name: str, options: dict, user) -> Job:
    kind = Job.Kind.SITING if options.get("analysis") == "siting" else Job.Kind.ANALYSIS
    return control.create(kind, name, options, user)


def submit(job: Job) -> Job:
    from .tasks import analysis_job

    return control.submit(job, analysis_job)


def run(job_id: int) -> Job:
    job = Job.objects.get(pk=job_id)
    reporter = JobReporter(job)
    if not reporter.start(died=note("執行這個分析的工作程序在完成前停止了；請重新執行")):
        return job
    staging = f"{job.staging_prefix}0"
    # every layer read is a source of the result
    with reporter.running(), recording_reads() as reads:
        try:
            user = job.created_by
            options = job.options
            if options["analysis"] == "overlay":
                # not in one transaction: the pairs are computed on two connections, which must see the pieces
                # (all its tables are in the staging schema, dropped with the job if it fails)
                a, b = readable_layer(options["a"], user), readable_layer(options["b"], user)
                overlay.build(staging, options["operation"], a, b, options, reporter.progress)
                inputs, extras, summary = [a.slug, b.slug], [], {}
            else:
                with transaction.atomic():
                    inputs, extras, summary = _build(staging, options, user, reporter.progress)
            provenance = {"analysis": options["analysis"], "inputs": inputs,
                          "parameters": {k: v for k, v in options.items() if k not in ("title", "slug", "mode")},
                          "by": user.username if user else None, "at": timezone.now().isoformat(), "job": job.pk}
            if summary:
                provenance["result"] = summary
            tables = [(staging, "", ""), *extras]
            prepared = [_prepare(job, table) for table, _title, _slug in tables]
            reporter.progress(90, note("結果已建立索引"))
            counts = {}
            with transaction.atomic():  # all result layers or none
                first = None
                for ready, (_table, title_suffix, slug_suffix) in zip(prepared, tables, strict=True):
                    layer = _publish(job, ready, provenance, title_suffix, slug_suffix, first)
                    first = first or layer.slug
                    layer.derive_from(list(reads.values()))
                    if options["analysis"] in HOTSPOTS:
                        hotspot_job.style(layer, options["analysis"])
                    counts[layer.slug] = ready.count
                reporter.finish({"features": counts, **({"result": summary} if summary else {})})
        except AnalysisInputError as problem:
            reporter.fail(problem.text())
        except Exception:  # noqa: BLE001 - any failure must end the job as failed, with a reason
            log.exception("analysis job %s failed", job.pk)
            # the details are for the server's log: a user is told only that it happened and where to look
            reporter.fail(note("分析時發生內部錯誤；管理者可在伺服器記錄中查到詳情（工作 {job}）。", job=job.pk))
    job.refresh_from_db()
    return job


def _build(staging: str, options: dict, user, progress) -> tuple[list[str], list[tuple[str, str, str]], dict]:
    """(input layer slugs, further result tables as (table, title suffix, slug suffix), result summary)."""
    if options["analysis"] == "siting":
        return siting_job.build(staging, options, user, progress)
    if options["analysis"] == "wifi_recommend":
        return wifi_recommend.build(staging, options, user, progress)
    if options["analysis"].startswith("network_"):
        from network import tools as network_tools  # the network app builds on analysis, not the other way

        return network_tools.build(staging, options, user, progress)
    if options["analysis"] in HOTSPOTS:
        return hotspot_job.build(staging, options, user, progress)
    if options["analysis"] == "buffer_layer":
        return buffer.build_layer(staging, options, user, progress), [], {}
    return widening.build(staging, options, user, progress), [], {}


def _prepare(job: Job, staging: str) -> Prepared:
    """A result table typed and indexed, described for publishing."""
    _type_geometry(staging, settings.WORKING_SRID)
    _finish(staging)
    info = catalog.describe_table(STAGING_SCHEMA, staging)
    attributes = [{**a, "source": a["name"]} for a in info["attributes"]]
    return Prepared(Source(None, job.source_name, "analysis"), "vector", staging, info["feature_count"],
                    info["geometry_type"], attributes, f"EPSG:{info.get('srid', '')}", bounds=info["native_extent"])


def _publish(job: Job, prepared: Prepared, provenance: dict, title_suffix: str, slug_suffix: str,
             first: str | None) -> Layer:
    options = job.options
    if slug_suffix:  # publish names its layer from the job's options: a further layer gets its own slug and title
        base = first or options["slug"]
        job.options = {**options, "slug": f"{base[:49 - len(slug_suffix)]}-{slug_suffix}",
                       "title": options["title"] + title_suffix,
                       "title_en": options["title_en"] + in_english(note(title_suffix)) if options.get("title_en")
                       else ""}
    try:
        layer = publish(job, prepared)
    finally:
        job.options = options
    Layer.objects.filter(pk=layer.pk).update(provenance=provenance)
    return layer


def _type_geometry(staging: str, srid: int) -> None:
    """CREATE TABLE AS leaves `geom` untyped: give it its one geometry type (or Geometry) and the SRID."""
    table = sql.Identifier(STAGING_SCHEMA, staging)
    with connection.cursor() as cur:
        cur.execute("SELECT type, srid FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s",
                    [STAGING_SCHEMA, staging])
        declared = cur.fetchone()
        if declared and declared[0] != "GEOMETRY" and declared[1] == srid:
            return  # typed by the SELECT already
        cur.execute(sql.SQL("SELECT DISTINCT ST_GeometryType(geom) FROM {}").format(table))
        kinds = [k[3:] for (k,) in cur.fetchall() if k]
        kind = kinds[0] if len(kinds) == 1 else "Geometry"
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN geom TYPE geometry({}, {}) USING ST_SetSRID(geom, {})").format(
            table, sql.SQL(kind), sql.Literal(srid), sql.Literal(srid)))


def _finish(staging: str) -> None:
    finish_table_auto(STAGING_SCHEMA, staging, True)
