"""Long work that a page watches: an abstract job row with a state machine and progress counters.

A concrete job (RegistrationSheet import, BankBatch hand-off, return-file import, disbursement
export…) inherits `Job`, its Celery task calls `job_start`/`job_progress`/`job_finish`/`job_fail`,
and its page includes `_job_progress.html`, which polls `job.progress_url` with htmx until done.

Idempotency: `job_start` is a compare-and-set from QUEUED (or from RUNNING when a worker died and
the task was re-delivered, acks_late), so a duplicate delivery of a finished job does nothing.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def job_finished(self) -> bool:
        return self.job_status in (Job.Status.DONE, Job.Status.FAILED)

    @property
    def progress_percent(self) -> int:
        if self.job_status == Job.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))


def job_start(job: Job, *, total: int = 0) -> bool:
    """Claim the job for this worker. False when it is already finished (duplicate delivery)."""
    model = type(job)
    claimed = model.objects.filter(pk=job.pk, job_status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        job_status=Job.Status.RUNNING, job_started_at=timezone.now(), progress_total=total, progress_done=0
    )
    job.refresh_from_db()
    return bool(claimed)


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    """Report progress (its own tiny UPDATE, outside the work's transaction when called so)."""
    fields = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    type(job).objects.filter(pk=job.pk).update(**fields)
    job.progress_done = done
    if total is not None:
        job.progress_total = total


def job_finish(job: Job, *, message: str = "") -> None:
    type(job).objects.filter(pk=job.pk).update(
        job_status=Job.Status.DONE,
        job_message=message[:500],
        job_finished_at=timezone.now(),
        progress_done=models.F("progress_total"),
    )
    job.refresh_from_db()


def job_fail(job: Job, *, message: str, code: str = "error") -> None:
    type(job).objects.filter(pk=job.pk).update(
        job_status=Job.Status.FAILED,
        job_message=message[:500],
        job_error_code=code[:40],
        job_finished_at=timezone.now(),
    )
    job.refresh_from_db()


def render_job_progress(request, job: Job):
    """The polled progress fragment of any job (its model defines `progress_url`); the page
    reloads once when the job ends. The caller has already fetched `job` through its scoped selector."""
    from django.shortcuts import render

    return render(
        request, "_job_progress.html", {"job": job, "poll_url": job.progress_url, "reload_when_done": True}
    )
