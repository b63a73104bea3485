"""Issue 10 finding 6, files at rest: uploaded sheets and bank/payment files are deleted once their
retention period (settings.FILE_RETENTION_DAYS, docs/security.md) is over; every download of a
removed file says so; the database records stay."""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from benefits.models import Disbursement
from benefits.services.bankfiles import disbursement_export
from benefits.services.disbursements import Entry, disbursement_add_entries, disbursement_create
from cardportal.models import AuditEntry
from cardportal.retention import files_purge
from cardportal.tasks import files_purge_task
from issuance.models import BankFileImport
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from members.models import RegistrationSheet, SheetRow
from members.registration import sheet_import, sheet_upload

from .factories import ROLE, approve_disbursement, make_member, make_staff, next_id_number
from .issuance.factories import csv_bytes, make_card, make_partner
from .merchants.factories import give_card

pytestmark = pytest.mark.django_db
NOW = timezone.now()
S = RegistrationSheet.Status


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sheet(union, clerk, *, days_old: int, status: str, unit: str = "财务处"):
    content = f"序号,身份证号,姓名,性别,手机号码,所属单位\n1,{next_id_number()},王芳,,,{unit}\n".encode()
    s, _ = sheet_upload(union=union, filename=f"{unit}.csv", content=content, actor=clerk, enqueue=False)
    sheet_import(sheet_id=s.pk)
    when = NOW - timedelta(days=days_old)
    RegistrationSheet.objects.filter(pk=s.pk).update(status=status, created_at=when, registered_at=when)
    s.refresh_from_db()
    return s


def path_of(field) -> Path:
    return Path(field.path)


def test_sheets_are_removed_after_their_period_and_the_rest_is_kept(client, tree, clerk):
    registered_old = sheet(tree.unit_a1, clerk, days_old=31, status=S.REGISTERED, unit="甲")
    registered_new = sheet(tree.unit_a1, clerk, days_old=29, status=S.REGISTERED, unit="乙")
    pending_old = sheet(tree.unit_a1, clerk, days_old=181, status=S.VALIDATED, unit="丙")
    pending_new = sheet(tree.unit_a1, clerk, days_old=179, status=S.VALIDATED, unit="丁")
    gone = [path_of(registered_old.file), path_of(pending_old.file)]
    kept = [path_of(registered_new.file), path_of(pending_new.file)]

    counts = files_purge(now=NOW)

    assert (counts["sheet_done"], counts["sheet_any"]) == (1, 1)
    assert [p.exists() for p in gone + kept] == [False, False, True, True]
    for s in (registered_old, pending_old):
        s.refresh_from_db()
        assert s.file.name == "" and SheetRow.objects.filter(sheet=s).count() == 1  # rows stay
    entries = AuditEntry.objects.filter(verb="file.removed").order_by("target_id")
    assert [(e.target_id, e.actor, e.data["rule"]) for e in entries] == [
        (str(registered_old.pk), None, "sheet_done"),
        (str(pending_old.pk), None, "sheet_any"),
    ]
    # idempotent: nothing left to remove
    assert files_purge(now=NOW)["sheet_done"] == 0
    assert AuditEntry.objects.filter(verb="file.removed").count() == 2
    # the error report of a removed sheet says why it is gone; the kept one still downloads
    client.force_login(clerk)
    response = client.get(f"/members/sheets/{pending_old.pk}/errors.xlsx", follow=True)
    assert "原始登记表文件已按保存期限规则删除（登记入库或被拒收30天后删除；上传180天后一律删除）" in (
        response.content.decode()
    )
    assert client.get(f"/members/sheets/{pending_new.pk}/errors.xlsx").status_code == 200


@pytest.fixture
def batch(tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    make_card(tree.unit_a1, name="张三", id_number="11010519491231002X")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=make_partner(), union=tree.unit_a1, actor=city_staff)
    batch.refresh_from_db()
    return batch


