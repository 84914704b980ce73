"""Every group that owns a layer is an agency (before this app, agencies were plain groups)."""

from django.db import migrations


def mark(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Agency = apps.get_model("accounts", "Agency")
    for group in Group.objects.filter(owned_layers__isnull=False).distinct():
        Agency.objects.get_or_create(group=group)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_agencies_and_accounts"), ("layers", "0001_initial")]
    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
