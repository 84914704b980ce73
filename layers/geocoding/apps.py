from django.apps import AppConfig


class GeocodingConfig(AppConfig):
    name = "layers.geocoding"
    label = "geocoding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401 - connects the index upkeep
