"""What the catalogue keeps beside the layer catalog: each layer's searchable text, written by the database itself
(triggers of catalogue/migrations/0002_stored_anytext.py, SQL in catalogue.sql) — never by Python code."""

from django.db import models


class RecordText(models.Model):
    """A layer's `anytext` for CSW's csw:AnyText and OGC API - Records' `q` (read through the view
    catalogue_csw_records), trigram-indexed. `layer_id` refers to the layer in the database (ON DELETE CASCADE) and
    not in Django: a layer's deletion may update the layer first (a SET_NULL of its current version), and the
    trigger would write the row again after Django's own cascade had deleted it."""

    layer_id = models.BigIntegerField(primary_key=True)
    anytext = models.TextField()

    class Meta:
        db_table = "catalogue_record_text"
