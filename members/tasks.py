"""Celery tasks of the members app: thin, ids in, the service does the work."""

import logging

from celery import shared_task

from cardportal.jobs import job_fail

from .models import RegistrationSheet
from .registration import sheet_import, sheet_register

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sheet_import_task(sheet_id: int) -> None:
    try:
        sheet_import(sheet_id=sheet_id)
    except Exception as exc:
        # Unexpected failure (a bug, the database gone): the page says so; staging rolled back.
        log.exception("sheet import %s failed", sheet_id)
        sheet = RegistrationSheet.objects.filter(pk=sheet_id).first()
        if sheet is not None:
            job_fail(
                sheet, message=f"导入时发生内部错误，请稍后重试（{type(exc).__name__}）", code="internal"
            )
        raise


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sheet_register_task(sheet_id: int) -> None:
    try:
        sheet_register(sheet_id=sheet_id)
    except Exception as exc:
        log.exception("sheet registration %s failed", sheet_id)
        sheet = RegistrationSheet.objects.filter(pk=sheet_id).first()
        if sheet is not None:
            job_fail(
                sheet, message=f"登记时发生内部错误，请稍后重试（{type(exc).__name__}）", code="internal"
            )
        raise
