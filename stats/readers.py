"""Reading a statistical table into header, captions and rows, whatever it came as: CSV (UTF-8 or Big5, title rows
above the header, a second header row of Chinese captions), XLSX, ODS, a SEGIS package (Info.ini + Schema.ini +
its data.csv or SEGIS web-service JSON), or the household registry's open-data JSON (a bare list, its API page
`{responseData: […]}`, or a merged `{data: […]}`).

A reader only finds the grid; stats.tables gives the columns their types and meanings.
"""

import configparser
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from geo.messages import text as note
from layers.importing.encoding import text_file_encoding
from layers.importing.errors import ImportProblem
from layers.importing.sources import safe_extract

from . import parsing

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".ods": "ods", ".json": "json", ".dbf": "dbf",
           ".zip": "zip", ".ini": "ini"}
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Grid:
    """A table as read: header names, their captions (Chinese names, units), and rows with their line numbers."""

    name: str  # the file as the user knows it
    header: list[str]
    rows: list[tuple[int, list]]  # (line or row number in the file, cells)
    captions: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # Info.ini, SEGIS Info: product, period, unit code …
    messages: list[dict] = field(default_factory=list)
    fmt: str = ""


def read_upload(folder: Path, names: list[str], work: Path) -> Grid:
    """The one statistical table among the uploaded files (a SEGIS package's files count as one)."""
    files = [folder / n for n in names]
    archives = [f for f in files if f.suffix.lower() == ".zip"]
    for archive in archives:
        files.remove(archive)
        files += [p for p in safe_extract(archive, archive.name, work / archive.stem) if p.is_file()]
    by_lower = {f.name.lower(): f for f in files}
    if "schema.ini" in by_lower or "info.ini" in by_lower:
        return read_segis_package(by_lower, names[0] if len(names) == 1 else "SEGIS")
    data = [f for f in files if f.suffix.lower() in FORMATS and f.suffix.lower() not in (".ini", ".zip")]
    if len(data) != 1:
        listed = ", ".join(f.name for f in files)
        raise ImportProblem("一次匯入一份統計表（CSV、XLSX、ODS、JSON 或 SEGIS 套件）；收到：{files}", files=listed)
    return read_file(data[0], data[0].name)


def read_file(path: Path, name: str) -> Grid:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt == "csv":
        return _with_header(name, _csv_rows(path.read_bytes(), name), "csv")
    if fmt == "xlsx":
        return _with_header(name, _xlsx_rows(path, name), "xlsx")
    if fmt == "ods":
        return _with_header(name, _ods_rows(path, name), "ods")
    if fmt == "json":
        return read_json(path.read_bytes(), name)
    if fmt == "dbf":
        return read_dbf(path, name)
    raise ImportProblem("不支援的統計表格式 {ext}；請用 CSV、XLSX、ODS、JSON 或 SEGIS 套件", ext=path.suffix or "?",
                        file=name)


def raw_rows(path: Path, name: str) -> list[tuple[int, list]]:
    """Every row of a CSV, XLSX or ODS file as it is, numbered by its line or row (no header found): for readers that
    find their own columns (events.importing)."""
    readers = {"csv": lambda: _csv_rows(path.read_bytes(), name), "xlsx": lambda: _xlsx_rows(path, name),
               "ods": lambda: _ods_rows(path, name)}
    fmt = FORMATS.get(path.suffix.lower())
    if fmt not in readers:
        raise ImportProblem("不支援的格式 {ext}；請用 CSV、XLSX 或 ODS", ext=path.suffix or "?", file=name)
    return readers[fmt]()


# --- CSV, XLSX, ODS ---------------------------------------------------------------------------------------------

def _csv_rows(raw: bytes, name: str) -> list[tuple[int, list]]:
    encoding, _how = text_file_encoding(raw, name)
    text = raw.decode(encoding)
    if "\0" in text:
        raise ImportProblem("檔案含有 NUL 字元，不是文字；這真的是 CSV 檔嗎？", file=name)
    return [(i + 1, row) for i, row in enumerate(csv.reader(io.StringIO(text, newline="")))]


