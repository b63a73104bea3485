"""Thin Celery tasks: ids in, one service call. Late ack, leases, redelivery and the failure path
are `JobTask`'s (cardportal/jobs.py): only the run that owns a job can work on it."""

from celery import shared_task

from cardportal.jobs import JobTask

from .services.bankfiles import import_apply
from .services.handoff import batch_generate_handoff


@shared_task(base=JobTask, job_model="issuance.BankBatch")
def batch_handoff_task(batch_id: int, token: str | None = None) -> None:
    batch_generate_handoff(batch_id=batch_id, token=token)


@shared_task(base=JobTask, job_model="issuance.BankFileImport")
def import_apply_task(import_id: int, token: str | None = None) -> None:
    import_apply(import_id=import_id, token=token)
