"""A sheet is imported in chunks (constant memory, issue 16): the result is the same row for row
as reading it whole, duplicates inside the sheet are found across chunks, and staff who migrate
a registry get the migration limits through the same pipeline and reason codes."""

from datetime import date

import pytest

from members import registration
from members.models import RegistrationSheet, SheetRow
from members.registration import sheet_import, sheet_upload
from members.sheets import read_sheet
from members.validation import validate_rows

from ..factories import make_member, next_id_number
from .test_sheets_pipeline import csv_sheet

pytestmark = pytest.mark.django_db
S = RegistrationSheet.Status
TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(registration, "STAGE_CHUNK_ROWS", 7)


def _sheet_lines() -> list[str]:
    ids = [next_id_number() for _ in range(30)]
    lines = [f"{n + 1},{ids[n]},张{'三四五六七八九十'[n % 8]}明,,1390000{n:04d},第一车间," for n in range(30)]
    # lines[n] is Excel row n + 2; chunks of 7 rows: 2-8, 9-15, 16-22, 23-29, 30-31
    lines[11] = f"12,{ids[2]},重复一,,13900001111,第一车间,"  # row 13: the person of row 4 (chunk 1)
    lines[24] = f"25,{ids[2]},重复二,,12345,第一车间,"  # row 26: the same again, and a bad phone
    lines[19] = f"20,{ids[16]},重复三,,13900002222,第二车间,"  # row 21: the person of row 18, same chunk
    lines[8] = ",,,,,,"  # row 10: blank
    return lines


def _staged(sheet):
    return list(
        SheetRow.objects.filter(sheet=sheet)
        .order_by("row_number")
        .values_list("row_number", "outcome", "reason", "message")
    )


def test_chunked_import_matches_reading_the_sheet_whole(tree, small_chunks):
    content = csv_sheet(*_sheet_lines())
    sheet, _ = sheet_upload(union=tree.unit_a1, filename="s.csv", content=content, actor=None, enqueue=False)
    sheet = sheet_import(sheet_id=sheet.pk, today=TODAY)
    assert sheet.status == S.VALIDATED

    whole = validate_rows(read_sheet(content), today=TODAY)
    assert _staged(sheet) == [(r.row, r.outcome, r.reason, r.message) for r in whole]
    staged = {row: (reason, message) for row, _o, reason, message in _staged(sheet)}
    assert staged[13] == ("duplicate_in_sheet", "身份证号与本表第4行重复（同一人只登记一次）")
    assert staged[26][0] == "duplicate_in_sheet" and staged[26][1].startswith("身份证号与本表第4行重复")
    assert "手机号码" in staged[26][1]  # the row's other problem is still named
    assert staged[21] == ("duplicate_in_sheet", "身份证号与本表第18行重复（同一人只登记一次）")
    assert staged[10][0] == "blank"
    assert (sheet.rows_accepted, sheet.rows_rejected, sheet.rows_skipped) == (26, 3, 1)


def test_duplicates_against_the_registry_across_chunks(tree, small_chunks):
    numbers = [next_id_number() for _ in range(20)]
    make_member(tree.unit_b1, id_number=numbers[15])
    lines = [f"{n + 1},{numbers[n]},李明,,1390000{n:04d},第一车间," for n in range(20)]
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="s.csv", content=csv_sheet(*lines), actor=None, enqueue=False
    )
    sheet = sheet_import(sheet_id=sheet.pk, today=TODAY)
    rejected = [(row, reason) for row, outcome, reason, _m in _staged(sheet) if outcome == "reject"]
    assert rejected == [(17, "duplicate_existing")]
    assert not SheetRow.objects.filter(sheet=sheet, outcome="accept", id_hash="").exists()


