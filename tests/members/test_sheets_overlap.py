"""On PostgreSQL an import stages on a second connection while the chunks are worked
(`registration._StreamedStage`): the same rows as the spooled path, and still all or nothing. A
failure on either side mid-stream, or the run losing its sheet to a newer one, leaves no row
staged and the sheet ready for the retry. These tests commit (transaction=True): the staging
connection cannot see a test transaction's uncommitted sheet."""

import threading
from contextlib import suppress
from datetime import date

import pytest
from django.db import connection, transaction

from members import registration
from members.models import RegistrationSheet, SheetClaim, SheetRow
from members.registration import sheet_import, sheet_import_reset, sheet_submit, sheet_upload

from ..factories import make_member, next_id_number
from .test_sheets_pipeline import csv_sheet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
S = RegistrationSheet.Status
TODAY = date(2026, 6, 1)
ROWS = 40


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(registration, "STAGE_CHUNK_ROWS", 7)  # 6 chunks: 2-8, 9-15, …, 37-41


@pytest.fixture
def staging_backends(monkeypatch) -> list[int]:
    """The backend pid of every chunk's COPY."""
    pids: list[int] = []
    original = registration.stage_rows

    def stage_rows(spool):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
        original(spool)

    monkeypatch.setattr(registration, "stage_rows", stage_rows)
    return pids


def _content(tree) -> bytes:
    numbers = [next_id_number() for _ in range(ROWS)]
    make_member(tree.unit_b1, id_number=numbers[30])
    lines = [
        f"{n + 1},{numbers[n]},张{'三四五六七八九十'[n % 8]}明,,1390000{n:04d},第一车间," for n in range(ROWS)
    ]
    lines[12] = f"13,{numbers[2]},重复一,,13900001111,第一车间,"  # row 14: row 4's person, another chunk
    lines[27] = f"28,{numbers[2]},重复二,,12345,第一车间,"  # row 29: the same again, and a bad phone
    lines[20] = f"21,{numbers[19]},重复三,,13900002222,第二车间,"  # row 22: row 21's person, same chunk
    lines[9] = ",,,,,,"  # row 11: blank
    lines[33] = f"34,{numbers[33]},王五,,1390000{33:04d},第一\\车\t间,"  # COPY's escaping path
    return csv_sheet(*lines)


def _staged(sheet) -> list[tuple]:
    return list(
        SheetRow.objects.filter(sheet=sheet)
        .order_by("row_number")
        .values_list(
            "row_number", "outcome", "reason", "field", "message", "id_hash", "phone_hash", "work_unit"
        )
    )


def _upload(union, content: bytes) -> RegistrationSheet:
    sheet, created = sheet_upload(union=union, filename="s.csv", content=content, actor=None, enqueue=False)
    assert created
    return sheet


def test_streamed_staging_stages_what_the_spooled_path_stages(tree, staging_backends):
    content = _content(tree)
    streamed = sheet_import(sheet_id=_upload(tree.unit_a1, content).pk, today=TODAY)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        importing_backend = cursor.fetchone()[0]
    assert len(staging_backends) == 6 and importing_backend not in staging_backends  # the second connection

    staging_backends.clear()
    with transaction.atomic():  # inside a transaction the import stages on this connection, spooled
        spooled = sheet_import(sheet_id=_upload(tree.unit_a2, content).pk, today=TODAY)
    assert staging_backends == [importing_backend]

    assert streamed.status == spooled.status == S.VALIDATED
    assert _staged(streamed) == _staged(spooled)
    counts = (streamed.rows_accepted, streamed.rows_rejected, streamed.rows_skipped)
    assert counts == (spooled.rows_accepted, spooled.rows_rejected, spooled.rows_skipped) == (35, 4, 1)
    reasons = {row: reason for row, _o, reason, *_rest in _staged(streamed)}
    assert [reasons[r] for r in (14, 29, 22, 32, 11)] == [
        "duplicate_in_sheet",
        "duplicate_in_sheet",
        "duplicate_in_sheet",
        "duplicate_existing",
        "blank",
    ]
    assert (
        SheetRow.objects.get(sheet=streamed, row_number=35).work_unit == "第一\\车 间"
    )  # a tab is a space in the rules


def _fails_on_chunk(monkeypatch, chunk: int, *, copies: list[int]) -> None:
    """The row rules raise on the `chunk`-th chunk, once the staging thread has COPYed two
    chunks (so the failure finds rows written in the open transaction)."""
    original = registration.validate_chunk
    calls = []

    def validate_chunk(head, rows, **kwargs):
        calls.append(1)
        if len(calls) == chunk:
            for _ in range(200):
                if len(copies) >= 2:
                    break
                threading.Event().wait(0.05)
            assert len(copies) >= 2
            raise RuntimeError("the worker broke mid-sheet")
        return original(head, rows, **kwargs)

    monkeypatch.setattr(registration, "validate_chunk", validate_chunk)


def _assert_nothing_staged_and_retry_stages_all(sheet, monkeypatch) -> None:
    sheet.refresh_from_db()
    assert sheet.status == S.VALIDATING
    assert SheetRow.objects.count() == 0
    assert not [t for t in threading.enumerate() if t.name.endswith("-stage")]  # the thread ended
    monkeypatch.undo()
    monkeypatch.setattr(registration, "STAGE_CHUNK_ROWS", 7)
    assert sheet_import_reset(sheet=sheet)
    retried = sheet_import(sheet_id=sheet.pk, today=TODAY)
    assert retried.status == S.VALIDATED
    assert (retried.rows_accepted, retried.rows_rejected, retried.rows_skipped) == (35, 4, 1)
    assert SheetRow.objects.filter(sheet=sheet).count() == ROWS


