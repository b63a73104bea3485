"""The import pipeline, the workflow (submit, return, approve, register) and the headless command."""

import io
import json
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from cardportal.audit import audit_for
from cardportal.errors import ApplicationError
from issuance.models import Card
from members.models import Member, RegistrationSheet, SheetClaim, SheetRow
from members.registration import (
    sheet_approve,
    sheet_import,
    sheet_register,
    sheet_return,
    sheet_submit,
    sheet_upload,
)

from ..factories import make_member, next_id_number

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位,困难职工\n"
S = RegistrationSheet.Status


def csv_sheet(*rows: str) -> bytes:
    return (HEADER + "".join(f"{r}\n" for r in rows)).encode("utf-8")


def upload(union, content: bytes, actor=None, name="登记表.csv", **kwargs) -> RegistrationSheet:
    sheet, created = sheet_upload(
        union=union, filename=name, content=content, actor=actor, enqueue=False, **kwargs
    )
    assert created
    return sheet_import(sheet_id=sheet.pk)


def rows_of(sheet):
    return list(
        SheetRow.objects.filter(sheet=sheet)
        .order_by("row_number")
        .values_list("row_number", "outcome", "reason")
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def test_upload_through_the_task_imports_and_stages_rows(
    tree, clerk, run_tasks_inline, django_capture_on_commit_callbacks
):
    id1, id2 = next_id_number(), next_id_number(male=False)
    content = csv_sheet(f"1,{id1},王芳,,13912345678,财务处,是", f"2,{id2},李娜,女,,人事处,", "3,,,,,,")
    with django_capture_on_commit_callbacks(execute=True):
        sheet, created = sheet_upload(
            union=tree.unit_a1,
            filename="a.csv",
            content=content,
            actor=clerk,
            declared_members=2,
            declared_id_copies=1,
        )
    sheet.refresh_from_db()
    assert created and sheet.status == S.VALIDATED and sheet.job_status == "done"
    assert (sheet.rows_accepted, sheet.rows_rejected, sheet.rows_skipped) == (1, 1, 1)
    assert rows_of(sheet) == [
        (2, "accept", "ok_normalised"),
        (3, "reject", "phone_missing"),
        (4, "skip", "blank"),
    ]
    assert sheet.members_count_mismatch and not sheet.copies_count_mismatch
    assert sheet.file.read() == content and len(sheet.sha256) == 64


def test_staged_values_are_stored_whole_and_encrypted(tree, clerk):
    """The char(18) trap: what reaches the table must be the whole value, not one character."""
    id_number = next_id_number()
    sheet = upload(tree.unit_a1, csv_sheet(f"1,{id_number},欧阳娜娜,,+86 139 1234 5678,财务处,"))
    row = SheetRow.objects.get(sheet=sheet)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_region, id_last4, phone_prefix, phone_last4, name, gender FROM members_sheetrow WHERE id = %s",
            [row.pk],
        )
        stored = cursor.fetchone()
    assert stored == (id_number[:6], id_number[-4:], "139", "5678", "欧阳娜娜", "M")
    assert id_number not in row.id_encrypted and "13912345678" not in row.phone_encrypted
    from cardportal import crypto

    assert (crypto.decrypt(row.id_encrypted), crypto.decrypt(row.phone_encrypted)) == (
        id_number,
        "13912345678",
    )
    assert row.id_hash == crypto.keyed_hash(id_number)


def test_the_same_file_uploaded_again_to_the_same_union_is_not_imported_twice(tree, clerk):
    content = csv_sheet(f"1,{next_id_number()},王芳,,13912345678,财务处,")
    first = upload(tree.unit_a1, content)
    again, created = sheet_upload(
        union=tree.unit_a1, filename="copy.csv", content=content, actor=clerk, enqueue=False
    )
    assert (created, again.pk) == (False, first.pk)
    assert RegistrationSheet.objects.count() == 1 and SheetRow.objects.count() == 1
    other_union, created = sheet_upload(
        union=tree.unit_a2, filename="a.csv", content=content, actor=clerk, enqueue=False
    )
    assert created and other_union.pk != first.pk


