from django.db import migrations

SCHEMAS = ["layerdata", "layerversions", "layerstaging"]


class Migration(migrations.Migration):
    """Served layer tables, kept earlier versions, and imports in progress each get a schema of their own."""

    dependencies = [("layers", "0002_default_themes")]
    operations = [
        migrations.RunSQL([f"CREATE SCHEMA IF NOT EXISTS {s}" for s in SCHEMAS],
                          [f"DROP SCHEMA IF EXISTS {s} CASCADE" for s in SCHEMAS]),
    ]
