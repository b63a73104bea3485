"""A long work transaction does not look dead, and nobody waits for it.

Seen in a 2 M-row registry migration through the browser: the registration's transaction held
the sheet's row `FOR UPDATE` for minutes, so the job's heartbeat (an UPDATE from another
connection) waited for its COMMIT, the lease expired, and every page that polled the sheet tried
to recover the "dead" job with its own `FOR UPDATE` and waited too, until both web workers hung.
Here the registration is held open inside its transaction (a registry hook that sleeps) while
the test renews the heartbeat and opens the page. PostgreSQL: row locks are the point."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cardportal.jobs import _heartbeat, job_recover
from cardportal.registry import registry
from members.models import Member, RegistrationSheet
from members.registration import sheet_approve, sheet_import, sheet_register, sheet_submit, sheet_upload

from ..factories import ROLE, make_staff, next_id_number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位\n"


def within(seconds: float, work):
    """Run `work` on its own connection with a lock timeout: a wait on a row lock fails it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
        return work()


def test_a_registration_in_progress_keeps_its_lease_and_its_page_answers(
    tree, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    clerk = make_staff(ROLE.CLERK, tree.unit_a1)
    rows = "".join(f"{n},{next_id_number()},王芳,,1391234{n:04d},财务处\n" for n in range(1, 4))
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="表.csv", content=(HEADER + rows).encode(), actor=clerk, enqueue=False
    )
    sheet = sheet_import(sheet_id=sheet.pk)
    sheet_submit(sheet=sheet, actor=clerk)
    sheet = sheet_approve(sheet=sheet, actor=make_staff(ROLE.COUNTY_REVIEWER, tree.county_a), enqueue=False)

    inside, release = threading.Event(), threading.Event()
    hook = registry.notify_members_registered

    def slow_hook(**kwargs):
        hook(**kwargs)
        inside.set()
        release.wait(30)

    monkeypatch.setattr(registry, "notify_members_registered", slow_hook)
    done = {}

    settings.JOB_HEARTBEAT_SECONDS = 0.2
    token = RegistrationSheet.objects.get(pk=sheet.pk).job_token

    def register():  # as the worker runs it: the task inside its heartbeat
        try:
            with _heartbeat(RegistrationSheet, sheet.pk, token):
                done["sheet"] = sheet_register(sheet_id=sheet.pk, token=token)
        finally:
            connection.close()

    worker = threading.Thread(target=register)
    worker.start()
    try:
        assert inside.wait(30), "the registration never reached its registry hook"
        # The heartbeat renews the lease while the work transaction is open, and the page reads
        # which step the registration is in (its progress stays invisible until COMMIT).
        before = timezone.now()
        time.sleep(1)
        running = RegistrationSheet.objects.get(pk=sheet.pk)
        assert running.job_heartbeat_at > before
        assert running.job_message == "第2步（共3步）：为 3 名会员申请办卡"
        # A page (or the reaper) that finds the lease expired does not wait for the work, and does
        # not take over a job whose record is held by a live transaction.
        stale = RegistrationSheet.objects.get(pk=sheet.pk)
        stale.job_heartbeat_at = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 60)
        RegistrationSheet.objects.filter(pk=sheet.pk).update(job_heartbeat_at=stale.job_heartbeat_at)
        started = time.monotonic()
        assert within(2, lambda: job_recover(stale)) is False
        assert time.monotonic() - started < 2
    finally:
        release.set()
        worker.join(60)
    assert done["sheet"].status == RegistrationSheet.Status.REGISTERED
    assert Member.objects.count() == 3
