"""The import job model moves from `layers` to `jobs` as Job, rows and all: this migration only tells Django's
state that the existing table layers_importjob is now jobs.Job (nothing is copied). The one database change is the
many-to-many column, named after the model (importjob_id → job_id). 0002 then renames the tables."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

M2M = "layers_importjob_layers"


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('layers', '0012_attribute_descriptions_help'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Job',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name='ID')),
                        ('kind', models.CharField(choices=[('import', '匯入'), ('analysis', '分析')], default='import',
                                                  max_length=10)),
                        ('status', models.CharField(choices=[('pending', '等待中'), ('running', '匯入中'),
                                                             ('succeeded', '完成'), ('failed', '失敗')],
                                                    default='pending', max_length=10)),
                        ('progress', models.PositiveSmallIntegerField(default=0)),
                        ('source_name', models.CharField(help_text='the file being imported, or the analysis asked '
                                                                   'for', max_length=300)),
                        ('source_path', models.CharField(help_text='where the uploaded file waits for the worker',
                                                         max_length=500)),
                        ('options', models.JSONField(blank=True, default=dict, help_text='slug, title, crs, encoding, '
                                                     'theme, visibility, target layer …')),
                        ('messages', models.JSONField(blank=True, default=list)),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('counts', models.JSONField(blank=True, default=dict)),
                        ('task_id', models.CharField(blank=True, max_length=50)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True,
                                                         on_delete=django.db.models.deletion.SET_NULL,
                                                         related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('layers', models.ManyToManyField(blank=True, related_name='import_jobs', to='layers.layer')),
                    ],
                    options={
                        'ordering': ['-created_at'],
                        'db_table': 'layers_importjob',
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(f"ALTER TABLE {M2M} RENAME COLUMN importjob_id TO job_id",
                                  f"ALTER TABLE {M2M} RENAME COLUMN job_id TO importjob_id"),
            ],
        ),
    ]
