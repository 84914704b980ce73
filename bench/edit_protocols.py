"""Editing through each protocol: single-feature edits through the REST API, WFS-T and OGC API - Features Part 4,
against the same UPDATE in raw SQL, in one run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/edit_protocols.py
    … bench/edit_protocols.py --edits 200      # a quick try

The layer and the editor are bench/editing.py's (10,000 points in TWD97 / TM2, four attributes). `--edits` edits
per protocol, one at a time over HTTP to gunicorn (one worker): each moves one feature and changes two attributes
with the version it read — REST: PATCH with If-Match; WFS-T: a WFS 2.0 Transaction with one Update (GML 3.2 point,
fes:ResourceId with its version); Part 4: PATCH (merge patch) with If-Match. All three go through editing.store: a
locked read, the WFS lock and conflict checks, the UPDATE, a history row, the catalog's extent and an audit entry.
The baseline is the same UPDATE in raw SQL, one statement per transaction over one psycopg2 connection. Printed: p50
and p95 latency and edits per second of each, and each protocol's ratio to the baseline.
"""

import argparse
import importlib.util
import json
import random
import statistics
import time
import urllib.request
from pathlib import Path

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=1000, help="single-feature edits per protocol")
    parser.add_argument("--features", type=int, default=10_000, help="features in the layer")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

# bench/editing.py's layer, editor, REST client and baseline (loaded by path: `editing` is the Django app's name)
_spec = importlib.util.spec_from_file_location("bench_editing", Path(__file__).with_name("editing.py"))
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)

WFS = ('<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
       'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2">'
       '<wfs:Update typeName="{slug}"><wfs:Property><wfs:ValueReference>name</wfs:ValueReference>'
       '<wfs:Value>{name}</wfs:Value></wfs:Property><wfs:Property><wfs:ValueReference>outlets</wfs:ValueReference>'
       '<wfs:Value>{outlets}</wfs:Value></wfs:Property><wfs:Property><wfs:ValueReference>geom</wfs:ValueReference>'
       '<wfs:Value><gml:Point srsName="EPSG:4326"><gml:pos>{lon} 24.99</gml:pos></gml:Point></wfs:Value>'
       '</wfs:Property><fes:Filter><fes:ResourceId rid="{slug}.{fid}" version="{version}"/></fes:Filter>'
       '</wfs:Update></wfs:Transaction>')


def _timed(request, versions: dict[int, int], fid: int, version_of) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
        versions[fid] = version_of(answer, body)
    return time.perf_counter() - started


def through_wfs(base: str, token: str, fids: list[int], versions: dict[int, int]) -> list[float]:
    times = []
    for i, fid in enumerate(fids):
        body = WFS.format(slug=shared.SLUG, name=f"wfs {i}", outlets=i % 4, lon=121.3 + (i % 97) * 1e-4, fid=fid,
                          version=versions.get(fid, 0)).encode()
        request = urllib.request.Request(f"{base}/ows", data=body, method="POST", headers={
            "Authorization": f"Token {token}", "Content-Type": "text/xml"})
        times.append(_timed(request, versions, fid, lambda _a, _b, fid=fid: versions.get(fid, 0) + 1))
    return times


def through_part4(base: str, token: str, fids: list[int], versions: dict[int, int]) -> list[float]:
    times = []
    for i, fid in enumerate(fids):
        body = json.dumps({"geometry": {"type": "Point", "coordinates": [121.3 + (i % 97) * 1e-4, 24.99]},
                           "properties": {"name": f"part4 {i}", "outlets": i % 4}}).encode()
        request = urllib.request.Request(f"{base}/ogcapi/collections/{shared.SLUG}/items/{fid}", data=body,
                                         method="PATCH", headers={"Authorization": f"Token {token}",
                                                                  "Content-Type": "application/merge-patch+json",
                                                                  "If-Match": f'"{versions.get(fid, 0)}"'})
        times.append(_timed(request, versions, fid, lambda answer, _b: int(answer.headers["ETag"].strip('"'))))
    return times


def main(args):
    layer, token = shared.make_layer(args.features)
    fids = random.Random(common.SEED).choices(range(1, args.features + 1), k=args.edits)
    try:
        with common.gunicorn(workers=1) as base:
            versions: dict[int, int] = {}
            shared.through_api(base, token, fids[:20], versions)  # warm the worker (imports, connections)
            through_wfs(base, token, fids[:20], versions)
            results = {}
            for name, run in (("REST API (PATCH, If-Match)", shared.through_api),
                              ("WFS-T 2.0 (Transaction/Update, ResourceId version)", through_wfs),
                              ("OGC API Part 4 (PATCH, If-Match)", through_part4)):
                results[name] = run(base, token, fids, versions)
                print(f"  {name} done; {common.load()}", flush=True)
        sql_times = shared.raw_sql(fids)
        print(f"{args.edits:,} single-feature edits per protocol on a {args.features:,}-feature point layer; "
              f"{common.load()}")
        sql_rate = shared.summary("raw SQL UPDATE (baseline)", sql_times)
        for name, times in results.items():
            rate = shared.summary(name, times)
            print(f"  ratio to raw SQL: {sql_rate / rate:.1f}× the time per edit "
                  f"(p50 {statistics.median(times) / statistics.median(sql_times):.1f}×)")
    finally:
        shared.remove(layer)


if __name__ == "__main__":
    main(ARGS)
