from celery import shared_task

from .services import bulletin_draft, bulletin_month_due


@shared_task(acks_late=True)
def bulletin_draft_due_task() -> str:
    """Beat, on the 1st of each month: draft the bulletin of the month that just ended.
    Idempotent: a second run redrafts the same draft; a published bulletin is left alone."""
    bulletin = bulletin_draft(month=bulletin_month_due())
    return f"{bulletin.month:%Y-%m} {bulletin.status}"
