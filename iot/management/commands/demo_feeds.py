"""The demo city's sensors as live devices: register the air-sensors layer, set the PM2.5 alert threshold, and
take in the week of readings through the normal ingestion (so they are checked, counted and raise alerts)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from psycopg2 import sql

from iot import registry
from iot.ingest import ingest
from iot.models import Device, Observation, Quantity, Threshold
from layers.models import DATA_SCHEMA, Layer

QUANTITIES = ("pm25", "pm10", "temperature_c", "humidity_pct")
PM25_SENSITIVE = 35.5  # µg/m³: from here Taiwan's AQI calls PM2.5 unhealthy for sensitive groups


class Command(BaseCommand):
    help = "Register the demo air-quality sensors as devices and load their readings (once)."

    def handle(self, *args, **options):
        sensors = Layer.objects.filter(slug="air-sensors").first()
        readings = Layer.objects.filter(slug="air-readings").first()
        if sensors is None or readings is None:
            self.stdout.write("no demo air-quality layers; nothing to do")
            return
        if Observation.objects.filter(device__layer=sensors).exists():
            self.stdout.write("demo sensor feeds already loaded")
            return
        issued, _ = registry.from_layer(sensors, "sensor_id")
        tokens = Path(settings.DATA_DIR) / "demo-sensor-tokens.json"
        tokens.write_text(json.dumps(issued, indent=1))
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT sensor_id, observed_at, {} FROM {} ORDER BY sensor_id, observed_at").format(
                sql.SQL(", ").join(sql.Identifier(q) for q in QUANTITIES),
                sql.Identifier(DATA_SCHEMA, readings.table_name)))
            rows = cur.fetchall()
        by_device: dict[str, list] = {}
        for sensor_id, observed, *values in rows:
            by_device.setdefault(sensor_id, []).extend(
                {"quantity": q, "value": v, "observed_at": observed.isoformat()}
                for q, v in zip(QUANTITIES, values, strict=True) if v is not None)
        Threshold.objects.get_or_create(quantity=Quantity.objects.get(code="pm25"), device=None,
                                        defaults={"above": PM25_SENSITIVE, "label": "PM2.5 對敏感族群不健康"})
        stored = rejected = 0
        for device in Device.objects.filter(layer=sensors):
            outcome = ingest(device, by_device.get(device.device_id, []), "import")
            stored, rejected = stored + outcome.accepted, rejected + len(outcome.rejected)
        self.stdout.write(f"{len(issued)} sensors registered (tokens in {tokens}); {stored:,} readings stored, "
                          f"{rejected:,} rejected")
