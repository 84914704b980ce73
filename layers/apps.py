from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"

    def ready(self):
        from .ogc import capabilities_cache
        from .serving import tile_sessions

        capabilities_cache.connect()  # every catalog change makes cached capabilities documents out of date
        tile_sessions.connect()  # a session's entry for the tile fast path ends with the session and its user
