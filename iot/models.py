"""Devices, what they measure, their observations (BRIN on time: stays small and fast at millions of rows),
the latest value of each, thresholds and the alerts they raise, and counts of rejected readings by reason."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import BrinIndex
from django.db.models import JSONField, Value

from layers.models import Layer


class Quantity(models.Model):
    """A measured quantity and the range a reading must fall in (outside it the reading is rejected)."""

    code = models.SlugField(max_length=40, unique=True)
    unit = models.CharField(max_length=20, blank=True)
    min_value = models.FloatField()
    max_value = models.FloatField()
    # what SensorThings calls its ObservedProperty: a readable name and the definition's URI
    name = models.CharField(max_length=200, blank=True)
    definition = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)

    def __str__(self):
        return self.code


class Device(models.Model):
    """A sensor: its id, where it stands (its feature in a registry layer, or a point), and its token's hash."""

    device_id = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=200, blank=True)
    layer = models.ForeignKey(Layer, null=True, blank=True, on_delete=models.SET_NULL,
                              help_text="the registry layer the sensor is a feature of")
    feature_fid = models.IntegerField(null=True, blank=True)
    location = models.PointField(srid=settings.WORKING_SRID, null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the device token")
    active = models.BooleanField(default=True)
    # SensorThings Thing fields a client may set
    description = models.TextField(blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # read from a remote SensorThings service (iot.harvest): read-only here, whoever asks
    harvested_from = models.CharField(max_length=40, blank=True, db_index=True,
                                      help_text="the remote SensorThings service it is read from (empty: our own)")
    remote_id = models.CharField(max_length=80, blank=True, help_text="its Thing's @iot.id there")

    def __str__(self):
        return self.device_id


class Observation(models.Model):
    """One reading. No surrogate key: (device, quantity, time) is the key, so a repeated reading is a conflict."""

    pk = models.CompositePrimaryKey("device_id", "quantity_id", "observed_at")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, db_constraint=False, db_index=False)
    quantity = models.ForeignKey(Quantity, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    observed_at = models.DateTimeField()
    value = models.FloatField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [BrinIndex(fields=["observed_at"], name="iot_obs_time_brin")]


class Latest(models.Model):
    pk = models.CompositePrimaryKey("device_id", "quantity_id")
    device = models.ForeignKey(Device, on_delete=models.CASCADE)
    quantity = models.ForeignKey(Quantity, on_delete=models.CASCADE)
    observed_at = models.DateTimeField()
    value = models.FloatField()


class Sensor(models.Model):
    """SensorThings' Sensor: the instrument or procedure behind a Datastream (a model, a data sheet)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    encoding_type = models.CharField(max_length=100, default="text/plain")
    metadata = models.TextField(blank=True)


class Datastream(models.Model):
    """One device's readings of one quantity, as SensorThings names it. A row exists for every pair that has a
    reading (a trigger on iot_latest adds it, whatever path the reading came by) or that a client created."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE)
    quantity = models.ForeignKey(Quantity, on_delete=models.PROTECT)
    sensor = models.ForeignKey(Sensor, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    unit_name = models.CharField(max_length=100, blank=True)
    unit_definition = models.CharField(max_length=500, blank=True)
    # defaults in the database too: a trigger on iot_latest adds rows (iot/migrations/0004)
    properties = models.JSONField(default=dict, db_default=Value({}, JSONField()), blank=True)
    remote_id = models.CharField(max_length=80, blank=True, db_default="",
                                 help_text="for a harvested device: its @iot.id there")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "quantity"], name="iot_datastream_pair")]


class Threshold(models.Model):
    """Readings above `above` raise an alert (for one device, or for all when device is empty)."""

    quantity = models.ForeignKey(Quantity, on_delete=models.CASCADE)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE)
    above = models.FloatField()
    label = models.CharField(max_length=100, blank=True)


class Alert(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE)
    quantity = models.ForeignKey(Quantity, on_delete=models.CASCADE)
    threshold = models.ForeignKey(Threshold, on_delete=models.CASCADE)
    value = models.FloatField()
    observed_at = models.DateTimeField()
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["-raised_at"])]


class RejectCount(models.Model):
    """Rejected readings by reason and channel: nothing is dropped without being counted."""

    source = models.CharField(max_length=10)  # http, mqtt
    reason = models.CharField(max_length=60)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "reason"], name="iot_reject_source_reason")]
