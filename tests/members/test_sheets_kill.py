"""A real Celery worker (a separate process on the test database) killed with SIGKILL in the middle
of a 100,000-row import, and again in the middle of registering it: nothing half-written either
time, and a re-run reaches the same result as an undisturbed run."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from bench.sheetgen import csv_bytes
from issuance.models import Card
from members.models import Member, RegistrationSheet, SheetClaim, SheetRow
from members.registration import sheet_approve, sheet_import_reset, sheet_submit, sheet_upload
from members.tasks import sheet_import_task, sheet_register_task

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
ROWS, BAD_EVERY = 100_000, 100
S = RegistrationSheet.Status


def start_worker(queue: str, media_root: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cardportal.settings",  # a worker as deployed, not the suite's settings
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_ROOT": str(media_root),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cardportal",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fresh(sheet) -> RegistrationSheet:
    return RegistrationSheet.objects.get(pk=sheet.pk)


def kill(worker: subprocess.Popen) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_kill_9_mid_import_and_mid_registration_leaves_nothing_half_done(tree, media):
    assert django_settings.CELERY_BROKER_URL.startswith("redis")
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"
    content = csv_bytes(ROWS, bad_every=BAD_EVERY)
    sheet, _ = sheet_upload(
        union=tree.unit_a1, filename="100k.csv", content=content, actor=None, enqueue=False
    )
    accepted = ROWS - ROWS // BAD_EVERY

    # 1. Killed while validating: no row staged, the sheet is still "validating".
    worker = start_worker(queue, media)
    try:
        sheet_import_task.apply_async(args=[sheet.pk], queue=queue)
        wait_for(lambda: fresh(sheet).progress_done >= 5000, timeout=60, what="the import to make progress")
        kill(worker)
    finally:
        if worker.poll() is None:
            kill(worker)
    killed = fresh(sheet)
    assert (killed.status, killed.job_status) == (S.VALIDATING, "running")
    assert 0 < killed.progress_done < ROWS
    assert SheetRow.objects.filter(sheet=sheet).count() == 0
    assert (killed.rows_accepted, killed.rows_rejected) == (0, 0)

    # 2. Re-run on a new worker: the same result as an undisturbed run.
    worker = start_worker(queue, media)
    try:
        sheet_import_reset(sheet=sheet)
        sheet_import_task.apply_async(args=[sheet.pk], queue=queue)
        wait_for(lambda: fresh(sheet).status == S.VALIDATED, timeout=90, what="the re-run import")
        done = fresh(sheet)
        assert (done.rows_accepted, done.rows_rejected, done.rows_skipped) == (accepted, ROWS // BAD_EVERY, 0)
        assert SheetRow.objects.filter(sheet=sheet).count() == ROWS
        assert SheetRow.objects.filter(sheet=sheet, reason="phone_invalid").count() == ROWS // BAD_EVERY

        # 3. Killed while registering (one transaction): no member, no card.
        sheet_submit(sheet=sheet, actor=None)
        sheet_approve(sheet=sheet, actor=None, enqueue=False)
        sheet_register_task.apply_async(args=[sheet.pk], queue=queue)
        wait_for(lambda: fresh(sheet).job_status == "running", timeout=30, what="the registration to start")
        time.sleep(0.5)
        kill(worker)
    finally:
        if worker.poll() is None:
            kill(worker)
    assert fresh(sheet).status == S.APPROVED
    assert Member.objects.count() == 0 and Card.objects.count() == 0
    assert SheetClaim.objects.filter(sheet=sheet).count() == accepted  # still held for this sheet

    # 4. Re-run: every accepted row registered exactly once, each with its card application.
    worker = start_worker(queue, media)
    try:
        sheet_register_task.apply_async(args=[sheet.pk], queue=queue)
        wait_for(lambda: fresh(sheet).status == S.REGISTERED, timeout=120, what="the re-run registration")
    finally:
        kill(worker)
    assert fresh(sheet).rows_registered == accepted
    assert Member.objects.filter(union=tree.unit_a1).count() == accepted
    assert Card.objects.filter(status="applied").count() == accepted
    assert SheetClaim.objects.count() == 0
