from celery import shared_task
from django.conf import settings

from .gateways import SmsGatewayError
from .services import sms_send


@shared_task(bind=True, acks_late=True, max_retries=None, soft_time_limit=60, time_limit=90)
def sms_send_task(self, message_id: int) -> str:
    """Send one outbox message; on a provider error retry with exponential backoff (2, 4, 8 … s,
    capped at 5 minutes). The attempt count lives on the row, so the service decides when to stop
    (SMS_MAX_ATTEMPTS) and the message is never lost: it stays in the outbox as failed."""
    try:
        return sms_send(message_id=message_id)
    except SmsGatewayError as exc:
        countdown = min(settings.SMS_RETRY_BASE_SECONDS * 2**self.request.retries, 300)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def sms_send_many_task(message_ids: list[int]) -> int:
    """First attempt for each message of a chunk; a message the provider refuses gets its own
    `sms_send_task` retry (same backoff and limit). A re-delivered chunk sends nothing twice:
    `sms_send` leaves sent and failed messages alone. Returns how many were sent."""
    sent = 0
    for message_id in message_ids:
        try:
            sent += sms_send(message_id=message_id) == "sent"
        except SmsGatewayError:
            sms_send_task.apply_async((message_id,), countdown=settings.SMS_RETRY_BASE_SECONDS)
    return sent
