from celery.signals import worker_ready

from .reporting import reap_stale_jobs


@worker_ready.connect
def _reap_on_start(**_kwargs):
    # A worker that starts may be the replacement of one that died mid-job: settle those jobs first.
    reap_stale_jobs()
