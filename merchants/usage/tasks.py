from celery import shared_task

from cardportal.jobs import JobTask

from . import importer


@shared_task(base=JobTask, job_model="usage.TxnImport")
def txn_import_task(import_id: int, token: str | None = None) -> None:
    importer.run_import(import_id=import_id, token=token)


@shared_task
def partitions_ahead_task(months: int = 3) -> list[str]:
    """Beat: the partitions of this month and the next `months` exist before their rows arrive."""
    from .partitions import ensure_months, months_ahead

    return ensure_months(months_ahead(months))
