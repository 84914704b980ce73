"""Publish every vector and raster layer to the OGC engine now (start-up, or after switching engines)."""

from django.core.management.base import BaseCommand

from layers.ogc.publishing import publish_all


class Command(BaseCommand):
    help = "Publish every served layer of the catalog as WMS/WFS through the configured OGC engine"

    def handle(self, *args, **options):
        published = publish_all()
        if options["verbosity"]:
            self.stdout.write(f"{len(published)} layers published")
