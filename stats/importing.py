"""Importing a statistical table: an import job (jobs.Job, progress and cancel as for layers) whose work reads the
upload (stats.readers), types it (stats.tables), loads it into a staging table and publishes it as a catalog layer
of kind `table` through the layer pipeline — new layer or new version, visibility, owner agency — then records
what the statistics need (StatTable), all in one transaction: a bad file leaves nothing behind."""

import tempfile
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction

from geo.messages import text as note
from jobs import control, leftovers
from jobs.models import Job
from jobs.reporting import JobReporter
from layers.importing import pipeline
from layers.importing.sources import Source

from . import joins, readers, tables
from .models import StatTable

ACCEPTED = set(readers.FORMATS)


def create(path: Path, names: list[str], options: dict, user=None) -> Job:
    label = " + ".join(names) if len(names) <= 3 else f"{names[0]} + {len(names) - 1}"
    return control.create(Job.Kind.IMPORT, label[:300], {**options, "stats": True, "files": names}, user,
                          source_path=str(path))


def submit(job: Job) -> Job:
    return control.submit(job, import_stats)


@shared_task(name="stats.import_stats", acks_late=True, reject_on_worker_lost=True)
def import_stats(job_id: int) -> str:
    return pipeline.run_job(job_id, work=_import).status


def _import(job: Job, reporter: JobReporter) -> None:
    with tempfile.TemporaryDirectory(prefix=leftovers.work_folder_prefix(job), dir=leftovers.work_dir()) as work:
        folder = Path(job.source_path).parent
        grid = readers.read_upload(folder, job.options["files"], Path(work))
        for message in grid.messages:
            reporter.message(note("{source}：{text}", source=grid.name, text=message))
        reporter.progress(30, note("{source}：讀取 {n} 列", source=grid.name, n=f"{len(grid.rows):,}"))
        table = tables.build(grid, job.options.get("code_column", ""), job.options.get("level", ""),
                             job.options.get("period", ""))
        for message in table.messages[len(grid.messages):]:
            reporter.message(note("{source}：{text}", source=grid.name, text=message))
        staging = f"{job.staging_prefix}0"
        pipeline._load_rows(staging, table.columns, None, None, settings.WORKING_SRID)
        pipeline._finish(staging, False)
        reporter.progress(70, note("{source}：載入 {n} 列", source=grid.name, n=f"{len(table):,}"))
        attributes = [{"name": n, "type": t, "label": table.labels[n], "source": table.labels[n]}
                      for n, (t, _v) in table.columns.items()]
        prepared = pipeline.Prepared(Source(Path(job.source_path), grid.name, "stats"), "table", staging, len(table),
                                     attributes=attributes)
        with transaction.atomic():
            layer = pipeline.publish(job, prepared)
            if not job.options.get("title") and grid.meta.get("title") and not layer.versions.exclude(
                    job=job).exists():
                layer.title_zh = grid.meta["title"][:200]
                layer.save(update_fields=["title_zh"])
            StatTable.objects.update_or_create(layer=layer, defaults={
                "level": table.level, "key": table.key, "format": grid.fmt, "periods": table.periods,
                "source_meta": {k: str(v)[:500] for k, v in grid.meta.items()}})
            rejoined = [joins.rejoin(old) for old in layer.stat_table.joins.all()]  # its rows have new fids
            for record in rejoined:
                reporter.message(note("{source}：重新連結 {boundary}：{matched}／{rows} 列對上", source=grid.name,
                                      boundary=record.boundary.slug, matched=record.matched_rows, rows=record.rows))
            reporter.finish({**job.counts, "rows": len(table), "level": table.level, "key": table.key,
                             "features": {layer.slug: len(table)}})
