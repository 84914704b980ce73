"""OGC API at the city's size: /ogcapi/collections with 600 and 5,000 vector layers, and OGC API - Records
(/ogcapi-records/) with 5,000 harvested records (issue 17's target: p50 ≤ 200 ms), each against a baseline measured
in the same run:

- Records: pycsw's own OGC API - Records (pycsw.ogc.api.records.API) over pycsw's sample setup — its `records`
  table in SQLite, loaded with the same records' ISO 19139 documents through pycsw.core.metadata.parse_record (what
  `pycsw-admin load-records` does) — the same requests, no permission filter;
- collections: the catalog's own REST listing /api/v1/layers/?page_size=1000 (at 5,000 layers its first 1,000).

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/catalogue_ogcapi.py
    … bench/catalogue_ogcapi.py --records 500 --layers 60,600 --repeat 5     # a quick try

The harvested records are made cheaply through the harvest models (a HarvestSource, its external layers of kind
`service` and their HarvestedLayer links, as a run of harvest.runner writes them; a fifth restricted); the vector
layers are catalog rows only (the listing reads no feature table). Requests go through Django's test client in this
process, anonymous, as bench/catalogue.py does; the machine's load average is printed beside each figure.
"""

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SOURCE = "bench-rec"
FEATURES = "bench-oac-"


