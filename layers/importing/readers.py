"""Reading a source into arrays: geometries, typed attribute columns, and the CRS the data is in."""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.crs import TAIWAN_LONLAT_BOUNDS
from geo.messages import text as note

from .encoding import shapefile_encoding, text_file_encoding
from .errors import ImportProblem, NeedsCRS, row_list
from .sources import Source


@dataclass
class Column:
    source_name: str
    pgtype: str
    values: np.ndarray | list


SIMPLE_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}


@dataclass
class FeatureData:
    source: Source
    points: np.ndarray | None  # shapely geometries made while reading (CSV); files keep their WKB instead
    columns: list[Column]
    crs: CRS | None
    crs_note: dict | str = ""  # how the CRS was found: a geo.messages text
    messages: list[str] = field(default_factory=list)
    wkb: object = None  # the file's own WKB (a pyarrow BinaryArray), when it has some
    declared_type: str | None = None  # the geometry type the file declares for its layer, if a simple 2D one
    row_numbers: list[int] | None = None  # each row's line in a text file (CSV); features are numbered from 1

    @property
    def has_geometry(self) -> bool:
        return self.points is not None or self.wkb is not None

    @cached_property
    def geoms(self) -> np.ndarray | None:
        """Shapely geometries, parsed from the WKB on first use (a clean file on the fast path is never parsed)."""
        if self.points is not None or self.wkb is None:
            return self.points
        return shapely.from_wkb(self.wkb.to_numpy(zero_copy_only=False), on_invalid="warn")

    def __len__(self) -> int:
        if self.wkb is not None:
            return len(self.wkb)
        if self.points is not None:
            return len(self.points)
        return len(self.columns[0].values) if self.columns else 0


def parse_crs(text: str | int, what: dict, file: str) -> CRS:
    try:
        crs = CRS.from_user_input(f"EPSG:{text}" if str(text).isdigit() else text)
    except CRSError as exc:
        raise ImportProblem("{what} {crs} 不是 PROJ 認得的坐標系統", what=what, crs=repr(str(text)[:80]),
                            file=file) from exc
    # An ESRI .prj names a datum ("D_TWD_1967") without its shift to WGS84/TWD97; the EPSG definition carries
    # it, so a recognised CRS is reprojected through EPSG's transformations (~850 m matter for TWD67).
    code = crs.to_epsg(min_confidence=70)
    return CRS.from_epsg(code) if code else crs


def read_features(source: Source, crs_hint: str | None = None, encoding: str | None = None) -> FeatureData:
    if source.format == "csv":
        data = read_csv(source, crs_hint, encoding)
    else:
        data = read_ogr(source, encoding)
        if crs_hint:
            hinted = parse_crs(crs_hint, note("指定的坐標系統"), source.name)
            if data.crs is not None and data.crs != hinted:
                data.messages.append(note("檔案註明 {file_crs}；改用指定的坐標系統：{given}", file_crs=data.crs.name,
                                                   given=hinted.name))
            data.crs, data.crs_note = hinted, note("匯入時指定")
    if data.has_geometry and data.crs is None and source.format == "geojson" and _all_degrees(data.geoms):
        # GeoJSON (RFC 7946) and TopoJSON coordinates are lon/lat unless said otherwise; say that we read them so.
        data.crs = CRS.from_epsg(4326)
        data.crs_note = note("檔案沒有坐標系統；坐標是度數，以經緯度讀取")
    if data.has_geometry and data.crs is None:
        raise NeedsCRS("資料沒有坐標參考系統（沒有 .prj，檔案中也沒有）；請重新匯入並指定坐標系統，"
                       "如 TWD97 TM2 用 crs=3826、經緯度用 crs=4326", file=source.name)
    return data


def _all_degrees(geoms: np.ndarray) -> bool:
    xy = shapely.get_coordinates(geoms)
    return bool(len(xy)) and bool(np.all(np.abs(xy[:, 0]) <= 180) and np.all(np.abs(xy[:, 1]) <= 90))


# --- GDAL-readable formats -----------------------------------------------------------------------------------

