"""MapServer, the embedded engine: a mapfile generated from the catalog, served in-process through mapscript.

Publishing rewrites the mapfile (layers.ogc.mapfile). Serving keeps the parsed map in the process and answers
each request with mapscript's OWSDispatch, so there is no ~70 ms CGI start per request; the same mapfile also
works with the `mapserv` CGI (bench/ows.py compares the two).
"""

import logging
import re
import subprocess
import threading
from functools import lru_cache

from geo import dbrouter

from . import mapfile, wms_capabilities
from .base import EngineStatus, OGCEngine, OWSResponse, PublishError
from .capabilities_filter import filter_capabilities
from .exceptions import OWSException


class MapServerEngine(OGCEngine):
    name = "mapserver"
    json_info_format = "geojson"  # the mapfile's OGR/GEOJSON output format

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
        try:
            import mapscript  # what /ows serves with
        except ImportError as exc:
            return EngineStatus(self.name, False, match.group(1), f"mapscript (python3-mapscript) missing: {exc}")
        if mapscript.msGetVersionInt() // 10000 != int(match.group(1).split(".")[0]):
            return EngineStatus(self.name, False, match.group(1), f"mapscript is {mapscript.msGetVersion()[:30]}")
        return EngineStatus(self.name, True, match.group(1))

    def publish(self, layer) -> None:
        self._rewrite()  # the mapfile is the catalog's published layers; `layer` is among them

    def withdraw(self, slug: str) -> None:
        self._rewrite()  # a deleted or withdrawn layer is no longer among the published ones

    def _rewrite(self) -> None:
        import mapscript

        try:
            written = mapfile.write(check=lambda path: mapscript.mapObj(str(path)))
        except (OSError, mapscript.MapServerError) as exc:
            raise PublishError(f"MapServer mapfile not written: {exc}") from exc
        _parsed.cache_clear()
        _catalog_map.cache_clear()
        return written

    def wms_capabilities(self, params: dict[str, str], visible: frozenset[str], url: str,
                         lang: str) -> OWSResponse:
        """Written by the front from the catalog (wms_capabilities): MapServer's own grew faster than the catalog
        (for each layer with a named class it walks every layer of the map: issue 21)."""
        if not mapfile.path().exists():
            self._rewrite()
        body = wms_capabilities.document(params, visible & mapfile.served_slugs(), url, lang)
        content_type = ("text/xml" if wms_capabilities.version(params) == "1.3.0" else "application/vnd.ogc.wms_xml")
        return OWSResponse(200, content_type + "; charset=UTF-8", body)

    def ows(self, params: dict[str, str], body: bytes | None, visible: frozenset[str], url: str = "",
            filters: dict[str, str] | None = None) -> OWSResponse:
        import mapscript

        path = mapfile.path()
        if not path.exists():
            self._rewrite()
        with _dispatch_lock:  # mapscript's stdout buffer is per thread, but be safe under threaded servers
            served = _parsed(str(path), path.stat().st_mtime_ns, visible).clone()
            _read_where_allowed(served)
            if url:
                served.web.metadata.set("ows_onlineresource", url)
            for slug, condition in (filters or {}).items():  # on this request's clone only
                served.getLayerByName(slug).setProcessingKey("NATIVE_FILTER", condition)
            request = mapscript.OWSRequest()
            for key, value in params.items():
                request.setParameter(key, value)
            if body:
                request.loadParamsFromPost(body.decode("utf-8", "replace"), "application/xml")
                request.type = mapscript.MS_POST_REQUEST
            mapscript.msResetErrorList()  # a stale error (e.g. from parsing) would fail this request
            mapscript.msIO_installStdoutToBuffer()
            try:
                served.OWSDispatch(request)
                failure = None
            except Exception as exc:  # noqa: BLE001 - mapscript raises MapServerError, OSError, MemoryError …
                failure = exc  # usually with its OGC exception report already written to the buffer
            finally:
                content_type = mapscript.msIO_stripStdoutBufferContentType() or "application/octet-stream"
                mapscript.msIO_stripStdoutBufferContentHeaders()
                payload = mapscript.msIO_getStdoutBufferBytes()
                mapscript.msIO_resetHandlers()
                mapscript.msResetErrorList()
        status_header, payload = _leading_headers(payload)
        content_type = status_header.get(b"content-type", b"").decode() or content_type
        if EXCEPTION_REPORT.search(payload[:2000]):
            return OWSResponse(400, content_type, without_paths(payload))
        if failure is not None:
            if not payload:
                log.warning("MapServer failed without an answer: %s", failure)
                raise OWSException("NoApplicableCode", "the map engine could not answer this request: "
                                   + without_paths(str(failure).encode()).decode(errors="replace").strip())
            log.warning("MapServer reported %s but answered; serving the answer", failure)
        if params.get("REQUEST", "").lower() == "getcapabilities" and b"<" in payload[:100]:
            # theme groups stay in the tree but lose their names: a group request is refused like any unknown
            # layer name by the front (views.check), so capabilities must not offer it
            payload = filter_capabilities(payload, visible)
        return OWSResponse(200, content_type, payload)


