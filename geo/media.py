"""Shared media: the files several machines must see — rasters (a raster layer's COG versions), uploads on their way
from a web server to an import worker, siting reports — through Django's storage API (`STORAGES["media"]`).

Every such file has a place in the data folder (`DATA_DIR`), and its storage name is that place relative to the
folder (`media/rasters/<table>/v3.tif`, `uploads/<hex>/parcels.zip`). With `MEDIA_STORAGE=local` (the default)
the data folder *is* the store: every function here returns at once, nothing is copied. With `MEDIA_STORAGE=s3`
an S3-compatible object store (django-storages' S3Storage) holds the files and the data folder is each machine's
local copy of those it has used: GDAL, rasterio and MapServer read local files, so a reader asks `local(path)`
first, which fetches the object when this machine has no copy yet (written beside it, then renamed: a reader
never sees half a file). Files are written locally as before and then `put` (a folder: `put_folder`); `remove`
deletes both copies.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages

log = logging.getLogger(__name__)


def shared() -> bool:
    """Whether media live in object storage (else the data folder is the only copy)."""
    return settings.MEDIA_STORAGE != "local"


def store():
    return storages["media"]


def name_of(path: Path) -> str:
    """The storage name of a file or folder of the data folder."""
    return Path(path).resolve().relative_to(Path(settings.DATA_DIR).resolve()).as_posix()


def put(path: Path) -> None:
    """A file written in the data folder, stored where every machine finds it."""
    if not shared():
        return
    with open(path, "rb") as data:
        store().save(name_of(path), File(data))


def put_folder(folder: Path) -> None:
    if not shared():
        return
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            put(path)


def local(path: Path) -> bool:
    """Whether the file is (now) on this machine: fetched from object storage when it was not. False when it is
    nowhere."""
    path = Path(path)
    if path.exists() or not shared():
        return path.exists()
    name = name_of(path)
    if not store().exists(name):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with store().open(name, "rb") as src, open(part, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return True


def local_folder(folder: Path) -> bool:
    """A folder's files (an upload's shapefile parts) on this machine; False when none is anywhere."""
    folder = Path(folder)
    if folder.exists() or not shared():
        return folder.exists()
    found = False
    for name in _names_under(name_of(folder)):
        found = local(Path(settings.DATA_DIR) / name) or found
    return found


def remove(path: Path) -> None:
    """A file or a folder, from this machine and from object storage."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    if not shared():
        return
    name = name_of(path)
    try:
        for each in [name, *_names_under(name)]:
            store().delete(each)
    except Exception:  # noqa: BLE001 - an object left behind costs space, not correctness: say so, go on
        log.exception("could not remove %s from the media store", name)


def _names_under(prefix: str) -> list[str]:
    """Every stored name below a folder's name (recursively)."""
    found, folders = [], [prefix.rstrip("/")]
    while folders:
        current = folders.pop()
        subfolders, files = store().listdir(current)
        found += [f"{current}/{f}" for f in files]
        folders += [f"{current}/{d}" for d in subfolders]
    return found
