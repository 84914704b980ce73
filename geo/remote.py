"""Reading another agency's service over HTTP with the limits that keep one bad remote from hurting anything else:
a timeout per request, a cap on the size of an answer (read in chunks, stopped at the cap, never held whole),
retries with back-off for what may pass (a timeout, a refused connection, HTTP 429/5xx) and none for what will not
(4xx, a wrong answer), redirects only on the same host, and an error whose message says which URL did what.

Shared by the catalogue's harvester (harvest/) and the SensorThings harvester (iot/harvest/)."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

SNIPPET = 80
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
TOTAL_TIMEOUTS = 3  # a whole answer may take this many timeouts (a remote dripping bytes never ends otherwise)


class RemoteError(Exception):
    """A remote answer that could not be used; the message is for the person reading the run's report.
    `retryable`: whether asking again later may help (a timeout, a 503) or not (a 404, bad XML)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class Answer:
    url: str
    status: int
    content_type: str
    body: bytes

    def text_start(self) -> str:
        return self.body[:SNIPPET * 2].decode("utf-8", "replace").strip()[:SNIPPET].replace("\n", " ")


def shown(url: str, params: dict | None = None) -> str:
    """A URL as messages name it: its path, with `?…` for a query (reports keep a few hundred characters)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query or params else "")


class Fetcher:
    """One session for one run; `attempts` counts every request made (retries included) for the report."""

    def __init__(self, timeout_s: float, max_bytes: int, retries: int = 0, backoff_s: float = 1.0,
                 user_agent: str = "civgis", accept: str = "*/*", sleep=time.sleep):
        self.timeout_s, self.max_bytes, self.retries, self.backoff_s = timeout_s, max_bytes, retries, backoff_s
        self.sleep = sleep
        self.attempts = 0
        self.retried = 0
        self.session = requests.Session()
        self.session.headers.update({"Accept": accept, "User-Agent": user_agent})

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(self, url: str, params: dict | None = None, data: bytes | None = None,
            headers: dict | None = None) -> Answer:
        """The answer (HTTP 200 only), after up to `retries` more tries with back-off 1×, 2×, 4× … `backoff_s`."""
        for attempt in range(self.retries + 1):
            try:
                return self._once(url, params, data, headers)
            except RemoteError as exc:
                if not exc.retryable or attempt == self.retries:
                    if attempt:
                        raise RemoteError(f"{exc} (after {attempt + 1} tries)", exc.retryable) from None
                    raise
                self.retried += 1
                self.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def _once(self, url: str, params, data, headers) -> Answer:
        self.attempts += 1
        where = shown(url, params)
        method = "POST" if data is not None else "GET"
        try:
            answer = self.session.request(method, url, params=params, data=data, headers=headers,
                                          timeout=self.timeout_s, stream=True, allow_redirects=False)
        except requests.Timeout:
            raise RemoteError(f"{where}: no answer within {self.timeout_s:g} s", retryable=True) from None
        except requests.RequestException as exc:
            raise RemoteError(f"{where}: could not connect ({type(exc).__name__})", retryable=True) from None
        with answer:
            if answer.is_redirect:
                target = answer.headers.get("Location", "")
                absolute = requests.compat.urljoin(url, target)
                if urlsplit(absolute).netloc != urlsplit(url).netloc:
                    raise RemoteError(f"{where}: redirects off its host to {shown(absolute)}; not followed")
                return self._once(absolute, None, data, headers)
            if answer.status_code != 200:
                raise RemoteError(f"{where}: answered HTTP {answer.status_code} {answer.reason or ''}".rstrip(),
                                  retryable=answer.status_code in RETRYABLE_STATUS)
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise RemoteError(f"{where}: the answer is {int(declared):,} bytes, over the limit of "
                                  f"{self.max_bytes:,} bytes")
            chunks, size, deadline = [], 0, time.monotonic() + self.timeout_s * TOTAL_TIMEOUTS
            try:
                for chunk in answer.iter_content(64 * 1024):
                    if time.monotonic() > deadline:
                        raise RemoteError(f"{where}: the answer still arriving after "
                                          f"{self.timeout_s * TOTAL_TIMEOUTS:g} s; reading stopped", retryable=True)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise RemoteError(f"{where}: the answer is over the limit of {self.max_bytes:,} bytes; "
                                          "reading stopped there")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise RemoteError(f"{where}: the answer broke off ({type(exc).__name__})", retryable=True) from None
            kind = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return Answer(answer.url, answer.status_code, kind, b"".join(chunks))
