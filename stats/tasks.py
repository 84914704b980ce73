from .importing import import_stats  # noqa: F401 - registers the task with Celery
