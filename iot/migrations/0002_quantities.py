from django.db import migrations

# what the city's sensors report, and the range outside which a reading is an error, not a measurement
QUANTITIES = [("pm25", "µg/m³", 0, 1000), ("pm10", "µg/m³", 0, 2000), ("temperature_c", "°C", -40, 70),
              ("humidity_pct", "%", 0, 100), ("noise_db", "dB(A)", 0, 150), ("water_level_m", "m", -5, 30)]


def create(apps, schema_editor):
    quantity = apps.get_model("iot", "Quantity")
    for code, unit, low, high in QUANTITIES:
        quantity.objects.update_or_create(code=code, defaults={"unit": unit, "min_value": low, "max_value": high})


class Migration(migrations.Migration):
    dependencies = [("iot", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
