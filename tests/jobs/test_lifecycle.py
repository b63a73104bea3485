"""The job lifecycle without a worker process: ownership by run token and phase, the failure
path of `JobTask`, leases in the embedded mode, the return-file summary and identical bank files
uploaded at the same moment."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bench.sheetgen import csv_bytes as sheet_csv
from cardportal.jobs import Job, job_queue, job_recover, job_start
from issuance.models import BankFileImport, Card
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from members.models import Member, RegistrationSheet, SheetRow
from members.registration import sheet_approve, sheet_import, sheet_register, sheet_submit, sheet_upload
from members.tasks import sheet_import_task, sheet_register_task

from ..factories import ROLE, make_staff
from ..issuance.factories import card_number, make_card, make_partner
from ..issuance.factories import csv_bytes as table_csv

S = RegistrationSheet.Status


@pytest.fixture
def clerk(tree):
    return make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _sheet(tree, clerk, rows=20):
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="t.csv", content=sheet_csv(rows), actor=clerk, enqueue=False
    )
    return sheet


@pytest.mark.django_db
def test_a_message_of_an_older_run_neither_starts_nor_finishes_the_job(tree, clerk, media):
    sheet = _sheet(tree, clerk)
    old = sheet.job_token
    new = job_queue(sheet, phase="import")  # a retry: the old message is stale now
    assert job_start(sheet, phase="import", token=old) is False
    sheet_import(sheet_id=sheet.pk, token=old)
    untouched = RegistrationSheet.objects.get(pk=sheet.pk)
    assert (untouched.status, untouched.job_status, untouched.job_token) == (S.UPLOADED, "queued", new)
    assert SheetRow.objects.count() == 0

    sheet_import(sheet_id=sheet.pk, token=new)
    done = RegistrationSheet.objects.get(pk=sheet.pk)
    assert (done.status, done.job_status, done.job_attempts) == (S.VALIDATED, "done", 1)
    assert SheetRow.objects.count() == 20


@pytest.mark.django_db
def test_an_import_message_after_approval_leaves_the_registration_alone(tree, clerk, media):
    """Issue 11, finding 3, without a broker: the import's own message, redelivered while the
    registration runs, used to finish the registration's job and make it give up."""
    sheet = _sheet(tree, clerk)
    import_token = sheet.job_token
    sheet_import(sheet_id=sheet.pk, token=import_token)
    sheet_submit(sheet=sheet, actor=None)
    sheet_approve(sheet=sheet, actor=None, enqueue=False)
    sheet.refresh_from_db()

    sheet_import(sheet_id=sheet.pk, token=import_token)
    sheet_import(sheet_id=sheet.pk)  # not even a headless import of another phase touches it
    queued = RegistrationSheet.objects.get(pk=sheet.pk)
    assert (queued.status, queued.job_status, queued.job_phase) == (S.APPROVED, "queued", "register")

    sheet_register(sheet_id=sheet.pk, token=queued.job_token)
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == S.REGISTERED
    assert Member.objects.count() == 20


@pytest.mark.django_db
def test_a_live_run_is_not_taken_over_by_a_redelivery(tree, clerk, media):
    sheet = _sheet(tree, clerk)
    assert job_start(sheet, phase="import", token=sheet.job_token)
    other = RegistrationSheet.objects.get(pk=sheet.pk)
    other.job_owner = "some-other-host:1"  # alive as far as this host can tell
    other.save(update_fields=["job_owner"])
    assert job_start(sheet, phase="import", token=sheet.job_token) is False
    RegistrationSheet.objects.filter(pk=sheet.pk).update(job_heartbeat_at=timezone.now() - timedelta(hours=1))
    assert job_start(sheet, phase="import", token=sheet.job_token) is True  # lease expired
    assert RegistrationSheet.objects.get(pk=sheet.pk).job_attempts == 2


@pytest.mark.django_db
def test_unexpected_error_fails_the_job_plainly_with_a_retry_and_logs_the_detail(
    tree, clerk, media, run_tasks_inline, monkeypatch, caplog, client, django_capture_on_commit_callbacks
):
    sheet = _sheet(tree, clerk)

    def broken(**kwargs):
        raise RuntimeError("secret internals: relation xyz does not exist")

    with monkeypatch.context() as patched:  # undo only this patch, not the autouse fixtures' ones
        patched.setattr("members.tasks.sheet_import", broken)
        sheet_import_task.delay(sheet.pk, sheet.job_token)
    failed = RegistrationSheet.objects.get(pk=sheet.pk)
    assert (failed.job_status, failed.job_error_code) == ("failed", "internal")
    assert failed.job_message.startswith("读取和校验登记表时发生内部错误，已停止。请点击“重试”")
    assert "RuntimeError" not in failed.job_message and "xyz" not in failed.job_message
    assert "secret internals" in caplog.text

    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "重新校验" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/members/sheets/{sheet.pk}/retry/")
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == S.VALIDATED


