"""Event layers: located city events (1999 hotline cases, petitions) as a kind of layer.

The events themselves are the features of an ordinary vector point layer (layers.Layer, its PostGIS table in
`layerdata` with the fixed columns of events.schema and `time_attribute` = reported_at), so the map, WMS/WFS,
tiles, rights and the time slider serve them unchanged. What a layer alone cannot hold is here: the category list
with its labels, the tokens hotline systems push with, and the events that could not be placed on the map.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from layers.models import Layer


class EventLayer(models.Model):
    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="event_layer")
    meta = models.JSONField(default=dict, blank=True,
                            help_text="e.g. the demo's planted patterns (layers.democity.hotline)")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"events of {self.layer.slug}"


class Category(models.Model):
    """One category of an event layer: its code (what the table's `category` holds) and its labels."""

    event_layer = models.ForeignKey(EventLayer, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(max_length=60)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "code"]
        constraints = [models.UniqueConstraint(fields=["event_layer", "code"], name="unique_event_category")]

    def label(self, language: str) -> str:
        return self.label_en or self.label_zh if language.startswith("en") else self.label_zh


class PushToken(models.Model):
    """A hotline system's token for pushing cases into one event layer: shown once, stored as its SHA-256."""

    event_layer = models.ForeignKey(EventLayer, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, help_text="the system that pushes with it")
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class UnlocatedEvent(models.Model):
    """An event that could not be placed on the map (no coordinates, an address the geocoder did not find): kept
    with the reason, counted and listed, never dropped."""

    event_layer = models.ForeignKey(EventLayer, on_delete=models.CASCADE, related_name="unlocated")
    case_no = models.CharField(max_length=100, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    category = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=60, blank=True)
    address = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=300)
    row = models.PositiveIntegerField(null=True, blank=True, help_text="line in the imported file")
    source = models.CharField(max_length=300, blank=True, help_text="the file, or 'push'")
    values = models.JSONField(default=dict, blank=True, help_text="the row as it came")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["reported_at", "pk"]

    @property
    def reason_text(self) -> str:
        from .records import UNLOCATED_REASONS

        return str(UNLOCATED_REASONS.get(self.reason, self.reason))
