"""OGC publishing engines (WMS/WFS): one small interface, MapServer embedded and GeoServer in production."""

from django.conf import settings

from .base import EngineStatus, OGCEngine


def get_engine() -> OGCEngine:
    """The engine the settings choose (OGC_ENGINE)."""
    if settings.OGC_ENGINE == "geoserver":
        from .geoserver import GeoServerEngine

        return GeoServerEngine(settings.GEOSERVER_URL, settings.GEOSERVER_USER, settings.GEOSERVER_PASSWORD)
    from .mapserver import MapServerEngine

    return MapServerEngine(settings.MAPSERV_BIN)


__all__ = ["EngineStatus", "OGCEngine", "get_engine"]
