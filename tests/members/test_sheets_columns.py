"""The sheet's optional columns (序号, 用工类型, 按时交纳会费; seeds 000 §三(1), 001 §二(三), 000 附件5)
and rows named as clerks name them (第8行（序号5）), from the rules to the member registry."""

import io
from datetime import date

import openpyxl
import pytest

from members.idcard import make_id_number
from members.models import Member, RegistrationSheet, SheetRow
from members.registration import sheet_approve, sheet_import, sheet_register, sheet_submit, sheet_upload
from members.sheet_files import template_workbook
from members.sheets import SheetData, read_sheet
from members.validation import validate_rows

from ..factories import next_id_number

TODAY = date(2026, 4, 1)
COLUMNS = {
    "seq": 0,
    "id_number": 1,
    "name": 2,
    "gender": 3,
    "phone": 4,
    "unit": 5,
    "employment": 6,
    "dues": 7,
}
GOOD = make_id_number("110105", date(1985, 6, 15), 11, male=True)
BAD_CHECK = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位,用工类型,按时交纳会费\n"


def run(*rows):
    data = SheetData("xlsx", "登记表", 1, COLUMNS, [(n + 2, list(r)) for n, r in enumerate(rows)])
    return validate_rows(data, today=TODAY)


def row(seq, employment=None, dues=None, id_number=GOOD):
    return [seq, id_number, "张伟", "男", "13912345678", "第一中学", employment, dues]


# --- the rules --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("在编", "established"),
        ("劳务派遣", "agency"),
        ("临时", "temporary"),
        ("临时工", "temporary"),
        ("农民工", "migrant"),
        (" 农民工 ", "migrant"),
        (None, "unknown"),
        ("", "unknown"),
        ("\u3000", "unknown"),
    ],
)
def test_employment_type_is_read_and_blank_stays_unknown(typed, stored):
    (result,) = run(row(1, typed))
    assert (result.outcome, result.employment) == ("accept", stored)


@pytest.mark.parametrize(
    ("typed", "stored"), [("是", True), ("否", False), ("√", True), (None, None), ("", None)]
)
def test_dues_paid_yes_no_and_blank_unknown(typed, stored):
    (result,) = run(row(1, None, typed))
    assert (result.outcome, result.dues_paid) == ("accept", stored)


def test_a_bad_employment_type_rejects_the_row_naming_row_seq_and_column():
    (result,) = run(row(5, "正式工"))
    assert (result.outcome, result.reason, result.field) == ("reject", "employment_invalid", "employment")
    assert result.message == (
        "第2行（序号5）“用工类型”列填的“正式工”无效：只能填在编、劳务派遣、临时或农民工，不清楚的不填"
    )


def test_a_bad_dues_value_rejects_the_row_naming_row_seq_and_column():
    (result,) = run(row(None, None, "交了"))
    assert (result.outcome, result.reason, result.field) == ("reject", "dues_invalid", "dues")
    assert result.message == "第2行“按时交纳会费”列填的“交了”无效：只能填“是”或“否”，不清楚的不填"


def test_seq_is_kept_as_text():
    results = run(row(5.0), row(" ６ ", id_number=next_id_number()), row(None, id_number=next_id_number()))
    assert [r.seq for r in results] == ["5", "6", ""]
    assert [r.label for r in results] == ["第2行（序号5）", "第3行（序号6）", "第4行"]


def test_a_duplicate_row_is_labelled_with_its_own_seq():
    results = run(row(1), row(2))
    assert results[1].reason == "duplicate_in_sheet" and results[1].label == "第3行（序号2）"
    assert results[1].message.startswith("身份证号与本表第2行重复")


def test_a_bad_check_digit_keeps_what_was_typed_for_the_masked_display():
    (result,) = run(row(1, id_number=BAD_CHECK))
    assert (result.reason, result.id_number, result.id_typed) == ("id_checksum", "", BAD_CHECK)


# --- through the pipeline ---------------------------------------------------------------------------
@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(union, *lines, actor=None, header=HEADER):
    content = (header + "".join(f"{line}\n" for line in lines)).encode()
    sheet, _ = sheet_upload(union=union, filename="表.csv", content=content, actor=actor, enqueue=False)
    return sheet_import(sheet_id=sheet.pk)


