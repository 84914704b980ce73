"""What the catalogue keeps beside the layer catalog: each layer's searchable text, written by the database itself
(triggers of catalogue/migrations/0002_stored_anytext.py, SQL in catalogue.sql) — never by Python code."""

from django.db import models

from layers.models import Layer


class RecordText(models.Model):
    """A layer's `anytext` for CSW's csw:AnyText and OGC API - Records' `q` (read through the view
    catalogue_csw_records), trigram-indexed."""

    layer = models.OneToOneField(Layer, primary_key=True, on_delete=models.CASCADE, related_name="+")
    anytext = models.TextField()

    class Meta:
        db_table = "catalogue_record_text"
