"""Delete files kept past their retention period (what the daily `files-purge` beat task runs)."""

from django.core.management.base import BaseCommand

from cardportal.retention import RULES, files_purge


class Command(BaseCommand):
    help = (
        "Delete uploaded sheets and bank/payment files kept past their retention period (docs/security.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count the files that are due")

    def handle(self, *args, dry_run: bool = False, **options):
        counts = files_purge(dry_run=dry_run)
        verb = "due" if dry_run else "removed"
        for name, count in counts.items():
            rule = RULES[name]
            self.stdout.write(
                f"{name}: {count} {verb} ({rule.model._meta.label}.{rule.field}; {rule.period_text()})"
            )