def read_ogr(source: Source, encoding: str | None) -> FeatureData:
    messages = []
    if source.format in ("shapefile", "dbf") and not encoding:
        encoding, how = shapefile_encoding(source.path, source.name)
        messages.append(note("文字編碼 {encoding}（{how}）", encoding=encoding, how=how))
    try:
        # Arrow keeps text and WKB in flat buffers: no Python object per value (~9× faster on 200k parcels)
        meta, table = pyogrio.raw.read_arrow(source.path, layer=source.layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ImportProblem("文字不是有效的 {encoding}：{reason}", encoding=encoding or "UTF-8",
                            reason=exc.reason, file=source.name) from exc
    except Exception as exc:  # pyogrio raises DataSourceError/DataLayerError/GEOSException … all mean unreadable
        raise ImportProblem("無法讀取這個檔案：{why}", why=_gdal_message(exc), file=source.name) from exc
    columns = [_column(str(name), table.column(str(name)).combine_chunks()) for name in meta["fields"]]
    geometry_name = meta.get("geometry_name") or "wkb_geometry"
    wkb = None
    if meta.get("geometry_type") and geometry_name in table.column_names:
        wkb = table.column(geometry_name).combine_chunks()
        if not len(wkb):
            raise ImportProblem("圖層沒有任何圖徵", file=source.name)
    crs = None
    if meta.get("crs"):
        crs = parse_crs(meta["crs"], note("檔案的坐標系統"), source.name)
    declared = meta.get("geometry_type") if meta.get("geometry_type") in SIMPLE_TYPES else None
    return FeatureData(source, None, columns, crs, note("來自檔案") if crs else "", messages, wkb, declared)


def _gdal_message(exc: Exception) -> str:
    # GDAL's advice to prefix a driver name is for its command-line users, not for someone uploading a file
    return str(exc).split("\n")[0].split("; It might help to specify")[0][:300]


def _column(name: str, array) -> Column:
    """A column read through Arrow, with the PostgreSQL type that holds its values."""
    import pyarrow as pa

    kind = array.type
    if pa.types.is_boolean(kind):
        pgtype = "boolean"
    elif pa.types.is_integer(kind):
        pgtype = "bigint" if kind.bit_width > 32 or kind == pa.uint32() else "integer"
    elif pa.types.is_floating(kind):
        pgtype = "double precision"
    elif pa.types.is_date(kind):
        pgtype = "date"
    elif pa.types.is_timestamp(kind):
        pgtype = "timestamptz"
    elif pa.types.is_nested(kind):  # lists and structs (GeoJSON arrays/objects): kept as JSON text
        pgtype = "text"
        array = pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                          for v in array.to_pylist()], pa.string())
    else:
        pgtype = "text"
    return Column(name, pgtype, array)


# --- CSV with coordinate columns or WKT --------------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[\s_()（）\-.:：]", "", name).lower().replace("座", "坐")


LON_NAMES = {"lon", "lng", "long", "longitude", "經度", "wgs84經度", "經度wgs84", "xwgs84", "wgs84x"}
LAT_NAMES = {"lat", "latitude", "緯度", "wgs84緯度", "緯度wgs84", "ywgs84", "wgs84y"}
X_NAMES = {"x", "x坐標", "坐標x", "twd97x", "xtwd97", "x坐標twd97", "坐標xtwd97", "twd97x坐標", "橫坐標", "easting",
           "twd67x", "xtwd67", "x坐標twd67", "坐標xtwd67"}
Y_NAMES = {"y", "y坐標", "坐標y", "twd97y", "ytwd97", "y坐標twd97", "坐標ytwd97", "twd97y坐標", "縱坐標", "northing",
           "twd67y", "ytwd67", "y坐標twd67", "坐標ytwd67"}
WKT_NAMES = {"wkt", "geom", "geometry", "the_geom", "thegeom", "shape", "幾何"}


def _find(header: list[str], names: set[str]) -> int | None:
    for i, h in enumerate(header):
        if _norm(h) in names:
            return i
    return None


def read_csv(source: Source, crs_hint: str | None, encoding: str | None) -> FeatureData:
    raw = source.path.read_bytes()
    messages = []
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ImportProblem("檔案不是有效的 {encoding} 文字", encoding=encoding, file=source.name) from exc
    else:
        encoding, how = text_file_encoding(raw, source.name)
        text = raw.decode(encoding)
        messages.append(note("文字編碼 {encoding}（{how}）", encoding=encoding, how=how))
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ImportProblem("第 {line} 行含有 NUL 字元，不是文字；這真的是 CSV 檔嗎？", line=line,
                            file=source.name, rows=[line])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows_numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows_numbered:
        raise ImportProblem("CSV 檔沒有任何資料列", file=source.name)

    found = _find_header(rows_numbered[:5])
    if found:
        header_pos, line_no, header, (lon, lat, x, y, wkt) = found
    else:
        header_pos, (line_no, header) = 0, rows_numbered[0]
        lon = lat = x = y = wkt = None
        messages.append(note("沒有坐標欄位（lon/lat、經度/緯度、X/Y、TWD97X/TWD97Y 或 WKT）：匯入為沒有圖形的表格"))
    if header_pos:
        messages.append(note("略過第 {line} 行欄位名稱前的 {n} 列標題", n=header_pos, line=line_no))
    body = rows_numbered[header_pos + 1:]
    if not body:
        raise ImportProblem("CSV 檔只有欄位名稱，沒有資料列", file=source.name)
    width = len(header)
    short = [n for n, r in body if len(r) < width and len(r) > 0]
    body = [(n, r + [""] * (width - len(r))) for n, r in body]
    if short:
        messages.append(note("{n} 列欄位不足，以空值補齊（{which}）", n=len(short), which=row_list(short)))

    line_numbers = [n for n, _r in body]
    geoms, crs, crs_note, coord_cols = None, None, "", set()
    if {lon, lat, x, y, wkt} == {None}:
        pass
    elif wkt is not None and not ((lon is not None and lat is not None) or (x is not None and y is not None)):
        geoms = _wkt_geometries(source, body, header, wkt)
        coords = shapely.get_coordinates(geoms)
        crs, crs_note = _csv_crs(source, header[wkt], "", coords[:, 0], coords[:, 1], False, crs_hint)
        coord_cols = {wkt}
    else:
        use_lonlat = lon is not None and lat is not None
        cx, cy = (lon, lat) if use_lonlat else (x, y)
        xs, ys = _numbers(source, body, header, cx), _numbers(source, body, header, cy)
        crs, crs_note = _csv_crs(source, header[cx], header[cy], xs, ys, use_lonlat, crs_hint)
        _check_plausible(source, crs, xs, ys, line_numbers)
        geoms = shapely.points(xs, ys)
        coord_cols = {cx, cy}
    columns = [_typed_column(h, [r[i] for _n, r in body]) for i, h in enumerate(header) if i not in coord_cols]
    return FeatureData(source, geoms, columns, crs, crs_note, messages, row_numbers=line_numbers)


