"""Long work as one concept: an import, an analysis, a siting run … is a Job with progress, notes, errors, counts,
the layers it produced, and a cancel request (jobs.reporting is how the work reports; jobs.control starts and
stops it)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("等待中")
        RUNNING = "running", _("執行中")
        SUCCEEDED = "succeeded", _("完成")
        FAILED = "failed", _("失敗")
        CANCELLED = "cancelled", _("已取消")

    class Kind(models.TextChoices):
        IMPORT = "import", _("匯入")
        ANALYSIS = "analysis", _("分析")
        SITING = "siting", _("選址")
        PUBLISH = "publish", _("發布")
        HARVEST = "harvest", _("匯集")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMPORT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    source_name = models.CharField(max_length=300, help_text="the file being imported, or the analysis asked for")
    source_path = models.CharField(max_length=500, help_text="where the uploaded file waits for the worker")
    options = models.JSONField(default=dict, blank=True,
                               help_text="slug, title, crs, encoding, theme, visibility, target layer …")
    messages = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    layers = models.ManyToManyField("layers.Layer", blank=True, related_name="jobs",
                                    help_text="the layers the job produced (its results)")
    task_id = models.CharField(max_length=50, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True,
                                               help_text="set by a cancel request; the runner stops at its next step")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.source_name} [{self.status}]"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def staging_prefix(self) -> str:
        """Names of the staging tables (and staged rasters) the job makes, so a failed job's leftovers are found."""
        return f"job{self.pk}_"

    def message_texts(self, language: str = "en") -> list[str]:
        """The progress notes worded in a language (they are kept as msgid + parameters: geo.messages)."""
        from geo.messages import render_in

        return [render_in(m, language) for m in self.messages]
