"""Long work that a page watches: an abstract job row with a state machine, progress counters and
an owner (which run of which phase holds it), plus the one Celery task base class for every job.

A concrete job (RegistrationSheet import and registration, BankBatch hand-off, return/activation
file import, disbursement payment file) inherits `Job`. Its service hands the job to a new run with
`job_queue` (state QUEUED, a fresh run token, the task enqueued after commit with `(pk, token)`);
the task body calls `job_start`/`job_progress`/`job_finish`/`job_fail`; its page includes
`_job_progress.html`, which polls `job.progress_url` with htmx until done.

Exactly once (docs/operations.md, "Long jobs"):
* Ownership: `job_token` names the one run that may work on the row and `job_phase` what it is
  doing. A message whose token is not the row's (an old import message redelivered after the sheet
  was approved, a message the reaper has since replaced) starts, finishes and fails nothing.
* Lease: a running job's `job_heartbeat_at` is renewed by `job_progress` and by a heartbeat thread
  in the worker (`JobTask`). A redelivery of the same run takes over only when the previous
  holder is dead (lease expired, or its process is gone on this host); a live one is left alone.
* Recovery: `jobs_reap` (Celery beat, every minute, and the progress page itself) finds running
  jobs whose lease expired and hands them to a new run, or fails them after `JOB_MAX_ATTEMPTS`
  starts (a poison job that kills its worker every time) with a message a clerk can act on.
* Failure, one path for every job: a refusal the service raises (`ApplicationError`: a refused
  file, a missing header, a rule) fails the job with the service's own Chinese message and code
  (`JobTask.job_refused`); anything else is a fault: `JobTask.on_failure` marks the run's job
  failed with a plain message and a reference, the technical detail in the log only. Services
  never catch `Exception`. Failed jobs keep a retry button where a retry can help
  (`job_retryable`).
"""

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from celery import Task
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)

# Failures a retry can cure (the code did not refuse the input): these get a retry button.
RETRYABLE_CODES = frozenset({"internal", "interrupted", "worker_lost"})


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("处理中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    job_status = models.CharField(_("处理状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(_("已处理"), default=0)
    progress_total = models.PositiveIntegerField(_("总数"), default=0)
    job_message = models.CharField(_("处理说明"), max_length=500, blank=True)
    job_error_code = models.CharField(_("错误代码"), max_length=40, blank=True)
    job_started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    job_finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    job_phase = models.CharField(_("处理阶段"), max_length=20, blank=True)
    job_token = models.CharField(_("运行令牌"), max_length=32, blank=True)
    job_owner = models.CharField(_("处理进程"), max_length=120, blank=True)
    job_heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    job_attempts = models.PositiveSmallIntegerField(_("启动次数"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    # phase -> (what the clerk calls it, the dotted name of its task); set by each concrete job.
    job_phases: dict[str, tuple[str, str]] = {}

    class Meta:
        abstract = True

    @property
    def job_finished(self) -> bool:
        return self.job_status in (Job.Status.DONE, Job.Status.FAILED)

    @property
    def job_retryable(self) -> bool:
        """Failed for a reason a new run can cure (not a refused file or a business rule)."""
        return self.job_status == Job.Status.FAILED and self.job_error_code in RETRYABLE_CODES

    @property
    def progress_percent(self) -> int:
        if self.job_status == Job.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))

    def job_label(self, phase: str | None = None) -> str:
        return self.job_phases.get(phase or self.job_phase, ("处理", ""))[0]


def _lease() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-120:]


def _holder_dead(job: Job, now) -> bool:
    """Is the run that last started `job` gone? Its lease expired, or its process (on this host)
    no longer exists, as after a SIGKILL of a pool child that Celery re-delivers at once."""
    if job.job_heartbeat_at is None or job.job_heartbeat_at < now - _lease():
        return True
    host, _sep, pid = job.job_owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _poison_message(job: Job, phase: str) -> str:
    return (
        f"{job.job_label(phase)}已中断 {job.job_attempts} 次（每次处理时后台进程都异常退出），已停止自动重试。"
        "请检查文件是否过大或有异常内容后重新上传；如文件无误，请联系系统管理员。"
    )


