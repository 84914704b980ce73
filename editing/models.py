"""Feature editing: every change to a feature of a vector layer, numbered per feature.

A feature's version is the number of its newest change (0: never edited through the API, as imported). The
unique (layer, fid, version) constraint is the last guard against a lost update: two writers who read the same
version can never both record the next one.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from layers.models import Layer


class FeatureChange(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("刪除")
        RESTORE = "restore", _("還原")

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
