"""MapServer (Debian cgi-mapserver), run as a CGI program by the platform itself."""

import re
import subprocess

from .base import EngineStatus, OGCEngine


class MapServerEngine(OGCEngine):
    name = "mapserver"

    def __init__(self, mapserv_bin: str):
        self.mapserv_bin = mapserv_bin

    def status(self) -> EngineStatus:
        try:
            out = subprocess.run([self.mapserv_bin, "-v"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            return EngineStatus(self.name, False, detail=f"cannot run {self.mapserv_bin}: {exc}")
        match = re.search(r"MapServer version (\S+)", out)
        if not match:
            return EngineStatus(self.name, False, detail=f"unexpected `mapserv -v` output: {out[:200]!r}")
        missing = [s for s in ("WMS_SERVER", "WFS_SERVER", "INPUT=POSTGIS") if s not in out]
        if missing:
            return EngineStatus(self.name, False, match.group(1), f"built without {', '.join(missing)}")
        return EngineStatus(self.name, True, match.group(1))

    # publishing and serving arrive in the next commits of the OGC issue
    def publish(self, layer) -> None:
        raise NotImplementedError

    def withdraw(self, slug: str) -> None:
        raise NotImplementedError

    def ows(self, params, body, visible):
        raise NotImplementedError
