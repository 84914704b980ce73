"""Building a network as a job (the same job rows, progress and failure handling as imports and analyses, polled
at /api/v1/jobs/{id}/), and rebuilding every network of a layer when the layer gets a new version."""

import logging

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from analysis.inputs import AnalysisInputError
from geo.messages import text as note
from jobs import control
from jobs.models import Job
from jobs.reporting import JobReporter
from layers.models import LayerVersion

from . import topology
from .models import Network

log = logging.getLogger(__name__)


def create_job(network: Network, user) -> Job:
    """A build job for the network (submitted when the caller's transaction commits)."""
    job = control.create(Job.Kind.ANALYSIS, f"路網 {network.layer.slug} ({network.profile})",
                         {"analysis": "network_build", "network": network.pk}, user)
    # a network in use stays usable while it is rebuilt: the new tables replace the old ones in one commit
    Network.objects.filter(pk=network.pk).update(job=job)
    transaction.on_commit(lambda: submit(job))
    return job


def submit(job: Job) -> Job:
    from .tasks import build_network

    return control.submit(job, build_network)


def run(job_id: int) -> Job:
    job = Job.objects.get(pk=job_id)
    reporter = JobReporter(job)
    if not reporter.start(died=note("建立這個路網的工作程序在完成前停止了；仍使用先前建立的路網 — 請重新建立")):
        return job
    network = Network.objects.select_related("layer", "layer__current_version").filter(
        pk=job.options.get("network")).first()
    if network is None:  # the network (or its layer) was deleted before the job ran
        reporter.fail(note("這個路網已被刪除"))
        return job
    with reporter.running():
        try:
            with transaction.atomic():
                found = topology.build(network)
                Network.objects.filter(pk=network.pk).update(
                    status=Network.Status.READY, report=found, error={}, built_at=timezone.now(),
                    version=network.layer.current_version)
                reporter.progress(95, note("路網已建立：{edges} 段、{vertices} 個節點、{components} 個連通區塊",
                                           edges=found["edges"], vertices=found["vertices"],
                                           components=found["components"]))
                reporter.finish({"result": found})
        except AnalysisInputError as problem:
            Network.objects.filter(pk=network.pk).update(status=Network.Status.FAILED, error=problem.text())
            reporter.fail(problem.text())
        except Exception:  # noqa: BLE001 - any failure must end the job as failed, with a reason
            log.exception("network build job %s failed", job.pk)
            reason = note("建立路網時發生內部錯誤；管理者可在伺服器記錄中查到詳情（工作 {job}）。", job=job.pk)
            Network.objects.filter(pk=network.pk).update(status=Network.Status.FAILED, error=reason)
            reporter.fail(reason)
    job.refresh_from_db()
    return job


def ready(layer, profile: str, user) -> Network:
    """The layer's network for `profile`, built here and now (inside the caller's job) when there is none yet —
    a siting on travel time needs no separate build first; one being built or failed is a clear message."""
    from . import inputs, profiles

    if not Network.objects.filter(layer=layer, profile=profile).exists():
        settings = profiles.check(layer, profiles.guessed(layer, profile))
        settings.pop("profile")
        with transaction.atomic():
            network, _created = Network.objects.get_or_create(layer=layer, profile=profile, defaults=settings)
            if _created:
                found = topology.build(network)
                Network.objects.filter(pk=network.pk).update(status=Network.Status.READY, report=found,
                                                             built_at=timezone.now(),
                                                             version=layer.current_version)
    return inputs.network_of({"roads": layer.slug, "profile": profile}, user)


def _rebuild_networks_of(sender, instance: LayerVersion, created: bool, **kwargs) -> None:
    """A new version of a road layer (an import, a re-import, a restore), or of its turn restrictions, rebuilds
    every network made from it."""
    if not created or kwargs.get("raw"):
        return
    for network in Network.objects.filter(Q(layer_id=instance.layer_id) | Q(restrictions_id=instance.layer_id)
                                          ).select_related("layer"):
        create_job(network, instance.created_by)


def _drop_tables(sender, instance: Network, **kwargs) -> None:
    transaction.on_commit(lambda: topology.drop(instance))


def connect_rebuild_on_new_version() -> None:
    post_save.connect(_rebuild_networks_of, sender=LayerVersion, dispatch_uid="network-rebuild-on-new-version")
    post_delete.connect(_drop_tables, sender=Network, dispatch_uid="network-drop-tables")