def test_a_handoff_file_goes_30_days_after_generation_and_its_download_says_so(client, tree, batch):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    client.force_login(bank)
    assert client.get(f"/issuance/batches/{batch.pk}/handoff/").status_code == 200
    file = path_of(batch.handoff_file)
    assert files_purge(now=NOW + timedelta(days=29))["handoff"] == 0 and file.exists()

    assert files_purge(now=NOW + timedelta(days=31))["handoff"] == 1

    batch.refresh_from_db()
    assert not file.exists() and batch.handoff_file.name == "" and len(batch.handoff_sha256) == 64
    message = "报送银行文件已按保存期限规则删除（生成30天后删除）"
    page = client.get(f"/issuance/batches/{batch.pk}/handoff/", follow=True).content.decode()
    assert message in page
    api = client.get(f"/api/issuance/batches/{batch.pk}/handoff/")
    assert api.status_code == 400 and message in api.content.decode()
    assert client.get(f"/issuance/batches/{batch.pk}/manifest/").status_code == 200  # the record stays
    assert AuditEntry.objects.filter(verb="batch.handoff_downloaded").count() == 1  # the refused one is not


def test_a_bank_return_file_goes_30_days_after_upload_and_its_report_stays(
    client, tree, batch, django_capture_on_commit_callbacks
):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    data = csv_bytes(
        [["证件号码", "姓名", "卡号", "状态", "失败原因"], ["11010519491231002X", "张三", "", "失败", "照片"]]
    )
    with django_capture_on_commit_callbacks(execute=True):
        imp = import_create(
            kind="return", union=batch.union, batch=batch, file_name="回盘.csv", data=data, actor=bank
        )
    imp.refresh_from_db()
    file = path_of(imp.file)
    BankFileImport.objects.filter(pk=imp.pk).update(created_at=NOW - timedelta(days=31))

    assert files_purge(now=NOW)["bank_import"] == 1

    imp.refresh_from_db()
    assert not file.exists() and imp.file.name == "" and imp.report["counts"]["rejected"] == 1
    client.force_login(bank)
    assert client.get(f"/issuance/imports/{imp.pk}/report.xlsx").status_code == 200


def test_a_payment_file_goes_after_the_batch_closed_and_its_download_says_so(
    client, tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks
):
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.city, actor=city_staff)
    member = make_member(tree.unit_a1)
    give_card(member)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=member, amount=Decimal("100"), where="t")],
        actor=city_staff,
        source="t",
    )
    approve_disbursement(batch, preparer=city_staff, tree=tree)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    batch.refresh_from_db()
    file = path_of(batch.payment_file)
    assert files_purge(now=NOW + timedelta(days=31))["payment_done"] == 0  # exported, not yet closed
    Disbursement.objects.filter(pk=batch.pk).update(state=Disbursement.State.CLOSED)

    assert files_purge(now=NOW + timedelta(days=31))["payment_done"] == 1

    assert not file.exists()
    client.force_login(city_staff)
    url = f"/benefits/disbursements/{batch.pk}/download/"
    page = client.get(url + "payment/", follow=True).content.decode()
    assert "银行代发文件已按保存期限规则删除（到账确认完成且生成30天后删除；生成180天后一律删除）" in page
    assert client.get(url + "manifest/").status_code == 200


def test_the_command_counts_without_removing_on_a_dry_run_and_the_beat_task_removes(tree, clerk, settings):
    old = sheet(tree.unit_a1, clerk, days_old=200, status=S.RETURNED)
    out = io.StringIO()
    call_command("files_purge", "--dry-run", stdout=out)
    assert "sheet_any: 1 due (members.RegistrationSheet.file; 上传180天后一律删除)" in out.getvalue()
    assert path_of(old.file).exists()
    assert settings.CELERY_BEAT_SCHEDULE["files-purge"]["task"] == "cardportal.tasks.files_purge_task"
    assert files_purge_task.apply().get()["sheet_any"] == 1
    old.refresh_from_db()
    assert old.file.name == ""


def test_an_import_whose_file_was_removed_before_it_ran_says_so(tree, clerk):
    content = (
        f"序号,身份证号,姓名,性别,手机号码,所属单位\n1,{next_id_number()},王芳,,13912345678,财务处\n".encode()
    )
    s, _ = sheet_upload(union=tree.unit_a1, filename="表.csv", content=content, actor=clerk, enqueue=False)
    RegistrationSheet.objects.filter(pk=s.pk).update(created_at=NOW - timedelta(days=181))
    files_purge(now=NOW)

    s = sheet_import(sheet_id=s.pk)

    assert s.status == S.REFUSED and s.job_error_code == "file_removed"
    assert (
        s.job_message.startswith("原始登记表文件已按保存期限规则删除")
        and not SheetRow.objects.filter(sheet=s).exists()
    )
