"""A harvest of a remote WMS with 600 layers (the city's KPI size; target: a run ≤ 60 s): the first run (all new),
a second (all unchanged) and a third after a tenth of the remote's titles changed and a tenth of its layers
vanished — against the baseline measured in the same run: only reading the same capabilities document over HTTP
with OWSLib (what any client pays before writing anything).

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/harvest.py --layers 600
    … bench/harvest.py --layers 600 --others 10000      # into a catalog of 10,000 other layers (issue 17)

The remote is a local HTTP server answering a generated WMS 1.3.0 capabilities document (no internet here)."""

import argparse
import http.server
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def capabilities(count: int, renamed: int = 0, dropped: int = 0) -> bytes:
    layers = []
    for i in range(dropped, count):
        title = f"圖層 {i} {'（更名）' if i < dropped + renamed else ''}"
        west, south = 120 + (i % 20) * 0.1, 22 + (i // 20) * 0.1
        layers.append(f"<Layer queryable=\"1\"><Name>bench_{i}</Name><Title>{title}</Title><Abstract>第 {i} 層"
                      f"</Abstract><KeywordList><Keyword>bench</Keyword></KeywordList><CRS>EPSG:3826</CRS>"
                      f"<EX_GeographicBoundingBox><westBoundLongitude>{west}</westBoundLongitude><eastBoundLongitude>"
                      f"{west + 0.1}</eastBoundLongitude><southBoundLatitude>{south}</southBoundLatitude>"
                      f"<northBoundLatitude>{south + 0.1}</northBoundLatitude></EX_GeographicBoundingBox>"
                      f"<Style><Name>default</Name><Title>default</Title><LegendURL width=\"20\" height=\"20\"><Format>"
                      f"image/png</Format><OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                      f"xlink:href=\"http://remote/legend/{i}.png\"/></LegendURL></Style></Layer>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><WMS_Capabilities version="1.3.0" '
            f'xmlns="http://www.opengis.net/wms" xmlns:xlink="http://www.w3.org/1999/xlink"><Service><Name>WMS</Name>'
            f'<Title>bench</Title></Service><Capability><Request><GetCapabilities><Format>text/xml</Format>'
            f'</GetCapabilities><GetMap><Format>image/png</Format><DCPType><HTTP><Get><OnlineResource '
            f'xlink:href="http://remote/wms"/></Get></HTTP></DCPType></GetMap></Request><Exception><Format>XML'
            f'</Format></Exception><Layer><Title>root</Title>{"".join(layers)}</Layer></Capability>'
            f'</WMS_Capabilities>').encode()


def others(count: int) -> None:
    """`count` other layers in the catalog (made in bulk, as a large catalog would hold them), at least."""
    from layers.models import Layer

    have = Layer.objects.filter(slug__startswith="bench-other-").count()
    Layer.objects.bulk_create([Layer(slug=f"bench-other-{i:05d}", title_zh=f"其他圖層 {i}", kind=Layer.Kind.SERVICE,
                                     ogc_status=Layer.OgcStatus.NOT_SERVED, visibility="public",
                                     service={"type": "wms", "url": "http://127.0.0.1:9/wms", "layers": f"o{i}"})
                               for i in range(have, count)], batch_size=1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=600)
    parser.add_argument("--others", type=int, default=0,
                        help="first make the catalog hold this many other (public, external) layers; kept between runs")
    args = common.start(__doc__, parser)
    from owslib.wms import WebMapService

    from audit import chain
    from audit.models import AuditEntry
    from harvest.models import HarvestRun, HarvestSource
    from harvest.readers import Fetcher
    from harvest.runner import execute
    from layers.models import Layer

    others(args.others)
    print(f"catalog: {Layer.objects.count():,} layers before the first run", flush=True)
    document = {"body": capabilities(args.layers)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = document["body"]
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/wms"
    HarvestSource.objects.filter(slug="bench").delete()
    Layer.objects.filter(slug__startswith="bench-bench").delete()
    source = HarvestSource.objects.create(name="bench", slug="bench", kind="wms", url=url, visibility="public")

    def baseline() -> float:
        t0 = time.perf_counter()
        with Fetcher(30, 50 * 2**20) as fetcher:
            body = fetcher.get(url + "?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0").body
        WebMapService(url, version="1.3.0", xml=body)
        return time.perf_counter() - t0

    def run(label: str) -> float:
        entries, appends = AuditEntry.objects.count(), [0]
        real_append = chain.append

        def counted_append(drafts):
            appends[0] += 1
            return real_append(drafts)

        chain.append = counted_append  # each append is one transaction locking the chain's head
        t0 = time.perf_counter()
        done = execute(HarvestRun.objects.create(source=source))
        took = time.perf_counter() - t0
        entries = AuditEntry.objects.count() - entries
        chain.append = real_append
        base = min(baseline() for _ in range(3))
        print(f"{label:34s} {took:7.2f} s  {common.load()}  {entries:,} audit entries in {appends[0]:,} transactions"
              f"  ({done.state}: found {done.found}, new {done.new}, changed {done.changed}, "
              f"unchanged {done.unchanged}, vanished {done.vanished}; {len(document['body']):,} bytes)  baseline "
              f"{base:.2f} s  ratio {took / base:.1f}×  target ≤ 60 s {'met' if took <= 60 else 'MISSED'}", flush=True)
        assert done.state == "ok", done.error
        return took

    run(f"first run ({args.layers} new)")
    run("second run (nothing changed)")
    tenth = args.layers // 10
    document["body"] = capabilities(args.layers, renamed=tenth, dropped=tenth)
    run(f"third run ({tenth} renamed, {tenth} gone)")
    source.layers.all().delete()
    Layer.objects.filter(slug__startswith="bench-bench").delete()
    source.delete()
    httpd.shutdown()


if __name__ == "__main__":
    main()
