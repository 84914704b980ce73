"""The interface every OGC engine implements, and the errors they raise.

An engine publishes catalog layers (with their styles and theme groups) and answers OGC requests for them.
Publishing is driven only by `layers.ogc.publishing` (Celery jobs); every method here is idempotent:
publishing twice equals publishing once, withdrawing a layer that is not published does nothing.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineStatus:
    engine: str
    ok: bool
    version: str = ""
    detail: str = ""


@dataclass
class OWSResponse:
    status: int
    content_type: str
    body: bytes
    headers: dict = field(default_factory=dict)


class PublishError(RuntimeError):
    """The engine refused or could not be reached; the job retries and the layer shows the reason."""


class OGCEngine(ABC):
    name: str
    json_info_format = "application/json"  # the INFO_FORMAT that makes the engine answer GetFeatureInfo in GeoJSON

    @abstractmethod
    def status(self) -> EngineStatus:
        """Whether the engine can answer requests now, and its version."""

    @abstractmethod
    def publish(self, layer) -> None:
        """Serve `layer` (a layers.models.Layer) with its current data, metadata, style and theme group."""

    @abstractmethod
    def withdraw(self, slug: str) -> None:
        """Stop serving the layer named `slug` and drop what was created for it (style, group membership)."""

    def push_style(self, layer) -> None:
        """Apply the layer's current style; engines that keep styles apart from layers override this."""
        self.publish(layer)

    def wms_capabilities(self, params: dict[str, str], visible: frozenset[str], url: str,
                         lang: str) -> OWSResponse | None:
        """A WMS GetCapabilities document written from the catalog for the layers in `visible` that the engine serves,
        in `lang`; None: the engine's own document (through `ows`) is served."""
        return None

    @abstractmethod
    def ows(self, params: dict[str, str], body: bytes | None, visible: frozenset[str], url: str = "",
            filters: dict[str, str] | None = None) -> OWSResponse:
        """Answer one OGC request (`params`: query parameters, upper-case keys; `body`: a POSTed XML request)
        showing only the layer slugs in `visible`, with `url` (the public /ows address) as the online resource
        in capabilities. The caller (layers.ogc.views) has already refused requests naming layers outside
        `visible`; the engine hides them too, so a request it did not parse cannot reach them. `filters`: slug →
        an SQL condition on the layer's bare column names, composed by layers.serving.filters from checked names
        and Literal values (the CIVGIS_FILTER vendor parameter), which the engine applies to that layer only."""
