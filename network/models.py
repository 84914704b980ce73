"""A routable network built from a line layer of the catalog: how it is built (profile, snapping tolerance,
speeds, one-way and name attributes), from which version of the layer, and what the build found.

Its edges, vertices and forbidden turns live in schema `network` (tables `n<id>_edges`, `n<id>_vertices`,
`n<id>_turns`; network.topology and network.turns);
cost and reverse_cost are travel times in seconds, -1 where a direction may not be travelled."""

from django.db import models
from django.utils import timezone

from jobs.models import Job
from layers.models import Layer, LayerVersion

SCHEMA = "network"


class Network(models.Model):
    class Profile(models.TextChoices):
        WALKING = "walking", "步行"
        CYCLING = "cycling", "自行車"
        DRIVING = "driving", "汽車"

    class Status(models.TextChoices):
        PENDING = "pending", "建立中"
        READY = "ready", "可用"
        FAILED = "failed", "建立失敗"

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="networks")
    profile = models.CharField(max_length=10, choices=Profile.choices, default=Profile.DRIVING)
    tolerance_m = models.FloatField(default=1.0, help_text="line ends and vertices closer than this are one node")
    speed_attribute = models.CharField(max_length=63, blank=True, help_text="km/h per feature, if the layer has it")
    class_attribute = models.CharField(max_length=63, blank=True, help_text="road class, looked up in `speeds`")
    speeds = models.JSONField(default=dict, blank=True, help_text="km/h by road class value")
    oneway_attribute = models.CharField(max_length=63, blank=True)
    label_attribute = models.CharField(max_length=63, blank=True, help_text="road names for directions")
    restrictions = models.ForeignKey(Layer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     help_text="turn restrictions: a layer with from_road, to_road, restriction")
    road_id_attribute = models.CharField(max_length=63, blank=True,
                                         help_text="the road attribute from_road/to_road name (fid when empty)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    version = models.ForeignKey(LayerVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="the version of the layer the tables were built from")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            help_text="the latest build")
    report = models.JSONField(default=dict, blank=True,
                              help_text="edges, vertices, components and the sizes of the small ones")
    error = models.JSONField(default=dict, blank=True, help_text="why the latest build failed (geo.messages)")
    built_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["layer__slug", "profile"]
        constraints = [models.UniqueConstraint(fields=["layer", "profile"], name="unique_network_per_profile")]

    def __str__(self):
        return f"{self.layer.slug} ({self.profile})"

    @property
    def edges_table(self) -> str:
        return f"n{self.pk}_edges"

    @property
    def vertices_table(self) -> str:
        return f"n{self.pk}_vertices"

    @property
    def turns_table(self) -> str:
        """Forbidden turns as pgr_trsp reads them: (path bigint[] = {from edge, to edge}, cost)."""
        return f"n{self.pk}_turns"

    @property
    def has_turns(self) -> bool:
        return bool((self.report or {}).get("forbidden_turns"))
