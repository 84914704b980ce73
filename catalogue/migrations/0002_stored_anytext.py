"""The view's anytext stored per layer (catalogue_record_text, kept by triggers, trigram-indexed) instead of built
for every row of every search."""

from django.db import migrations, models

from catalogue.sql import CREATE_VIEW, CREATE_VIEW_COMPUTED_ANYTEXT, DROP_VIEW, STORE_ANYTEXT, UNSTORE_ANYTEXT


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0001_csw_records_view"),
        ("layers", "0016_layer_time_attribute"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordText",
            fields=[
                ("layer_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("anytext", models.TextField()),
            ],
            options={"db_table": "catalogue_record_text"},
        ),
        migrations.RunSQL(STORE_ANYTEXT, UNSTORE_ANYTEXT),
        migrations.RunSQL(f"{DROP_VIEW}; {CREATE_VIEW}", f"{DROP_VIEW}; {CREATE_VIEW_COMPUTED_ANYTEXT}"),
    ]
