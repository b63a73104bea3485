from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def tickets_expire_task() -> int:
    """Beat, every 30 s: unpaid tickets past their deadline go back to the pool."""
    return services.tickets_expire()


@shared_task(acks_late=True, ignore_result=True)
def drops_reconcile_task() -> int:
    """Beat, every minute: Redis of live drops checked against the database and repaired."""
    return services.drops_reconcile_live()


@shared_task(acks_late=True, ignore_result=True)
def drop_reminders_task() -> int:
    """Beat, every minute: 提醒我 subscribers of drops opening within ten minutes get one SMS."""
    from .reminders import reminders_send

    return reminders_send()
