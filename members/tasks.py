"""Celery tasks of the members app: thin, ids in, the service does the work."""

import logging

from celery import shared_task

from cardportal.jobs import job_fail

from .models import RegistrationSheet
from .registration import sheet_import, sheet_register

log = logging.getLogger(__name__)


def _run(service, sheet_id: int, doing: str) -> None:
    """Run a sheet service. An unexpected failure (a bug, the database gone) rolled its
    transaction back; the sheet's page says so, and the task still fails for the logs."""
    try:
        service(sheet_id=sheet_id)
    except Exception as exc:
        log.exception("sheet %s: %s failed", sheet_id, service.__name__)
        sheet = RegistrationSheet.objects.filter(pk=sheet_id).first()
        if sheet is not None:
            job_fail(
                sheet, message=f"{doing}时发生内部错误，请稍后重试（{type(exc).__name__}）", code="internal"
            )
        raise


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sheet_import_task(sheet_id: int) -> None:
    _run(sheet_import, sheet_id, "导入")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sheet_register_task(sheet_id: int) -> None:
    _run(sheet_register, sheet_id, "登记")
