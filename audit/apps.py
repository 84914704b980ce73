from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "稽核紀錄"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals

        signals.connect()