def test_registry_and_pending_conflicts_are_named_first_with_the_rows_other_problems(
    tree, clerk, small_chunks
):
    """The registry and pending-sheet check runs chunk by chunk in the staging transaction: a
    registered person's row names that first and keeps its other problems after it, registered
    wins over pending, a later row of the same person is still `duplicate_in_sheet` (in a later
    chunk or the same one), and the counts and the rows' stored hashes follow."""
    registered, both, pending, free, twice = (next_id_number() for _ in range(5))
    make_member(tree.unit_a1, id_number=registered)
    make_member(tree.unit_a1, id_number=twice)
    other, _ = sheet_upload(
        union=tree.unit_a1,
        filename="o.csv",
        content=csv_sheet(f"1,{pending},王芳,,13900000001,供电,", f"2,{both},王芳,,13900000002,供电,"),
        actor=None,
        enqueue=False,
    )
    other = sheet_import(sheet_id=other.pk, today=TODAY)
    registration.sheet_submit(sheet=other, actor=clerk)  # holds `pending` and `both`
    make_member(tree.unit_b1, id_number=both)  # `both` is registered meanwhile, and still pending
    lines = [f"{n + 1},{next_id_number()},李明,,1390000{n:04d},第一车间," for n in range(20)]
    lines[2] = f"3,{registered},李明,,12345,第一车间,"  # registered, and a bad phone
    lines[9] = f"10,{both},李明,,13900009999,第一车间,"  # registered wins over pending
    lines[10] = f"11,{pending},李明,,13900008888,第一车间,"  # pending in `other`
    lines[16] = f"17,{registered},李明,,13900007777,第一车间,"  # the row of line 3 again, chunk 3
    lines[18] = f"19,{free},李明,,13900006666,第一车间,"
    lines[4] = f"5,{twice},李明,,13900005555,第一车间,"  # registered; rows 6 and 8: one chunk
    lines[6] = f"7,{twice},李明,,13900004444,第一车间,"
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="s.csv", content=csv_sheet(*lines), actor=None, enqueue=False
    )
    sheet = sheet_import(sheet_id=sheet.pk, today=TODAY)
    staged = {row: (outcome, reason, message) for row, outcome, reason, message in _staged(sheet)}
    assert staged[4] == (
        "reject",
        "duplicate_existing",
        f"此人已登记为会员（{tree.unit_a1.name}），一人只能登记一次；手机号码“12345”不是有效的11位手机号",
    )
    assert staged[11] == ("reject", "duplicate_existing", "此人已登记为会员（在其他工会），一人只能登记一次")
    assert staged[12] == (
        "reject",
        "duplicate_existing",
        f"此人已在{tree.unit_a1.name}的登记表 #{other.pk}中待审核登记，一人只能登记一次",
    )
    assert staged[18][:2] == ("reject", "duplicate_in_sheet")
    assert staged[6] == (
        "reject",
        "duplicate_existing",
        f"此人已登记为会员（{tree.unit_a1.name}），一人只能登记一次",
    )
    assert staged[8] == ("reject", "duplicate_in_sheet", "身份证号与本表第6行重复（同一人只登记一次）")
    assert staged[20] == ("accept", "ok_normalised", "")
    assert (sheet.rows_accepted, sheet.rows_rejected) == (14, 6)
    taken = SheetRow.objects.filter(sheet=sheet, row_number__in=[4, 6, 8, 11, 12])
    assert set(taken.values_list("id_hash", "id_encrypted", "phone_hash", "phone_encrypted")) == {
        ("", "", "", "")
    }


def test_a_city_admin_migrates_more_rows_than_a_clerk_may_upload(
    tree, clerk, city_staff, settings, monkeypatch
):
    monkeypatch.setattr(registration, "MAX_ROWS", 10)  # the clerk's row limit, small for the test
    settings.MIGRATION_MAX_ROWS = 40
    lines = [f"{n + 1},{next_id_number()},王芳,,1390000{n:04d},第一车间," for n in range(25)]
    content = csv_sheet(*lines)

    by_clerk, _ = sheet_upload(
        union=tree.unit_a1, filename="a.csv", content=content, actor=clerk, enqueue=False
    )
    by_clerk = sheet_import(sheet_id=by_clerk.pk, today=TODAY)
    assert by_clerk.status == S.REFUSED
    assert by_clerk.job_error_code == "file_too_large"
    assert "最多 10 行" in by_clerk.job_message

    by_city, _ = sheet_upload(
        union=tree.unit_a2, filename="a.csv", content=content, actor=city_staff, enqueue=False
    )
    by_city = sheet_import(sheet_id=by_city.pk, today=TODAY)
    assert by_city.status == S.VALIDATED
    assert by_city.rows_accepted == 25

    settings.MIGRATION_MAX_ROWS = 20  # the migration limit holds too, with the same reason code
    again, _ = sheet_upload(
        union=tree.unit_b1, filename="a.csv", content=content, actor=city_staff, enqueue=False
    )
    again = sheet_import(sheet_id=again.pk, today=TODAY)
    assert (again.status, again.job_error_code) == (S.REFUSED, "file_too_large")
    assert not SheetRow.objects.filter(sheet=again).exists()


def test_a_migration_sheet_over_the_kernels_cell_budget_is_staged(tree, city_staff, settings, monkeypatch):
    """The cell budget follows the row limit: a migration's .xlsx of a million rows and six
    columns was refused as too many cells although its rows were allowed."""
    import functools
    import io

    from openpyxl import Workbook

    from cardportal import tables

    # the kernel's budget, small for the test (its default and its constant)
    monkeypatch.setattr(tables, "Limits", functools.partial(tables.Limits, max_cells=60))
    monkeypatch.setattr(tables, "MAX_CELLS", 60)
    settings.MIGRATION_MAX_ROWS = 2000  # (the kernel's first scan bounds 2-digit rows as 99 x 26)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("登记表")
    sheet.append(["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"])
    for n in range(15):  # 16 rows x 6 columns: 96 cells
        sheet.append([n + 1, next_id_number(), "王芳", "", f"1390000{n:04d}", "第一车间"])
    buffer = io.BytesIO()
    book.save(buffer)
    staged, _ = sheet_upload(
        union=tree.unit_a1, filename="m.xlsx", content=buffer.getvalue(), actor=city_staff, enqueue=False
    )
    staged = sheet_import(sheet_id=staged.pk, today=TODAY)
    assert (staged.status, staged.rows_accepted) == (S.VALIDATED, 15)


