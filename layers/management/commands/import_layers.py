import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from geo.celery import app
from jobs.models import Job
from jobs.reporting import reap_stale_jobs
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.importing.sources import SUPPORTED, batch_inputs
from layers.models import Layer
from layers.ogc import publishing


class Command(BaseCommand):
    help = ("Import every supported file under a folder as layers (parallel Celery jobs), show progress, and end "
            "with a summary. Exits non-zero when any file failed. Existing layers with the same slug get a new "
            "version.")

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--theme", help="theme slug for the new layers")
        parser.add_argument("--visibility", choices=Layer.Visibility.values,
                            help="who may see the layers: new ones get it (default internal); given, it also "
                                 "applies to the existing layers the files bring a new version of")
        parser.add_argument("--crs", help="CRS for files that do not say (EPSG code or WKT)")
        parser.add_argument("--encoding", choices=["utf-8", "cp950"], help="text encoding when it cannot be detected")
        parser.add_argument("--user", help="import as this user (recorded on versions)")
        parser.add_argument("--sync", action="store_true", help="import here, one by one, without Celery workers")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the jobs")

    def handle(self, *args, folder, theme, visibility, crs, encoding, user, sync, timeout, **options):
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        files, problems = batch_inputs(folder)
        if not files and not problems:
            raise CommandError(f"nothing to import under {folder} (supported: {', '.join(sorted(SUPPORTED))})")
        owner = None
        if user:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user {user!r}")
        job_options = {"mode": "upsert", "visibility": visibility or Layer.Visibility.INTERNAL}
        for key, value in (("theme", theme), ("crs", crs), ("encoding", encoding)):
            if value:
                job_options[key] = value
        created = [jobs.create(path, str(path.relative_to(folder)), job_options, owner) for path in files]
        self.stdout.write(f"importing {len(created)} file(s) from {folder}")
        if sync:
            for job in created:
                run_job(job.pk)
                self._line(Job.objects.get(pk=job.pk))
        else:
            if not app.control.ping(timeout=2.0):
                raise CommandError("no Celery worker answers: start one (`make demo` does) or use --sync")
            for job in created:
                jobs.submit(job)
            self._follow([j.pk for j in created], timeout)
        finished = [Job.objects.get(pk=j.pk) for j in created]
        if visibility:
            self._apply_visibility(finished, visibility)
        return self._summary(finished, problems)

    def _apply_visibility(self, finished: list[Job], visibility: str) -> None:
        """A re-import keeps the layer's visibility (the import pipeline sets it on new layers only): the one asked
        for is applied here, and said."""
        done = [j.pk for j in finished if j.status == Job.Status.SUCCEEDED]
        for layer in Layer.objects.filter(jobs__in=done).exclude(visibility=visibility).distinct():
            before = layer.visibility
            with transaction.atomic():
                layer.visibility = visibility
                layer.save(update_fields=["visibility"])
                publishing.follow(layer, publishing.PUBLISH)  # the OGC services follow who may see it
            self.stdout.write(f"  visibility of {layer.slug}: {before} → {visibility} (an existing layer)")

    def _follow(self, ids: list[int], timeout: float) -> None:
        shown: dict[int, tuple] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reap_stale_jobs()
            pending = 0
            for job in Job.objects.filter(pk__in=ids).order_by("pk"):
                state = (job.status, job.progress)
                if shown.get(job.pk) != state:
                    shown[job.pk] = state
                    self._line(job)
                pending += not job.finished
            if not pending:
                return
            time.sleep(0.5)
        self.stderr.write(f"stopped waiting after {timeout:.0f} s; jobs still running are listed as such")

    def _line(self, job: Job) -> None:
        self.stdout.write(f"  [{job.progress:3d}%] {job.status:<9} {job.source_name}")

    def _summary(self, finished: list[Job], problems: list[str]) -> None:
        ok = [j for j in finished if j.status == Job.Status.SUCCEEDED]
        failed = [j for j in finished if j.status != Job.Status.SUCCEEDED]
        self.stdout.write("\nsummary")
        width = max([len(j.source_name) for j in finished] + [10])
        for job in finished:
            if job.status == Job.Status.SUCCEEDED:
                detail = ", ".join(f"{slug}: {n:,} features" for slug, n in job.counts.get("features", {}).items())
                self.stdout.write(f"  imported  {job.source_name:<{width}}  {detail}")
            else:
                reason = "; ".join(e.get("message", "") for e in job.errors) or f"still {job.status}"
                self.stdout.write(f"  FAILED    {job.source_name:<{width}}  {reason}")
        for problem in problems:
            self.stdout.write(f"  FAILED    {problem}")
        self.stdout.write(f"\n{len(ok)} imported, {len(failed) + len(problems)} failed")
        if failed or problems:
            raise CommandError(f"{len(failed) + len(problems)} file(s) failed to import")
