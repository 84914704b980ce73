"""Remove audit entries older than the retention period; what remains still verifies."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import chain, reads


class Command(BaseCommand):
    help = "Remove audit entries older than AUDIT_RETENTION_DAYS (or --days); the chain stays verifiable"

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help=f"keep this many days (default AUDIT_RETENTION_DAYS={settings.AUDIT_RETENTION_DAYS})")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        reads.flush_quietly()
        try:
            removed = chain.prune(days)
        except chain.ChainBroken as exc:
            raise CommandError(str(exc)) from None
        report = chain.verify()
        self.stdout.write(f"{removed} entries removed; chain from entry {report['first_seq']} to "
                          f"{report['last_seq']}: {'valid' if report['valid'] else 'BROKEN'}")
