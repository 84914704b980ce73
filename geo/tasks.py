from celery import shared_task
from django.db import connection


@shared_task(name="geo.worker_probe")
def worker_probe() -> dict:
    """A round trip through a worker that also proves the worker reaches PostGIS."""
    with connection.cursor() as cur:
        cur.execute("SELECT PostGIS_Lib_Version()")
        postgis = cur.fetchone()[0]
    return {"hostname": worker_probe.request.hostname or "eager", "postgis": postgis}
