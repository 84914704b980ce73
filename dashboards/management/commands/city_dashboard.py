from django.core.management.base import BaseCommand, CommandError

from dashboards import demo
from dashboards.models import Dashboard


class Command(BaseCommand):
    help = ("Make the demo city's 市政儀表板: its villages' population as a statistical table of two periods, joined "
            "to the village boundaries, indicators over it and a public dashboard (after make_demo_city).")

    def add_arguments(self, parser):
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the dashboard exists")

    def handle(self, *args, if_missing, **options):
        if if_missing and Dashboard.objects.filter(slug="city").exists():
            self.stdout.write("city dashboard already made; skipping")
            return
        try:
            demo.make(self.stdout.write)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
