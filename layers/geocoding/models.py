"""The address index: each address point of an address-point layer, its parts in the normal form of `address`."""

from django.db import models

from layers.models import Layer


class AddressIndex(models.Model):
    """Which version of a layer the points below were read from (rebuilt when the layer's data changes)."""

    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="address_index")
    stamp = models.CharField(max_length=120)
    count = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(auto_now=True)


class AddressPoint(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="+")
    fid = models.IntegerField()
    city = models.CharField(max_length=20, blank=True)
    district = models.CharField(max_length=20, blank=True)
    village = models.CharField(max_length=20, blank=True)
    road = models.CharField(max_length=60, blank=True)
    section = models.SmallIntegerField(default=0)
    lane = models.CharField(max_length=20, blank=True)
    alley = models.CharField(max_length=20, blank=True)
    number = models.IntegerField(null=True)
    sub = models.IntegerField(default=0)
    label = models.CharField(max_length=200)
    x = models.FloatField(help_text="working CRS")
    y = models.FloatField()
    lon = models.FloatField()
    lat = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["layer", "road", "section"]), models.Index(fields=["layer", "village"]),
                   models.Index(fields=["layer", "district"])]
