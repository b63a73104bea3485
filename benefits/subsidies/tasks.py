"""Thin Celery tasks: ids in, one service call."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def subsidies_compute_task(txn_import_id: int) -> dict:
    """Idempotent: an import computed twice earns nothing the second time (unique per campaign
    and transaction), so a redelivered task is harmless."""
    outcome = services.subsidies_compute(txn_import_id=txn_import_id)
    return {
        "earned": outcome.earned,
        "amount": str(outcome.earned_amount),
        "cancelled": outcome.cancelled,
        "clawbacks": outcome.clawbacks,
    }


@shared_task
def subsidy_monthly_batches_task() -> int:
    """On the 1st: last month's subsidies become one draft batch per campaign."""
    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    return len([r for r in services.subsidy_monthly_batches(month=last_month) if r["disbursement"]])
