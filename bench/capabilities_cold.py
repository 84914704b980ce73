"""The cold build of the WMS 1.3.0 capabilities (issue 21): what the first request for a document costs, at 600, 3,000
and 5,000 layers, MapServer's document against the one the front writes from the catalog, in the same run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/capabilities_cold.py
    … bench/capabilities_cold.py --sizes 600,5000 --runs 3
    … bench/capabilities_cold.py --sizes 600,5000 --wfs     # MapServer's WFS 2.0 document (what /ows serves)

The layers are catalog rows made by the bench (spread over 17 themes as the catalog bench's are, in a transaction
rolled back at the end: no tables are made, and GetCapabilities reads none) and the mapfile `layers.ogc.mapfile.render`
writes for them. "mapserver": the engine's own document as /ows built it before (`MapServerEngine.ows`: the parsed
map cut to the visible set, MapServer's OWSDispatch, the document cut to the caller; each layer's box in its own CRS
only, so less than it served before, when the front added the others). "front": `MapServerEngine.wms_capabilities`
as /ows builds it now (the catalog query, the boxes in every offered CRS, the legend sizes, the document; the caches
of legend sizes emptied before each build). Both documents are checked to list the same layers with the same
titles and the same legend sizes. The visible-set query and the capabilities cache are not in either figure.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="600,3000,5000", help="layers in the catalog, smallest first")
    parser.add_argument("--runs", type=int, default=3, help="builds per figure (the median is printed)")
    parser.add_argument("--mapserver-runs", type=int, default=1, help="MapServer builds per figure (slow)")
    parser.add_argument("--wfs", action="store_true", help="MapServer's WFS 2.0 document instead (the only writer)")
    return parser


def make_layers(count: int):
    """`count` public vector layers over 17 themes, saved (rolled back by the caller)."""
    from django.contrib.gis.geos import Polygon

    from layers.models import Layer, Theme

    themes = Theme.objects.bulk_create(Theme(name_zh=f"主題{i}", name_en=f"theme {i}", slug=f"bench-cold-theme-{i}",
                                             order=100 + i) for i in range(17))
    made = []
    for i in range(count):
        x, y = 150000 + (i % 50) * 2000.0, 2450000 + (i // 50 % 100) * 2000.0
        box = Polygon.from_bbox((120.1 + (i % 50) * 0.02, 22.2 + (i // 50 % 100) * 0.02,
                                 120.12 + (i % 50) * 0.02, 22.22 + (i // 50 % 100) * 0.02))
        box.srid = 4326
        made.append(Layer(slug=f"bench-cold-{i:05d}", table_name=f"bench_cold_{i:05d}", title_zh=f"道路圖層 {i}",
                          title_en=f"roads {i}", kind=Layer.Kind.VECTOR, geometry_type="LineString", srid=3826,
                          native_extent=[x, y, x + 2000, y + 2000], extent=box, keywords=["roads"],
                          theme=themes[i % len(themes)], visibility="public", feature_count=20))
    return Layer.objects.bulk_create(made)


def listed(document: bytes) -> dict[str, tuple]:
    """Each named layer's (title, legend width, legend height)."""
    from lxml import etree

    out = {}
    for layer in etree.fromstring(document).iter("{*}Layer"):
        name = layer.find("{*}Name")
        if name is None:
            continue
        legend = layer.find("{*}Style/{*}LegendURL")
        out[name.text] = (layer.findtext("{*}Title"), *((legend.get("width"), legend.get("height"))
                                                        if legend is not None else ()))
    return out


def timed(build, runs: int, before) -> tuple[float, float, float, bytes]:
    took = []
    for _ in range(runs):
        before()
        t0 = time.perf_counter()
        body = build()
        took.append(time.perf_counter() - t0)
    return statistics.median(took), min(took), max(took), body


def main():
    args = common.start(__doc__, arguments())
    from django.conf import settings
    from django.db import transaction

    from layers.ogc import mapfile, mapserver, wms_capabilities

    engine = mapserver.MapServerEngine(settings.MAPSERV_BIN)
    params = ({"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetCapabilities"} if args.wfs else
              {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"})
    folder = Path(tempfile.mkdtemp(prefix="civgis-cold-"))
    url = "http://bench/ows?"
    results = {}

    def cold_mapserver():
        mapserver._parsed.cache_clear()
        mapserver._catalog_map.cache_clear()

    def cold_front():
        wms_capabilities.legend_size.cache_clear()
        wms_capabilities._text_size.cache_clear()

    for size in [int(s) for s in args.sizes.split(",")]:
        with transaction.atomic():
            made = make_layers(size)
            visible = frozenset(layer.slug for layer in made)
            target = folder / f"civgis-{size}.map"
            target.write_text(mapfile.render(made), encoding="utf-8")
            mapfile.path = lambda file=target: file
            documents = {}
            for way, build, runs, before in (
                    ("mapserver", lambda v=visible: engine.ows(params, None, v, url=url).body, args.mapserver_runs,
                     cold_mapserver),
                    ("front", lambda v=visible: engine.wms_capabilities(params, v, url, "zh-hant").body, args.runs,
                     cold_front))[:1 if args.wfs else 2]:
                median, low, high, documents[way] = timed(build, runs, before)
                results[size, way] = median
                print(f"{size:>6,} layers, {way:9s}: cold build {median:7.2f} s (median of {runs}; {low:.2f}–"
                      f"{high:.2f})  {len(documents[way]) / 1024:,.0f} KB  {common.load()}", flush=True)
            if args.wfs:
                transaction.set_rollback(True)
                continue
            theirs, ours = listed(documents["mapserver"]), listed(documents["front"])
            assert theirs == ours, [(k, theirs.get(k), ours.get(k)) for k in theirs.keys() | ours.keys()
                                    if theirs.get(k) != ours.get(k)][:5]
            print(f"{size:>6,} layers: the same {len(ours):,} layers, titles and legend sizes in both; mapserver / "
                  f"front ×{results[size, 'mapserver'] / results[size, 'front']:.0f}", flush=True)
            transaction.set_rollback(True)
    sizes = sorted({size for size, _ in results})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for way in ("mapserver",) if args.wfs else ("mapserver", "front"):
            print(f"{way}: {large:,} / {small:,} layers ×{results[large, way] / results[small, way]:.1f} "
                  f"(layers ×{large / small:.1f})")


if __name__ == "__main__":
    main()
