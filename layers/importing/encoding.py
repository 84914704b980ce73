"""Which text encoding a Taiwanese file uses: UTF-8 or Big5 (Windows code page 950), never a silent guess."""

import struct
from pathlib import Path

from geo.messages import text as note

from .errors import ImportProblem

CANDIDATES = ("utf-8", "cp950")
# dBASE "language driver" byte → encoding, for the ids Taiwanese shapefiles carry
DBF_LANGUAGE_DRIVERS = {0x4F: "cp950", 0x78: "cp950"}
CPG_ALIASES = {"utf-8": "utf-8", "utf8": "utf-8", "65001": "utf-8", "big5": "cp950", "950": "cp950",
               "cp950": "cp950", "ansi 950": "cp950", "ms950": "cp950"}


def decodes(data: bytes, encoding: str, truncated_ok: bool = False) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError as exc:
        # a fixed-width dBASE field may cut a multi-byte character in half at its end
        return truncated_ok and exc.reason == "unexpected end of data" and exc.start >= len(data) - 3


def shapefile_encoding(shp: Path, name: str) -> tuple[str, str]:
    """(encoding, how we know) for a shapefile's .dbf: from .cpg, the language driver byte, or the bytes."""
    for cpg in shp.parent.glob(shp.stem + ".*"):
        if cpg.suffix.lower() == ".cpg" and cpg.stem == shp.stem:
            declared = cpg.read_text(errors="replace").strip().lower()
            if declared in CPG_ALIASES:
                return CPG_ALIASES[declared], note(".cpg 註明 {encoding}", encoding=declared)
    dbf = next(p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".dbf" and p.stem == shp.stem)
    raw = dbf.read_bytes()
    if len(raw) < 32:
        raise ImportProblem(".dbf 檔案不完整（比它的檔頭還短）", file=name)
    ldid = raw[29]
    fields = _dbf_text_values(raw, name)
    non_ascii = [(row, field, value) for row, field, value in fields if any(b > 0x7F for b in value)]
    if not non_ascii:
        return "utf-8", note("文字全是 ASCII")
    for encoding in CANDIDATES:
        if all(decodes(value, encoding, truncated_ok=True) for _r, _f, value in non_ascii):
            if encoding == "utf-8":
                return encoding, note("文字可解碼為 UTF-8")
            how = note("語言驅動位元組 0x4F（Big5）") if DBF_LANGUAGE_DRIVERS.get(ldid) == "cp950" else \
                note("文字可解碼為 Big5，不是 UTF-8")
            return encoding, how
    row, field, _value = next((r, f, v) for r, f, v in non_ascii
                              if not any(decodes(v, e, truncated_ok=True) for e in CANDIDATES))
    raise ImportProblem("欄位 {name} 第 {row} 筆的文字既不是 UTF-8 也不是 Big5；請將 .dbf 存成 UTF-8，或加上註明編碼的 "
                        ".cpg 檔", name=repr(field), row=row, file=name, rows=[row], field=field)


def _dbf_text_values(raw: bytes, name: str):
    """(record number, field name, raw bytes) of every character field of a dBASE file."""
    try:
        n_records, header_len, record_len = struct.unpack("<IHH", raw[4:12])
        fields, pos, offset = [], 32, 1
        while pos + 32 <= header_len and raw[pos] != 0x0D:
            fname = raw[pos:pos + 11].split(b"\0")[0].decode("ascii", "replace")
            ftype, flen = chr(raw[pos + 11]), raw[pos + 16]
            if ftype == "C":
                fields.append((fname, offset, flen))
            offset += flen
            pos += 32
    except struct.error as exc:
        raise ImportProblem(".dbf 檔頭無法讀取", file=name) from exc
    for row in range(n_records):
        start = header_len + row * record_len
        record = raw[start:start + record_len]
        if len(record) < record_len:
            break
        for fname, off, flen in fields:
            yield row + 1, fname, record[off:off + flen].rstrip(b" \0")


def text_file_encoding(data: bytes, name: str) -> tuple[str, str]:
    """Encoding of a text file (CSV): UTF-8 (with or without BOM) or Big5; else an error naming the line."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", note("UTF-8 位元組順序標記")
    if decodes(data, "utf-8"):
        return "utf-8", note("文字可解碼為 UTF-8")
    if decodes(data, "cp950"):
        return "cp950", note("文字可解碼為 Big5，不是 UTF-8")
    try:
        data.decode("cp950")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + data[: exc.start].count(b"\r") - data[: exc.start].count(b"\r\n") + 1
        raise ImportProblem("第 {line} 行既不是 UTF-8 也不是 Big5 文字；請將檔案存成 UTF-8", line=line,
                            file=name, rows=[line]) from exc
    raise AssertionError("unreachable")
