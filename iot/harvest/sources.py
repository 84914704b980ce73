"""The configured remote SensorThings services (settings.STA_HARVEST_SOURCES), read without Django: settings use
it to name the periodic tasks.

An entry is a base URL ending in /v1.0 or /v1.1 (`https://sta.colife.org.tw/STA_AirQuality_EPAIoT/v1.0`), or
`name=url`; the URL may go on to `/Things?$filter=…` to take only some of the service's Things. The name (by
default the path segment before the version: STA_AirQuality_EPAIoT) names the task iot.harvest_sta.<name> and
prefixes the devices' ids.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
VERSION = re.compile(r"^(.*?/v1\.[01])(/Things)?/?$")


@dataclass(frozen=True)
class Source:
    name: str
    base_url: str  # …/v1.0, no trailing slash
    things_filter: str = ""  # a $filter on Things, when the entry gave one

    @property
    def task(self) -> str:
        return f"iot.harvest_sta.{self.name}"


def source(entry: str) -> Source:
    name, _, url = entry.partition("=") if re.match(r"^[A-Za-z0-9_-]+=", entry) else ("", "", entry)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{entry!r}: give an http(s) URL of a SensorThings service, e.g. "
                         "https://sta.colife.org.tw/STA_AirQuality_EPAIoT/v1.0")
    found = VERSION.match(parts.path)
    if not found:
        raise ValueError(f"{entry!r}: the URL must end in the service's version, /v1.0 or /v1.1 "
                         "(optionally /Things?$filter=…)")
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"$filter"})
    if unknown or (query and not found.group(2)):
        raise ValueError(f"{entry!r}: only /Things?$filter=… may follow the version")
    if not name:
        segments = [s for s in found.group(1).split("/") if s]
        name = segments[-2] if len(segments) >= 2 else parts.hostname.split(".")[0]
    if not NAME.match(name):
        raise ValueError(f"{entry!r}: name {name!r}: use 1–40 letters, digits, _ or - (name=url)")
    return Source(name, urlunsplit((parts.scheme, parts.netloc, found.group(1), "", "")),
                  (query.get("$filter") or [""])[0])


def sources(entries: list[str]) -> list[Source]:
    found = [source(e) for e in entries]
    names = [s.name for s in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two services are named {twice[0]!r}: name them (name=url)")
    return found


def configured() -> list[Source]:
    from django.conf import settings

    return sources(settings.STA_HARVEST_SOURCES)


def by_name(name: str) -> Source:
    for found in configured():
        if found.name == name:
            return found
    raise KeyError(f"no SensorThings source {name!r} in STA_HARVEST_SOURCES")
