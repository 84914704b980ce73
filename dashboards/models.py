"""Dashboards (儀表板): a saved page of widgets over the statistics' indicators, a catalog item with an owner agency
and the layers' visibility rules (public, internal, restricted to groups). Its widgets, selectors and layout are
one JSON document (dashboards.spec checks it); what each widget shows comes from the indicator values API, so a
widget over a table the viewer may not see is left out of what the viewer is sent (dashboards.spec.for_viewer)."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone

from layers.models import Layer, holds_every_right


class DashboardQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DashboardQuerySet":
        """As layers: public ones for everyone, internal ones for the signed in, restricted ones for their allowed
        groups and owner agency; and one's own."""
        if user is not None and user.is_authenticated and user.is_superuser:
            return self
        if user is None or not user.is_authenticated:
            return self.filter(visibility=Layer.Visibility.PUBLIC)
        groups = list(user.groups.values_list("pk", flat=True))
        seen = Q(visibility__in=[Layer.Visibility.PUBLIC, Layer.Visibility.INTERNAL]) | Q(created_by=user) \
            | Q(allowed_groups__in=groups) | Q(owner_agency__in=groups)
        return self.filter(pk__in=Dashboard.objects.filter(seen).values("pk"))


class Dashboard(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    title_zh = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    owner_agency = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="owned_dashboards")
    visibility = models.CharField(max_length=12, choices=Layer.Visibility.choices,
                                  default=Layer.Visibility.INTERNAL)
    allowed_groups = models.ManyToManyField(Group, blank=True, related_name="visible_dashboards")
    refresh_seconds = models.PositiveIntegerField(default=0, help_text="reload every widget this often; 0: never")
    spec = models.JSONField(default=dict, blank=True,
                            help_text="{selectors: [...], widgets: [...]} (dashboards.spec describes them)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DashboardQuerySet.as_manager()

    class Meta:
        ordering = ["title_zh"]

    def __str__(self):
        return self.slug

    def can_edit(self, user) -> bool:
        """Who may change it: administrators, members of the owner agency, whoever made it (a layer's owners)."""
        return holds_every_right(self, user)
