from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"
    verbose_name = "road networks"

    def ready(self):
        from . import building

        building.connect_rebuild_on_new_version()
