"""Writes of the SMS outbox."""

import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cardportal import crypto

from .gateways import SmsGatewayError, get_gateway
from .models import SmsMessage
from .templates import TEMPLATES


def sms_queue(
    *, member, template: str, params: dict, key: str | None = None, phone: str | None = None
) -> SmsMessage:
    """Record a message to the member's registered phone (or to `phone`, a number not yet in the
    registry: the new number of a phone change) and send it after commit (Celery).

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
    if phone is None:
        sealed, digest, masked = member.phone_encrypted, member.phone_hash, member.masked_phone
    else:
        sealed, digest, masked = crypto.encrypt(phone), crypto.keyed_hash(phone), crypto.mask_phone(phone)
    message = SmsMessage.objects.create(
        phone_encrypted=sealed,
        phone_hash=digest,
        phone_masked=masked,
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


def sms_send_later(message_ids: list[int]) -> None:
    """Enqueue the sending of many queued messages after commit, a few hundred per task (an
    activation file can notify 100,000 members: one task each would be 100,000 broker round trips)."""
    from .tasks import sms_send_many_task

    chunks = [message_ids[i : i + SEND_CHUNK] for i in range(0, len(message_ids), SEND_CHUNK)]
    for chunk in chunks:
        transaction.on_commit(lambda chunk=chunk: sms_send_many_task.delay(chunk))


SEND_CHUNK = 500


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
