from celery import shared_task

from . import chain, reads


@shared_task(name="audit.flush_reads")
def flush_reads() -> int:
    """For the scheduler (e.g. every 10 minutes): counted reads into the chain."""
    return reads.flush()


@shared_task(name="audit.prune")
def prune() -> int:
    """For the scheduler (daily): entries older than AUDIT_RETENTION_DAYS removed, the chain kept verifiable."""
    return chain.prune()
