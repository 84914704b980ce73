"""CSW GetRecords at the city's size: /csw (pycsw over the view catalogue_csw_records, filtered per caller) against
pycsw's own sample setup — its `records` table in SQLite, loaded with the same records (pycsw-admin's
load-records path: pycsw.core.metadata.parse_record) — as the baseline, in the same run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/catalogue.py --layers 600

Requests go through Django's test client in this process (no HTTP server: both sides are measured as the same
library call, pycsw.server.Csw.dispatch_wsgi, plus for ours the Django view and the permission filter). Prints
p50/p95 per request kind and the ratio ours / baseline.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PREFIX = "bench-csw-"
REQUESTS = {
    "GetRecords DC brief (10)": "service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record"
                                "&elementsetname=brief&resulttype=results&maxrecords=10",
    "GetRecords ISO full (10)": "service=CSW&version=2.0.2&request=GetRecords&typenames=gmd:MD_Metadata"
                                "&outputschema=http://www.isotc211.org/2005/gmd&elementsetname=full"
                                "&resulttype=results&maxrecords=10",
    "GetRecords CQL AnyText (10)": "service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record"
                                   "&elementsetname=summary&resulttype=results&maxrecords=10"
                                   "&constraintlanguage=CQL_TEXT&constraint=csw:AnyText%20like%20%27%25road%25%27",
    "GetRecords 3.0 bbox (10)": "service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record"
                                "&elementsetname=brief&maxrecords=10&bbox=121.2,24.9,121.4,25.1",
}


def make_layers(count: int) -> None:
    from django.contrib.gis.geos import Polygon

    from layers.models import Layer

    ours = Layer.objects.filter(slug__startswith=PREFIX)
    extra = [slug for slug in ours.values_list("slug", flat=True) if int(slug.removeprefix(PREFIX)) >= count]
    Layer.objects.filter(slug__in=extra).delete()  # a smaller run after a bigger one on the same stack
    have = ours.count()
    if have >= count:
        return
    layers = []
    for i in range(have, count):
        x, y = 121.0 + (i % 40) * 0.01, 24.8 + (i // 40 % 40) * 0.01
        box = Polygon.from_bbox((x, y, x + 0.05, y + 0.05))
        box.srid = 4326
        layers.append(Layer(slug=f"{PREFIX}{i}", title_zh=f"測試圖層 {i}", title_en=f"bench road layer {i}",
                            abstract=f"第 {i} 個圖層：道路、建物與 road network", keywords=["road", f"k{i % 7}"],
                            topic_category="transportation", visibility="public" if i % 5 else "restricted",
                            kind=Layer.Kind.VECTOR, extent=box, update_frequency="monthly",
                            lineage="bench", license="政府資料開放授權條款第1版", ogc_status="none"))
    Layer.objects.bulk_create(layers, batch_size=500)


def baseline_repository(folder: Path, base_url: str, layers=None) -> str:
    """pycsw's sample setup: its records table in SQLite, loaded with the ISO records of the same layers (`layers`:
    a queryset of them; this bench's own by default)."""
    from pycsw.core import metadata, repository
    from pycsw.core.config import StaticContext

    from layers import iso19139
    from layers.models import Layer

    url = f"sqlite:///{folder / 'records.db'}"
    repository.setup(url, "records")
    context = StaticContext()
    repo = repository.Repository(url, context, table="records")
    if layers is None:
        layers = Layer.objects.filter(slug__startswith=PREFIX)
    for layer in layers.select_related("owner_agency", "theme"):
        for record in metadata.parse_record(context, iso19139.record(layer, base_url), repo):
            repo.insert(record, "local", time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return url


def baseline_config(database: str) -> dict:
    from catalogue.views import configuration

    config = configuration("http://testserver/csw", None)
    config["repository"] = {"database": database, "table": "records"}
    return config


def timed(call, repeat: int) -> list[float]:
    call()  # warm
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=30)
    args = common.start(__doc__, parser)
    from django.db.models import Q
    from django.test import Client
    from pycsw.server import Csw

    from layers.models import Layer

    # bench/catalogue_ogcapi.py's layers, if that ran on this stack: this bench measures a catalog of its own size
    Layer.objects.filter(Q(slug__startswith="bench-rec-") | Q(slug__startswith="bench-oac-")).delete()
    make_layers(args.layers)

    total = Layer.objects.count()
    public = Layer.objects.visible_to(None).count()
    print(f"catalog: {total} layers, {public} visible to anonymous")
    client = Client()
    with tempfile.TemporaryDirectory() as folder:
        database = baseline_repository(Path(folder), "http://testserver")
        config = baseline_config(database)
        print(f"{'request':32} {'ours p50':>9} {'p95':>7} {'pycsw+SQLite p50':>17} {'p95':>7} {'ratio':>6}")
        for name, query in REQUESTS.items():
            def ours(query=query):
                answer = client.get("/csw?" + query)
                assert answer.status_code == 200 and b"ExceptionReport" not in answer.content, answer.content[:500]

            def baseline(query=query):
                env = {"REQUEST_METHOD": "GET", "QUERY_STRING": query, "wsgi.url_scheme": "http",
                       "SERVER_NAME": "testserver", "SERVER_PORT": "80", "PATH_INFO": "/csw"}
                status, content = Csw(baseline_config(database), env).dispatch_wsgi()
                assert b"ExceptionReport" not in content, content[:500]

            mine, theirs = timed(ours, args.repeat), timed(baseline, args.repeat)
            p50, b50 = statistics.median(mine), statistics.median(theirs)
            p95, b95 = sorted(mine)[int(len(mine) * 0.95) - 1], sorted(theirs)[int(len(theirs) * 0.95) - 1]
            print(f"{name:32} {p50:8.1f}ms {p95:6.1f}ms {b50:16.1f}ms {b95:6.1f}ms {p50 / b50:6.2f}")
        del config


if __name__ == "__main__":
    main()