@pytest.mark.django_db
def test_members_are_registered_with_the_sheets_employment_type_and_dues(media, tree, clerk, reviewer):
    ids = [next_id_number() for _ in range(3)]
    sheet = upload(
        tree.unit_a1,
        f"1,{ids[0]},王芳,,13912345678,财务处,劳务派遣,是",
        f"2,{ids[1]},李娜,,13912345679,人事处,,",
        f"3,{ids[2]},张伟,,13912345670,后勤处,农民工,否",
        actor=clerk,
    )
    staged = SheetRow.objects.filter(sheet=sheet).order_by("row_number")
    assert [(r.seq, r.employment_type, r.dues_paid) for r in staged] == [
        ("1", "agency", True),
        ("2", "unknown", None),
        ("3", "migrant", False),
    ]
    sheet_submit(sheet=sheet, actor=clerk)
    sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    sheet_register(sheet_id=sheet.pk)
    members = Member.objects.filter(union=tree.unit_a1).order_by("name")
    assert [(m.name, m.employment_type, m.dues_paid) for m in members] == [
        ("张伟", Member.EmploymentType.MIGRANT, False),
        ("李娜", Member.EmploymentType.UNKNOWN, None),  # blank stays unknown: not proven for benefits
        ("王芳", Member.EmploymentType.AGENCY, True),
    ]


@pytest.mark.django_db
def test_results_and_error_report_name_rows_with_seq_and_show_the_typed_id_masked(media, client, tree, clerk):
    bad = next_id_number()
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    sheet = upload(
        tree.unit_a1,
        f"1,{next_id_number()},王芳,,13912345678,财务处,在编,是",
        f"5,{bad},李娜,,13912345679,人事处,在编,是",
        f"6,{next_id_number()},张伟,,13912345670,后勤处,合同工,是",
        actor=clerk,
    )
    assert (sheet.rows_accepted, sheet.rows_rejected) == (1, 2)
    rejected = SheetRow.objects.get(sheet=sheet, row_number=3)
    assert rejected.masked_id == f"{bad[:6]}********{bad[-4:]}"
    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "第3行（序号5）" in page and f"{bad[:6]}********{bad[-4:]}" in page
    assert bad not in page
    assert "第4行（序号6）“用工类型”列填的“合同工”无效" in page
    response = client.get(f"/members/sheets/{sheet.pk}/errors.xlsx")
    rows = [
        [c.value for c in r] for r in openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows()
    ]
    assert rows[2][-1].startswith("第3行（序号5）：身份证号校验位不对")
    assert rows[2][1] == bad  # the row to fix comes back as typed
    assert rows[3][-1].startswith("第4行（序号6）“用工类型”列")  # named once, not twice


@pytest.mark.django_db
def test_a_sheet_without_the_optional_columns_registers_unknown(media, tree, clerk):
    sheet = upload(
        tree.unit_a1,
        f"{next_id_number()},王芳,,13912345678,财务处",
        header="身份证号,姓名,性别,手机号码,所属单位\n",
    )
    assert sheet.status == RegistrationSheet.Status.VALIDATED
    assert list(SheetRow.objects.filter(sheet=sheet).values_list("seq", "employment_type", "dues_paid")) == [
        ("", "unknown", None)
    ]


def test_the_template_has_the_optional_columns_and_reads_back():
    book = openpyxl.load_workbook(io.BytesIO(template_workbook()))
    sheet = book.active
    headers = [c.value for c in sheet[3]]
    assert headers[-2:] == ["用工类型（在编/劳务派遣/临时/农民工，可不填）", "按时交纳会费（是/否，可不填）"]
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["H4"] == '"在编,劳务派遣,临时,农民工"' and lists["I4"] == '"是,否"'
    sheet.append([1, GOOD, "张伟", "男", "13912345678", "第一中学", "", "临时", "否"])
    filled = io.BytesIO()
    book.save(filled)
    data = read_sheet(filled.getvalue())
    assert {k: data.columns[k] for k in ("seq", "employment", "dues")} == {
        "seq": 0,
        "employment": 7,
        "dues": 8,
    }