def test_a_refused_file_writes_nothing_and_the_next_upload_works(tree, clerk):
    bad = upload(tree.unit_a1, b"%PDF-1.4 not a sheet", name="x.xlsx")
    assert (bad.status, bad.job_status, bad.job_error_code) == (S.REFUSED, "failed", "file_not_spreadsheet")
    assert SheetRow.objects.count() == 0
    good = upload(tree.unit_a1, csv_sheet(f"1,{next_id_number()},王芳,,13912345678,财务处,"))
    assert (good.status, good.rows_accepted) == (S.VALIDATED, 1)


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("encrypted.xlsx", "file_encrypted"),
        ("libreoffice.xlsx", None),
        ("libreoffice.xls", None),
        ("wps_gbk.csv", None),
    ],
)
def test_office_fixtures_through_the_pipeline(tree, fixture, code):
    sheet = upload(tree.unit_a1, (FIXTURES / fixture).read_bytes(), name=fixture)
    assert sheet.job_error_code == (code or "")
    assert sheet.status == (S.REFUSED if code else S.VALIDATED)


def test_a_person_already_registered_is_rejected_saying_where_when_visible(tree, clerk):
    near, far = next_id_number(), next_id_number()
    make_member(tree.unit_a1, id_number=near)
    make_member(tree.unit_b1, id_number=far)  # another county: the clerk may not see it
    sheet = upload(
        tree.unit_a1, csv_sheet(f"1,{near},王芳,,13912345678,财务处,", f"2,{far},李娜,,13912345679,财务处,")
    )
    rows = list(SheetRow.objects.filter(sheet=sheet).order_by("row_number"))
    assert [(r.reason, r.field) for r in rows] == [("duplicate_existing", "id_number")] * 2
    assert tree.unit_a1.name in rows[0].message
    assert tree.unit_b1.name not in rows[1].message and "其他工会" in rows[1].message


def test_a_person_pending_in_another_submitted_sheet_is_rejected(tree, clerk):
    person = next_id_number()
    first = upload(tree.unit_a1, csv_sheet(f"1,{person},王芳,,13912345678,财务处,"))
    sheet_submit(sheet=first, actor=clerk)
    second = upload(tree.unit_a1, csv_sheet(f"1,{person},王芳,,13912345678,人事处,"))
    sibling = upload(tree.unit_a2, csv_sheet(f"1,{person},王芳,,13912345678,供电,"))
    (row,) = SheetRow.objects.filter(sheet=second)
    assert (row.outcome, row.reason) == ("reject", "duplicate_existing")
    assert f"{tree.unit_a1.name}的登记表 #{first.pk}" in row.message
    (hidden,) = SheetRow.objects.filter(sheet=sibling)
    assert hidden.reason == "duplicate_existing" and "其他工会的登记表" in hidden.message


def test_submit_rejects_people_registered_or_submitted_elsewhere_since_the_import(tree, clerk):
    """The submit-time re-check (one join in the database on PostgreSQL) says what the import's
    check says: registered wins over pending, and where only inside the clerk's subtree."""
    near, far, pending, hidden, free = (next_id_number() for _ in range(5))
    sheet = upload(
        tree.unit_a1,
        csv_sheet(
            *(
                f"{n},{p},王芳,,1391234567{n},财务处,"
                for n, p in enumerate([near, far, pending, hidden, free], start=1)
            )
        ),
    )
    make_member(tree.unit_a1, id_number=near)
    make_member(tree.unit_b1, id_number=far)
    other = upload(tree.unit_a1, csv_sheet(f"1,{pending},王芳,,13912345678,供电,"))
    sheet_submit(sheet=other, actor=clerk)
    away = upload(tree.unit_b1, csv_sheet(f"1,{hidden},王芳,,13912345678,供电,"))
    sheet_submit(sheet=away, actor=clerk)
    assert sheet_submit(sheet=sheet, actor=clerk) == 1
    rows = list(SheetRow.objects.filter(sheet=sheet).order_by("row_number"))
    assert [r.reason for r in rows] == ["duplicate_existing"] * 4 + ["ok_normalised"]
    assert rows[0].message == f"此人已登记为会员（{tree.unit_a1.name}），一人只能登记一次"
    assert rows[1].message == "此人已登记为会员（在其他工会），一人只能登记一次"
    assert rows[2].message == f"此人已在{tree.unit_a1.name}的登记表 #{other.pk}中待审核登记，一人只能登记一次"
    assert rows[3].message == "此人已在其他工会的登记表中待审核登记，一人只能登记一次"
    sheet.refresh_from_db()
    assert (sheet.rows_accepted, sheet.rows_rejected) == (1, 4)


