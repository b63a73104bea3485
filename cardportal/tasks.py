"""Celery tasks of the job machinery itself."""

from celery import shared_task

from .jobs import jobs_reap


@shared_task(acks_late=False)
def jobs_reap_task() -> int:
    """Beat, every minute: re-run or fail the long jobs whose worker died (expired lease)."""
    return jobs_reap()
