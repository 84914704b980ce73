"""Remote services registered once and harvested into the catalog: each source's layers become catalog entries
(Layer kind `service`), linked to the source by HarvestedLayer; each run is a HarvestRun with its report."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.models import Layer, Theme


class HarvestSource(models.Model):
    class Kind(models.TextChoices):
        WMS = "wms", "WMS"
        WMTS = "wmts", "WMTS"
        WFS = "wfs", "WFS"
        CSW = "csw", "CSW"
        OGCAPI = "ogcapi", "OGC API - Features"
        ARCGIS = "arcgis", "ArcGIS REST"

    name = models.CharField(max_length=200, help_text="who and what, e.g. 國土測繪中心 WMTS")
    slug = models.SlugField(max_length=30, unique=True, help_text="prefixes the slugs of its layers")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField(max_length=1000, help_text="the capabilities endpoint, CSW endpoint, OGC API landing page "
                                                     "or ArcGIS REST services directory (…/rest/services)")
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="the theme its layers are put under")
    visibility = models.CharField(max_length=12, choices=Layer.Visibility.choices, default=Layer.Visibility.INTERNAL)
    owner_agency = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    every_hours = models.FloatField(default=24, help_text="harvested every so many hours (0: only on demand)")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    next_run_at = models.DateTimeField(null=True, blank=True, help_text="when the schedule runs it next")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    def schedule_next(self, after=None) -> None:
        self.next_run_at = ((after or timezone.now()) + timedelta(hours=self.every_hours)
                            if self.enabled and self.every_hours > 0 else None)


class HarvestRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("排隊中")
        RUNNING = "running", _("執行中")
        OK = "ok", _("完成")
        FAILED = "failed", _("失敗")

    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(max_length=10, default="demand", help_text="schedule or demand")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    found = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    vanished = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="HTTP requests made, retries included")
    report = models.JSONField(default=dict, blank=True,
                              help_text="{new: [slug…], changed: […], vanished: […], skipped: [{remote, reason}]}")
    error = models.TextField(blank=True, help_text="why the run failed (nothing in the catalog was changed)")

    class Meta:
        ordering = ["-created_at", "-pk"]


class HarvestedLayer(models.Model):
    """A catalog layer a source's harvest made: the remote's id for it and a fingerprint of what was read, to tell
    a changed layer from an unchanged one."""

    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="layers")
    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="harvested")
    remote_id = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    harvested_at = models.DateTimeField(default=timezone.now)
    # an ArcGIS FeatureServer layer copied into PostGIS (harvest.arcgis_copy), refreshed at every run of its source
    copy_wanted = models.BooleanField(default=False)
    copy_layer = models.ForeignKey(Layer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text="the local copy (a vector layer), once its first import is done")
    copy_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="the import job of the latest copy")
    copied_at = models.DateTimeField(null=True, blank=True)
    copy_features = models.PositiveIntegerField(null=True, blank=True, help_text="features read by the latest copy")
    copy_error = models.TextField(blank=True, help_text="why the latest copy could not be read")

    def local_copy(self) -> Layer | None:
        """The copy's layer: known, or the one the latest import job made."""
        if self.copy_layer_id is None and self.copy_job_id is not None:
            made = self.copy_job.layers.first()
            if made is not None:
                self.copy_layer = made
                self.save(update_fields=["copy_layer"])
        return self.copy_layer

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "remote_id"], name="unique_harvested_remote")]
