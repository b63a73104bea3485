"""Celery tasks of the shared layer."""

from celery import shared_task

from .retention import files_purge


@shared_task(acks_late=True, time_limit=3600)
def files_purge_task() -> dict[str, int]:
    """The daily sweep of files kept past their retention period (idempotent: a re-delivered task
    finds the removed files' fields empty)."""
    return files_purge()
