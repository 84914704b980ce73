"""Existing layers' attributes get labels in both languages, a unit, a kind and a display format
(layers.attribute_kinds), guessed from their names and a sample of their values as an import now does."""

from django.db import migrations
from psycopg2 import sql

SAMPLE_ROWS = 1000


def describe_existing(apps, schema_editor):
    from layers.attribute_kinds import describe

    Layer = apps.get_model("layers", "Layer")
    with schema_editor.connection.cursor() as cur:
        for layer in Layer.objects.exclude(attributes=[]):
            samples = {}
            names = [a["name"] for a in layer.attributes]
            if layer.table_name and layer.kind in ("vector", "table"):
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"layerdata"."{layer.table_name}"'])
                if cur.fetchone()[0]:
                    cur.execute(sql.SQL("SELECT {} FROM {} LIMIT {}").format(
                        sql.SQL(", ").join(sql.Identifier(n) for n in names),
                        sql.Identifier("layerdata", layer.table_name), sql.Literal(SAMPLE_ROWS)))
                    rows = cur.fetchall()
                    samples = {n: [row[i] for row in rows] for i, n in enumerate(names)}
            described = []
            for a in layer.attributes:
                if "kind" in a or layer.kind == "raster" or "name" not in a or "type" not in a:
                    described.append(a)  # already described, or a raster band
                    continue
                entry = describe(a["name"], a["type"], a.get("source", ""), samples.get(a["name"]), previous=a)
                described.append({**a, **entry})
            layer.attributes = described
            layer.save(update_fields=["attributes"])


class Migration(migrations.Migration):

    dependencies = [
        ("layers", "0010_derived_access_data"),
    ]

    operations = [
        migrations.RunPython(describe_existing, migrations.RunPython.noop),
    ]