def test_the_importing_side_failing_mid_stream_leaves_nothing_staged_and_the_sheet_retryable(
    tree, staging_backends, monkeypatch
):
    sheet = _upload(tree.unit_a1, _content(tree))
    _fails_on_chunk(monkeypatch, 4, copies=staging_backends)
    with pytest.raises(RuntimeError, match="mid-sheet"):
        sheet_import(sheet_id=sheet.pk, today=TODAY)
    _assert_nothing_staged_and_retry_stages_all(sheet, monkeypatch)


def test_the_staging_side_failing_mid_stream_leaves_nothing_staged_and_the_sheet_retryable(tree, monkeypatch):
    sheet = _upload(tree.unit_a1, _content(tree))
    original, copies = registration.stage_rows, []

    def stage_rows(spool):
        copies.append(1)
        if len(copies) == 3:
            with connection.cursor() as cursor:  # a COPY the database refuses, after two went in
                cursor.execute("SELECT 1/0")
        original(spool)

    monkeypatch.setattr(registration, "stage_rows", stage_rows)
    with pytest.raises(Exception, match="division by zero"):
        sheet_import(sheet_id=sheet.pk, today=TODAY)
    _assert_nothing_staged_and_retry_stages_all(sheet, monkeypatch)


def test_a_run_that_lost_its_sheet_mid_stream_stages_nothing(tree, staging_backends, monkeypatch):
    sheet = _upload(tree.unit_a1, _content(tree))
    original = registration.validate_chunk
    calls = []

    def validate_chunk(head, rows, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the lease ran out and a newer run took the sheet
            RegistrationSheet.objects.filter(pk=sheet.pk).update(job_token="a-newer-run")
        return original(head, rows, **kwargs)

    monkeypatch.setattr(registration, "validate_chunk", validate_chunk)
    returned = sheet_import(sheet_id=sheet.pk, today=TODAY)
    assert returned.job_token == "a-newer-run" and returned.status == S.VALIDATING
    assert len(staging_backends) >= 1  # chunks had been written in the transaction rolled back
    assert SheetRow.objects.count() == 0
    sheet.refresh_from_db()
    assert (sheet.status, sheet.rows_accepted) == (S.VALIDATING, 0)


def _deleter(sheet) -> tuple[threading.Thread, threading.Event]:
    """A thread (not started) that deletes the sheet on its own connection, and the event it
    sets once the deletion has returned."""
    deleted = threading.Event()

    def delete_sheet():
        try:
            RegistrationSheet.objects.filter(pk=sheet.pk).delete()
            deleted.set()
        finally:
            connection.close()

    return threading.Thread(target=delete_sheet), deleted


def test_a_sheet_deleted_while_it_stages_takes_every_staged_row_with_it(tree, monkeypatch):
    """`SheetRow.sheet` has no database constraint (its check was most of the staging COMMIT's
    tail). A deletion of the sheet while its rows are being staged waits for the staging
    transaction and then deletes the rows it staged too: no staged ID ciphertext outlives its
    sheet, as none could with the constraint."""
    sheet = _upload(tree.unit_a1, _content(tree))
    original = registration.validate_chunk
    deleter, deleted = _deleter(sheet)

    def validate_chunk(head, rows, **kwargs):
        if not deleter.is_alive() and not deleted.is_set() and rows[0][0] > 15:  # chunks already staged
            deleter.start()
            assert not deleted.wait(0.5)  # it waits for the staging transaction
        return original(head, rows, **kwargs)

    monkeypatch.setattr(registration, "validate_chunk", validate_chunk)
    with suppress(RegistrationSheet.DoesNotExist):  # the import's last read of its sheet may find it gone
        sheet_import(sheet_id=sheet.pk, today=TODAY)
    deleter.join(10)
    assert deleted.is_set()
    assert not RegistrationSheet.objects.filter(pk=sheet.pk).exists()
    assert SheetRow.objects.count() == 0


def test_a_sheet_deleted_while_it_is_submitted_takes_every_claim_with_it(tree, monkeypatch):
    """`SheetClaim.sheet` has no database constraint either (its check was a quarter of the
    submit's time in the database). A deletion of the sheet while its submit writes the claims
    waits for the submit's transaction and then deletes the claims too: no claim outlives its
    sheet to hold its people as pending, as none could with the constraint."""
    sheet = sheet_import(sheet_id=_upload(tree.unit_a1, _content(tree)).pk, today=TODAY)
    assert sheet.status == S.VALIDATED and sheet.rows_accepted == 35
    original = registration.audit_record
    deleter, deleted = _deleter(sheet)

    def audit_record(**kwargs):  # the submit's last step: its claims are written, not committed
        if kwargs.get("verb") == "sheet.submitted":
            assert SheetClaim.objects.filter(sheet_id=sheet.pk).count() == 35
            deleter.start()
            assert not deleted.wait(0.5)  # it waits for the submit's transaction
        return original(**kwargs)

    monkeypatch.setattr(registration, "audit_record", audit_record)
    assert sheet_submit(sheet=sheet, actor=None) == 35
    deleter.join(10)
    assert deleted.is_set()
    assert not RegistrationSheet.objects.filter(pk=sheet.pk).exists()
    assert SheetClaim.objects.count() == 0
