"""Creating import jobs and handing them to the workers."""

import uuid
from pathlib import Path

from django.conf import settings

from geo import media
from jobs import control
from jobs.models import Job

from .errors import ImportProblem, human_size
from .sources import SUPPORTED


def create(path: Path, name: str, options: dict, user=None) -> Job:
    return control.create(Job.Kind.IMPORT, name, options, user, source_path=str(path))


def submit(job: Job) -> Job:
    from layers.tasks import import_job

    return control.submit(job, import_job)


def save_upload(files, accept: set[str] = SUPPORTED) -> list[tuple[Path, str]]:
    """Store uploaded files in a folder of their own; returns the (path, name) of each dataset among them (files
    whose extension is in `accept`: the layer formats, or a statistical table's).

    Loose shapefile parts uploaded together become one dataset, named by their .shp. A rejected upload leaves
    nothing on disk.
    """
    folder = Path(settings.DATA_DIR) / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        saved = []
        for upload in files:
            name = Path(upload.name).name  # never a path the client chose
            if not name or name.startswith("."):
                raise ImportProblem("不接受的檔名 {name}", name=repr(upload.name))
            if not upload.size:
                raise ImportProblem("檔案是空的（0 位元組）", file=name)
            if upload.size > settings.IMPORT_MAX_BYTES:
                raise ImportProblem("檔案大小 {size}，超過匯入上限 {limit}", size=human_size(upload.size),
                                    limit=human_size(settings.IMPORT_MAX_BYTES), file=name)
            dest = folder / name
            try:
                with open(dest, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
            except OSError as exc:
                raise ImportProblem("無法儲存檔案（{why}）", why=exc.strerror, file=name[:100]) from exc
            saved.append(dest)
        shp_stems = {p.stem.lower() for p in saved if p.suffix.lower() == ".shp"}
        datasets = [(p, p.name) for p in saved if p.suffix.lower() in accept
                    and not (p.suffix.lower() == ".dbf" and p.stem.lower() in shp_stems)]
        if not datasets:
            parts = ", ".join(p.name for p in saved)
            raise ImportProblem("上傳的檔案中沒有可匯入的資料（{parts}）；Shapefile 需要 .shp、.shx 與 .dbf 一起上傳"
                                "（或壓縮成 zip）", parts=parts)
        media.put_folder(folder)  # an import worker on another machine reads it from there (MEDIA_STORAGE=s3)
        return datasets
    except BaseException:
        media.remove(folder)
        raise
