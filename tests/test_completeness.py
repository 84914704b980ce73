"""Completeness invariants: every serving path hands out every feature of a layer, no more and no fewer.

For each vector layer of the size-1 demo city and of each real file in ../shared/data/real that imports, the
feature counts agree across: SQL count(*); the REST API (numberMatched, and the sum of its pages); WFS 1.1 and
2.0 (RESULTTYPE=hits, GetFeature paged with COUNT/STARTINDEX and with MAXFEATURES/STARTINDEX); the GeoJSON, CSV
and GeoPackage downloads; and vector tiles (distinct feature ids — ST_AsMVT's feature id is the layer's `fid` —
at the zoom from which the tile rules drop nothing, in the tiles that must hold each feature).
"""

import csv
import io
import json
import re
import tempfile

import mapbox_vector_tile
import pyogrio
import pytest
from conftest import SHARED_DATA, committed_demo_city
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing
from layers.serving import tiles

pytestmark = pytest.mark.django_db
REAL = SHARED_DATA / "real"
# the real vector files (see SOURCES.md); a file that is absent or does not import is reported and skipped
REAL_FILES = [
    "taipei-mrt/TpeMRTStations_TWD97.shp", "taipei-mrt/TpeMRTRoutes_TWD97.shp", "taipei-mrt/exits.geojson",
    "taipei-mrt/大臺北地區捷運車站出入口.csv", "taoyuan-districts/taoyuan_towns_moi.json",
    "taoyuan-stat-areas/code2_68000.topo.json", "taoyuan-stat-areas/base_68000010.topo.json",
    "taoyuan-stat-areas/county_20200820.geo.json",
    "tw-itaiwan-wifi/itaiwan_hotspotlist_20170221.csv", "tw-itaiwan-wifi/charge_station_list_20170221.csv",
    "tw-village-attrs-nlsc/Village_Sanhe.shp", "tw-villages-2010/taoyuan_villages_2010_derived.geojson",
    "address-points/taoyuan_6801300_fuxing.csv",
]
PAGE = 4000  # several pages for the bigger layers, few requests in all
not_imported: dict[str, str] = {}


@pytest.fixture(scope="module")
def layers(django_db_setup, django_db_blocker):
    """The size-1 demo city and the real files that import, committed and published; yields the vector slugs."""
    with committed_demo_city(django_db_blocker, seed=2026, size=1.0):
        for relative in REAL_FILES:
            path = REAL / relative
            if not path.exists():
                not_imported[relative] = "absent"
                continue
            job = run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": "restricted"}).pk)
            if job.status != "succeeded":
                not_imported[relative] = str(job.errors)[:200]
        publishing.publish_all()
        yield list(Layer.objects.filter(kind="vector").order_by("slug").values_list("slug", flat=True))
        import mapscript

        mapscript.msConnPoolCloseUnreferenced()  # MapServer keeps its PostGIS connections open between requests
        User.objects.filter(username="completeness-admin").delete()


@pytest.fixture(scope="module")
def admin(layers):
    """An administrator sees every layer, whatever its visibility: counts are about completeness, not access."""
    user = User.objects.create_superuser("completeness-admin", password="pw")
    return user