def _find_header(rows):
    """The first of the leading rows that names coordinate or WKT columns (a title row may come before it)."""
    for pos, (line_no, header) in enumerate(rows):
        cols = (_find(header, LON_NAMES), _find(header, LAT_NAMES), _find(header, X_NAMES), _find(header, Y_NAMES),
                _find(header, WKT_NAMES))
        lon, lat, x, y, wkt = cols
        if (lon is not None and lat is not None) or (x is not None and y is not None) or wkt is not None:
            return pos, line_no, header, cols
    return None


def _numbers(source: Source, body, header, col: int) -> np.ndarray:
    out, bad = np.empty(len(body)), []
    for k, (line, row) in enumerate(body):
        try:
            out[k] = float(row[col].strip().replace(",", ""))
        except ValueError:
            bad.append(line)
    if bad:
        raise ImportProblem("欄位 {name} 在{which}不是數字", name=repr(header[col]), which=row_list(bad),
                            file=source.name, rows=bad, field=header[col])
    return out


def _csv_crs(source, xname, yname, xs, ys, lonlat, crs_hint) -> tuple[CRS, str]:
    """The CRS of coordinate columns: given, or read from their names and value ranges — and said so."""
    cols = note("欄位 {x}/{y}", x=xname, y=yname) if yname else note("欄位 {x}", x=xname)
    if crs_hint:
        return parse_crs(crs_hint, note("指定的坐標系統"), source.name), note("匯入時指定")
    if lonlat:
        return CRS.from_epsg(4326), note("WGS84 經緯度（{cols}）", cols=cols)
    if "67" in _norm(xname + yname):
        return CRS.from_epsg(3828), note("TWD67 TM2（{cols}註明 TWD67）", cols=cols)
    if np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90):
        return CRS.from_epsg(4326), note("WGS84 經緯度（{cols}是度數）", cols=cols)
    if np.all((xs > 100_000) & (xs < 400_000)):
        return CRS.from_epsg(3826), note("TWD97 TM2 121 分帶（{cols}是 TM2 公尺）", cols=cols)
    raise NeedsCRS("{cols}既不是度數也不是 TWD97 TM2 公尺；請重新匯入並指定坐標系統（例如澎湖／金門 TM2 用 crs=3825）",
                   cols=cols, file=source.name)


def _check_plausible(source, crs: CRS, xs, ys, lines) -> None:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(xs, ys)
    west, south, east, north = TAIWAN_LONLAT_BOUNDS
    outside = ~((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
    if outside.any():
        bad = [lines[i] for i in np.flatnonzero(outside)]
        swapped = note("（X 與 Y，或經度與緯度，是否對調了？）") if np.mean(
            (ys >= west) & (ys <= east) & (xs >= south) & (xs <= north)) > 0.5 else ""
        raise ImportProblem("{which}的坐標落在臺灣之外{swapped}；以 {crs} 讀取", which=row_list(bad), swapped=swapped,
                            crs=crs.name, file=source.name, rows=bad)


def _wkt_geometries(source, body, header, col) -> np.ndarray:
    texts = [r[col] for _n, r in body]
    geoms = shapely.from_wkt(texts, on_invalid="ignore")
    bad = [line for (line, _r), g, t in zip(body, geoms, texts, strict=True) if g is None and t.strip()]
    if bad:
        raise ImportProblem("欄位 {name} 在{which}不是有效的 WKT", name=repr(header[col]), which=row_list(bad),
                            file=source.name, rows=bad, field=header[col])
    return geoms


def _typed_column(name: str, texts: list[str]) -> Column:
    """Integer, float or text, whichever every non-empty value fits; empty cells become NULL."""
    stripped = [t.strip() for t in texts]
    present = [t for t in stripped if t]
    if present and all(re.fullmatch(r"[+-]?\d{1,18}", t) for t in present) and not any(
            len(t.lstrip("+-")) > 1 and t.lstrip("+-").startswith("0") for t in present):
        return Column(name, "bigint", [int(t) if t else None for t in stripped])
    if present:
        try:
            return Column(name, "double precision", [float(t) if t else None for t in stripped])
        except ValueError:
            pass
    return Column(name, "text", [t if t else None for t in stripped])