def test_staged_text_is_what_the_general_encoder_writes_of_the_staged_tuples():
    """`staged_text` writes from the row results exactly what `bulk.encode_copy` writes of their
    staged tuples (`build_rows`): accepted, rejected (a typed ID number kept for its masked
    display) and skipped rows, no birth date, dues yes/no/unknown; and a value with a tab,
    newline or backslash (typed into a unit name or 序号) is escaped, not a new column or row."""
    from cardportal import bulk
    from members.validation import ACCEPT, REJECT, SKIP, RowResult

    def results(unit, seq):
        ok = RowResult(2, ACCEPT, "ok", "", "", "130902198001020021", "王芳", "F", date(1980, 1, 2),
                       "13900000000", unit, True, seq=seq, employment="agency", dues_paid=True)  # fmt: skip
        bad = RowResult(3, REJECT, "phone_invalid", "phone", "手机号码“12”不是有效的11位手机号",
                        name="李四", phone="", unit="二车间", id_typed="13090219800102002", dues_paid=False)  # fmt: skip
        skip = RowResult(4, SKIP, "blank", message="空行，已跳过")
        return [ok, bad, skip]

    written = {}
    for unit, seq in (("一车间", "1"), ("a\\b\tc", "1"), ("一车间", "7\n8")):
        chunk = results(unit, seq)
        id_hashes = {"130902198001020021": "h" * 32}
        sealed = {2: ("2.tok", "p" * 32, "2.tp")}
        rows = registration.build_rows(chunk, sheet_id=9, id_hashes=id_hashes, sealed=sealed)
        expected = "".join(text for text, _n in bulk.encode_copy(rows, len(registration.STAGE_COLUMNS)))
        written[unit, seq] = registration.staged_text(chunk, sheet_id=9, id_hashes=id_hashes, sealed=sealed)
        assert written[unit, seq] == expected
    assert "a\\\\b\\tc" in written["a\\b\tc", "1"]
    assert "7\\n8" in written["一车间", "7\n8"]


def test_the_import_turns_the_garbage_collector_back_on(tree, small_chunks):
    """The chunks are worked with the cyclic collector off (`tables.collector_paused`); it is on again
    after the import, staged or refused."""
    import gc

    good, _ = sheet_upload(
        union=tree.unit_a1, filename="s.csv", content=csv_sheet(*_sheet_lines()), actor=None, enqueue=False
    )
    assert sheet_import(sheet_id=good.pk, today=TODAY).status == S.VALIDATED
    assert gc.isenabled()
    refused, _ = sheet_upload(
        union=tree.unit_a1, filename="r.csv", content=csv_sheet(",,,,,,"), actor=None, enqueue=False
    )
    assert sheet_import(sheet_id=refused.pk, today=TODAY).status == S.REFUSED
    assert gc.isenabled()


@pytest.mark.parametrize("chunk", [[("a" * 32, 2), ("b" * 32, 3)], [("b" * 32, 9), ("c" * 32, 10)]])
def test_key_table_get_or_add_answers_the_keys_seen_before(chunk):
    from cardportal import bulk

    with bulk.KeyTable("t") as seen:
        assert seen.get_or_add([("a" * 32, 2), ("b" * 32, 3)]) == {}
        found = seen.get_or_add(chunk)
        assert found == {k: v for k, v in [("a" * 32, 2), ("b" * 32, 3)] if k in dict(chunk)}
        assert seen.get(["c" * 32]) == ({"c" * 32: 10} if ("c" * 32, 10) in chunk else {})


def test_progress_is_written_after_the_first_chunk_then_every_few_seconds(tree, small_chunks, monkeypatch):
    """Each progress UPDATE is a version of the sheet's row that every staged row's foreign-key
    check walks at COMMIT, so a fast import writes it after its first chunk, then at most every
    `PROGRESS_SECONDS` (here never again), not once a chunk; the finished job says all of it."""
    written = []
    real = registration.job_progress
    monkeypatch.setattr(registration, "PROGRESS_SECONDS", 3600.0)
    monkeypatch.setattr(
        registration, "job_progress", lambda sheet, **kw: written.append(kw["done"]) or real(sheet, **kw)
    )
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="s.csv", content=csv_sheet(*_sheet_lines()), actor=None, enqueue=False
    )
    sheet = sheet_import(sheet_id=sheet.pk, today=TODAY)
    assert written == [0, 7]  # the total before the first chunk, then the first chunk's 7 rows
    assert (sheet.status, sheet.progress_done, sheet.rows_accepted) == (S.VALIDATED, 30, 26)
