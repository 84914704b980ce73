"""The cold build of the WMS 1.3.0 capabilities (issue 21): what the first request for a document costs, at 600 and
5,000 layers, against the way it was built before, measured in the same run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/capabilities_cold.py
    … bench/capabilities_cold.py --sizes 600,5000 --runs 3

The layers are the catalog's mapfile as `layers.ogc.mapfile.render` writes it for that many vector layers (built in
memory, spread over 17 themes as the catalog bench's are: no tables are made, and GetCapabilities reads none), served
by the engine as /ows does (`MapServerEngine.ows`: the parsed map cut to the visible set, MapServer's OWSDispatch, the
document cut to the caller and the layers' boxes) — the database's visible-set query and the language pass are not
in it. "before": every layer's BoundingBox in each offered CRS reprojected by MapServer (`wms_bbox_extended` on each
layer, as the mapfile had it); "after": MapServer writes each layer's box in its own CRS and the front adds the
others for all layers at once (`layers.ogc.capabilities_boxes`). Both documents hold the same elements (checked).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="600,5000", help="layers in the map, smallest first")
    parser.add_argument("--runs", type=int, default=3, help="builds per figure (the median is printed)")
    return parser


def layers(count: int):
    from django.contrib.gis.geos import Polygon

    from layers.models import Layer, Theme

    themes = [Theme(name_zh=f"主題{i}", name_en=f"theme {i}", slug=f"theme-{i}") for i in range(17)]
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
    return made


def main():
    args = common.start(__doc__, arguments())
    from django.conf import settings
    from lxml import etree

    from layers.ogc import mapfile, mapserver

    engine = mapserver.MapServerEngine(settings.MAPSERV_BIN)
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetCapabilities"}
    folder = Path(tempfile.mkdtemp(prefix="civgis-cold-"))
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        made = layers(size)
        visible = frozenset(layer.slug for layer in made)
        text = mapfile.render(made)
        files = {"after": folder / f"after-{size}.map", "before": folder / f"before-{size}.map"}
        files["after"].write_text(text, encoding="utf-8")
        files["before"].write_text(text.replace('"wms_bbox_extended" "false"', '"wms_bbox_extended" "true"'),
                                   encoding="utf-8")
        documents = {}
        for way in ("before", "after"):
            settings.OGC_WMS_LAYER_BBOX_ALL_CRS = way == "after"  # before: MapServer wrote them all, none to add
            mapfile.path = lambda file=files[way]: file
            took = []
            for _ in range(args.runs):
                mapserver._parsed.cache_clear()
                mapserver._catalog_map.cache_clear()
                t0 = time.perf_counter()
                answer = engine.ows(params, None, visible, url="http://bench/ows")
                took.append(time.perf_counter() - t0)
                assert answer.status == 200, answer.body[:500]
            documents[way] = answer.body
            results[size, way] = statistics.median(took)
            print(f"{size:>6,} layers, {way:6s}: cold build {results[size, way]:7.2f} s (median of {args.runs}; "
                  f"{min(took):.2f}–{max(took):.2f})  {len(answer.body) / 1024:,.0f} KB  {common.load()}", flush=True)
        count = {way: len(etree.fromstring(doc).findall(".//{*}BoundingBox")) for way, doc in documents.items()}
        assert count["before"] == count["after"], count
        print(f"{size:>6,} layers: {count['after']:,} BoundingBox elements in both; before / after "
              f"×{results[size, 'before'] / results[size, 'after']:.1f}", flush=True)
    sizes = sorted({size for size, _ in results})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for way in ("before", "after"):
            print(f"{way}: {large:,} / {small:,} layers ×{results[large, way] / results[small, way]:.1f} "
                  f"(layers ×{large / small:.1f})")


if __name__ == "__main__":
    main()
