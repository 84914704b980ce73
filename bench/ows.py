"""OGC benchmark on the size-10 demo city (~200k parcels): WMS GetMap 256×256 PNG in EPSG:3857 over the parcels.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/ows.py
    … bench/ows.py --size 1 --requests 10      # a quick try on the size-1 city

Ours: `/ows` on gunicorn (4 sync workers, production settings; the bench makes parcels public, as a geoportal
reads them), which checks permissions and answers through the in-process MapServer (mapscript). Baseline: the `mapserv`
CGI program run directly, one process per request as a web server would, on the same mapfile. The same
random z15/z16 views go to both; the answers are checked to be the same picture. Per-request latency at one
client (median) gives the ratio (target ≤ 1.15); requests/s at 1, 2 and 4 concurrent clients.

Not part of the test suite.
"""

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import common
import requests


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=10, help="demo city size (10: ~200k parcels; 1 to try)")
    parser.add_argument("--requests", type=int, default=60, help="requests per client")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from serving import public_city  # noqa: E402

from geo.crs import WEB_MERCATOR, transformer  # noqa: E402
from layers.models import Layer  # noqa: E402
from layers.ogc import mapfile  # noqa: E402
from layers.ogc.publishing import publish_all  # noqa: E402
from layers.serving.tiles import WEB_MERCATOR_WIDTH  # noqa: E402


def views(n: int, seed: int = 7) -> list[str]:
    """BBOXes (EPSG:3857) of random z15/z16 tiles inside the parcels' extent."""
    west, south, east, north = Layer.objects.get(slug="parcels").extent.extent
    rng = random.Random(seed)
    to_mercator = transformer(4326, WEB_MERCATOR)
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        x, y = to_mercator.transform(lon, lat)
        half = WEB_MERCATOR_WIDTH / 2 ** (rng.choice((15, 16)) + 1)
        out.append(f"{x - half:.2f},{y - half:.2f},{x + half:.2f},{y + half:.2f}")
    return out


def params(bbox: str) -> dict:
    return {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "parcels", "STYLES": "",
            "CRS": "EPSG:3857", "BBOX": bbox, "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png",
            "TRANSPARENT": "TRUE"}


def cgi_env(config: Path) -> dict:
    return {"PATH": os.environ["PATH"], "REQUEST_METHOD": "GET", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
            "SCRIPT_NAME": "/cgi-bin/mapserv", "MAPSERVER_CONFIG_FILE": str(config)}


def via_cgi(config: Path, bbox: str) -> bytes:
    query = urlencode({**params(bbox), "MAP": str(mapfile.path())})
    out = subprocess.run(["mapserv"], env={**cgi_env(config), "QUERY_STRING": query}, capture_output=True,
                         check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"image/png" in head, out[:300]
    return body


def via_ows(session: requests.Session, url: str, bbox: str) -> bytes:
    answer = session.get(url, params=params(bbox), timeout=30)
    assert answer.headers["Content-Type"] == "image/png", answer.content[:300]
    return answer.content


def run(fetch, boxes: list[str], clients: int) -> tuple[float, float]:
    """(median latency s, requests/s) with `clients` concurrent clients each going through `boxes`."""
    latencies = []

    def client(offset: int):
        for i in range(len(boxes)):
            start = time.perf_counter()
            fetch(boxes[(i + offset) % len(boxes)])
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return statistics.median(latencies), len(latencies) / (time.perf_counter() - start)


def main(args):
    public_city(args.size)
    publish_all()
    config = Path(tempfile.mkdtemp()) / "mapserver.conf"
    config.write_text(f'CONFIG ENV MS_MAP_PATTERN "^{mapfile.path().parent}/.*\\.map$" END END\n')
    boxes = views(args.requests)
    sessions: dict[int, requests.Session] = {}
    with common.gunicorn(workers=4) as base:
        url = f"{base}/ows"

        def ows_fetch(bbox: str) -> bytes:
            session = sessions.setdefault(threading.get_ident(), requests.Session())
            return via_ows(session, url, bbox)

        same = sum(ows_fetch(b) == via_cgi(config, b) for b in boxes[:10])
        print(f"same PNG bytes from /ows and from mapserv CGI for {same} of 10 views")
        for fetch in (ows_fetch, lambda b: via_cgi(config, b)):  # warm caches and connections
            run(fetch, boxes[:8], 1)
        results = {}
        for clients in (1, 2, 4):
            results[clients] = (run(ows_fetch, boxes, clients), run(lambda b: via_cgi(config, b), boxes, clients))
        (ows_p50, _), (cgi_p50, _) = results[1]
        print(f"GetMap 256×256 PNG, EPSG:3857, parcels, z15/z16 views, {args.requests} requests per client:")
        print(f"  per request (1 client, median): /ows {1000 * ows_p50:.1f} ms, mapserv CGI {1000 * cgi_p50:.1f} ms"
              f" — /ows/CGI {ows_p50 / cgi_p50:.2f} (target ≤ 1.15)")
        for clients, ((_, ows_rate), (_, cgi_rate)) in results.items():
            print(f"  {clients} concurrent: /ows {ows_rate:.1f} req/s, mapserv CGI {cgi_rate:.1f} req/s"
                  f" ({ows_rate / cgi_rate:.2f}×)")


if __name__ == "__main__":
    main(ARGS)
