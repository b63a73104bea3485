"""Thin Celery tasks of merchants."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def merchant_scores_refresh_task() -> int:
    """Re-score every merchant so the rolling window moves without new ratings (idempotent:
    scores are recomputed from the ratings, never incremented). Celery beat runs it daily
    (settings.CELERY_BEAT_SCHEDULE["merchant-scores"])."""
    return services.merchant_scores_refresh_all()
