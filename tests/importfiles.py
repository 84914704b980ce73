"""Files the import tests make themselves, in every supported format, with known content."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from rasterio.transform import from_origin

# Three Taoyuan places with Chinese names (lon/lat); their TWD97 TM2 coordinates are checked after import.
PLACES = [("桃園車站", 121.3130, 24.9893, 12), ("中壢車站", 121.2256, 24.9537, 7), ("石門水庫", 121.2445, 24.8130, 3)]


def places_lonlat() -> tuple[np.ndarray, dict]:
    geoms = shapely.points([(lon, lat) for _n, lon, lat, _k in PLACES])
    fields = {"name": np.array([p[0] for p in PLACES], dtype=object), "rank": np.array([p[3] for p in PLACES])}
    return geoms, fields


def write_vector(path: Path, geoms, fields: dict, crs: str | None, driver: str, layer: str | None = None,
                 encoding: str | None = None, append: bool = False) -> Path:
    gtype = shapely.get_type_id(geoms[0])
    names = {0: "Point", 1: "LineString", 3: "Polygon", 6: "MultiPolygon"}
    pyogrio.raw.write(str(path), shapely.to_wkb(geoms), list(fields.values()), list(fields), driver=driver,
                      geometry_type=names[gtype], crs=crs, layer=layer, encoding=encoding, append=append)
    return path


def shapefile(folder: Path, stem: str, *, encoding="utf-8", keep_cpg=True, keep_prj=True, crs="EPSG:4326",
              geoms=None, fields=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if geoms is None:
        geoms, fields = places_lonlat()
    shp = write_vector(folder / f"{stem}.shp", geoms, fields, crs, "ESRI Shapefile", encoding=encoding)
    if not keep_cpg:
        (folder / f"{stem}.cpg").unlink(missing_ok=True)
    if not keep_prj:
        (folder / f"{stem}.prj").unlink(missing_ok=True)
    return shp


def zip_folder(folder: Path, out: Path, arcnames: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, (arcnames or {}).get(f.name, f.name))
    return out


def geopackage(path: Path) -> Path:
    """Two layers in EPSG:3826: three points and two squares (one invalid bow-tie)."""
    geoms, fields = places_lonlat()
    from geo.crs import transform

    write_vector(path, transform(geoms, 4326, 3826), fields, "EPSG:3826", "GPKG", layer="places")
    squares = np.array([shapely.box(280_000, 2_765_000, 280_100, 2_765_100),
                        shapely.Polygon([(281_000, 2_765_000), (281_100, 2_765_100), (281_100, 2_765_000),
                                         (281_000, 2_765_100)])])
    write_vector(path, squares, {"zone": np.array(["甲", "乙"], dtype=object)}, "EPSG:3826", "GPKG",
                 layer="zones", append=True)
    return path


def kml(path: Path) -> Path:
    geoms, fields = places_lonlat()
    return write_vector(path, geoms, {"Name": fields["name"]}, "EPSG:4326", "KML")


def kmz(path: Path, kml_path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(kml_path, "doc.kml")
    return path


def csv_bytes(header: list[str], rows: list[list], encoding="utf-8", title: str | None = None,
              newline="\r\n") -> bytes:
    lines = ([title] if title else []) + [",".join(header)] + [",".join(map(str, r)) for r in rows]
    return (newline.join(lines) + newline).encode(encoding)


def geotiff(path: Path, crs: str | None = "EPSG:4326") -> Path:
    """A 40×30 lon/lat elevation grid over Taoyuan, values 0..1199 m row by row."""
    data = np.arange(1200, dtype="float32").reshape(30, 40)
    profile = {"driver": "GTiff", "width": 40, "height": 30, "count": 1, "dtype": "float32",
               "transform": from_origin(121.2, 25.0, 0.001, 0.001)}
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()
