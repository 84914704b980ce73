"""ImportJob now lives in the jobs app (jobs/migrations/0001): only Django's state changes here; the table, its
rows and the foreign key from layer versions stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('layers', '0012_attribute_descriptions_help'),
        ('jobs', '0001_job_from_layers'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='layerversion',
                    name='job',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name='+', to='jobs.job'),
                ),
                migrations.DeleteModel(name='ImportJob'),
            ],
            database_operations=[],
        ),
    ]
