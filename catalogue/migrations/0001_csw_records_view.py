"""The catalogue's records as pycsw reads them: a view over the layer catalog (never a copy that drifts).

One row per layer (statistical tables are layers of kind `table`), in the columns of pycsw's `records` table. Every
layer is in the view; who may see which is decided per request (catalogue.csw: the caller's visible layers, the same
rule as everywhere). `xml` and `links` are NULL here: catalogue.repository writes them per request from the same
layer (layers.iso19139), so the ISO record, the REST API and this view never disagree.
"""

from django.db import migrations

from catalogue.sql import CREATE_VIEW_COMPUTED_ANYTEXT, DROP_VIEW


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0016_layer_time_attribute"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunSQL(CREATE_VIEW_COMPUTED_ANYTEXT, DROP_VIEW)]