def test_submit_approve_register_creates_members_and_card_applications(tree, clerk, reviewer):
    ids = [next_id_number() for _ in range(3)]
    sheet = upload(
        tree.unit_a1,
        csv_sheet(
            f"1,{ids[0]},王芳,,13912345678,财务处,是",
            f"2,{ids[1]},李娜,,13912345679,人事处,",
            f"3,{ids[2]},张伟,,1391234,人事处,",
        ),
        actor=clerk,
    )
    assert sheet_submit(sheet=sheet, actor=clerk) == 2
    assert SheetClaim.objects.filter(sheet=sheet).count() == 2
    sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    sheet = sheet_register(sheet_id=sheet.pk)
    assert (sheet.status, sheet.rows_registered, sheet.job_status) == (S.REGISTERED, 2, "done")
    members = list(Member.objects.filter(union=tree.unit_a1).order_by("name"))
    assert [(m.name, m.work_unit, m.is_hardship, m.masked_id) for m in members] == [
        ("李娜", "人事处", False, f"{ids[1][:6]}********{ids[1][-4:]}"),
        ("王芳", "财务处", True, f"{ids[0][:6]}********{ids[0][-4:]}"),
    ]
    assert {m.reveal_id_number() for m in members} == {ids[0], ids[1]}
    assert members[1].reveal_phone() == "13912345678" and members[1].phone_last4 == "5678"
    # the sheet says nothing of employment or dues: unknown, never 在编 with dues paid
    assert {(m.employment_type, m.dues_paid) for m in members} == {(Member.EmploymentType.UNKNOWN, None)}
    assert Card.objects.filter(member__in=members, status="applied").count() == 2
    assert Card.objects.get(member=members[1]).is_hardship is True
    assert SheetClaim.objects.count() == 0
    assert [e.verb for e in audit_for(sheet).order_by("id")] == [
        "sheet.uploaded",
        "sheet.submitted",
        "sheet.approved",
        "sheet.registered",
    ]
    # A re-delivered registration task does nothing more.
    sheet_register(sheet_id=sheet.pk)
    assert Member.objects.count() == 2 and Card.objects.count() == 2


def test_register_rejects_rows_whose_person_was_registered_meanwhile(tree, clerk, reviewer):
    person = next_id_number()
    sheet = upload(tree.unit_a1, csv_sheet(f"1,{person},王芳,,13912345678,财务处,"))
    sheet_submit(sheet=sheet, actor=clerk)
    sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    make_member(tree.unit_b1, id_number=person)  # registered by hand in between
    sheet = sheet_register(sheet_id=sheet.pk)
    assert (sheet.rows_registered, sheet.rows_accepted, sheet.rows_rejected) == (0, 0, 1)
    assert Member.objects.count() == 1
    assert rows_of(sheet) == [(2, "reject", "duplicate_existing")]


def test_return_releases_the_rows_and_keeps_the_reason(tree, clerk, reviewer):
    person = next_id_number()
    sheet = upload(tree.unit_a1, csv_sheet(f"1,{person},王芳,,13912345678,财务处,"))
    sheet_submit(sheet=sheet, actor=clerk)
    sheet_return(sheet=sheet, reason="确认书人数与登记表不一致", actor=reviewer)
    sheet.refresh_from_db()
    assert (sheet.status, sheet.return_reason) == (S.RETURNED, "确认书人数与登记表不一致")
    assert SheetClaim.objects.count() == 0
    again = upload(tree.unit_a1, csv_sheet(f"1,{person},王芳,,13912345678,财务处（改）,"))
    assert again.rows_accepted == 1  # the returned sheet no longer holds the person


