"""The Celery app: imports, long analyses and publishing run here (broker and results in Redis)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")

app = Celery("civgis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
