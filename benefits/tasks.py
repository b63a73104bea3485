"""Thin Celery tasks: ids in, one service call. Leases, redelivery and the failure path are
`JobTask`'s (cardportal/jobs.py)."""

from celery import shared_task

from cardportal.jobs import JobTask

from .services.bankfiles import disbursement_export_reopen, disbursement_write_payment_file


class DisbursementExportTask(JobTask):
    job_model = "benefits.Disbursement"

    def job_failed(self, job_id: int) -> None:
        disbursement_export_reopen(job_id)


@shared_task(base=DisbursementExportTask)
def disbursement_export_task(disbursement_id: int, token: str | None = None) -> None:
    disbursement_write_payment_file(disbursement_id, token=token)
