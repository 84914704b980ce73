"""What a job leaves on disk and in the database while it runs, and removing it once the job ends without a result
(failed, cancelled, its worker dead): staging tables and staged rasters named by the job, its work folders, and the
upload it was reading."""

import shutil
from pathlib import Path

from django.conf import settings

from geo import media
from layers import catalog

from .models import Job


def work_dir() -> Path:
    path = Path(settings.DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_folder_prefix(job: Job) -> str:
    """A job's temporary folders are named `<kind>-<id>-…` under work_dir(), so a dead worker's are found."""
    return f"{job.kind}-{job.pk}-"


def remove(job: Job) -> None:
    catalog.drop_staging(job.staging_prefix)
    for staged in Path(settings.MEDIA_ROOT, "rasters", "_staging").glob(f"{job.staging_prefix}*"):
        staged.unlink(missing_ok=True)
    for work in work_dir().glob(f"{work_folder_prefix(job)}*"):
        shutil.rmtree(work, ignore_errors=True)
    discard_upload(job)


def upload_here(job: Job) -> None:
    """An upload saved by a web server on another machine, fetched from the media store (geo.media)."""
    path = Path(job.source_path)
    if job.source_path and path.is_relative_to(Path(settings.DATA_DIR) / "uploads") and not path.exists():
        media.local_folder(path.parent)


def discard_upload(job: Job) -> None:
    """Uploads are copied into the data folder for the worker; batch imports read files in place."""
    upload_dir = Path(settings.DATA_DIR) / "uploads"
    path = Path(job.source_path)
    if not job.source_path or not path.is_relative_to(upload_dir) or path.parent == upload_dir:
        return
    # one upload may hold several datasets, one job each: the folder goes with the last of them
    others = Job.objects.filter(source_path__startswith=f"{path.parent}/").exclude(pk=job.pk).exclude(
        status__in=Job.FINISHED)
    if not others.exists():
        media.remove(path.parent)
