"""Building a network as a job (the same job rows, progress and failure handling as imports and analyses, polled
at /api/v1/imports/{id}/), and rebuilding every network of a layer when the layer gets a new version."""

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from analysis.inputs import AnalysisInputError
from geo.messages import text as note
from layers.importing.pipeline import JobReport, fail, heartbeat
from layers.models import ImportJob, LayerVersion

from . import topology
from .models import Network

log = logging.getLogger(__name__)


def create_job(network: Network, user) -> ImportJob:
    """A build job for the network (submitted when the caller's transaction commits)."""
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.ANALYSIS, source_name=f"路網 {network.layer.slug} ({network.profile})", source_path="",
        options={"analysis": "network_build", "network": network.pk},
        created_by=user if user and user.is_authenticated else None)
    # a network in use stays usable while it is rebuilt: the new tables replace the old ones in one commit
    Network.objects.filter(pk=network.pk).update(job=job)
    transaction.on_commit(lambda: submit(job))
    return job


def submit(job: ImportJob) -> ImportJob:
    from .tasks import build_network

    result = build_network.delay(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(task_id=result.id or "")
    return job


def run(job_id: int) -> ImportJob:
    job = ImportJob.objects.get(pk=job_id)
    if job.finished:
        return job
    network = Network.objects.select_related("layer", "layer__current_version").filter(
        pk=job.options.get("network")).first()
    if network is None:  # the network (or its layer) was deleted before the job ran
        fail(job, note("這個路網已被刪除"))
        job.refresh_from_db()
        return job
    if job.status == ImportJob.Status.RUNNING:  # the message came back: the worker that had it died
        fail(job, note("建立這個路網的工作程序在完成前停止了；仍使用先前建立的路網 — 請重新建立"))
        job.refresh_from_db()
        return job
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now(),
                                               heartbeat_at=timezone.now())
    job.refresh_from_db()
    report = JobReport(job)
    with heartbeat(job.pk):
        try:
            with transaction.atomic():
                found = topology.build(network)
                Network.objects.filter(pk=network.pk).update(
                    status=Network.Status.READY, report=found, error={}, built_at=timezone.now(),
                    version=network.layer.current_version)
            report.progress(95, note("路網已建立：{edges} 段、{vertices} 個節點、{components} 個連通區塊",
                                     edges=found["edges"], vertices=found["vertices"],
                                     components=found["components"]))
            ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
                status=ImportJob.Status.SUCCEEDED, progress=100, finished_at=timezone.now(),
                heartbeat_at=timezone.now(), counts={"result": found}, messages=job.messages)
        except AnalysisInputError as problem:
            Network.objects.filter(pk=network.pk).update(status=Network.Status.FAILED, error=problem.text())
            fail(job, problem.text())
        except Exception:  # noqa: BLE001 - any failure must end the job as failed, with a reason
            log.exception("network build job %s failed", job.pk)
            reason = note("建立路網時發生內部錯誤；管理者可在伺服器記錄中查到詳情（工作 {job}）。", job=job.pk)
            Network.objects.filter(pk=network.pk).update(status=Network.Status.FAILED, error=reason)
            fail(job, reason)
    job.refresh_from_db()
    return job


def _rebuild_networks_of(sender, instance: LayerVersion, created: bool, **kwargs) -> None:
    """A new version of a road layer (an import, a re-import, a restore) rebuilds every network made from it."""
    if not created or kwargs.get("raw"):
        return
    for network in Network.objects.filter(layer_id=instance.layer_id).select_related("layer"):
        create_job(network, instance.created_by)


def _drop_tables(sender, instance: Network, **kwargs) -> None:
    transaction.on_commit(lambda: topology.drop(instance))


def connect_rebuild_on_new_version() -> None:
    post_save.connect(_rebuild_networks_of, sender=LayerVersion, dispatch_uid="network-rebuild-on-new-version")
    post_delete.connect(_drop_tables, sender=Network, dispatch_uid="network-drop-tables")
