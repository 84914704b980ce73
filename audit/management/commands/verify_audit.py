"""Walk the audit log's hash chain; exits 1 naming the first entry that does not match."""

import json

from django.core.management.base import BaseCommand, CommandError

from audit import chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain (prints the head hash: note it for later checks)"

    def handle(self, *args, **options):
        report = chain.verify()
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        if not report["valid"]:
            raise CommandError(report["problem"]["reason"])
