"""Thin Celery tasks: ids in, one service call."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, bind=True, max_retries=0)
def disbursement_export_task(self, disbursement_id: int) -> None:
    try:
        services.disbursement_write_payment_file(disbursement_id)
    except Exception as exc:
        services.disbursement_export_failed(disbursement_id, f"生成失败：{exc}")
        raise
