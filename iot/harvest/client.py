"""Asking a remote SensorThings service, with the limits that keep one bad service from hurting anything else: a
timeout per request, a budget of pages per run, links followed only on the service's own host, and an answer
that is not SensorThings JSON (an HTML error page, a login wall) named as such.

Every failure is a HarvestError whose message says which URL did what, for the schedule's outcome. The HTTP part
(timeouts, a cap on an answer's size, same-host redirects) is geo.remote's, shared with the catalogue's harvester."""

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

from geo.remote import Fetcher, RemoteError, shown

SNIPPET = 80


class HarvestError(Exception):
    """A remote service that could not be read; the message is for the person reading the schedule."""


class Client:
    def __init__(self, base_url: str, timeout_s: float, max_pages: int, max_bytes: int = 50 * 1024 * 1024):
        self.base_url, self.timeout_s, self.max_pages = base_url, timeout_s, max_pages
        self.origin = urlsplit(base_url)[:2]
        self.pages = 0  # pages read this run, every collection together
        # the HTTP part (timeout, size cap, same-host redirects) is the platform's one remote reader, geo.remote
        self.fetcher = Fetcher(timeout_s, max_bytes, accept="application/json", user_agent="civgis-sta-harvester")

    def close(self) -> None:
        self.fetcher.close()

    def get(self, url: str, params: dict | None = None) -> dict:
        if urlsplit(url)[:2] != self.origin:
            raise HarvestError(f"{shown(url)}: a link off the service's host ({self.base_url}) is not followed")
        if self.pages >= self.max_pages:
            raise HarvestError(f"{self.base_url}: still paging after {self.max_pages:,} pages (@iot.nextLink never "
                               "ends); the run stopped there (STA_HARVEST_MAX_PAGES sets the limit)")
        self.pages += 1
        where = shown(url, params)
        try:
            answer = self.fetcher.get(url, params=params)
        except RemoteError as exc:
            message = str(exc)
            if "no answer within" in message:
                message += " (STA_HARVEST_TIMEOUT_S)"
            raise HarvestError(message) from None
        try:
            body = json.loads(answer.body)
        except ValueError:
            start = answer.body[:SNIPPET * 4].decode("utf-8", "replace").strip()[:SNIPPET].replace("\n", " ")
            raise HarvestError(f"{where}: answered {answer.content_type or 'an unnamed type'} instead of "
                               f"SensorThings JSON (it begins {start!r})") from None
        if not isinstance(body, dict):
            raise HarvestError(f"{where}: answered JSON that is not a SensorThings object")
        return body

    def collection(self, url: str, params: dict | None = None) -> Iterator[dict]:
        """The entities of a collection, page after page along @iot.nextLink."""
        seen = set()
        while True:
            body = self.get(url, params)
            yield from entities(body, "value", url)
            url, params = body.get("@iot.nextLink"), None
            if not url:
                return
            if url in seen:
                raise HarvestError(f"{shown(url)}: @iot.nextLink leads back to a page already read (a loop)")
            seen.add(url)

    def rest_of(self, first: list, next_link: str | None, where: str) -> Iterator[dict]:
        """An expanded collection (`Observations` inside a Datastream) and the pages its own nextLink leads to."""
        yield from first
        if next_link:
            yield from self.collection(next_link)


def entities(body: dict, key: str, where: str) -> list[dict]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise HarvestError(f"{where}: {key!r} is not a list of SensorThings entities")
    return value
