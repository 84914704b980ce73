"""OGC API - Features benchmark at the seed city's catalog size: ~600 vector layers (the city's KPI).

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/ogcapi.py
    … bench/ogcapi.py --layers 100 --requests 10      # a quick try

The size-1 demo city plus `--layers` small public layers (20 facilities each, their own tables, registered in the
catalog as an import would), on gunicorn (2 workers, production settings). Measured per request at one client
(median, p90):

- /ogcapi/collections (every collection with its extent and CRS list) against the catalog's own REST listing
  /api/v1/layers/?page_size=1000 of the same layers (the issue's target: p50 ≤ 200 ms);
- /ogcapi/collections/buildings/items?limit=100 at random offsets against WFS 2.0 GetFeature of the same 100
  features as GeoJSON (COUNT=100, STARTINDEX, through /ows and MapServer): the ratio is the figure.

The answers are checked to hold the same feature ids before timing. Not part of the test suite.
"""

import argparse
import random
import statistics
import time

import common
import requests


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=1, help="demo city size")
    parser.add_argument("--layers", type=int, default=600, help="small layers added to the catalog")
    parser.add_argument("--requests", type=int, default=40, help="requests per measurement")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.db import connection  # noqa: E402

from layers.models import Layer  # noqa: E402
from layers.ogc.publishing import PUBLISH, apply  # noqa: E402

PREFIX = "bench-oapif-"


def catalog(n: int) -> int:
    """`n` small public layers beside the demo city (made once per stack); the number of vector layers."""
    have = Layer.objects.filter(slug__startswith=PREFIX).count()
    if have < n:
        print(f"adding {n - have} layers to the catalog …", flush=True)
        common.add_small_layers(n - have, PREFIX, "facilities")
    return Layer.objects.filter(kind=Layer.Kind.VECTOR, visibility="public").exclude(table_name="").count()


def timed(session: requests.Session, url: str, params_list: list[dict]) -> list[float]:
    out = []
    for params in params_list:
        start = time.perf_counter()
        answer = session.get(url, params=params, timeout=60)
        answer.raise_for_status()
        out.append(time.perf_counter() - start)
    return out


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main(args):
    common.demo_city(args.size)
    n_layers = catalog(args.layers)
    apply("buildings", PUBLISH)  # WFS serves the baseline's features
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM layerdata.buildings")
        (n_buildings,) = cur.fetchone()
    rng = random.Random(7)
    offsets = [rng.randrange(0, max(1, n_buildings - 100)) for _ in range(args.requests)]
    with common.gunicorn(workers=2) as base:
        session = requests.Session()
        ogc_items = f"{base}/ogcapi/collections/buildings/items"
        ows = f"{base}/ows"

        def wfs(offset: int) -> dict:
            return {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "buildings",
                    "COUNT": 100, "STARTINDEX": offset, "OUTPUTFORMAT": "geojson"}

        listed = session.get(f"{base}/ogcapi/collections", timeout=60).json()["collections"]
        assert len(listed) == n_layers, (len(listed), n_layers)
        ours = session.get(ogc_items, params={"limit": 100, "offset": offsets[0]}, timeout=60).json()
        answer = session.get(ows, params=wfs(offsets[0]), timeout=60)
        assert answer.status_code == 200, answer.text[:500]
        theirs = answer.json()
        same = [f["id"] for f in ours["features"]] == [int(f["properties"]["fid"]) for f in theirs["features"]]
        print(f"{n_layers} collections; buildings: {n_buildings:,} features; the same 100 feature ids from "
              f"OGC API and WFS: {same}")
        for _ in range(3):  # warm both workers and MapServer
            timed(session, f"{base}/ogcapi/collections", [{}])
            timed(session, f"{base}/api/v1/layers/", [{"page_size": 1000}])
            timed(session, ogc_items, [{"limit": 100}])
            timed(session, ows, [wfs(0)])
        collections = timed(session, f"{base}/ogcapi/collections", [{}] * args.requests)
        rest = timed(session, f"{base}/api/v1/layers/", [{"page_size": 1000}] * args.requests)
        items = timed(session, ogc_items, [{"limit": 100, "offset": o} for o in offsets])
        getfeature = timed(session, ows, [wfs(o) for o in offsets])
    ms = 1000
    print(f"/ogcapi/collections ({n_layers} collections): p50 {ms * statistics.median(collections):.0f} ms, "
          f"p90 {ms * p(collections, 0.9):.0f} ms (target p50 ≤ 200 ms); catalog REST listing "
          f"/api/v1/layers/: p50 {ms * statistics.median(rest):.0f} ms — ratio "
          f"{statistics.median(collections) / statistics.median(rest):.2f}")
    ratio = statistics.median(items) / statistics.median(getfeature)
    print(f"items, 100 buildings at random offsets: /ogcapi p50 {ms * statistics.median(items):.1f} ms, p90 "
          f"{ms * p(items, 0.9):.1f} ms; WFS GetFeature GeoJSON p50 {ms * statistics.median(getfeature):.1f} ms, "
          f"p90 {ms * p(getfeature, 0.9):.1f} ms — OGC API/WFS {ratio:.2f}")


if __name__ == "__main__":
    main(ARGS)
