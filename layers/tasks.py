from celery import shared_task

from .importing.pipeline import run_job
from .serving import usage


@shared_task(name="layers.import_job", acks_late=True, reject_on_worker_lost=True)
def import_job(job_id: int) -> str:
    return run_job(job_id).status


@shared_task(name="layers.flush_usage")
def flush_usage() -> int:
    """For the scheduler (every few minutes): per-layer request counts from Redis into LayerUsage rows."""
    return usage.flush()

from .ogc.capabilities_cache import prebuild_capabilities, rebuild_capabilities  # noqa: E402,F401 - registers them
from .ogc.publishing import sync_layer  # noqa: E402,F401 - registers the publishing task
from .serving.tilecache import seed_layer_tiles  # noqa: E402,F401 - registers the seeding task