def _read_where_allowed(served) -> None:
    """This request's clone reads its PostGIS layers from the replica when the request may (geo.dbrouter): the
    mapfile names the primary."""
    import mapscript

    if dbrouter.read_alias() != dbrouter.REPLICA:
        return
    replica = mapfile.connection_string(dbrouter.REPLICA)
    for index in range(served.numlayers):
        layer = served.getLayer(index)
        if layer.connectiontype == mapscript.MS_POSTGIS:
            layer.connection = replica


_dispatch_lock = threading.Lock()
EXCEPTION_REPORT = re.compile(rb"<(\w+:)?(ServiceExceptionReport|ExceptionReport)\b")
log = logging.getLogger(__name__)


HEADER = re.compile(rb"([A-Za-z-]+): ([^\r\n]*)\r?\n")


def _leading_headers(payload: bytes) -> tuple[dict[bytes, bytes], bytes]:
    """CGI headers MapServer left at the start of an answer (mapscript strips Content-Type only when it comes
    first; some errors write `Status:` before it), and the answer without them."""
    headers, at = {}, 0
    while match := HEADER.match(payload, at):
        headers[match.group(1).lower()] = match.group(2).strip()
        at = match.end()
    blank = re.compile(rb"\r?\n").match(payload, at)
    if not headers or not blank:
        return {}, payload
    return headers, payload[blank.end():]


# an absolute file path in a message (not a URL's path: that follows "/" or ":" or a word)
FILE_PATH = re.compile(rb"(?<![\w:/.])/(?:[\w.@+-]+/)+[\w.@+-]*")


def without_paths(message: bytes) -> bytes:
    """An engine message with server file paths cut out (MapServer names its files in some errors)."""
    return FILE_PATH.sub(b"(file)", message)


FEW_LAYERS = 32  # a request naming this many layers at most gets its map cut from the parsed mapfile's copy


@lru_cache(maxsize=2)
def _catalog_map(path: str, mtime_ns: int):
    """The whole mapfile, parsed once per version and process: what the maps requests are served on are cut from."""
    import mapscript

    return mapscript.mapObj(path)


def _fit_extent(served) -> None:
    """The map's extent made its layers' (it is the capabilities' root bounding box)."""
    import mapscript

    extents = [served.getLayer(i).extent for i in range(served.numlayers)]
    box = mapfile.union_extent([(e.minx, e.miny, e.maxx, e.maxy) for e in extents if e.minx <= e.maxx])
    served.extent = mapscript.rectObj(*box)  # not setExtent: that widens the box to the image's shape


@lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int, visible: frozenset[str]):
    """The map reduced to `visible` — a caller's visible set, or the layers a GetMap, GetFeature … names (views.ows
    narrows it) —, with the map's extent theirs (it is
    the capabilities' root bounding box); each request serves a clone of it, which costs the layers it holds."""
    import mapscript

    # a few named layers: cut from a copy of the map parsed once (no parse per set); a caller's whole visible set
    # (capabilities): parsed afresh, a map dispatched faster than a copy when it holds many layers (measured)
    served = _catalog_map(path, mtime_ns).clone() if len(visible) <= FEW_LAYERS else mapscript.mapObj(path)
    for index in reversed(range(served.numlayers)):
        if served.getLayer(index).name not in visible:
            served.removeLayer(index)
    _fit_extent(served)
    return served