def job_queue(job: Job, *, phase: str, task=None, keep_attempts: bool = False) -> str:
    """Hand `job` to a new run of `phase` (call inside the caller's transaction): QUEUED, a fresh
    token, and `task.delay(pk, token)` after commit. Any older message of this job becomes stale.
    Returns the token. `task=None` queues without sending (headless callers run the body)."""
    token = uuid.uuid4().hex
    fields = {
        "job_status": Job.Status.QUEUED,
        "job_phase": phase,
        "job_token": token,
        "job_owner": "",
        "job_heartbeat_at": None,
        "progress_done": 0,
        "job_message": "",
        "job_error_code": "",
        "job_finished_at": None,
    }
    if not keep_attempts:
        fields["job_attempts"] = 0
    type(job).objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    if task is not None:
        pk = job.pk
        transaction.on_commit(lambda: task.delay(pk, token))
    return token


def job_start(job: Job, *, phase: str, token: str | None = None, total: int = 0) -> bool:
    """Claim the job for this run. False (do nothing) when the message is not the job's current
    run (stale token or another phase), when the job already ended (duplicate delivery), or when
    the same run is still alive elsewhere. `token=None` is a direct call on the server (tests,
    `import_sheet`): it acts as the current run. After `JOB_MAX_ATTEMPTS` starts of one run whose
    workers all died, the job is failed instead (poison job)."""
    model = type(job)
    current = model.objects.filter(pk=job.pk).first()
    if current is None:
        return False
    if current.job_phase and current.job_phase != phase:
        return False
    if token is not None and current.job_token and token != current.job_token:
        return False
    if current.job_status not in (Job.Status.QUEUED, Job.Status.RUNNING):
        return False
    now = timezone.now()
    if current.job_status == Job.Status.RUNNING and token is not None and not _holder_dead(current, now):
        log.warning("job %s %s: redelivered while its run is alive; left to it", model.__name__, job.pk)
        return False
    token = token or current.job_token or uuid.uuid4().hex
    claim = model.objects.filter(
        pk=job.pk,
        job_status=current.job_status,
        job_token=current.job_token,
        job_attempts=current.job_attempts,
    )
    if current.job_attempts >= settings.JOB_MAX_ATTEMPTS:
        claim.update(
            job_status=Job.Status.FAILED,
            job_message=_poison_message(current, phase)[:500],
            job_error_code="worker_lost",
            job_finished_at=now,
        )
        log.error("job %s %s: %s starts died, failed as poison", model.__name__, job.pk, current.job_attempts)
        _task(current, phase).job_failed(job.pk)
        job.refresh_from_db()
        return False
    claimed = claim.update(
        job_status=Job.Status.RUNNING,
        job_phase=phase,
        job_token=token,
        job_owner=_me(),
        job_heartbeat_at=now,
        job_attempts=models.F("job_attempts") + 1,
        job_started_at=now,
        progress_total=total,
        progress_done=0,
    )
    job.refresh_from_db()
    return bool(claimed)


def _owned(job: Job):
    """The row while `job` (as this run last saw it) still holds it."""
    return type(job).objects.filter(pk=job.pk, job_token=job.job_token)


def job_is_stale(job: Job, *, now=None) -> bool:
    """Running under an expired lease: its worker is presumed dead."""
    now = now or timezone.now()
    return job.job_status == Job.Status.RUNNING and (
        job.job_heartbeat_at is None or job.job_heartbeat_at < now - _lease()
    )


def job_holds(job: Job) -> bool:
    """Does this run still own its job? Check it under the row lock before committing results."""
    return _owned(job).filter(job_status=Job.Status.RUNNING).exists()


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    """Report progress and renew the lease (its own tiny UPDATE, outside the work's transaction
    when called so)."""
    fields = {"progress_done": done, "job_heartbeat_at": timezone.now()}
    if total is not None:
        fields["progress_total"] = total
    _owned(job).update(**fields)
    job.progress_done = done
    if total is not None:
        job.progress_total = total


