"""What is in an upload or a batch folder: which files to read as which layers, unpacking archives safely."""

import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyogrio
from django.conf import settings

from geo.messages import text as note

from .errors import ImportProblem, human_size, without_server_paths

VECTOR_FORMATS = {".shp": "shapefile", ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson",
                  ".topojson": "geojson", ".kml": "kml", ".csv": "csv"}
RASTER_FORMATS = {".tif": "geotiff", ".tiff": "geotiff"}
TABLE_FORMATS = {".dbf": "dbf"}  # a dBASE table on its own (no .shp beside it): attributes only
ARCHIVES = {".zip", ".kmz"}
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".fix", ".xml", ".qmd"}
SUPPORTED = set(VECTOR_FORMATS) | set(RASTER_FORMATS) | set(TABLE_FORMATS) | ARCHIVES

# A member this much larger than its compressed size is a decompression bomb, not data.
MAX_COMPRESSION_RATIO = 200
MIN_SIZE_FOR_RATIO_CHECK = 10 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    path: Path  # the file to open
    name: str  # what the user knows it as: the uploaded file, or "archive.zip/member.shp"
    format: str
    layer: str | None = None  # one layer of a multi-layer file (GeoPackage)

    @property
    def label(self) -> str:
        return f"{self.name} › {self.layer}" if self.layer else self.name


def batch_inputs(folder: Path) -> tuple[list[Path], list[str]]:
    """The importable files under a folder (one job each) and problems found while looking.

    Shapefiles count once, by their .shp; a .dbf or .shx without its .shp is reported, not skipped silently.
    """
    files, problems = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        ext = path.suffix.lower()
        if ext == ".dbf" and _sibling(path, ".shp"):
            continue  # read with its shapefile
        if ext in (".dbf", ".shx") and _sibling(path, ".shx" if ext == ".dbf" else ".dbf") and not _sibling(
                path, ".shp"):
            if ext == ".shx":
                problems.append(f"{path.relative_to(folder)}: shapefile without its .shp")
            continue
        if ext in SUPPORTED:
            files.append(path)
    return files, problems


def expand(path: Path, name: str, workdir: Path) -> list[Source]:
    """The layer sources in one uploaded file (archives unpacked into workdir, GeoPackages split by layer)."""
    _check_file(path, name)
    ext = path.suffix.lower()
    if ext in ARCHIVES:
        target = workdir / f"unzipped-{len(list(workdir.glob('unzipped-*')))}"
        members = safe_extract(path, name, target)
        sources = []
        for member in members:
            member_ext = member.suffix.lower()
            if member_ext == ".dbf" and (_sibling(member, ".shp") or _sibling(member, ".shx")):
                continue  # part of a shapefile (complete or not: the .shp check reports it)
            if member_ext in SUPPORTED - ARCHIVES:
                sources += expand(member, f"{name}/{member.relative_to(target).as_posix()}", workdir)
        if not sources:
            orphans = [m.name for m in members if m.suffix.lower() in (".dbf", ".shx", ".prj")]
            hint = note("（有 {parts} 但沒有 .shp）", parts=", ".join(orphans)) if orphans else ""
            raise ImportProblem("壓縮檔中沒有 civgis 可匯入的檔案{hint}", hint=hint, file=name)
        return sources
    if ext == ".shp":
        missing = [part for part in (".shx", ".dbf") if not _sibling(path, part)]
        if missing:
            raise ImportProblem("Shapefile 不完整：.shp 旁缺少 {parts}（請將所有部分一起上傳，或壓縮成 zip）",
                                parts=" + ".join(missing), file=name)
        return [Source(path, name, "shapefile")]
    if ext == ".gpkg":
        try:
            layers = pyogrio.list_layers(path)
        except Exception as exc:
            raise ImportProblem("不是可讀取的 GeoPackage（{reason}）", file=name, reason=str(exc)) from exc
        if not len(layers):
            raise ImportProblem("GeoPackage 中沒有任何圖層", file=name)
        return [Source(path, name, "gpkg", str(layer)) for layer, _geom in layers]
    if ext in VECTOR_FORMATS:
        return [Source(path, name, VECTOR_FORMATS[ext])]
    if ext in RASTER_FORMATS:
        return [Source(path, name, "geotiff")]
    if ext in TABLE_FORMATS:
        if _sibling(path, ".shx"):
            raise ImportProblem("Shapefile 不完整：.dbf 與 .shx 旁缺少 .shp", file=name)
        return [Source(path, name, "dbf")]
    raise ImportProblem("不支援的檔案類型 {ext}；civgis 可匯入 {formats} 與 Shapefile",
                        ext=ext or note("（沒有副檔名）"), formats=", ".join(sorted(SUPPORTED)), file=name)


