"""Thin Celery tasks: ids in, one service call. acks_late so a killed worker's job is redelivered;
the services' job_start makes a redelivery of a finished job a no-op."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def batch_handoff_task(batch_id: int) -> None:
    services.batch_generate_handoff(batch_id=batch_id)


@shared_task(acks_late=True)
def import_apply_task(import_id: int) -> None:
    services.import_apply(import_id=import_id)
