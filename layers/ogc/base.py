"""The interface every OGC engine implements (publishing methods arrive with the OGC services issue)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineStatus:
    engine: str
    ok: bool
    version: str = ""
    detail: str = ""


class OGCEngine(ABC):
    name: str

    @abstractmethod
    def status(self) -> EngineStatus:
        """Whether the engine can answer requests now, and its version."""