def job_finish(job: Job, *, message: str = "") -> None:
    _owned(job).update(
        job_status=Job.Status.DONE,
        job_message=message[:500],
        job_error_code="",
        job_finished_at=timezone.now(),
        progress_done=models.F("progress_total"),
    )
    job.refresh_from_db()


def job_fail(job: Job, *, message: str, code: str = "error") -> None:
    _owned(job).update(
        job_status=Job.Status.FAILED,
        job_message=message[:500],
        job_error_code=code[:40],
        job_finished_at=timezone.now(),
    )
    job.refresh_from_db()


# --- leases: find the jobs whose worker died ------------------------------------------------
def job_models() -> list[type[Job]]:
    return [m for m in apps.get_models() if issubclass(m, Job)]


def _eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


def _task(job: Job, phase: str):
    from celery import current_app

    return current_app.tasks[job.job_phases[phase][1]]


def job_recover(job: Job, *, now=None) -> bool:
    """If `job` runs under an expired lease (its worker died), hand it to a new run of the same
    phase, or fail it: after JOB_MAX_ATTEMPTS starts (poison), or in the embedded mode (where a
    new run would run inside the web request). True when it acted."""
    now = now or timezone.now()
    if not job.job_phase or not job_is_stale(job, now=now):
        return False
    stale = type(job).objects.filter(
        pk=job.pk,
        job_status=Job.Status.RUNNING,
        job_token=job.job_token,
        job_heartbeat_at=job.job_heartbeat_at,
    )
    with transaction.atomic():
        # A row another transaction holds is being worked on: not dead, and a page or the reaper
        # must not wait for that work's COMMIT (minutes for a 2 M-row registration).
        if not stale.select_for_update(skip_locked=True).exists():
            return False
        if job.job_attempts >= settings.JOB_MAX_ATTEMPTS:
            stale.update(
                job_status=Job.Status.FAILED,
                job_message=_poison_message(job, job.job_phase)[:500],
                job_error_code="worker_lost",
                job_finished_at=now,
            )
        elif _eager():
            stale.update(
                job_status=Job.Status.FAILED,
                job_message=f"{job.job_label()}被中断（处理进程已停止），请点击“重试”。",
                job_error_code="interrupted",
                job_finished_at=now,
            )
        else:
            job_queue(job, phase=job.job_phase, task=_task(job, job.job_phase), keep_attempts=True)
        if job.job_status != Job.Status.QUEUED:  # failed above: let the user retry where they can
            _task(job, job.job_phase).job_failed(job.pk)
    log.warning(
        "job %s %s: lease expired (attempt %s), recovered", type(job).__name__, job.pk, job.job_attempts
    )
    job.refresh_from_db()
    return True


def jobs_reap(*, now=None) -> int:
    """Recover every running job whose lease expired (the beat task `jobs_reap_task`)."""
    now = now or timezone.now()
    recovered = 0
    for model in job_models():
        for job in model.objects.filter(job_status=Job.Status.RUNNING, job_heartbeat_at__lt=now - _lease()):
            recovered += job_recover(job, now=now)
    return recovered


# --- the task base class ------------------------------------------------------------------------
_STAGES: dict[tuple[str, int], str] = {}  # (model label, pk) -> the step a running job is in


def job_stage(job: Job, text: str) -> None:
    """Name the step a job is in (for example inside one long transaction, where progress written
    by the work itself stays invisible until COMMIT): the heartbeat thread, on its own connection,
    writes it as the job's message, so the page says what is happening. Without a heartbeat
    (inline runs) nothing is kept or shown."""
    key = (job._meta.label, job.pk)
    if key in _STAGES:  # a heartbeat of this job runs in this process
        _STAGES[key] = text[:500]


