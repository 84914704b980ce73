"""Malformed input, case by case, through the upload API: each ends as a clear 4xx or a failed import job whose
message names the problem (the file, and the rows or field where that applies), shows no server path, and leaves
nothing behind (no staging table, no file under the upload, work or media folders, no catalog row).

The count of cases is the README's "malformed inputs tried" figure.
"""

import io
import json
import re
import struct
import zipfile
from pathlib import Path

import importfiles as files
import numpy as np
import pytest
import rasterio
import shapely
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rasterio.transform import from_origin
from rest_framework.test import APIClient

from jobs.models import Job
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db

FEATURES = '{{"type": "FeatureCollection", "features": [{}]}}'
SERVER_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"/:,;()\[\]<>]+/)+")


def feature(coords, gtype="Point", props='{"name": "a"}') -> str:
    return f'{{"type": "Feature", "properties": {props}, "geometry": {{"type": "{gtype}", "coordinates": {coords}}}}}'


def geojson(*features_: str, crs: str = "") -> bytes:
    head = f'"crs": {{"type": "name", "properties": {{"name": "{crs}"}}}}, ' if crs else ""
    return ('{"type": "FeatureCollection", ' + head + '"features": [' + ", ".join(features_) + "]}").encode()


def zipped(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def shapefile_parts(tmp: Path, stem="roads", **kwargs) -> dict[str, bytes]:
    files.shapefile(tmp / "shp", stem, **kwargs)
    return {p.name: p.read_bytes() for p in sorted((tmp / "shp").iterdir())}


def shapefile_in_3826(tmp: Path, xy) -> dict[str, bytes]:
    geoms = shapely.points(np.array(xy, dtype=float))
    fields = {"name": np.array([f"p{i}" for i in range(len(xy))], dtype=object)}
    return shapefile_parts(tmp, "far", crs="EPSG:3826", geoms=geoms, fields=fields)


def without(parts: dict[str, bytes], *exts: str) -> dict[str, bytes]:
    return {n: b for n, b in parts.items() if Path(n).suffix not in exts}


def with_dbf_text(tmp: Path, raw_value: bytes) -> dict[str, bytes]:
    """A shapefile whose second record's name field holds the given bytes (no .cpg to say the encoding)."""
    parts = without(shapefile_parts(tmp), ".cpg")
    dbf = bytearray(parts["roads.dbf"])
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    start = header_len + record_len + 1
    dbf[start:start + len(raw_value)] = raw_value
    parts["roads.dbf"] = bytes(dbf)
    return parts


def encrypted_zip() -> bytes:
    """A zip whose member says it is encrypted (flag bit 0), as a password-protected archive does."""
    data = bytearray(zipped({"a.csv": b"lon,lat\n121.3,25.0\n"}, zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x01
    return bytes(data)


def bad_crc_zip() -> bytes:
    data = bytearray(zipped({"a.csv": b"name,lon,lat\na,121.3,25.0\n"}, zipfile.ZIP_STORED))
    at = data.index(b"121.3")
    data[at] = ord("9")
    return bytes(data)


def geotiff(tmp: Path, crs="EPSG:4326", origin=(121.2, 25.0), size=0.001) -> bytes:
    path = tmp / "dem.tif"
    profile = {"driver": "GTiff", "width": 20, "height": 10, "count": 1, "dtype": "float32",
               "transform": from_origin(*origin, size, size)}
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((10, 20), dtype="float32"), 1)
    return path.read_bytes()


def csv(*lines: str, encoding="utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


TAOYUAN = "[121.3, 25.0]"
COLLINEAR = "[[[121.0, 25.0], [121.5, 25.0], [121.2, 25.0], [121.0, 25.0]]]"  # no area at all

# id: (uploaded files {name: bytes} or a function of tmp_path giving them, options, fragments of the message)
CASES = {
    # archives
    "zip-truncated": ({"broken.zip": zipped({"a.geojson": b"{}" * 200})[:60]}, {}, ["broken.zip", "not a valid zip"]),
    "zip-slip-parent": ({"evil.zip": zipped({"../../x.geojson": geojson(feature(TAOYUAN))})}, {},
                        ["evil.zip", "'../../x.geojson'", "outside the archive"]),
    "zip-slip-absolute": ({"evil.zip": zipped({"/etc/x.geojson": geojson(feature(TAOYUAN))})}, {},
                          ["evil.zip", "outside the archive"]),
    "zip-slip-drive": ({"evil.zip": zipped({"C:\\x.geojson": geojson(feature(TAOYUAN))})}, {},
                       ["evil.zip", "outside the archive"]),
    "zip-bomb-one-member": ({"bomb.zip": zipped({"huge.csv": b"0" * (40 * 2**20)})}, {},
                            ["bomb.zip", "decompression bomb"]),
    "zip-bomb-split": ({"split.zip": zipped({f"part{i}.csv": b"0" * (9 * 2**20) for i in range(6)})}, {},
                       ["split.zip", "decompression bomb"]),
    "zip-nothing-importable": ({"docs.zip": zipped({"readme.txt": b"hello"})}, {},
                               ["docs.zip", "no file civgis can import"]),
    "zip-empty": ({"empty.zip": zipped({})}, {}, ["empty.zip", "no file civgis can import"]),
    "zip-dbf-without-shp": (lambda t: {"roads.zip": zipped(without(shapefile_parts(t), ".shp"))}, {},
                            ["roads.zip", "no .shp"]),
    "zip-shp-without-shx": (lambda t: {"roads.zip": zipped(without(shapefile_parts(t), ".shx"))}, {},
                            ["roads.zip/roads.shp", ".shx missing"]),
    "zip-encrypted": ({"secret.zip": encrypted_zip()}, {}, ["secret.zip", "cannot be unpacked", "password"]),
    "zip-bad-crc": ({"crc.zip": bad_crc_zip()}, {}, ["crc.zip", "corrupt"]),
    "kmz-junk": ({"places.kmz": zipped({"doc.kml": b"<kml><Document><Placemark>"})}, {},
                 ["places.kmz/doc.kml", "cannot read"]),
    # the upload itself
    "empty-geojson": ({"empty.geojson": b""}, {}, ["empty.geojson", "empty"]),
    "empty-csv": ({"empty.csv": b""}, {}, ["empty.csv", "empty"]),
    "unknown-extension": ({"notes.docx": b"PK\x03\x04 not really"}, {}, ["notes.docx", "nothing importable"]),
    "no-extension": ({"data": b"lon,lat\n121.3,25.0\n"}, {}, ["data", "nothing importable"]),
    "hidden-name": ({".hidden.csv": b"lon,lat\n121.3,25.0\n"}, {}, ["unacceptable file name", ".hidden.csv"]),
    "oversized": ({"big.csv": b"lon,lat\n" + b"121.3,25.0\n" * 200}, {"max_bytes": 100},
                  ["big.csv", "2,208 bytes, over the import limit of 100 bytes"]),
    "unknown-crs-option": ({"a.csv": b"lon,lat\n121.3,25.0\n"}, {"crs": "EPSG:99999"}, ["crs", "not a CRS"]),
    # shapefiles
    "shp-missing-shx": (lambda t: without(shapefile_parts(t), ".shx"), {}, ["roads.shp", ".shx missing"]),
    "shp-missing-dbf": (lambda t: without(shapefile_parts(t), ".dbf"), {}, ["roads.shp", ".dbf missing"]),
    "shx-and-dbf-without-shp": (lambda t: without(shapefile_parts(t), ".shp", ".prj", ".cpg"), {},
                                ["roads.dbf", ".shp missing"]),
    "shp-truncated": (lambda t: {**shapefile_parts(t), "roads.shp": shapefile_parts(t)["roads.shp"][:60]}, {},
                      ["roads.shp", "cannot read"]),
    "dbf-truncated": (lambda t: {**without(shapefile_parts(t), ".cpg"), "roads.dbf": b"\x03\x7c\x01"}, {},
                      ["roads.shp", ".dbf", "truncated"]),
    "dbf-bad-encoding": (lambda t: with_dbf_text(t, b"\xff\xfe\xff\xfe"), {},
                         ["roads.shp", "'name'", "record 2", "neither UTF-8 nor Big5"]),
    "shp-without-prj": (lambda t: without(shapefile_parts(t), ".prj"), {},
                        ["roads.shp", "no coordinate reference system", "crs="]),
    "shp-1e20-in-3826": (lambda t: shapefile_in_3826(t, [[250_000, 2_700_000], [1e20, 1e20]]), {},
                         ["far.shp", "outside the area of use", "feature 2", "crs="]),
    # CSV
    "csv-headers-only": ({"sites.csv": csv("name,lon,lat")}, {}, ["sites.csv", "header but no data rows"]),
    "csv-bad-numbers": ({"sites.csv": csv("name,lon,lat", "a,121.3,25.0", "b,121.2E,25.0", "c,,24.9")}, {},
                        ["sites.csv", "'lon'", "rows 3, 4"]),
    "csv-bad-encoding": ({"sites.csv": csv("name,lon,lat", "a,121.3,25.0") + b"\xff\xfe\xfa,121.3,25.0\r\n"}, {},
                         ["sites.csv", "line 3", "neither UTF-8 nor Big5"]),
    "csv-wrong-encoding-given": ({"sites.csv": csv("name,lon,lat", "桃園,121.3,25.0", encoding="cp950")},
                                 {"encoding": "utf-8"}, ["sites.csv", "not valid utf-8"]),
    "csv-nul-bytes": ({"sites.csv": b"name,lon,lat\r\na,121.3,25.0\r\n\x00\x00\x00\r\n"}, {},
                      ["sites.csv", "line 3", "NUL"]),
    "csv-lat-lon-swapped": ({"sites.csv": csv("name,lon,lat", "a,25.0,121.3", "b,24.9,121.2")}, {},
                            ["sites.csv", "outside Taiwan", "rows 2, 3", "swapped"]),
    "csv-infinite": ({"sites.csv": csv("name,lon,lat", "a,121.3,25.0", "b,inf,25.0")}, {},
                     ["sites.csv", "outside Taiwan", "row 3"]),
    "csv-bad-wkt": ({"sites.csv": csv("name,wkt", "a,POINT (121.3 25.0)", '"b","POINT (121.3"')}, {},
                    ["sites.csv", "'wkt'", "not valid WKT", "row 3"]),
    "csv-wkt-1e20": ({"sites.csv": csv("name,wkt", "a,POINT (250000 2700000)", "b,POINT (1e20 1e20)")},
                     {"crs": "3826"}, ["sites.csv", "outside the area of use", "row 3"]),
    # GeoJSON
    "geojson-junk": ({"a.geojson": b"this is not json {"}, {}, ["a.geojson", "cannot read"]),
    "geojson-no-features": ({"a.geojson": geojson()}, {}, ["a.geojson", "no features"]),
    "geojson-wrong-type": ({"a.geojson": b'{"type": "Topology", "objects": 5}'}, {}, ["a.geojson", "cannot read"]),
    "geojson-unknown-geometry": ({"a.geojson": geojson(feature(TAOYUAN, "Circle"))}, {}, ["a.geojson"]),
    "geojson-1e20-in-3826": ({"far.geojson": geojson(feature("[250000, 2700000]"), feature("[1e20, 1e20]"))},
                             {"crs": "3826"}, ["far.geojson", "outside the area of use", "feature 2", "crs="]),
    "geojson-metres-without-crs": ({"twd97.geojson": geojson(feature("[250000, 2700000]"))}, {},
                                   ["twd97.geojson", "outside the area of use", "WGS 84", "feature 1", "crs="]),
    "geojson-lat-lon-swapped": ({"a.geojson": geojson(feature(TAOYUAN), feature("[25.0, 121.3]"))}, {},
                                ["a.geojson", "outside the area of use", "feature 2"]),
    "geojson-infinite": ({"a.geojson": geojson(feature(TAOYUAN), feature("[1e400, 25.0]"))}, {},
                         ["a.geojson", "cannot read", "1e400"]),
    "geojson-degenerate-polygons": ({"a.geojson": geojson(feature(COLLINEAR, "Polygon"))}, {},
                                    ["a.geojson", "no feature has a usable geometry"]),
    "geojson-null-geometries": ({"a.geojson": b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
                                              b'"properties": {"a": 1}, "geometry": null}]}'}, {},
                                ["a.geojson", "no feature has a usable geometry"]),
    # KML, GeoPackage, GeoTIFF
    "kml-junk": ({"a.kml": b"<kml><Document><Placemark><name>x</name>"}, {}, ["a.kml", "cannot read"]),
    "kml-not-xml": ({"a.kml": b"\x00\x01\x02 binary"}, {}, ["a.kml", "cannot read"]),
    "gpkg-junk": ({"a.gpkg": b"SQLite format 3\x00" + b"\x00" * 100}, {}, ["a.gpkg", "not a readable GeoPackage"]),
    "geotiff-truncated": (lambda t: {"dem.tif": geotiff(t)[:300]}, {}, ["dem.tif", "truncated or damaged"]),
    "geotiff-not-a-tiff": ({"dem.tif": b"GIF89a not a tiff"}, {}, ["dem.tif", "not a readable GeoTIFF"]),
    "geotiff-without-crs": (lambda t: {"dem.tif": geotiff(t, crs=None)}, {},
                            ["dem.tif", "no coordinate reference system"]),
    "geotiff-1e20-origin": (lambda t: {"dem.tif": geotiff(t, crs="EPSG:3826", origin=(1e20, 1e20), size=10)}, {},
                            ["dem.tif", "outside the area"]),
}


@pytest.fixture
def clerk():
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")  # the fragments below are the English wording
    client.force_login(User.objects.create(username="malformed-clerk"))  # no password: hashing one is slow
    return client


def tables(schema: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {t for (t,) in cur.fetchall()}


def leftovers(settings) -> set[str]:
    """Files under the upload, work and raster staging folders, and tables in the staging schema."""
    data = Path(settings.DATA_DIR)
    found = {str(p) for folder in ("uploads", "tmp", "media/rasters/_staging") for p in (data / folder).glob("*")}
    return found | {f"layerstaging.{t}" for t in tables("layerstaging")}


def message_of(resp, job_ids) -> tuple[str, list[Job]]:
    if resp.status_code == 400:
        return json.dumps(resp.json(), ensure_ascii=False), []
    assert resp.status_code == 202, resp.content
    jobs = [run_job(i) for i in job_ids]
    assert all(job.status == "failed" for job in jobs), [(j.status, j.errors) for j in jobs]
    return " ".join(e["message"] for job in jobs for e in job.errors), jobs


@pytest.mark.parametrize("case", CASES)
def test_malformed_input_is_refused_by_name_and_leaves_nothing(case, clerk, tmp_path, settings):
    uploads, options, fragments = CASES[case]
    uploads = uploads(tmp_path) if callable(uploads) else uploads
    options = dict(options)
    if "max_bytes" in options:
        settings.IMPORT_MAX_BYTES = options.pop("max_bytes")
    before, layers = leftovers(settings), Layer.objects.count()
    resp = clerk.post("/api/v1/layers/", {"files": [SimpleUploadedFile(n, b) for n, b in uploads.items()],
                                          **options}, format="multipart")
    message, _jobs = message_of(resp, [j["id"] for j in resp.json()] if resp.status_code == 202 else [])
    for fragment in fragments:
        assert fragment in message, message
    assert not SERVER_PATH.search(message), message
    for internal in (str(settings.DATA_DIR), str(settings.MEDIA_ROOT), "/tmp", "Traceback", "internal error"):
        assert internal not in message, message
    assert Layer.objects.count() == layers
    assert leftovers(settings) - before == set()


def test_at_least_forty_malformed_inputs():
    assert len(CASES) >= 40