def _client(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def sql_count(layer: Layer) -> int:
    with connection.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM layerdata."{layer.table_name}"')
        return cur.fetchone()[0]


def rest_counts(client, slug: str) -> tuple[int, int]:
    """(numberMatched, features over all pages) of the feature API."""
    matched, total, offset = None, 0, 0
    while True:
        page = client.get(f"/api/v1/layers/{slug}/features/", {"limit": PAGE, "offset": offset}).json()
        matched = page["numberMatched"] if matched is None else matched
        total += len(page["features"])
        if len(page["features"]) < PAGE:
            return matched, total
        offset += PAGE


def wfs(client, version: str, slug: str, **params):
    name = "TYPENAME" if version == "1.1.0" else "TYPENAMES"
    answer = client.get("/ows", {"SERVICE": "WFS", "VERSION": version, "REQUEST": "GetFeature", name: slug,
                                 **params})
    assert answer.status_code == 200, answer.content[:300]
    return answer


def wfs_hits(client, version: str, slug: str) -> int:
    answer = wfs(client, version, slug, RESULTTYPE="hits")
    return int(re.search(rb'(?:numberOfFeatures|numberMatched)="(\d+)"', answer.content).group(1))


def wfs_paged(client, version: str, slug: str) -> int:
    """Distinct feature ids over GetFeature pages (COUNT in 2.0, MAXFEATURES in 1.1, STARTINDEX in both)."""
    size = "MAXFEATURES" if version == "1.1.0" else "COUNT"
    ids, start = set(), 0
    while True:
        features = json.loads(wfs(client, version, slug, OUTPUTFORMAT="geojson", PROPERTYNAME="fid",
                                  **{size: PAGE, "STARTINDEX": start}).content)["features"]
        ids |= {f["properties"]["fid"] for f in features}
        if len(features) < PAGE:
            return len(ids)
        start += PAGE


def download_counts(client, slug: str) -> tuple[int, int, int]:
    """(GeoJSON features, CSV rows, GeoPackage features) of the downloads."""
    def body(fmt):
        answer = client.get(f"/api/v1/layers/{slug}/download/", {"format": fmt})
        assert answer.status_code == 200, (fmt, answer.content[:300] if not answer.streaming else "")
        return b"".join(answer.streaming_content) if answer.streaming else answer.content

    geojson = len(json.loads(body("geojson"))["features"])
    csv.field_size_limit(2**31 - 1)  # a WKT polygon is longer than the default 128 KiB
    rows = len(list(csv.reader(io.StringIO(body("csv").decode("utf-8-sig"))))) - 1
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as gpkg:
        gpkg.write(body("gpkg"))
        gpkg.flush()
        features = pyogrio.read_info(gpkg.name)["features"]
    return geojson, rows, features


def tile_ids(layer: Layer) -> tuple[set[int], int, int]:
    """(feature ids, zoom, tiles read) of the vector tiles at the zoom from which nothing is simplified or left
    out (DETAIL_ZOOM, or the layer's min zoom if higher). Each feature must be in the tile holding a point on its
    surface (ST_PointOnSurface: inside a polygon, on a line), so those tiles are read — not the thousands that
    cover a nationwide layer's extent."""
    z = max(layer.min_zoom, tiles.DETAIL_ZOOM)
    size, half = tiles.WEB_MERCATOR_WIDTH / 2**z, tiles.WEB_MERCATOR_WIDTH / 2
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT floor((ST_X(p) + %(h)s) / %(s)s)::int, floor((%(h)s - ST_Y(p)) / %(s)s)::int "
                    f'FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) p FROM layerdata."{layer.table_name}"'
                    ") s", {"h": half, "s": size})
        cells = cur.fetchall()
    ids = set()
    for x, y in cells:
        data = tiles.tile(layer, z, x, y, {})
        if data:
            ids |= {f["id"] for f in mapbox_vector_tile.decode(data)[layer.slug]["features"]}
    return ids, z, len(cells)


def fids(layer: Layer) -> set[int]:
    with connection.cursor() as cur:
        cur.execute(f'SELECT fid FROM layerdata."{layer.table_name}"')
        return {fid for (fid,) in cur.fetchall()}


def test_every_path_serves_every_feature(layers, admin):
    client = _client(admin)
    table, failures = [], []
    for slug in layers:
        layer = Layer.objects.get(slug=slug)
        in_tiles, z, tiles_read = tile_ids(layer)
        counts = {"sql": sql_count(layer),
                  **dict(zip(("rest_matched", "rest_pages"), rest_counts(client, slug), strict=True)),
                  "wfs11_hits": wfs_hits(client, "1.1.0", slug), "wfs20_hits": wfs_hits(client, "2.0.0", slug),
                  "wfs11_pages": wfs_paged(client, "1.1.0", slug), "wfs20_pages": wfs_paged(client, "2.0.0", slug),
                  **dict(zip(("geojson", "csv", "gpkg"), download_counts(client, slug), strict=True)),
                  "tiles": len(in_tiles)}
        table.append((slug, layer.geometry_type, z, tiles_read, counts))
        if len(set(counts.values())) != 1 or in_tiles != fids(layer):
            failures.append((slug, counts))
    print(f"\n{'layer':32} {'type':16} {'z':>2} {'tiles':>5}  " + " ".join(f"{k:>12}" for k in table[0][4]))
    for slug, gtype, z, tiles_read, counts in table:
        print(f"{slug:32} {gtype:16} {z:>2} {tiles_read:>5}  " + " ".join(f"{v:>12}" for v in counts.values()))
    print("not imported:", not_imported or "none")
    assert not failures, failures
    assert len(table) >= 9  # the demo city's vector layers at least


def test_each_real_file_present_was_imported(layers):
    if not REAL.is_dir():
        pytest.skip("../shared/data/real is not present")
    assert not {k: v for k, v in not_imported.items() if v != "absent"}