@pytest.mark.django_db
def test_registration_that_failed_has_a_retry_for_the_reviewer_only(
    tree, clerk, media, run_tasks_inline, monkeypatch, client, django_capture_on_commit_callbacks
):
    sheet = _sheet(tree, clerk)
    sheet_import(sheet_id=sheet.pk)
    sheet_submit(sheet=sheet, actor=None)

    def broken(**kwargs):
        raise RuntimeError("boom")

    with monkeypatch.context() as patched:  # undo only this patch, not the autouse fixtures' ones
        patched.setattr("members.tasks.sheet_register", broken)
        sheet_approve(sheet=sheet, actor=None, enqueue=False)
        sheet.refresh_from_db()
        sheet_register_task.delay(sheet.pk, sheet.job_token)
    assert RegistrationSheet.objects.get(pk=sheet.pk).job_status == "failed"

    client.force_login(clerk)  # the clerk sees why, but the button is the reviewer's
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "登记会员没有完成" in page and "重新登记" not in page
    assert client.post(f"/members/sheets/{sheet.pk}/register-retry/").status_code == 403
    assert Member.objects.count() == 0

    reviewer = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    client.force_login(reviewer)
    assert "重新登记" in client.get(sheet.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/members/sheets/{sheet.pk}/register-retry/")
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == S.REGISTERED
    assert Member.objects.count() == 20


@pytest.mark.django_db
def test_embedded_mode_shows_a_job_whose_process_died_as_failed_with_retry(
    tree, clerk, media, run_tasks_inline, client, django_capture_on_commit_callbacks
):
    """No worker, no beat: the page notices the expired lease (85000/100000 forever, before)."""
    sheet = _sheet(tree, clerk)
    assert job_start(sheet, phase="import", token=sheet.job_token, total=100)
    RegistrationSheet.objects.filter(pk=sheet.pk).update(
        status=S.VALIDATING, progress_done=85, job_heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    stalled = RegistrationSheet.objects.get(pk=sheet.pk)
    assert (stalled.job_status, stalled.job_error_code) == ("failed", "interrupted")
    assert "重新校验" in page and "读取和校验登记表被中断" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/members/sheets/{sheet.pk}/retry/")
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == S.VALIDATED


@pytest.mark.django_db
def test_a_job_past_its_attempts_is_failed_as_poison(tree, clerk, media):
    sheet = _sheet(tree, clerk)
    RegistrationSheet.objects.filter(pk=sheet.pk).update(
        job_status=Job.Status.RUNNING, job_attempts=3, job_heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    sheet.refresh_from_db()
    assert job_recover(sheet) is True
    assert (sheet.job_status, sheet.job_error_code) == ("failed", "worker_lost")
    assert "已中断 3 次" in sheet.job_message and "请检查文件" in sheet.job_message


@pytest.mark.django_db
def test_return_summary_counts_invalid_card_numbers_and_every_other_class(
    tree, partner, city_staff, media, run_tasks_inline, django_capture_on_commit_callbacks
):
    cards = [make_card(tree.unit_a1, name=f"会员{i}") for i in range(4)]
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    good = card_number()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # wrong check digit
    ids = [c.member.reveal_id_number() for c in cards]
    rows = [
        ["证件号码", "姓名", "卡号", "状态", "失败原因"],
        [ids[0], "会员0", good, "成功", ""],
        [ids[1], "会员1", bad, "成功", ""],
        [ids[2], "会员2", card_number(), "成功", ""],
        [ids[3], "会员3", "", "失败", "证件过期"],
    ]
    with django_capture_on_commit_callbacks(execute=True):
        imp = import_create(
            kind="return",
            union=batch.union,
            batch=batch,
            file_name="r.csv",
            data=table_csv(rows),
            actor=city_staff,
        )
    imp.refresh_from_db()
    assert imp.job_status == "done"
    assert imp.job_message == (
        "共 4 行：制卡成功 2，制卡失败 1，卡号无效 1，证件号不在本批次 0，重复 0，冲突 0，已处理过 0；未回盘 0"
    )


@pytest.fixture
def partner(db):
    return make_partner()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_files_uploaded_at_the_same_moment_are_recognised(
    tree, partner, city_staff, media, run_tasks_inline
):
    if connection.vendor != "postgresql":
        pytest.skip("the lock is PostgreSQL's; SQLite runs one write transaction at a time")
    make_card(tree.unit_a1, name="会员0", id_number="110105198506150014")
    batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    data = table_csv(
        [["证件号码", "姓名", "卡号", "状态", "失败原因"], ["110105198506150014", "某", "", "失败", "x"]]
    )
    first_inside = threading.Event()
    results = {}

    def upload(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                results[name] = import_create(
                    kind="return",
                    union=batch.union,
                    batch=batch,
                    file_name=f"{name}.csv",
                    data=data,
                    actor=city_staff,
                )
                if hold:  # still uncommitted when the second upload looks for an identical file
                    first_inside.set()
                    threading.Event().wait(0.5)
        finally:
            connection.close()

    first = threading.Thread(target=upload, args=("first", True))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=upload, args=("second", False))
    second.start()
    first.join(10)
    second.join(10)
    imports = {i.file_name: i for i in BankFileImport.objects.all()}
    assert imports["first.csv"].same_as_id is None
    assert imports["second.csv"].same_as_id == imports["first.csv"].pk
    assert Card.objects.filter(status="rejected_by_bank").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_kept_connection_the_database_dropped_is_replaced_before_the_next_request(tree):
    """What every request and task starts with (close_old_connections): with CONN_HEALTH_CHECKS
    a terminated backend is noticed and replaced instead of failing the first query (a 500)."""
    from django.db import close_old_connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert RegistrationSheet.objects.count() == 0
    dropped = connection.connection.info.backend_pid
    import psycopg2

    other = psycopg2.connect(**connection.get_connection_params())  # another session ends this one
    other.autocommit = True
    other.cursor().execute("SELECT pg_terminate_backend(%s)", [dropped])
    other.close()

    close_old_connections()  # request_started / task_prerun
    assert RegistrationSheet.objects.count() == 0
    assert connection.connection.info.backend_pid != dropped
