"""What staff keep on the map: markers with notes, and short links to a view."""

import secrets
import string

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

SHORT_CODE_ALPHABET = string.ascii_letters + string.digits


class Marker(models.Model):
    """A point with a note (地圖標記): private to its owner, or shared with one of the owner's groups."""

    class Icon(models.TextChoices):
        PIN = "pin", _("圖釘")
        STAR = "star", _("星號")
        FLAG = "flag", _("旗幟")
        WARNING = "warning", _("警示")
        INFO = "info", _("資訊")
        CAMERA = "camera", _("照片")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="markers")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="markers",
                              help_text="shared with this group (read-only for its members); empty: private")
    title = models.CharField(max_length=120)
    text = models.TextField(blank=True)
    color = models.CharField(max_length=7, default="#e4572e")
    icon = models.CharField(max_length=10, choices=Icon.choices, default=Icon.PIN)
    location = models.PointField(srid=4326)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]


def new_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(8))


class SharedView(models.Model):
    """A short link (分享) to a map view: centre, zoom, 2D/3D, layers with opacity, markers and results.

    Markers are copied in when the link is made, so whoever opens it sees the notes that were shared; layers are
    checked against the catalog each time it is opened."""

    code = models.CharField(max_length=12, unique=True, default=new_code)
    state = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    opened = models.PositiveIntegerField(default=0)
