"""Writes of the SMS outbox."""

import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cardportal import crypto

from .gateways import SmsGatewayError, get_gateway
from .models import SmsMessage
from .templates import TEMPLATES


def sms_queue(*, member, template: str, params: dict, key: str | None = None) -> SmsMessage:
    """Record a message to the member's registered phone and send it after commit (Celery).

    Parameters named secret in the template go into `secret_params`, encrypted. With a `key`,
    idempotent: a message already queued under it is returned and nothing is queued again
    (call inside the caller's transaction; the unique key settles a race)."""
    if key is not None:
        existing = SmsMessage.objects.filter(key=key).first()
        if existing is not None:
            return existing
    spec = TEMPLATES[template]
    secret = {k: str(v) for k, v in params.items() if k in spec.get("secret", ())}
    public = {k: v for k, v in params.items() if k not in secret}
    message = SmsMessage.objects.create(
        phone_encrypted=member.phone_encrypted,
        phone_hash=member.phone_hash,
        phone_masked=member.masked_phone,
        member=member,
        union_id=member.union_id,
        template=template,
        key=key,
        params=public,
        secret_params=crypto.encrypt(json.dumps(secret)) if secret else "",
    )
    from .tasks import sms_send_task

    transaction.on_commit(lambda: sms_send_task.delay(message.pk))
    return message


def sms_secret_params(message: SmsMessage) -> dict:
    return json.loads(crypto.decrypt(message.secret_params)) if message.secret_params else {}


def sms_send(*, message_id: int) -> str:
    """One delivery attempt. Idempotent: a sent or failed message is left alone (a re-delivered
    task sends nothing twice); the row is locked while the provider is called so two workers
    cannot both send it. Returns the status after the attempt; raises SmsGatewayError when the
    caller should retry."""
    gateway = get_gateway()
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != SmsMessage.Status.QUEUED:
            return message.status if message else "missing"
        message.attempts += 1
        message.gateway = settings.SMS_GATEWAY
        params = {**message.params, **sms_secret_params(message)}
        try:
            provider_id = gateway.send(
                phone=crypto.decrypt(message.phone_encrypted),
                template=message.template,
                params=params,
                message_id=message.pk,
            )
        except SmsGatewayError as exc:
            message.last_error = str(exc)[:300]
            if message.attempts >= settings.SMS_MAX_ATTEMPTS:
                message.status = SmsMessage.Status.FAILED
            message.save(update_fields=["attempts", "gateway", "last_error", "status", "updated_at"])
            if message.status == SmsMessage.Status.FAILED:
                return message.status
            error = exc
        else:
            message.status = SmsMessage.Status.SENT
            message.provider_id = str(provider_id)[:100]
            message.sent_at = timezone.now()
            if not gateway.shows_secrets:
                message.secret_params = ""  # delivered: the code need not be kept
            message.save()
            return message.status
    raise error
