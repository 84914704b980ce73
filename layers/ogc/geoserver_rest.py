"""GeoServer's REST API as the engine uses it: the `geoserver-rest` package where its requests match GeoServer's
REST specification, and plain requests (`RestSession.send`) where they do not; each such call says why."""

import functools
import importlib
import importlib.metadata
import sys
import types
from pathlib import Path

import requests

from .base import PublishError

PACKAGE_ALIAS = "_geoserver_rest"


@functools.cache
def geoserver_module():
    """The package's `Geoserver` module, loaded from its installed files under a private name.

    geoserver-rest installs a top-level package called `geo`, the name of this project's Django package: depending
    on sys.path one hides the other (`import geo.Geoserver` fails inside the project). The alias package is an
    empty module whose __path__ is the installed folder, so the folder's __init__ is never run.
    """
    dist = importlib.metadata.distribution("geoserver-rest")
    source = next(f for f in dist.files or [] if f.as_posix() == "geo/Geoserver.py")
    package = types.ModuleType(PACKAGE_ALIAS)
    package.__path__ = [str(Path(source.locate()).parent)]
    sys.modules.setdefault(PACKAGE_ALIAS, package)
    return importlib.import_module(f"{PACKAGE_ALIAS}.Geoserver")


class RestSession:
    """Requests to `{url}/rest`, every failure turned into a PublishError that names the call and GeoServer's
    answer."""

    def __init__(self, url: str, user: str, password: str, timeout: float):
        self.rest = f"{url}/rest"
        self.auth = (user, password)
        self.timeout = timeout
        self.package = geoserver_module().Geoserver(url, user, password, request_options={"timeout": timeout})

    def exists(self, path: str) -> bool:
        # our own GET: the package's getters add query parameters the spec does not list (recurse=true on
        # workspaces and coverage stores) and raise one exception type for 404 and for real failures
        resp = self._request("GET", path, headers={"Accept": "application/json"})
        if resp.status_code == 404:
            return False
        self._check(resp, "GET", path)
        return True

    def get(self, path: str, accept: str = "application/xml") -> bytes:
        resp = self._request("GET", path, headers={"Accept": accept})
        self._check(resp, "GET", path)
        return resp.content

    def send(self, method: str, path: str, body: bytes, content_type: str = "application/xml",
             params: dict | None = None) -> None:
        resp = self._request(method, path, data=body, params=params, headers={"Content-Type": content_type})
        self._check(resp, method, path)

    def delete(self, path: str, params: dict | None = None) -> None:
        resp = self._request("DELETE", path, params=params)
        self._check(resp, "DELETE", path)

    def package_call(self, what: str, method, *args, **kwargs):
        """Run a geoserver-rest method; its exceptions become a PublishError naming `what`."""
        exception = geoserver_module().GeoserverException
        try:
            return method(*args, **kwargs)
        except exception as exc:
            raise PublishError(f"GeoServer refused {what}: HTTP {exc.status}: {_text(exc.message)}") from exc
        except requests.RequestException as exc:
            raise PublishError(f"GeoServer at {self.rest} unreachable ({what}): {exc}") from exc

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return requests.request(method, f"{self.rest}{path}", auth=self.auth, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise PublishError(f"GeoServer at {self.rest} unreachable ({method} {path}): {exc}") from exc

    @staticmethod
    def _check(resp: requests.Response, method: str, path: str) -> None:
        if resp.status_code >= 300:
            raise PublishError(f"GeoServer refused {method} {path}: HTTP {resp.status_code}: {_text(resp.content)}")


def _text(body) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return " ".join(text.split())[:300] or "(no message)"
