"""Celery tasks of the members app: thin, ids in, the service does the work. Failure, leases
and redelivery are handled by `JobTask` (cardportal/jobs.py).

The embedded mode (no REDIS_URL: tasks run eagerly, inside the request that queues them) would
make the clerk's upload and the reviewer's approval wait, page blank, until a 100,000-row sheet
is done. There `import_task()` and `register_task()` hand the run to a background thread of the
web process instead (`InBackground`), so the sheet page comes back at once and shows the job's
progress. The thread has its own database connection (closed at the end) and renews the job's
lease like a worker; if the process stops, the lease runs out and the page offers a retry.
`SHEET_JOBS_IN_BACKGROUND = False` (the test suite pins it) keeps the eager run in the request.
"""

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import connection

from cardportal.jobs import JobTask, _eager, _heartbeat

from .registration import sheet_import, sheet_register

log = logging.getLogger(__name__)


@shared_task(base=JobTask, job_model="members.RegistrationSheet")
def sheet_import_task(sheet_id: int, token: str | None = None) -> None:
    sheet_import(sheet_id=sheet_id, token=token)


@shared_task(base=JobTask, job_model="members.RegistrationSheet")
def sheet_register_task(sheet_id: int, token: str | None = None) -> None:
    sheet_register(sheet_id=sheet_id, token=token)


class InBackground:
    """A task's `delay(pk, token)` run in a daemon thread of this process (embedded mode)."""

    def __init__(self, task):
        self.task = task

    def delay(self, pk: int, token: str) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(pk, token), name=f"sheet-job-{pk}", daemon=True)
        thread.start()
        return thread

    def run(self, pk: int, token: str) -> None:
        try:
            with _heartbeat(self.task.model(), pk, token):
                # eager apply: JobTask's failure path (on_failure) marks the job failed on an error
                self.task.apply(args=(pk, token))
        except Exception:  # the thread must not die silently: the job's lease then runs out
            log.exception("sheet job %s: background run failed", pk)
        finally:
            connection.close()


def in_background() -> bool:
    return _eager() and getattr(settings, "SHEET_JOBS_IN_BACKGROUND", True)


def import_task():
    """What `job_queue` sends a sheet's import to: the Celery task, or a background thread in
    the embedded mode."""
    return InBackground(sheet_import_task) if in_background() else sheet_import_task


def register_task():
    return InBackground(sheet_register_task) if in_background() else sheet_register_task
