from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"

    def ready(self):
        from .ogc import capabilities_cache

        capabilities_cache.connect()  # every catalog change makes cached capabilities documents out of date
