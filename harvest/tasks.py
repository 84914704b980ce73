from celery import shared_task
from django.db import transaction
from django.utils import timezone


@shared_task(name="harvest.run", acks_late=False)
def run(run_id: int) -> str:
    """One harvest run (harvest.runner); its outcome is on the HarvestRun."""
    from .models import HarvestRun
    from .runner import execute

    found = HarvestRun.objects.select_related("source").filter(pk=run_id, state=HarvestRun.State.QUEUED).first()
    if found is None:
        return f"run {run_id}: not queued (already run, or removed)"
    done = execute(found)
    return (f"{done.source.slug}: {done.state}; {done.new} new, {done.changed} changed, {done.vanished} vanished"
            + (f" — {done.error}" if done.error else ""))


@shared_task(name="harvest.due")
def due() -> str:
    """For the scheduler (every minute): a run for every enabled source whose time has come."""
    from .models import HarvestRun, HarvestSource
    from .runner import start

    started = []
    with transaction.atomic():
        for source in HarvestSource.objects.select_for_update(skip_locked=True).filter(
                enabled=True, next_run_at__lte=timezone.now()):
            if not source.runs.filter(state__in=[HarvestRun.State.QUEUED, HarvestRun.State.RUNNING]).exists():
                start(source, "schedule")
                started.append(source.slug)
            source.schedule_next()
            source.save(update_fields=["next_run_at"])
    return f"{len(started)} harvest runs started" + (f": {', '.join(started)}" if started else "")


@shared_task(name="harvest.copy", acks_late=False)
def copy(link_id: int) -> str:
    """A local PostGIS copy of a harvested ArcGIS FeatureServer layer (harvest.arcgis_copy)."""
    from geo.remote import RemoteError

    from .arcgis_copy import copy as copy_layer
    from .models import HarvestedLayer

    link = HarvestedLayer.objects.select_related("layer", "source", "copy_layer").filter(pk=link_id).first()
    if link is None:
        return f"harvested layer {link_id}: gone"
    try:
        with transaction.atomic():
            job = copy_layer(link)
    except RemoteError as exc:
        link.copy_error = str(exc)[:1000]
        link.save(update_fields=["copy_error"])
        return f"{link.layer.slug}: {exc}"
    return f"{link.layer.slug}: {link.copy_features:,} features; import job {job.pk}"
