"""Every long job against the crashes of issue 11, with real PostgreSQL, Redis and worker
processes: the worker SIGKILLed in the middle (whole worker, and a pool child), its database
connection terminated in the middle, a poison job that kills every worker it reaches, and the
stale import message of finding 3. Afterwards each job has finished exactly once (no row lost,
none doubled) or is failed with a retry that works.

The worker is `tests/jobs/worker.py`: a real `celery worker` process that holds one function of
the job at a chosen point, so the kill lands in the middle every time. Sizes are small (the
point is the lifecycle, not volume); the lease is 2 s here instead of minutes, except in the
pool-child tests, which must show the take-over does not wait for the lease.

Each worker consumes only its job's production queue (settings.CELERY_QUEUES, as scripts/serve and
the Kubernetes workers run them: `-Q sheets` or `-Q bank`), so a job routed anywhere else would
never start and its test would time out."""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from bench.sheetgen import csv_bytes as sheet_csv
from benefits.models import Disbursement
from benefits.services.bankfiles import disbursement_export
from benefits.services.disbursements import Entry, disbursement_add_entries, disbursement_create
from cardportal.jobs import jobs_reap
from cardportal.models import AuditEntry
from issuance.models import BankBatch, Card, CardEvent
from issuance.services.bankfiles import import_create, import_retry
from issuance.services.batches import batch_create
from issuance.services.handoff import batch_generate_handoff, batch_handoff_retry
from members.models import Member, RegistrationSheet, SheetClaim, SheetRow
from members.registration import (
    sheet_approve,
    sheet_import,
    sheet_import_retry,
    sheet_register_retry,
    sheet_submit,
    sheet_upload,
)
from members.tasks import sheet_import_task, sheet_register_task

from ..factories import ROLE, approve_disbursement, make_member, make_staff
from ..issuance.factories import card_number, make_card, make_partner
from ..issuance.factories import csv_bytes as table_csv

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
LEASE = 2
PRODUCTION_LEASE = 120  # the default JOB_LEASE_SECONDS
S = RegistrationSheet.Status
C = Card.Status
SHEET_ROWS, BAD_EVERY = 1000, 100
ACCEPTED = SHEET_ROWS - SHEET_ROWS // BAD_EVERY
CARDS = 20