def test_a_clerk_cannot_approve_and_nothing_changes(tree, clerk):
    sheet = upload(tree.unit_a1, csv_sheet(f"1,{next_id_number()},王芳,,13912345678,财务处,"))
    sheet_submit(sheet=sheet, actor=clerk)
    with pytest.raises(ApplicationError):
        sheet_approve(sheet=sheet, actor=clerk, enqueue=False)
    sheet.refresh_from_db()
    assert sheet.status == S.SUBMITTED and sheet.reviewed_by is None and Member.objects.count() == 0


def test_submit_needs_a_validated_sheet_with_accepted_rows(tree, clerk):
    sheet = upload(tree.unit_a1, csv_sheet("1,123,王芳,,13912345678,财务处,"))
    with pytest.raises(ApplicationError) as refused:
        sheet_submit(sheet=sheet, actor=clerk)
    assert refused.value.code == "nothing_to_submit"
    sheet.refresh_from_db()
    assert sheet.status == S.VALIDATED


def run_command(path, *args) -> dict:
    out = io.StringIO()
    call_command("import_sheet", str(path), *args, stdout=out)
    return json.loads(out.getvalue())


def test_import_sheet_command_prints_the_issue_json_shape(tree):
    result = run_command(FIXTURES / "libreoffice.xlsx", "--union", tree.unit_a1.code, "--json")
    assert result["file"]["status"] == "read"
    assert result["counts"] == {"accepted": 4, "rejected": 5, "skipped": 4}
    first = result["rows"][0]
    assert set(first) == {"row", "outcome", "reason", "field", "message", "values"}
    assert first["row"] == 3 and first["values"]["name"] == "王芳" and first["values"]["gender"] == "男"
    assert len(first["values"]["id_number"]) == 18 and first["values"]["phone"] == "13912340001"
    rejected = next(r for r in result["rows"] if r["row"] == 5)
    assert (rejected["outcome"], rejected["reason"], rejected["field"]) == (
        "reject",
        "id_excel_damaged",
        "id_number",
    )
    assert "values" not in rejected
    assert Member.objects.count() == 0


def test_import_sheet_command_register_and_refusal(tree):
    registered = run_command(FIXTURES / "wps_gbk.csv", "--union", tree.unit_a1.code, "--register", "--json")
    assert (registered["registered"], registered["file"]["sheet_status"]) == (2, "registered")
    assert Member.objects.filter(union=tree.unit_a1).count() == 2
    refused = run_command(FIXTURES / "encrypted.xlsx", "--union", tree.unit_a1.code, "--json")
    assert refused["file"]["status"] == "refused" and refused["file"]["reason"] == "file_encrypted"
    assert refused["file"]["message"] and refused["rows"] == []
    duplicate = run_command(FIXTURES / "wps_gbk.csv", "--union", tree.unit_a1.code, "--json")
    assert duplicate["file"]["status"] == "duplicate" and duplicate["counts"]["accepted"] == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_uploads_with_the_same_person_end_with_one_member(tree, clerk, reviewer):
    person = next_id_number()
    barrier = threading.Barrier(2)
    outcomes = {}

    def clerk_session(union, unit):
        try:
            content = csv_sheet(
                f"1,{person},王芳,,13912345678,{unit},", f"2,{next_id_number()},李{unit},,13912345670,{unit},"
            )
            sheet, _ = sheet_upload(
                union=union, filename=f"{unit}.csv", content=content, actor=None, enqueue=False
            )
            sheet = sheet_import(sheet_id=sheet.pk)
            barrier.wait(timeout=10)
            sheet_submit(sheet=sheet, actor=None)
            sheet_approve(sheet=sheet, actor=None, enqueue=False)
            outcomes[unit] = sheet_register(sheet_id=sheet.pk).rows_registered
        except ApplicationError as exc:
            outcomes[unit] = exc.code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=clerk_session, args=a)
        for a in [(tree.unit_a1, "一中"), (tree.unit_a2, "供电")]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    from cardportal import crypto

    assert Member.objects.filter(id_hash=crypto.keyed_hash(person)).count() == 1
    assert Member.objects.count() == 3  # the shared person once, plus one other person per sheet
    assert sorted(outcomes.values()) == [1, 2]
    assert SheetRow.objects.filter(reason="duplicate_existing").count() == 1
