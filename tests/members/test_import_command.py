"""`manage.py import_sheet --as USERNAME`: a registry migration from the command line gets the
limits of the staff account it is made as, and records it as the uploader."""

import io
import json
from pathlib import Path

from django.core.management import call_command

from members.models import RegistrationSheet

FIXTURES = Path(__file__).parent / "fixtures"


def run_command(*args) -> dict:
    out = io.StringIO()
    call_command("import_sheet", *args, stdout=out)
    return json.loads(out.getvalue())


def test_a_migration_as_city_staff_gets_the_migration_limit_and_is_recorded(tree, city_staff, settings):
    sheet_file = FIXTURES / "libreoffice.xlsx"
    settings.UPLOAD_MAX_BYTES = sheet_file.stat().st_size - 1  # the clerk's limit: just too small
    settings.MIGRATION_MAX_BYTES = sheet_file.stat().st_size + 1

    as_nobody = run_command(str(sheet_file), "--union", tree.unit_a1.code)
    assert as_nobody["file"]["reason"] == "file_too_large" and as_nobody["sheet"] is None

    as_city = run_command(str(sheet_file), "--union", tree.unit_a1.code, "--as", city_staff.username)
    assert as_city["file"]["status"] == "read"
    assert as_city["counts"] == {"accepted": 4, "rejected": 5, "skipped": 4}
    assert RegistrationSheet.objects.get(pk=as_city["sheet"]).created_by == city_staff


def test_a_clerk_account_keeps_the_clerk_limit(tree, clerk, settings):
    sheet_file = FIXTURES / "libreoffice.xlsx"
    settings.UPLOAD_MAX_BYTES = sheet_file.stat().st_size - 1
    as_clerk = run_command(str(sheet_file), "--union", tree.unit_a1.code, "--as", clerk.username)
    assert as_clerk["file"]["reason"] == "file_too_large"
    assert "上限" in as_clerk["file"]["message"]
