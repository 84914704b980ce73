"""GeoServer, driven over its REST API (production and docker-compose)."""

import requests

from .base import EngineStatus, OGCEngine, PublishError


class GeoServerEngine(OGCEngine):
    name = "geoserver"

    def __init__(self, url: str, user: str, password: str, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.auth = (user, password)
        self.timeout = timeout

    def status(self) -> EngineStatus:
        try:
            resp = requests.get(f"{self.url}/rest/about/version.json", auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            return EngineStatus(self.name, False, detail=f"{self.url} unreachable: {exc}")
        if resp.status_code != 200:
            return EngineStatus(self.name, False, detail=f"{self.url}/rest/about/version.json: HTTP {resp.status_code}")
        resources = resp.json().get("about", {}).get("resource", [])
        version = next((r.get("Version", "") for r in resources if r.get("@name") == "GeoServer"), "")
        return EngineStatus(self.name, True, str(version))

    # replaced by the GeoServer engine branch of the OGC issue
    def publish(self, layer) -> None:
        raise PublishError("GeoServer publishing is not built yet")

    def withdraw(self, slug: str) -> None:
        raise PublishError("GeoServer publishing is not built yet")

    def ows(self, params, body, visible, url=""):
        raise PublishError("GeoServer serving is not built yet")
