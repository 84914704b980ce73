"""Feature editing: every change to a feature of a vector layer, numbered per feature.

A feature's version is the number of its newest change (0: never edited through the API, as imported). The
unique (layer, fid, version) constraint is the last guard against a lost update: two writers who read the same
version can never both record the next one.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from layers.models import Layer


class FeatureChange(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("刪除")
        RESTORE = "restore", _("還原")
        SPLIT = "split", _("分割")
        MERGE = "merge", _("合併")

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="feature_changes")
    fid = models.BigIntegerField()
    version = models.PositiveIntegerField(help_text="the feature's version after this change (1, 2, 3 …)")
    action = models.CharField(max_length=10, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="as it was then")
    time = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True,
                              help_text="{geometry (GeoJSON, EPSG:4326), properties} before; null: did not exist")
    after = models.JSONField(null=True, blank=True, help_text="the same after; null: deleted")
    restored_from = models.PositiveIntegerField(null=True, blank=True, help_text="for a restore: the version "
                                                "whose state was brought back")
    related = ArrayField(models.BigIntegerField(), default=list, blank=True,
                         help_text="a split: on the original, the new features' fids; on each new one, the original's. "
                                   "A merge: on the kept feature, the merged ones; on each merged one, the kept one")

    class Meta:
        ordering = ["layer", "fid", "-version"]
        constraints = [models.UniqueConstraint(fields=["layer", "fid", "version"], name="unique_feature_version")]

    def __str__(self):
        return f"{self.layer_id}#{self.fid} v{self.version} {self.action}"


class LayerForm(models.Model):
    """A layer's editing form: per attribute, the rules every protocol's writes are checked against
    (editing.rules). `fields` = {column: {required, values, min, max, default, default_from, read_only, when}}."""

    layer = models.OneToOneField(Layer, primary_key=True, on_delete=models.CASCADE, related_name="edit_form")
    fields = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self):
        return f"form of {self.layer_id}"


class EventMap(models.Model):
    """An event map (活動協作圖): one shared map of an event (the Lantern Festival …) made of sub-layers, each owned by
    one agency. Rights are the catalog's own: each sub-layer is a restricted layer whose owner agency is its
    agency (its members hold every right on it, accounts.rights) and whose allowed groups are every agency of the
    event (they see it, and its live changes, but may not change it). `view` is the share link that opens the map
    with all its sub-layers."""

    class Geometry(models.TextChoices):
        POINT = "Point", _("點")
        LINE = "LineString", _("線")
        POLYGON = "Polygon", _("面")

    slug = models.SlugField(max_length=50, unique=True)
    title_zh = models.CharField(max_length=120)
    title_en = models.CharField(max_length=120, blank=True)
    geometry_type = models.CharField(max_length=12, choices=Geometry.choices, default=Geometry.POLYGON)
    view = models.ForeignKey("web.SharedView", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("活動協作圖")
        verbose_name_plural = _("活動協作圖")

    def __str__(self):
        return self.slug


class EventMapLayer(models.Model):
    """One agency's sub-layer of an event map."""

    event = models.ForeignKey(EventMap, on_delete=models.CASCADE, related_name="parts")
    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="event_part")
    agency = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["event", "pk"]
        constraints = [models.UniqueConstraint(fields=["event", "agency"], name="one_sub_layer_per_agency")]
