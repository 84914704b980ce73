"""The Celery app: imports, long analyses and publishing run here (broker and results in Redis)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

app = Celery("civgis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune_worker(**_kwargs):
    from layers.pgload import tune_allocator

    tune_allocator()
