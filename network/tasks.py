from celery import shared_task

from .building import run


@shared_task(name="network.build", acks_late=True, reject_on_worker_lost=True)
def build_network(job_id: int) -> str:
    return run(job_id).status
