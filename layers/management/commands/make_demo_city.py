import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from layers.democity.city import generate
from layers.democity.store import DEMO_SCHEMA, is_loaded, register, store, write_geopackage


class Command(BaseCommand):
    help = ("Generate the demo city (districts, villages, roads, parcels, buildings, facilities, Wi-Fi, sensors, "
            "flood zones, DEM) and store it in PostGIS. Deterministic for a given seed and size.")

    def add_arguments(self, parser):
        parser.add_argument("--size", type=float, default=1.0, help="scale factor: 1 ≈ 20k parcels, 50 ≈ 1M")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--schema", default=DEMO_SCHEMA)
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the city is already loaded")
        parser.add_argument("--gpkg", type=Path, help="also write the vector layers to this GeoPackage")
        parser.add_argument("--no-db", action="store_true", help="with --gpkg: only write the GeoPackage")

    def handle(self, *args, size, seed, schema, if_missing, gpkg, no_db, **options):
        if size <= 0 or size > 200:
            raise CommandError(f"--size must be in (0, 200], got {size}")
        if no_db and not gpkg:
            raise CommandError("--no-db needs --gpkg")
        if if_missing and not no_db and is_loaded(schema):
            self.stdout.write(f"demo city already loaded in schema {schema!r}; skipping")
            return
        start = time.perf_counter()
        self.stdout.write(f"generating demo city: seed {seed}, size {size} …")
        city = generate(seed, size)
        self.stdout.write(f"  generated in {time.perf_counter() - start:.1f} s")
        if gpkg:
            write_geopackage(city, gpkg)
            self.stdout.write(f"  wrote {gpkg}")
        if not no_db:
            store(city, schema, progress=self.stdout.write)
            if schema == DEMO_SCHEMA:
                self.stdout.write(f"  catalog: {len(register(city, schema))} layers registered")
        self.stdout.write(self.style.SUCCESS(f"demo city ready in {time.perf_counter() - start:.1f} s"))