def _check_file(path: Path, name: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise ImportProblem("檔案是空的", file=name)
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ImportProblem("檔案大小 {size}，超過匯入上限 {limit}", size=human_size(size), limit=human_size(limit),
                            file=name)


def _sibling(path: Path, ext: str) -> Path | None:
    for candidate in path.parent.glob(path.stem + ".*"):
        if candidate.stem == path.stem and candidate.suffix.lower() == ext:
            return candidate
    return None


def _member_name(info: zipfile.ZipInfo) -> str:
    """Zip names without the UTF-8 flag are cp437 to Python; Taiwanese tools write them in Big5."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("cp950")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def safe_extract(archive: Path, name: str, target: Path) -> list[Path]:
    """Unpack a zip refusing entries that escape the folder, and archives that inflate beyond the limits.

    The sizes in the archive's directory can lie, so the limits are checked on what actually comes out, while
    it comes out: the total unpacked size, and its ratio to the archive's size on disk (a bomb split over many
    members that each look harmless still adds up). Whatever was unpacked is removed when the archive is refused.
    """
    if not zipfile.is_zipfile(archive):
        raise ImportProblem("不是有效的 zip 壓縮檔（已損壞或不完整）", file=name)
    limit = settings.IMPORT_MAX_UNPACKED_BYTES
    member = ""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            for info in infos:
                member = _member_name(info)
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member):
                    raise ImportProblem("壓縮檔中的項目 {member} 指向壓縮檔的資料夾之外；已拒收此壓縮檔",
                                        member=repr(member), file=name)
            declared = sum(i.file_size for i in infos)
            if declared > limit:
                raise ImportProblem("壓縮檔解開後有 {size}，超過上限 {limit}", size=human_size(declared),
                                    limit=human_size(limit), file=name)
            for info in infos:
                if (info.file_size > MIN_SIZE_FOR_RATIO_CHECK
                        and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
                    ratio = info.file_size // max(info.compress_size, 1)
                    raise ImportProblem("壓縮檔中的項目 {member} 解開後膨脹為 {ratio}×（疑似壓縮炸彈）；已拒收此壓縮檔",
                                        member=repr(_member_name(info)), ratio=f"{ratio:,}", file=name)
            target.mkdir(parents=True)
            budget = _UnpackBudget(name, limit, archive.stat().st_size)
            out, member = [], ""
            for info in infos:
                member = _member_name(info)
                dest = target / member.replace("\\", "/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        budget.take(len(chunk))
                        dst.write(chunk)
                out.append(dest)
            return out
    except BaseException as exc:
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, ImportProblem | KeyboardInterrupt | SystemExit):
            raise
        if isinstance(exc, RuntimeError | NotImplementedError) and not isinstance(exc, RecursionError):
            # an encrypted member, or a compression method Python cannot unpack (deflate64, …)
            why = note("已加密（設有密碼）") if "encrypted" in str(exc) else without_server_paths(str(exc))
            raise ImportProblem(
                "zip 壓縮檔無法解開：項目 {member}：{why}；請不設密碼、以一般（deflate）壓縮方式重新壓縮",
                member=repr(member), why=why, file=name) from exc
        if isinstance(exc, zipfile.BadZipFile | EOFError | zlib.error):
            raise ImportProblem("zip 壓縮檔已損壞（{reason}）", reason=without_server_paths(str(exc)),
                                file=name) from exc
        raise


class _UnpackBudget:
    """Counts the bytes coming out of an archive and stops at the size limit or at a bomb's ratio."""

    def __init__(self, name: str, limit: int, archive_size: int):
        self.name, self.limit, self.archive_size, self.written = name, limit, max(archive_size, 1), 0

    def take(self, size: int) -> None:
        self.written += size
        if self.written > self.limit:
            raise ImportProblem("壓縮檔解開後超過上限 {limit}；已拒收此壓縮檔", limit=human_size(self.limit),
                                file=self.name)
        if self.written > MIN_SIZE_FOR_RATIO_CHECK and self.written > MAX_COMPRESSION_RATIO * self.archive_size:
            raise ImportProblem("壓縮檔解開後超過其大小 {size} 位元組的 {ratio}×（疑似壓縮炸彈）；已拒收此壓縮檔",
                                ratio=MAX_COMPRESSION_RATIO, size=f"{self.archive_size:,}", file=self.name)