# --- the harness ----------------------------------------------------------------------------------
class Worker:
    def __init__(
        self,
        tmp: Path,
        *,
        queue: str,
        pause_at: str = "",
        mode: str = "hold",
        pool: str = "solo",
        lease: int = LEASE,
    ):
        self.dir = tmp / f"worker-{time.monotonic_ns()}"
        self.dir.mkdir()
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cardportal.settings",  # a worker as deployed, not the suite's settings
            "DEBUG": "1",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
            "JOB_LEASE_SECONDS": str(lease),
            "JOB_HEARTBEAT_SECONDS": "0.5",
            "JOB_PAUSE_DIR": str(self.dir),
            "JOB_PAUSE_AT": pause_at,
            "JOB_PAUSE_MODE": mode,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.jobs.worker",
                f"--pool={pool}",
                "--concurrency=1",
                f"--queues={queue}",
            ]
            + ["--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "log", "w"),  # noqa: SIM115 - closed with the process
        )

    def held_pid(self, timeout: float = 60) -> int:
        """Wait until the job reached the held point; the pid of the process holding it."""
        marker = self.dir / "paused"
        wait_for(marker.exists, timeout=timeout, what="the job to reach the held point", worker=self)
        return int(marker.read_text())

    def deaths(self) -> int:
        path = self.dir / "deaths"
        return len(path.read_text().split()) if path.exists() else 0

    def release(self) -> None:
        (self.dir / "go").touch()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def wait_for(predicate, *, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    log = (worker.dir / "log").read_text()[-3000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


@pytest.fixture
def workers(settings, tmp_path):
    """Start workers with `workers(pause_at=..., mode=...)`; all are killed at the end. The
    broker's database (this session's own) is emptied first, so no message of an earlier test
    is delivered here."""
    assert django_settings.CELERY_BROKER_URL.startswith("redis")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOB_LEASE_SECONDS = LEASE
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()
    started: list[Worker] = []

    def start(**kwargs) -> Worker:
        started.append(Worker(tmp_path, **kwargs))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


def flush_broker() -> None:
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()


def cut_database() -> int:
    """pg_terminate_backend every other connection to the test database (the worker's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def finished(obj, timeout: float = 60, worker: Worker | None = None):
    return wait_for(
        lambda: (o := fresh(obj)).job_status in ("done", "failed") and o,
        timeout=timeout,
        what=f"{type(obj).__name__} {obj.pk} to finish",
        worker=worker,
    )


def recover_after_lease(obj) -> None:
    """What beat does every minute: after the lease, the dead worker's job goes to a new run."""
    dead_run = fresh(obj).job_token
    time.sleep(LEASE + 0.5)
    assert jobs_reap() == 1
    assert fresh(obj).job_token != dead_run  # a new run owns it (a worker may have started it already)


def audits(verb: str) -> int:
    return AuditEntry.objects.filter(verb=verb).count()


# --- one case per long job: how to start it, where to hold it, what "exactly once" means ---------
class SheetImport:
    queue = "sheets"
    pause_at = "members.registration:stage_rows"

    def __init__(self, tree):
        self.clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
        self.tree = tree

    def prepare(self):
        pass

    def start(self):
        self.job, _ = sheet_upload(
            union=self.tree.unit_a1,
            filename="t.csv",
            content=sheet_csv(SHEET_ROWS, bad_every=BAD_EVERY),
            actor=self.clerk,
        )
        return self.job

    def assert_nothing_written(self):
        assert fresh(self.job).status == S.VALIDATING
        assert SheetRow.objects.count() == 0

    def retry(self):
        assert sheet_import_retry(sheet=self.job, actor=self.clerk)

    def assert_done_once(self):
        sheet = fresh(self.job)
        assert (sheet.status, sheet.job_status) == (S.VALIDATED, "done")
        assert (sheet.rows_accepted, sheet.rows_rejected) == (ACCEPTED, SHEET_ROWS // BAD_EVERY)
        assert SheetRow.objects.filter(sheet=sheet).count() == SHEET_ROWS


class SheetRegistration(SheetImport):
    pause_at = "cardportal.registry:registry.notify_members_registered"

    def prepare(self):
        sheet, _ = sheet_upload(
            union=self.tree.unit_a1,
            filename="t.csv",
            content=sheet_csv(SHEET_ROWS, bad_every=BAD_EVERY),
            actor=self.clerk,
            enqueue=False,
        )
        sheet_import(sheet_id=sheet.pk)
        sheet_submit(sheet=sheet, actor=None)
        self.job = sheet

    def start(self):
        sheet_approve(sheet=self.job, actor=None)
        return self.job

    def assert_nothing_written(self):
        assert fresh(self.job).status == S.APPROVED
        assert Member.objects.count() == 0 and Card.objects.count() == 0
        assert SheetClaim.objects.filter(sheet=self.job).count() == ACCEPTED

    def retry(self):
        sheet_register_retry(sheet=self.job, actor=None)

    def assert_done_once(self):
        sheet = fresh(self.job)
        assert (sheet.status, sheet.job_status, sheet.rows_registered) == (S.REGISTERED, "done", ACCEPTED)
        assert Member.objects.filter(union=self.tree.unit_a1).count() == ACCEPTED
        assert Card.objects.filter(status=C.APPLIED).count() == ACCEPTED
        assert SheetClaim.objects.count() == 0
        assert audits("sheet.registered") == 1


class Handoff:
    queue = "bank"
    pause_at = "issuance.services.handoff:handoff_write"

    def __init__(self, tree):
        self.tree = tree
        self.staff = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
        self.partner = make_partner()

    def prepare(self):
        for i in range(CARDS):
            make_card(self.tree.unit_a1, name=f"会员{i}")

    def start(self):
        self.job = batch_create(partner=self.partner, union=self.tree.unit_a1, actor=self.staff)
        return self.job

    def assert_nothing_written(self):
        batch = fresh(self.job)
        assert (batch.status, bool(batch.handoff_file)) == (BankBatch.BatchStatus.PREPARING, False)
        assert audits("batch.handoff_written") == 0

    def retry(self):
        batch_handoff_retry(batch=self.job, actor=self.staff)

    def assert_done_once(self):
        batch = fresh(self.job)
        assert (batch.status, batch.job_status) == (BankBatch.BatchStatus.HANDED_OFF, "done")
        assert batch.handoff_rows == CARDS and batch.handoff_file
        assert audits("batch.handoff_written") == 1


class ReturnImport(Handoff):
    pause_at = "issuance.services.returns:cards_move"

    def prepare(self):
        super().prepare()
        batch = batch_create(partner=self.partner, union=self.tree.unit_a1, actor=self.staff)
        batch_generate_handoff(batch_id=batch.pk)
        self.batch = fresh(batch)
        flush_broker()  # the hand-off message was for this test process's direct run
        self.rows = [["证件号码", "姓名", "卡号", "状态", "失败原因"]]
        for card in Card.objects.filter(batch=self.batch).select_related("member"):
            self.rows.append([card.member.reveal_id_number(), card.member.name, card_number(), "成功", ""])

    def start(self):
        self.job = import_create(
            kind="return",
            union=self.batch.union,
            batch=self.batch,
            file_name="回盘.csv",
            data=table_csv(self.rows),
            actor=self.staff,
        )
        return self.job

    def assert_nothing_written(self):
        assert Card.objects.filter(status=C.IN_BATCH).count() == CARDS
        assert fresh(self.job).report == {}

    def retry(self):
        import_retry(imp=self.job, actor=self.staff)

    def assert_done_once(self):
        imp = fresh(self.job)
        assert imp.job_status == "done" and imp.report["counts"]["issued"] == CARDS
        assert Card.objects.filter(status=C.ISSUED).count() == CARDS
        assert CardEvent.objects.filter(to_status=C.ISSUED).count() == CARDS
        assert audits("import.return_applied") == 1


class ActivationImport(Handoff):
    pause_at = "issuance.services.activations:_activate_by_date"

    def prepare(self):
        cards = [make_card(self.tree.unit_a1, status=C.ISSUED, name=f"会员{i}") for i in range(CARDS)]
        today = time.strftime("%Y-%m-%d")
        self.rows = [["卡号", "激活日期"]] + [[c.number, today] for c in cards]

    def start(self):
        self.job = import_create(
            kind="activation",
            union=self.tree.unit_a1,
            file_name="激活.csv",
            data=table_csv(self.rows),
            actor=self.staff,
        )
        return self.job

    def assert_nothing_written(self):
        assert Card.objects.filter(status=C.ACTIVATED).count() == 0
        assert fresh(self.job).report == {}

    def retry(self):
        import_retry(imp=self.job, actor=self.staff)

    def assert_done_once(self):
        imp = fresh(self.job)
        assert imp.job_status == "done" and imp.report["counts"]["activated"] == CARDS
        assert CardEvent.objects.filter(to_status=C.ACTIVATED).count() == CARDS
        assert audits("import.activation_applied") == 1


class PaymentFile(Handoff):
    pause_at = "benefits.services.bankfiles:payment_file_name"

    def prepare(self):
        self.job = disbursement_create(name="送温暖", kind="warmth", union=self.tree.city, actor=self.staff)
        members = [make_member(self.tree.unit_a1, name=f"会员{i}") for i in range(CARDS)]
        for member in members:
            make_card_for(member)
        disbursement_add_entries(
            disbursement=self.job,
            entries=[Entry(member=m, amount=Decimal("100.00"), where=m.name) for m in members],
            actor=self.staff,
            source="t",
        )
        approve_disbursement(self.job, preparer=self.staff, tree=self.tree)

    def start(self):
        disbursement_export(disbursement=self.job, actor=self.staff)
        return self.job

    def assert_nothing_written(self):
        assert not fresh(self.job).payment_file
        assert audits("disbursement.exported") == 0

    def retry(self):
        # The failure path put the batch back to APPROVED (the list did not change, so the
        # approval stands): 生成代发文件 again is the retry.
        assert fresh(self.job).state == Disbursement.State.APPROVED
        disbursement_export(disbursement=fresh(self.job), actor=self.staff)

    def assert_done_once(self):
        batch = fresh(self.job)
        assert (batch.state, batch.job_status) == (Disbursement.State.EXPORTED, "done")
        assert batch.manifest["lines"] == CARDS and batch.manifest["total"] == "2000.00"
        assert audits("disbursement.exported") == 1


def make_card_for(member):
    from ..merchants.factories import give_card

    give_card(member)


CASES = [SheetImport, SheetRegistration, Handoff, ReturnImport, ActivationImport, PaymentFile]
IDS = ["sheet-import", "registration", "handoff", "return-import", "activation-import", "payment-file"]


# --- the tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("case_class", CASES, ids=IDS)
def test_whole_worker_killed_mid_job_is_rerun_within_the_lease_and_finishes_once(tree, workers, case_class):
    case = case_class(tree)
    case.prepare()
    first = workers(queue=case.queue, pause_at=case.pause_at)
    job = case.start()
    first.held_pid()
    first.kill()
    case.assert_nothing_written()
    assert fresh(job).job_status == "running"

    second = workers(queue=case.queue)
    recover_after_lease(job)  # the old message stays unacked in Redis; a new run takes over
    assert finished(job, worker=second).job_status == "done", fresh(job).job_message
    case.assert_done_once()
    assert fresh(job).job_attempts == 2


@pytest.mark.parametrize("case_class", CASES, ids=IDS)
def test_database_connection_cut_mid_job_fails_it_plainly_and_the_retry_finishes_once(
    tree, workers, case_class
):
    case = case_class(tree)
    case.prepare()
    worker = workers(queue=case.queue, pause_at=case.pause_at, mode="cut")
    job = case.start()
    worker.held_pid()
    assert cut_database() >= 1
    worker.release()

    failed = finished(job, worker=worker)
    assert (failed.job_status, failed.job_error_code) == ("failed", "internal")
    assert "内部错误" in failed.job_message and "重试" in failed.job_message
    assert "Error" not in failed.job_message and "psycopg" not in failed.job_message  # detail is in the log
    case.assert_nothing_written()

    case.retry()  # the same worker, reconnected
    assert finished(job, worker=worker).job_status == "done", fresh(job).job_message
    case.assert_done_once()


@pytest.mark.parametrize("case_class", CASES, ids=IDS)
def test_pool_child_killed_mid_job_is_taken_over_at_once_and_finishes_once(tree, workers, case_class):
    """A prefork child killed: Celery re-delivers the message once it has noticed the loss
    (reject_on_worker_lost; billiard waits up to `worker_lost_wait`, 10 s); the new child sees
    the old holder's process is gone and takes over without waiting for the lease. The worker
    runs with the production lease, so only that check can explain a take-over this soon (with
    the 2 s lease of the other tests, the expired lease would hide a broken check)."""
    case = case_class(tree)
    case.prepare()
    worker = workers(queue=case.queue, pause_at=case.pause_at, pool="prefork", lease=PRODUCTION_LEASE)
    job = case.start()
    child = worker.held_pid()
    assert child != worker.process.pid
    os.kill(child, signal.SIGKILL)
    done = finished(job, timeout=PRODUCTION_LEASE / 2, worker=worker)
    assert done.job_status == "done", done.job_message
    case.assert_done_once()
    assert done.job_attempts == 2
    assert done.job_owner.rpartition(":")[2] != str(child)  # a new child finished it
    assert worker.process.poll() is None  # and the worker itself lived on


def test_poison_job_is_retried_a_bounded_number_of_times_then_failed_for_the_clerk(tree, workers, client):
    """A sheet whose import kills its worker process every time (as a native crash would)."""
    case = SheetImport(tree)
    worker = workers(queue=case.queue, pause_at=case.pause_at, mode="die", pool="prefork")
    job = case.start()
    failed = finished(job, worker=worker)
    assert worker.deaths() == django_settings.JOB_MAX_ATTEMPTS == 3
    assert (failed.job_status, failed.job_error_code) == ("failed", "worker_lost")
    assert failed.job_message.startswith("读取和校验登记表已中断 3 次")
    assert SheetRow.objects.count() == 0
    client.force_login(case.clerk)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "已中断 3 次" in page and "重新校验" in page


def test_stale_import_message_after_approval_cannot_finish_or_block_the_registration(tree, workers, client):
    """Issue 11, finding 3: kill -9 during the import, the re-run, submit, approve, kill -9 during
    the registration; then the OLD import message is delivered first. It must not touch the
    sheet; the registration is re-run and registers everyone once."""
    case = SheetRegistration(tree)
    first = workers(queue=SheetImport.queue, pause_at=SheetImport.pause_at)
    sheet = SheetImport.start(case)
    first.held_pid()
    import_token = fresh(sheet).job_token
    first.kill()

    second = workers(queue=SheetImport.queue, pause_at=SheetRegistration.pause_at)
    recover_after_lease(sheet)
    assert finished(sheet, worker=second).status == S.VALIDATED
    sheet_submit(sheet=sheet, actor=None)
    sheet_approve(sheet=sheet, actor=None)
    second.held_pid()
    register_token = fresh(sheet).job_token
    second.kill()

    third = workers(queue=SheetImport.queue)
    # The old import message comes back first (as Redis restores an unacknowledged one): stale.
    sheet_import_task.apply_async(args=[sheet.pk, import_token]).get(timeout=30)
    stuck = fresh(sheet)
    assert (stuck.status, stuck.job_status, stuck.job_phase) == (S.APPROVED, "running", "register")
    assert Member.objects.count() == 0 and SheetClaim.objects.count() == ACCEPTED

    # The reviewer opens the page after the lease: the page itself re-queues the registration.
    time.sleep(LEASE + 0.5)
    reviewer = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    client.force_login(reviewer)
    assert client.get(sheet.get_absolute_url()).status_code == 200
    assert finished(sheet, worker=third).job_status == "done"
    case.job = sheet
    case.assert_done_once()
    # The killed registration's own message, restored later, finds its job done: nothing doubles.
    sheet_register_task.apply_async(args=[sheet.pk, register_token]).get(timeout=30)
    case.assert_done_once()
