"""Celery tasks of the shared layer: the job machinery's reaper and the file-retention sweep."""

from celery import shared_task

from .jobs import jobs_reap
from .retention import files_purge


@shared_task(acks_late=False)
def jobs_reap_task() -> int:
    """Beat, every minute: re-run or fail the long jobs whose worker died (expired lease)."""
    return jobs_reap()


@shared_task(acks_late=True, time_limit=3600)
def files_purge_task() -> dict[str, int]:
    """The daily sweep of files kept past their retention period (idempotent: a re-delivered task
    finds the removed files' fields empty)."""
    return files_purge()
