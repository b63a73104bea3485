from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cardportal.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup (manage.py backup) into the EMPTY database of DATABASE_URL (created if "
        "missing) and an empty MEDIA_ROOT, then check it against the backup's manifest: "
        "migrations, row counts per table, files, and that PII_KEYS / PII_HASH_KEY fit."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="the backup's folder")
        parser.add_argument("--jobs", type=int, default=2, help="parallel pg_restore jobs")

    def handle(self, *args, folder: Path, jobs: int, **options):
        try:
            found = backup_restore(folder, jobs=jobs)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored the backup of {found['backup_taken']:%Y-%m-%d %H:%M %Z}: {found['tables']} tables, "
            f"{found['rows']:,} rows and {found['media_files']} media files, all as in the backup; "
            f"{found['keys']}"
        )
        if found["pending_migrations"]:
            self.stdout.write(
                f"{found['pending_migrations']} migrations of this code are newer than the backup: "
                "run manage.py migrate"
            )