@contextmanager
def _heartbeat(model: type[Job], pk: int, token: str):
    """Renew the lease every JOB_HEARTBEAT_SECONDS while the task runs, from a thread with its own
    database connection, so one long statement (a registration's INSERT) does not look dead.
    The thread dies with its process, which is the point."""
    stop = threading.Event()

    key = (model._meta.label, pk)

    def beat() -> None:
        while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
            fields = {"job_heartbeat_at": timezone.now()}
            if _STAGES.get(key):
                fields["job_message"] = _STAGES[key]
            try:
                model.objects.filter(pk=pk, job_token=token, job_status=Job.Status.RUNNING).update(**fields)
            except DatabaseError:
                log.warning("job %s %s: heartbeat failed", model.__name__, pk, exc_info=True)
            finally:
                connection.close()

    _STAGES[key] = ""  # no step named yet
    thread = threading.Thread(target=beat, name=f"job-heartbeat-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        _STAGES.pop(key, None)


class JobTask(Task):
    """Base of every long-job task: `run(job_id, token=None)`. Late ack and re-queue on a lost
    worker (a killed worker's message comes back), a lease heartbeat while running, and one
    failure path: the job is marked failed with a message the user can act on and a reference;
    the exception and traceback go to the log only. Set `job_model` ("app.Model")."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    job_model: str = ""

    def model(self) -> type[Job]:
        return apps.get_model(self.job_model)

    def __call__(self, job_id, token=None, *args, **kwargs):
        from .errors import ApplicationError  # not at the top: errors loads DRF, models import jobs

        try:
            if token is None or self.request.is_eager:
                return super().__call__(job_id, token, *args, **kwargs)
            where = {"task": self.name, "queue": (self.request.delivery_info or {}).get("routing_key", "")}
            log.info("job %s %s: run started", self.job_model, job_id, extra=where)
            began = time.monotonic()
            with _heartbeat(self.model(), job_id, token):
                result = super().__call__(job_id, token, *args, **kwargs)
            log.info(
                "job %s %s: run ended after %.1f s",
                self.job_model,
                job_id,
                time.monotonic() - began,
                extra=where,
            )
            return result
        except ApplicationError as refused:
            self.job_refused(job_id, token, refused)

    def job_refused(self, job_id, token, refused) -> None:
        """The service refused the work (the user's file or a rule, not a fault): this run's job
        fails with the service's message, which says what to fix, and its code."""
        log.info("job %s %s refused: %s", self.job_model, job_id, refused.code)
        owned = self.model().objects.filter(pk=job_id, job_status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        if token is not None:
            owned = owned.filter(job_token=token)
        owned.update(
            job_status=Job.Status.FAILED,
            job_message=refused.message[:500],
            job_error_code=refused.code[:40],
            job_finished_at=timezone.now(),
        )

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        token = args[1] if len(args) > 1 else kwargs.get("token")
        ref = (task_id or uuid.uuid4().hex)[:8]
        log.error("job %s %s failed (ref %s): %r", self.job_model, job_id, ref, exc, exc_info=einfo.exc_info)
        if not connection.in_atomic_block and not connection.is_usable():
            connection.close()  # the database dropped us mid-job: reconnect to record the failure
        model = self.model()
        job = model.objects.filter(pk=job_id).first()
        if job is None:
            return
        owned = model.objects.filter(pk=job_id, job_status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        if token is not None:
            owned = owned.filter(job_token=token)
        message = (
            f"{job.job_label()}时发生内部错误，已停止。请点击“重试”；"
            f"如再次失败，请联系系统管理员（参考号 {ref}）。"
        )
        if owned.update(
            job_status=Job.Status.FAILED,
            job_message=message[:500],
            job_error_code="internal",
            job_finished_at=timezone.now(),
        ):
            self.job_failed(job_id)

    def job_failed(self, job_id: int) -> None:
        """Hook: put the job's record back where a user can retry (after the job is failed)."""


def render_job_progress(request, job: Job):
    """The polled progress fragment of any job (its model defines `progress_url`); the page
    reloads once when the job ends. The caller has already fetched `job` through its scoped selector."""
    from django.shortcuts import render

    job_recover(job)  # the page itself notices a dead worker, beat or not
    return render(
        request, "_job_progress.html", {"job": job, "poll_url": job.progress_url, "reload_when_done": True}
    )