def _xlsx_rows(path: Path, name: str) -> list[tuple[int, list]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise ImportProblem("無法讀取 XLSX 活頁簿（檔案已損壞或不是 .xlsx）", file=name) from exc
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        return [(i + 1, ["" if v is None else v for v in row]) for i, row in enumerate(rows)]
    finally:
        book.close()


_ODS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}
_REPEAT_LIMIT = 1000  # a trailing empty cell "repeated 16384 times" is formatting, not data


def _ods_rows(path: Path, name: str) -> list[tuple[int, list]]:
    """The first sheet of an OpenDocument spreadsheet (content.xml read with lxml: no extra dependency)."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as content:
            tree = etree.parse(content, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as exc:
        raise ImportProblem("無法讀取 ODS 試算表（檔案已損壞或不是 .ods）", file=name) from exc
    table = tree.find(".//table:table", _ODS)
    if table is None:
        raise ImportProblem("ODS 試算表中沒有工作表", file=name)
    t = "{" + _ODS["table"] + "}"
    office = "{" + _ODS["office"] + "}"
    rows, number = [], 0
    for row in table.iter(t + "table-row"):
        repeat = min(int(row.get(t + "number-rows-repeated", "1")), _REPEAT_LIMIT)
        cells = []
        for cell in row:
            if cell.tag not in (t + "table-cell", t + "covered-table-cell"):
                continue
            times = min(int(cell.get(t + "number-columns-repeated", "1")), _REPEAT_LIMIT)
            kind = cell.get(office + "value-type")
            if kind in ("float", "percentage", "currency"):
                value = float(cell.get(office + "value"))
            elif kind == "date":
                value = cell.get(office + "date-value")
            else:
                value = "\n".join("".join(p.itertext()) for p in cell.findall("text:p", _ODS))
            cells += [value] * times
        while cells and cells[-1] in ("", None):
            cells.pop()
        for _ in range(repeat):
            number += 1
            rows.append((number, list(cells)))
    return rows


def _filled(row: list) -> int:
    return sum(1 for c in row if str(c).strip())


def _is_caption_row(row: list, header: list[str]) -> bool:
    """A second header row: Chinese names under English ones, no figures among them."""
    cells = [str(c).strip() for c in row]
    texts = [c for c in cells if c]
    if not texts or any(parsing.is_number(c) for c in texts):
        return False
    return sum(1 for c in texts if _CJK.search(c)) >= max(1, len(texts) // 2) and \
        not any(_CJK.search(h) for h in header if h)


def _with_header(name: str, numbered: list[tuple[int, list]], fmt: str) -> Grid:
    """Find the header below any title rows (a title fills one or two cells of a wide table), then the optional
    Chinese caption row; drop notes at the end (資料來源、說明: one cell in a wide table)."""
    numbered = [(n, list(r)) for n, r in numbered if _filled(r)]
    if not numbered:
        raise ImportProblem("統計表沒有任何資料列", file=name)
    width = max(_filled(r) for _n, r in numbered[:50])
    messages = []
    start = 0
    while start < len(numbered) - 1 and _filled(numbered[start][1]) < max(2, (width + 1) // 2):
        start += 1
    if start:
        messages.append(note("略過第 {line} 行欄位名稱前的 {n} 列標題", n=start, line=numbered[start][0]))
    line, header_row = numbered[start]
    header = [str(c).strip() for c in header_row]
    while header and not header[-1]:
        header.pop()
    header = [h or f"column_{i + 1}" for i, h in enumerate(header)]
    body = numbered[start + 1:]
    captions = [""] * len(header)
    if body and _is_caption_row(body[0][1], header):
        captions = [str(c).strip() for c in body[0][1][:len(header)]] + [""] * max(0, len(header) - len(body[0][1]))
        messages.append(note("第 {line} 行是中文欄位名稱，不是資料", line=body[0][0]))
        body = body[1:]
    notes = []
    while body and _filled(body[-1][1]) == 1 and len(header) > 2 and not parsing.is_number(body[-1][1][0]):
        notes.append(body.pop()[0])
    if notes:
        messages.append(note("略過表末 {n} 列附註（第 {lines} 行）", n=len(notes),
                             lines=", ".join(str(n) for n in sorted(notes))))
    rows = [(n, (r + [""] * len(header))[:len(header)]) for n, r in body]
    if not rows:
        raise ImportProblem("統計表只有欄位名稱，沒有資料列（欄位名稱在第 {line} 行）", line=line, file=name)
    return Grid(name, header, rows, captions, messages=messages, fmt=fmt)


def read_dbf(path: Path, name: str) -> Grid:
    """A dBASE table (SEGIS ships its figures as a Big5 .DBF without .cpg): its encoding found as for shapefiles."""
    import pyogrio

    from layers.importing.encoding import shapefile_encoding

    encoding, _how = shapefile_encoding(path, name)
    try:
        frame = pyogrio.read_dataframe(path, encoding=encoding, read_geometry=False)
    except Exception as exc:  # noqa: BLE001 - GDAL's errors name the server's path: say it in our words
        raise ImportProblem("無法讀取 .dbf 表格（檔案已損壞或不完整）", file=name) from exc
    header = [str(c) for c in frame.columns]
    rows = [(i + 1, ["" if v is None or v != v else v for v in row])
            for i, row in enumerate(frame.itertuples(index=False, name=None))]
    if not rows:
        raise ImportProblem("統計表沒有任何資料列", file=name)
    return Grid(name, header, rows, [""] * len(header), fmt="dbf")


# --- JSON: SEGIS web service and the household registry --------------------------------------------------------

def read_json(raw: bytes, name: str) -> Grid:
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ImportProblem("不是有效的 UTF-8 JSON{where}", where=where, file=name) from exc
    if isinstance(doc, dict) and "RowDataList" in doc:
        return _segis_json(doc, name)
    records = doc
    meta = {}
    if isinstance(doc, dict):
        for key in ("data", "responseData", "records", "result"):
            if isinstance(doc.get(key), list):
                records = doc[key]
                meta = {k: v for k, v in doc.items() if k != key and isinstance(v, str | int | float)}
                break
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise ImportProblem("JSON 中找不到資料列：需要一串物件（或其 data / responseData / RowDataList）", file=name)
    header = list(dict.fromkeys(k for r in records for k in r))
    rows = [(i + 1, [r.get(h, "") for h in header]) for i, r in enumerate(records)]
    return Grid(name, header, rows, [""] * len(header), meta=meta, fmt="json")


def _segis_json(doc: dict, name: str) -> Grid:
    columns = doc.get("ColumnList") or []
    records = doc.get("RowDataList") or []
    if not records:
        raise ImportProblem("SEGIS JSON 的 RowDataList 是空的", file=name)
    header = [c.get("COLUMN_NAME", "") for c in columns] or list(records[0])
    captions = [c.get("COLUMN_DESC") or "" for c in columns] or [""] * len(header)
    units = [c.get("DISPLAY_UNIT") or "" for c in columns] or [""] * len(header)
    extra = [k for k in dict.fromkeys(k for r in records[:100] for k in r) if k not in header]
    header += extra
    captions += [""] * len(extra)
    units += [""] * len(extra)
    rows = [(i + 1, [r.get(h, "") for h in header]) for i, r in enumerate(records)]
    info = (doc.get("Info") or [{}])[0]
    meta = {"segis_unit": info.get("InSTUnitCode", ""), "segis_product": info.get("InMetaDatCode", ""),
            "county": info.get("InCountyId", "")}
    if str(info.get("OutTotal", "")).isdigit() and int(info["OutTotal"]) != len(records):
        raise ImportProblem("SEGIS JSON 說有 {total} 列（OutTotal），實有 {n} 列；檔案不完整", total=info["OutTotal"],
                            n=len(records), file=name)
    return Grid(name, header, rows, captions, units, meta, fmt="segis-json")


# --- SEGIS package: Info.ini + Schema.ini + data ----------------------------------------------------------------

def _ini(path: Path) -> configparser.ConfigParser:
    raw = path.read_bytes()
    encoding, _how = text_file_encoding(raw, path.name)
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keep the keys as written (Chinese)
    try:
        parser.read_string(raw.decode(encoding))
    except configparser.Error as exc:
        raise ImportProblem("無法讀取 {ini}：{why}", ini=path.name, why=str(exc).splitlines()[0], file=path.name) \
            from exc
    return parser


def read_segis_package(files: dict[str, Path], name: str) -> Grid:
    """Schema.ini names the data file, how many rows to skip (跳脫行數: the header and its caption row), the
    columns, and each column's Chinese name and units; Info.ini the product, its period and its area unit."""
    if "schema.ini" not in files:
        raise ImportProblem("SEGIS 套件缺少 Schema.ini（與 Info.ini、資料檔一起上傳或壓縮成 zip）", file=name)
    schema = _ini(files["schema.ini"])
    fmt_section = schema["檔案格式資訊"] if schema.has_section("檔案格式資訊") else {}
    columns = [c.strip() for c in fmt_section.get("欄位清單", "").split(",") if c.strip()]
    data_name = fmt_section.get("檔案名稱", "").strip()
    data = files.get(data_name.lower()) or next(
        (p for key, p in files.items() if key.endswith((".csv", ".json", ".txt", ".dbf"))), None)
    if data is None:
        raise ImportProblem("SEGIS 套件缺少資料檔 {data}（Schema.ini 的檔案名稱）", data=data_name or "data.csv",
                            file=name)
    meta = {}
    if "info.ini" in files:
        info = _ini(files["info.ini"])
        product = info["產品資訊"] if info.has_section("產品資訊") else {}
        meta = {"segis_product": product.get("詮釋資料", ""), "title": product.get("產品名稱", ""),
                "period": product.get("資料時間", ""), "segis_unit": product.get("空間統計單元代碼", "")}
    if data.suffix.lower() == ".json":
        grid = read_json(data.read_bytes(), data.name)
    elif data.suffix.lower() == ".dbf":  # the figures exported as a table (or taken from the SHP package)
        grid = read_dbf(data, data.name)
    else:
        numbered = _csv_rows(data.read_bytes(), data.name)
        if columns and numbered and [str(c).strip() for c in numbered[0][1]] != columns:
            found = ", ".join(str(c) for c in numbered[0][1][:12])
            raise ImportProblem("資料檔的欄位（{found}）與 Schema.ini 的欄位清單（{wanted}）不符", found=found,
                                wanted=", ".join(columns), file=data.name, rows=[numbered[0][0]])
        grid = _with_header(data.name, numbered, "segis")
    captions, units = [], []
    for i, column in enumerate(grid.header):
        section = schema[column] if schema.has_section(column) else {}
        captions.append(section.get("中文欄位名", "") or (grid.captions[i] if i < len(grid.captions) else ""))
        units.append(section.get("顯示計量單位", "") or section.get("原始計量單位", ""))
    grid.captions, grid.units = captions, units
    grid.meta = {**grid.meta, **{k: v for k, v in meta.items() if v}}
    grid.fmt = "segis"
    # a caption row that _with_header did not recognise (the header itself was Chinese-free but so were no cells):
    # SEGIS writes it under the header; the row whose code column holds the column's Chinese name is not data
    grid.rows = [(n, r) for n, r in grid.rows
                 if not any(c and str(v).strip() == c for v, c in zip(r, captions, strict=False))]
    return grid
