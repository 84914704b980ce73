import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("layers", "0013_jobs_move_out"),
        ("jobs", "0002_job_cancel_and_own_table"),
    ]

    operations = [
        # pgRouting (Debian's postgresql-<version>-pgrouting, installed by `make install`) next to PostGIS
        migrations.RunSQL("CREATE EXTENSION IF NOT EXISTS pgrouting", reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL("CREATE SCHEMA IF NOT EXISTS network", reverse_sql="DROP SCHEMA IF EXISTS network CASCADE"),
        migrations.CreateModel(
            name="Network",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("profile", models.CharField(choices=[("walking", "步行"), ("cycling", "自行車"), ("driving", "汽車")],
                                             default="driving", max_length=10)),
                ("tolerance_m", models.FloatField(default=1.0, help_text="line ends and vertices closer than this are one node")),
                ("speed_attribute", models.CharField(blank=True, help_text="km/h per feature, if the layer has it", max_length=63)),
                ("class_attribute", models.CharField(blank=True, help_text="road class, looked up in `speeds`", max_length=63)),
                ("speeds", models.JSONField(blank=True, default=dict, help_text="km/h by road class value")),
                ("oneway_attribute", models.CharField(blank=True, max_length=63)),
                ("label_attribute", models.CharField(blank=True, help_text="road names for directions", max_length=63)),
                ("status", models.CharField(choices=[("pending", "建立中"), ("ready", "可用"), ("failed", "建立失敗")],
                                            default="pending", max_length=10)),
                ("report", models.JSONField(blank=True, default=dict, help_text="edges, vertices, components and the sizes of the small ones")),
                ("error", models.JSONField(blank=True, default=dict, help_text="why the latest build failed (geo.messages)")),
                ("built_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("job", models.ForeignKey(blank=True, help_text="the latest build", null=True,
                                          on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="jobs.job")),
                ("layer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="networks", to="layers.layer")),
                ("version", models.ForeignKey(blank=True, help_text="the version of the layer the tables were built from", null=True,
                                              on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="layers.layerversion")),
            ],
            options={"ordering": ["layer__slug", "profile"]},
        ),
        migrations.AddConstraint(
            model_name="network",
            constraint=models.UniqueConstraint(fields=("layer", "profile"), name="unique_network_per_profile"),
        ),
    ]
