"""The restore drill: back up a loaded demo (manage.py backup), restore it into a fresh database and
media folder with a separate process (manage.py restore, as an operator would), and prove the
restored portal works: same migrations, same row count in every table, a member's ID number
decrypts with the same keys, and stored files download through the portal's own pages."""

import io
import json
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.urls import reverse

from cardportal import crypto
from cardportal.backup import MANIFEST, BackupError, Target, backup_verify
from issuance.models import BankBatch
from members.models import Member, StaffRole
from members.registration import sheet_import, sheet_upload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
GOOD_ID, BAD_ID = "130921198506150011", "130921198506150012"  # BAD: wrong check digit


def _snapshot(dbname: str) -> tuple[list, dict]:
    """(migrations applied, {table: rows}) of a database, read directly (not via the command)."""
    conn = Target.from_settings().connect(dbname)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
            migrations = cursor.fetchall()
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            counts = {}
            for (table,) in cursor.fetchall():
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                counts[table] = cursor.fetchone()[0]
            return migrations, counts
    finally:
        conn.close()


@contextmanager
def portal_on(dbname: str, media: Path, settings):
    """This process's portal pointed at another database and media folder, then back."""
    conn = connections["default"]
    original, original_media = conn.settings_dict["NAME"], settings.MEDIA_ROOT
    conn.close()
    conn.settings_dict["NAME"] = dbname
    settings.MEDIA_ROOT = media
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original
        settings.MEDIA_ROOT = original_media


@pytest.fixture
def fresh_database():
    name = f"cp_restore_drill_{uuid.uuid4().hex[:8]}"
    yield name
    admin = Target.from_settings().connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_a_backup_restores_into_a_fresh_database_and_the_portal_works(
    tmp_path, settings, client, fresh_database
):
    # Given the demo, with its bank hand-off files, and a clerk's sheet with one bad row
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_demo", members=40, stdout=io.StringIO())
    clerk = StaffRole.objects.select_related("user", "union").get(user__username="clerk")
    content = f"序号,身份证号,姓名,性别,手机号码,所属单位\n1,{GOOD_ID},王芳,,13912345678,财务处\n2,{BAD_ID},李娜,,13912345679,财务处\n"
    sheet, _ = sheet_upload(
        union=clerk.union, filename="表.csv", content=content.encode(), actor=clerk.user, enqueue=False
    )
    sheet_import(sheet_id=sheet.pk)
    batch = BankBatch.objects.exclude(handoff_file="").order_by("pk").first()
    with batch.handoff_file.open("rb") as handle:
        handoff_bytes = handle.read()
    member = Member.objects.order_by("pk").first()
    id_number = crypto.decrypt(member.id_encrypted)
    source_db = connections["default"].settings_dict["NAME"]

    # When it is backed up, and restored by another process into a new database and media folder
    call_command("backup", tmp_path / "backup", stdout=io.StringIO())
    restored_media = tmp_path / "restored-media"
    db = Target.from_settings()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db.user}@{db.host or '127.0.0.1'}:{db.port or 5432}/{fresh_database}",
        "MEDIA_ROOT": str(restored_media),
        "DEBUG": "1",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "PII_KEYS": ",".join(django_settings.PII_KEYS),
        "PII_HASH_KEY": django_settings.PII_HASH_KEY,
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "restore", str(tmp_path / "backup")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "all as in the backup" in result.stdout and "decrypts with PII_KEYS" in result.stdout

    # Then the restored database is the same, table by table
    source_migrations, source_counts = _snapshot(source_db)
    restored_migrations, restored_counts = _snapshot(fresh_database)
    assert restored_migrations == source_migrations
    assert restored_counts == source_counts
    assert source_counts["members_member"] == Member.objects.count() > 0
    assert sorted(p.relative_to(restored_media) for p in restored_media.rglob("*") if p.is_file()) == sorted(
        p.relative_to(settings.MEDIA_ROOT) for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()
    )

    with portal_on(fresh_database, restored_media, settings):
        # a member's ID number decrypts with the same keys
        assert crypto.decrypt(Member.objects.get(pk=member.pk).id_encrypted) == id_number
        # the bank hand-off file downloads byte for byte through the portal
        bank = StaffRole.objects.select_related("user").get(user__username="bank").user
        client.force_login(bank)
        response = client.get(reverse("issuance:batch_handoff", args=[batch.pk]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == handoff_bytes
        # the clerk's stored sheet is read again for its error report
        client.force_login(clerk.user)
        report = client.get(reverse("members:sheet_error_report", args=[sheet.pk]))
        assert report.status_code == 200
        rows = list(openpyxl.load_workbook(io.BytesIO(report.content)).active.values)
        assert [(r[2], r[-1]) for r in rows[1:]] == [
            ("王芳", None),
            ("李娜", "第3行（序号2）：身份证号校验位不对，可能有数字填错，请与身份证核对"),
        ]
        # and a restore with another PII_HASH_KEY is caught, not passed as good
        manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text())
        target = Target.from_settings()
        settings.PII_HASH_KEY = "not-the-registry-key-" * 3
        with pytest.raises(BackupError, match="PII_HASH_KEY is not the key of this registry"):
            backup_verify(manifest, target=target)


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, settings, tree):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("backup", tmp_path / "backup", stdout=io.StringIO())
    before = _snapshot(connections["default"].settings_dict["NAME"])
    settings.MEDIA_ROOT = tmp_path / "empty-media"
    with pytest.raises(CommandError, match="is not empty: restore into a new database"):
        call_command("restore", tmp_path / "backup", stdout=io.StringIO())
    assert _snapshot(connections["default"].settings_dict["NAME"]) == before


def test_backup_refuses_a_folder_that_holds_something(tmp_path, settings, tree):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "database.dump").write_bytes(b"yesterday")
    with pytest.raises(CommandError, match="is not empty: give a new folder"):
        call_command("backup", tmp_path / "old", stdout=io.StringIO())
    assert (tmp_path / "old" / "database.dump").read_bytes() == b"yesterday"
