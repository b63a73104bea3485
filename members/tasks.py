"""Celery tasks of the members app: thin, ids in, the service does the work. Failure, leases
and redelivery are handled by `JobTask` (cardportal/jobs.py)."""

from celery import shared_task

from cardportal.jobs import JobTask

from .registration import sheet_import, sheet_register


@shared_task(base=JobTask, job_model="members.RegistrationSheet")
def sheet_import_task(sheet_id: int, token: str | None = None) -> None:
    sheet_import(sheet_id=sheet_id, token=token)


@shared_task(base=JobTask, job_model="members.RegistrationSheet")
def sheet_register_task(sheet_id: int, token: str | None = None) -> None:
    sheet_register(sheet_id=sheet_id, token=token)