def harvested(count: int) -> None:
    """`count` harvested records of the source `bench-rec` (made once per stack, trimmed for a smaller run)."""
    from django.contrib.gis.geos import Polygon

    from harvest.models import HarvestedLayer, HarvestSource
    from layers.models import Layer

    source, _ = HarvestSource.objects.get_or_create(slug=SOURCE, defaults={
        "name": "效能測試來源", "kind": "wms", "url": "http://127.0.0.1:9/wms", "visibility": "public"})
    held = HarvestedLayer.objects.filter(source=source)
    have = held.count()
    if have > count:
        Layer.objects.filter(harvested__source=source, harvested__remote_id__gte=f"r{count:05d}").delete()
        return
    layers = []
    for i in range(have, count):
        x, y = 120.2 + (i % 50) * 0.02, 22.6 + (i // 50 % 100) * 0.02
        box = Polygon.from_bbox((x, y, x + 0.02, y + 0.02))
        box.srid = 4326
        road = i % 3 == 0
        layers.append(Layer(
            slug=f"{SOURCE}-r{i:05d}", title_zh=f"{'道路' if road else '建物'}圖層 {i}",
            title_en=f"{'road' if road else 'building'} layer {i}", abstract=f"他機關 WMS 的第 {i} 個圖層",
            keywords=["harvested", "road" if road else "building"], kind=Layer.Kind.SERVICE,
            ogc_status=Layer.OgcStatus.NOT_SERVED, visibility="public" if i % 5 else "restricted", extent=box,
            service={"type": "wms", "url": source.url, "layers": f"r{i}"}, source=f"{source.name}（{source.url}）"))
    made = Layer.objects.bulk_create(layers, batch_size=500)
    HarvestedLayer.objects.bulk_create(
        [HarvestedLayer(source=source, layer=layer, remote_id=layer.slug.rsplit("-", 1)[1], fingerprint="bench")
         for layer in made], batch_size=500)


def feature_layers(count: int) -> None:
    """`count` vector layers with a (notional) feature table: what /ogcapi/collections lists."""
    from django.contrib.gis.geos import Polygon

    from layers.models import Layer

    ours = Layer.objects.filter(slug__startswith=FEATURES)
    have = ours.count()
    if have > count:
        ours.filter(slug__gte=f"{FEATURES}{count:05d}").delete()
        return
    layers = []
    for i in range(have, count):
        x, y = 121.0 + (i % 40) * 0.01, 24.8 + (i // 40 % 40) * 0.01
        box = Polygon.from_bbox((x, y, x + 0.05, y + 0.05))
        box.srid = 4326
        layers.append(Layer(slug=f"{FEATURES}{i:05d}", table_name=f"bench_oac_{i:05d}", title_zh=f"設施圖層 {i}",
                            title_en=f"facilities {i}", kind=Layer.Kind.VECTOR, geometry_type="Point",
                            visibility="public" if i % 5 else "restricted", extent=box, srid=3826,
                            feature_count=20, ogc_status=Layer.OgcStatus.PUBLISHED))
    Layer.objects.bulk_create(layers, batch_size=500)


def _bench_csw():
    """bench/catalogue.py (its name is the Django app's: loaded from its file)."""
    spec = importlib.util.spec_from_file_location("bench_csw", Path(__file__).with_name("catalogue.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_csw = timed = None  # after Django is set up (that file puts bench/ first on the path: bench/network.py …)


def row(name: str, mine: list[float], theirs: list[float], baseline: str) -> None:
    p50, b50 = statistics.median(mine), statistics.median(theirs)
    p95 = sorted(mine)[max(0, int(len(mine) * 0.95) - 1)]
    print(f"{name:44} {p50:8.1f}ms {p95:7.1f}ms | {baseline:24} {b50:8.1f}ms | ratio {p50 / b50:5.2f} | "
          f"{common.load()}", flush=True)


def records(client, repeat: int) -> None:
    from pycsw.ogc.api.records import API

    from layers.models import Layer

    visible = Layer.objects.visible_to(None)
    print(f"catalog: {Layer.objects.count()} layers ({Layer.objects.filter(harvested__isnull=False).count()} "
          f"harvested), {visible.count()} visible to anonymous", flush=True)
    sample = visible.filter(slug__startswith=SOURCE).order_by("slug").first().slug
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        database = bench_csw.baseline_repository(Path(folder), "http://testserver", visible)
        print(f"baseline repository loaded in {time.perf_counter() - t0:.0f} s", flush=True)

        def config():
            answer = bench_csw.baseline_config(database)
            answer["server"]["url"] = "http://testserver/ogcapi-records"
            answer["logging"] = {"level": "ERROR"}
            return answer

        cases = {
            "Records items (10)": ({"limit": "10"}, None),
            "Records items q=road (10)": ({"limit": "10", "q": "road"}, None),
            "Records items bbox (10)": ({"limit": "10", "bbox": "120.5,22.8,120.9,23.2"}, None),
            "Records item by id": ({}, sample),
        }
        for name, (args, identifier) in cases.items():
            path = "/ogcapi-records/collections/metadata:main/items" + (f"/{identifier}" if identifier else "")

            def ours(args=args, path=path):
                answer = client.get(path, {**args, "f": "json"})
                assert answer.status_code == 200, answer.content[:300]

            def baseline(args=args, identifier=identifier):
                api = API(config())
                # pycsw 3.0.0b2's default repository maps no `geometry` for the Records API's bbox (a KeyError)
                api.repository.query_mappings.setdefault("geometry", api.repository.dataset.wkt_geometry)
                if identifier:
                    headers, status, content = api.item({}, {"f": "json"}, "metadata:main", identifier)
                else:
                    headers, status, content = api.items({}, None, {**args, "f": "json"}, "metadata:main")
                assert status == 200, content[:300]

            row(name, timed(ours, repeat), timed(baseline, repeat), "pycsw API + SQLite")


def collections(client, repeat: int) -> None:
    from layers.models import Layer

    count = Layer.objects.visible_to(None).filter(kind=Layer.Kind.VECTOR).exclude(table_name="").count()

    def ours():
        answer = client.get("/ogcapi/collections", {"f": "json"})
        assert answer.status_code == 200 and len(answer.json()["collections"]) == count, answer.content[:300]

    def rest():
        assert client.get("/api/v1/layers/", {"page_size": "1000"}).status_code == 200

    def uncached():  # a new catalog generation, as after any change to the catalog: the listing built again
        from geo import counters
        from layers.ogc import capabilities_cache

        counters.client().set(capabilities_cache.GENERATION_KEY, str(time.time_ns()))
        ours()

    rest_times = timed(rest, repeat)
    row(f"/ogcapi/collections ({count} collections)", timed(ours, repeat), rest_times, "REST /api/v1/layers/ 1000")
    row(f"  … uncached ({count} collections)", timed(uncached, max(3, repeat // 3)), rest_times,
        "REST /api/v1/layers/ 1000")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000, help="harvested records")
    parser.add_argument("--layers", default="600,5000", help="vector layer counts for /ogcapi/collections")
    parser.add_argument("--repeat", type=int, default=15)
    args = common.start(__doc__, parser)
    global bench_csw, timed  # noqa: PLW0603
    bench_csw = _bench_csw()
    timed = bench_csw.timed
    from django.test import Client

    from layers.models import Layer

    Layer.objects.filter(slug__startswith="bench-csw-").delete()  # bench/catalogue.py's, if that ran here
    feature_layers(0)
    harvested(args.records)
    client = Client()
    records(client, args.repeat)
    for count in (int(n) for n in args.layers.split(",")):
        feature_layers(count)
        collections(client, args.repeat)


if __name__ == "__main__":
    main()
