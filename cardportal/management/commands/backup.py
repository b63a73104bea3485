from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cardportal.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, custom format) and MEDIA_ROOT into a new folder, with a "
        "manifest of the migrations and row counts. The keys are NOT included: back them up apart."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="a new (or empty) folder for this backup")

    def handle(self, *args, folder: Path, **options):
        try:
            manifest = backup_create(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["row_counts"].values())
        self.stdout.write(
            f"backup of {manifest['database']} in {folder}: {len(manifest['row_counts'])} tables, "
            f"{rows:,} rows, {manifest['media_files']} media files"
        )
