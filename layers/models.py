"""The layer catalog: themes, layers, their styles and versions (the jobs that fill them are jobs.Job).

A vector layer's data lives in its own PostGIS table, `layerdata.<table_name>`; earlier versions are kept as
tables in `layerversions`. A raster layer's data is a Cloud-Optimized GeoTIFF under MEDIA_ROOT/rasters/.
"""

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db.models import Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import metadata

DATA_SCHEMA = "layerdata"
VERSIONS_SCHEMA = "layerversions"
STAGING_SCHEMA = "layerstaging"

slug_validator = RegexValidator(r"^[a-z][a-z0-9_-]{0,49}$",
                                "a slug is 1–50 lower-case letters, digits, '-' or '_', starting with a letter")


def _choices(labels: dict) -> list[tuple[str, str]]:
    return list(labels.items())


class Theme(models.Model):
    """A node of the thematic tree, e.g. 交通 › 道路."""

    slug = models.SlugField(max_length=60, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name_zh"]

    def __str__(self):
        return " › ".join(t.name_zh for t in self.ancestry())

    def ancestry(self) -> list["Theme"]:
        node, chain = self, []
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def descendant_ids(self) -> list[int]:
        ids, frontier = [self.pk], [self.pk]
        while frontier:
            frontier = list(Theme.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            ids += frontier
        return ids


RESERVED_SLUGS = frozenset({"services"})  # route names under /api/v1/layers/ that a layer slug would shadow


class LayerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "LayerQuerySet":
        """Public layers for everyone; internal ones for any signed-in user; restricted ones for their groups —
        and a layer derived from others (an analysis result) only for those who may see every one of its sources,
        whatever its own visibility, owner agency or maker."""
        if user is not None and user.is_authenticated and user.is_superuser:
            return self
        if user is None or not user.is_authenticated:
            readable = Q(visibility=Layer.Visibility.PUBLIC)
            recorded = Q(visibility=Layer.Visibility.PUBLIC)
        else:
            group_ids = list(user.groups.values_list("pk", flat=True))
            open_to_all = Q(visibility__in=[Layer.Visibility.PUBLIC, Layer.Visibility.INTERNAL])
            granted = apps.get_model("accounts", "LayerGrant").objects.filter(  # any grant opens it (accounts.rights)
                Q(group__in=group_ids) | Q(user=user)).values("layer_id")
            readable = (open_to_all | Q(allowed_groups__in=group_ids) | Q(owner_agency__in=group_ids)
                        | Q(pk__in=granted))
            recorded = open_to_all | Q(groups__overlap=group_ids)
        base = Layer.objects.filter(readable).values("pk")
        # a source still in the catalog is judged by its rule now; a deleted one by its rule when it was deleted
        blocked = LayerSource.objects.filter(Q(source__isnull=False) & ~Q(source__in=base)
                                             | Q(source__isnull=True) & ~recorded).values("result_id")
        return self.filter(pk__in=base).exclude(pk__in=blocked)

    def free_slug(self, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `-3` … the first slug no layer has (visible to the asker or not), that is not
        reserved and whose table name is free: the same answer for everyone, so it tells no one whether a layer
        they may not see holds the slug."""
        base, n, slug = wanted, 2, wanted
        while slug in RESERVED_SLUGS or Layer.objects.filter(Q(slug=slug) | Q(table_name=_table_of(slug))).exists():
            suffix = f"-{n}"
            slug, n = base[:50 - len(suffix)].rstrip("-_") + suffix, n + 1
        return slug


def _table_of(slug: str) -> str:
    from .naming import table_name

    return table_name(slug)


class Layer(models.Model):
    class Kind(models.TextChoices):
        VECTOR = "vector", _("向量")
        RASTER = "raster", _("網格")
        TABLE = "table", _("表格")
        SERVICE = "service", _("外部服務")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("公開")
        INTERNAL = "internal", _("內部（登入使用者）")
        RESTRICTED = "restricted", _("限定群組")

    class OgcStatus(models.TextChoices):
        PENDING = "pending", _("發布中")
        PUBLISHED = "published", _("已發布")
        FAILED = "failed", _("發布失敗")
        WITHDRAWN = "withdrawn", _("已下架")
        NOT_SERVED = "none", _("不發布（表格或外部服務）")

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    title_zh = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    abstract = models.TextField(blank=True)
    keywords = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    owner_agency = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="owned_layers")
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="layers")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.VECTOR)
    geometry_type = models.CharField(max_length=30, blank=True)
    source_crs = models.CharField(max_length=60, blank=True, help_text="the CRS the data arrived in")
    srid = models.IntegerField(default=3826, help_text="the CRS the data is stored in")
    extent = models.PolygonField(srid=4326, null=True, blank=True)
    native_extent = ArrayField(models.FloatField(), size=4, null=True, blank=True,
                               help_text="minx, miny, maxx, maxy in the stored CRS")
    feature_count = models.BigIntegerField(default=0)
    attributes = models.JSONField(default=list, blank=True,
                                  help_text="[{name, type, source, label, label_en, unit, unit_en, kind, "
                                            "decimals, aggregate}] of the table's columns "
                                            "(layers.attribute_kinds)")
    source = models.CharField(max_length=300, blank=True)
    license = models.CharField(max_length=200, blank=True)
    # descriptive metadata, named after ISO 19115 (layers.metadata maps each field to its ISO element)
    update_frequency = models.CharField(max_length=40, blank=True, choices=_choices(metadata.UPDATE_FREQUENCIES),
                                        help_text="MD_MaintenanceFrequencyCode")
    topic_category = models.CharField(max_length=40, blank=True, choices=_choices(metadata.TOPIC_CATEGORIES),
                                      help_text="MD_TopicCategoryCode")
    lineage = models.TextField(blank=True, help_text="how the data was made and processed")
    contact_name = models.CharField(max_length=100, blank=True)
    contact_organisation = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(max_length=200, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    scale_denominator = models.PositiveIntegerField(null=True, blank=True, help_text="e.g. 1000 for 1:1,000")
    resolution_m = models.FloatField(null=True, blank=True, help_text="ground resolution in metres")
    temporal_start = models.DateField(null=True, blank=True, help_text="the data describes the world from …")
    temporal_end = models.DateField(null=True, blank=True, help_text="… until (empty: still current)")
    creation_date = models.DateField(null=True, blank=True, help_text="when the data (not the catalog entry) was made")
    revision_date = models.DateField(null=True, blank=True, help_text="when the data was last revised")
    provenance = models.JSONField(default=dict, blank=True,
                                  help_text="for analysis results: the operation, inputs, parameters, who and when")
    visibility = models.CharField(max_length=12, choices=Visibility.choices, default=Visibility.INTERNAL)
    allowed_groups = models.ManyToManyField(Group, blank=True, related_name="visible_layers")
    table_name = models.CharField(max_length=63, blank=True)
    raster_path = models.CharField(max_length=500, blank=True)
    service = models.JSONField(default=dict, blank=True,
                               help_text="for external WMS/WMTS/XYZ layers: what a map client needs to draw them")
    time_attribute = models.CharField(max_length=63, blank=True, help_text="the date/time attribute that makes the "
                                      "layer time-enabled: WMS TIME, the `time` filter, the viewer's time slider")
    min_zoom = models.PositiveSmallIntegerField(default=0, help_text="vector tiles start at this zoom (set from "
                                                "the layer's density on import: no tile carries ~8k+ features)")
    tile_attributes = ArrayField(models.CharField(max_length=63), default=list, blank=True,
                                 help_text="attributes in tiles below zoom 14 (all attributes from 14 on)")
    ogc_status = models.CharField(max_length=10, choices=OgcStatus.choices, default=OgcStatus.PENDING,
                                  help_text="WMS/WFS publishing, kept by layers.ogc.publishing")
    ogc_error = models.TextField(blank=True, help_text="why the last publish failed (it is retried)")
    ogc_published_at = models.DateTimeField(null=True, blank=True)
    current_version = models.ForeignKey("LayerVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LayerQuerySet.as_manager()

    class Meta:
        ordering = ["theme__order", "title_zh"]
        # two slugs can map to one table name ('a-b', 'a_b'): one layer must never take over another's table
        constraints = [models.UniqueConstraint(fields=["table_name"], condition=~Q(table_name=""),
                                               name="unique_layer_table")]

    def __str__(self):
        return f"{self.slug} ({self.title_zh})"

    def derive_from(self, inputs: list["Layer"]) -> None:
        """Make this layer an analysis result of `inputs`: it records them and their own sources (the transitive
        closure, flat), and takes the most restrictive visibility among its own and theirs, with the groups of
        every restricted one — `visible_to` then shows it only to those who may see all of them."""
        links = {}
        for layer in inputs:
            if layer.pk != self.pk:
                links.setdefault(layer.pk, LayerSource.of(self, layer))
            for link in layer.source_links.all():
                key = link.source_id if link.source_id is not None else f"gone-{link.pk}"
                links.setdefault(key, LayerSource(result=self, source_id=link.source_id, slug=link.slug,
                                                  visibility=link.visibility, groups=link.groups))
        LayerSource.objects.bulk_create(links.values())
        rank = list(self.Visibility.values)  # public < internal < restricted
        self.visibility = max([self.visibility, *(link.visibility for link in links.values())], key=rank.index)
        self.save(update_fields=["visibility"])
        restricted = [link for link in links.values() if link.visibility == self.Visibility.RESTRICTED]
        self.allowed_groups.add(*{pk for link in restricted for pk in link.groups})

    def access_groups(self) -> list[int]:
        """The groups a restricted layer is open to: its allowed groups, the groups holding a grant on it and its
        owner agency."""
        groups = set(self.allowed_groups.values_list("pk", flat=True))
        groups.update(self.grants.filter(group__isnull=False).values_list("group_id", flat=True))
        if self.owner_agency_id:
            groups.add(self.owner_agency_id)
        return sorted(groups)

    def may(self, user, right: str) -> bool:
        """Whether the user may do `right` (accounts.rights: see, import, add, edit_own, edit_all, delete, publish,
        manage) with this layer."""
        from accounts import rights

        return rights.may(user, right, self)

    def can_edit(self, user) -> bool:
        """The older name of may(user, "publish"): change what the layer says and how it is served (metadata, style,
        its statistics' joins and indicators). Callers that decide something else ask `may` for their right."""
        return self.may(user, "publish")


def holds_every_right(item, user) -> bool:
    """Administrators, staff, the item's maker and the members of its owner agency hold every right on it (a layer,
    a dashboard: any catalog item with `created_by` and `owner_agency`)."""
    if not (user is not None and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser or user.is_staff or (item.created_by_id is not None and item.created_by_id == user.pk):
        return True
    return item.owner_agency_id is not None and user.groups.filter(pk=item.owner_agency_id).exists()


class LayerSource(models.Model):
    """A layer an analysis result was made from, directly or through other results, with the source's access
    rule as recorded (when the result was made, refreshed when the source is deleted): a result never becomes
    more visible than any of its sources, even after one is deleted."""

    result = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="source_links")
    source = models.ForeignKey(Layer, null=True, on_delete=models.SET_NULL, related_name="derived_links")
    slug = models.CharField(max_length=50, help_text="the source's slug, for the record")
    visibility = models.CharField(max_length=12, choices=Layer.Visibility.choices)
    groups = ArrayField(models.IntegerField(), default=list, blank=True,
                        help_text="ids of the groups a restricted source is open to")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["result", "source"], name="unique_layer_source")]

    @classmethod
    def of(cls, result: Layer, source: Layer) -> "LayerSource":
        return cls(result=result, source=source, slug=source.slug, visibility=source.visibility,
                   groups=source.access_groups())


@receiver(pre_delete, sender=Layer)
def _record_rule_of_deleted_source(sender, instance: Layer, **kwargs):
    """Before a source goes (and its link with it), keep its rule on every result made from it."""
    LayerSource.objects.filter(source=instance).update(visibility=instance.visibility,
                                                       groups=instance.access_groups())


class LayerVersion(models.Model):
    """One import of a layer: who brought what when. The newest is served; earlier ones can be restored."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    table_name = models.CharField(max_length=63, blank=True, help_text="where this version's rows are kept")
    raster_path = models.CharField(max_length=500, blank=True)
    feature_count = models.BigIntegerField(default=0)
    source_name = models.CharField(max_length=300, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["layer", "number"], name="unique_layer_version")]

    def __str__(self):
        return f"{self.layer.slug} v{self.number}"


class Style(models.Model):
    """How a layer is drawn: single symbol, categories of an attribute, or graduated classes, plus labels."""

    class Kind(models.TextChoices):
        SINGLE = "single", _("單一符號")
        CATEGORIZED = "categorized", _("類別")
        GRADUATED = "graduated", _("分級")

    class Method(models.TextChoices):
        QUANTILES = "quantiles", _("分位數")
        EQUAL_INTERVAL = "equal_interval", _("等距")
        NATURAL_BREAKS = "natural_breaks", _("自然斷點")
        STANDARD_DEVIATION = "standard_deviation", _("標準差")
        MANUAL = "manual", _("自訂斷點")

    class PointSymbol(models.TextChoices):
        CIRCLE = "circle", _("圓形")
        SQUARE = "square", _("方形")
        TRIANGLE = "triangle", _("三角形")
        STAR = "star", _("星形")
        MARKER = "marker", _("圖釘")

    class LineDash(models.TextChoices):
        SOLID = "solid", _("實線")
        DASHED = "dashed", _("虛線")
        DOTTED = "dotted", _("點線")

    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="style")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SINGLE)
    attribute = models.CharField(max_length=63, blank=True)
    method = models.CharField(max_length=20, choices=Method.choices, blank=True)
    manual_breaks = ArrayField(models.FloatField(), default=list, blank=True,
                               help_text="upper bounds of the classes for the manual method, ascending")
    class_count = models.PositiveSmallIntegerField(default=5)
    ramp = models.CharField(max_length=30, default="YlOrRd")
    fill_color = models.CharField(max_length=9, default="#3388ff")
    stroke_color = models.CharField(max_length=9, default="#1f4e79")
    stroke_width = models.FloatField(default=1.0)
    opacity = models.FloatField(default=0.7)
    point_size = models.FloatField(default=6.0)
    point_symbol = models.CharField(max_length=10, choices=PointSymbol.choices, default=PointSymbol.CIRCLE)
    line_dash = models.CharField(max_length=10, choices=LineDash.choices, default=LineDash.SOLID)
    classes = models.JSONField(default=list, blank=True,
                               help_text="computed: [{label, value | min,max, color, width?}] in drawing order; "
                                         "colours and widths an editor set on a class are kept")
    label_attribute = models.CharField(max_length=63, blank=True)
    label_size = models.FloatField(default=11.0)
    label_color = models.CharField(max_length=9, default="#222222")
    label_halo_color = models.CharField(max_length=9, default="#ffffff")
    label_halo_width = models.FloatField(default=2.0)
    # scale denominators (1:N): the layer, and its labels, are drawn only between them (null: no limit)
    min_scale = models.PositiveIntegerField(null=True, blank=True, help_text="drawn from 1:min_scale (zoomed in)")
    max_scale = models.PositiveIntegerField(null=True, blank=True, help_text="drawn up to 1:max_scale (zoomed out)")
    label_min_scale = models.PositiveIntegerField(null=True, blank=True)
    label_max_scale = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class LayerUsage(models.Model):
    """Requests to a layer in a month, by kind (features, tile, download, …), flushed from Redis counters."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField(help_text="first day of the month")
    kind = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-month", "kind"]
        constraints = [models.UniqueConstraint(fields=["layer", "month", "kind"], name="unique_layer_usage")]
