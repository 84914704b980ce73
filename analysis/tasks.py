from celery import shared_task

from .jobs import run


@shared_task(name="analysis.run_job", acks_late=True, reject_on_worker_lost=True)
def analysis_job(job_id: int) -> str:
    return run(job_id).status
