from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "geo.scheduler"
    label = "scheduler"
    verbose_name = "排程"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import runs

        runs.connect()
