"""Thin Celery task: the segment notice's send (leases and failure path: cardportal.jobs.JobTask)."""

from celery import shared_task

from cardportal.jobs import JobTask


class SegmentNoticeTask(JobTask):
    job_model = "analytics.SegmentNotice"


@shared_task(base=SegmentNoticeTask)
def segment_notice_task(notice_id: int, token: str | None = None) -> None:
    from .services import segment_notice_send

    segment_notice_send(notice_id, token=token)


@shared_task
def analytics_refresh_task() -> None:
    """Nightly: rebuild the activity snapshot and this and last month's spending."""
    from .refresh import refresh_all

    refresh_all()
