"""Socio-economic statistics: statistical tables, their joins to boundary layers, and indicators.

A statistical table IS a catalog layer of kind `table` (its rows in `layerdata.<table>`, its versions, visibility,
owner agency, metadata and import jobs are the layer's); StatTable only adds what the statistics need: which areas
its rows describe and which columns say so. A join ties one version of a boundary layer to it, row by row, and
keeps what did not match. An indicator is a formula over a joined table's columns.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from layers.models import Layer, LayerVersion


class Level(models.TextChoices):
    """The area a statistical row describes (its code says which, see stats.tables)."""

    VILLAGE = "village", _("村里")
    TOWN = "town", _("鄉鎮市區")
    COUNTY = "county", _("縣市")
    SEGIS_BASE = "codebase", _("最小統計區")
    SEGIS_CODE1 = "code1", _("一級發布區")
    SEGIS_CODE2 = "code2", _("二級發布區")


class StatTable(models.Model):
    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="stat_table")
    level = models.CharField(max_length=10, choices=Level.choices)
    key = models.CharField(max_length=12, help_text="the code the rows carry: villcode, towncode, countycode, "
                                                     "codebase, code1, code2, or 'name' (county + town + village)")
    format = models.CharField(max_length=12, help_text="csv, xlsx, ods, json, segis, segis-json")
    periods = models.JSONField(default=list, blank=True, help_text="the periods the rows cover (ISO dates)")
    source_meta = models.JSONField(default=dict, blank=True, help_text="Info.ini, SEGIS Info, the JSON's envelope")

    def __str__(self):
        return f"{self.layer.slug} ({self.level})"


class StatJoin(models.Model):
    """A statistical table joined to one version of a boundary layer: matched rows point at their polygons;
    unmatched ones are kept with their totals (nobody is dropped silently)."""

    class Key(models.TextChoices):
        VILLCODE = "villcode", "VILLCODE"
        TOWNCODE = "towncode", "TOWNCODE"
        COUNTYCODE = "countycode", "COUNTYCODE"
        CODEBASE = "codebase", "CODEBASE"
        CODE1 = "code1", "CODE1"
        CODE2 = "code2", "CODE2"
        NAME = "name", _("名稱（縣市＋鄉鎮市區＋村里）")
        CODE = "code", _("其他代碼（經代碼對照表）")

    table = models.ForeignKey(StatTable, on_delete=models.CASCADE, related_name="joins")
    boundary = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="stat_joins")
    boundary_version = models.ForeignKey(LayerVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    boundary_version_number = models.PositiveIntegerField(default=0, help_text="kept when the version is pruned")
    table_version_number = models.PositiveIntegerField(default=0)
    key = models.CharField(max_length=12, choices=Key.choices)
    crosswalk = models.JSONField(default=dict, blank=True,
                                 help_text="{layer, version, from, to, county, town, village}: the rows' codes looked "
                                           "up in a crosswalk table layer first (e.g. 2013 census ivid → names)")
    boundary_column = models.CharField(max_length=63, help_text="the boundary's code column (or its village "
                                                                "name column for a name join)")
    rows = models.PositiveIntegerField(default=0)
    matched_rows = models.PositiveIntegerField(default=0)
    unmatched_rows = models.PositiveIntegerField(default=0)
    areas_without_data = models.PositiveIntegerField(default=0, help_text="boundary features no row matched")
    unmatched = models.JSONField(default=list, blank=True, help_text="the unmatched rows (code, names, line)")
    unmatched_totals = models.JSONField(default=dict, blank=True, help_text="column → sum over the unmatched rows")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    @property
    def match_rate(self) -> float:
        return self.matched_rows / self.rows if self.rows else 0.0


class JoinMatch(models.Model):
    """One row of a statistical table on one boundary feature, with the area and the places above it (from the
    boundary's own attributes, else from the row's code) that indicators aggregate by."""

    join = models.ForeignKey(StatJoin, on_delete=models.CASCADE, related_name="matches")
    row_fid = models.IntegerField()
    boundary_fid = models.IntegerField()
    area_key = models.CharField(max_length=120, blank=True, help_text="the boundary feature's key (code or names)")
    area_km2 = models.FloatField(null=True, help_text="geodesic area of the boundary feature, on one row per feature "
                                                      "and period (so that sums count it once); null on the others "
                                                      "and where there is no polygon")
    town_key = models.CharField(max_length=40, blank=True)
    town_name = models.CharField(max_length=60, blank=True)
    county_key = models.CharField(max_length=40, blank=True)
    county_name = models.CharField(max_length=60, blank=True)

    class Meta:
        indexes = [models.Index(fields=["join", "row_fid"]), models.Index(fields=["join", "town_key"])]


class Indicator(models.Model):
    """A derived figure with its formula over one joined table, aggregated up the hierarchy by stats.indicators."""

    class Formula(models.TextChoices):
        VALUE = "value", _("數值")
        DENSITY = "density", _("密度（每平方公里）")
        SHARE = "share", _("比例（%）")
        RATIO = "ratio", _("比值")
        PER_1000 = "per_1000", _("每千人")
        CHANGE = "change", _("兩期變化")
        CHANGE_PCT = "change_pct", _("兩期變化率（%）")

    slug = models.SlugField(max_length=50, unique=True)
    title_zh = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    join = models.ForeignKey(StatJoin, on_delete=models.CASCADE, related_name="indicators")
    formula = models.CharField(max_length=12, choices=Formula.choices)
    numerator = models.CharField(max_length=63, help_text="column of the table")
    denominator = models.CharField(max_length=63, blank=True, help_text="column, for share, ratio, per_1000")
    period = models.DateField(null=True, blank=True, help_text="the period shown (default: the latest)")
    base_period = models.DateField(null=True, blank=True, help_text="for change: the earlier period")
    unit = models.CharField(max_length=30, blank=True, help_text="a key of layers.attribute_kinds.UNITS")
    decimals = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug
