"""Member notices (the 消息 page) and the SMS that goes with each.

Each event a member hears about is written once: a `Notice` and an outbox `SmsMessage` under the
same unique key ("card-ready:<card id>", "aid-paid:<line id>", ...), in the transaction that
writes the event itself. A replayed event, a retried task or a re-run import finds the key taken
and adds nothing: the database's unique constraints decide, not a Python check alone."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notice, SmsMessage
from .services import sms_queue, sms_send_later
from .templates import TEMPLATES

K = Notice.Kind
# The SMS template of each kind; its text (without the signature) is the notice's text too.
TEMPLATE = {
    K.CARD_READY: "notice_card_ready",
    K.CARD_ACTIVATED: "notice_card_activated",
    K.AID_PAID: "notice_aid_paid",
    K.CLAIM_DECIDED: "notice_claim_decided",
    K.ACTIVITY: "notice_activity",
    K.PHONE_CHANGED: "member_phone_changed",
}


def notice_text(notice: Notice) -> str:
    try:
        return TEMPLATES[TEMPLATE[notice.kind]]["text"].format(**notice.params)
    except (KeyError, IndexError):  # a template changed after the notice was written
        return notice.get_kind_display()


def notice_send(*, member, kind: str, key: str, params: dict, sms: bool = True) -> Notice | None:
    """One notice, and (sms=True) its SMS to the member's registry phone. Idempotent on `key`:
    returns None when the event was already noticed. Call inside the event's transaction."""
    if Notice.objects.filter(key=key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a racing twin loses here, not the caller
            notice = Notice.objects.create(
                member=member, kind=kind, key=key, params=params, created_at=timezone.now()
            )
            if sms and member.phone_encrypted:
                sms_queue(member=member, template=TEMPLATE[kind], params=params, key=key)
    except IntegrityError:
        return None
    return notice


# An event recorded with a date this far back (history loaded after the fact, the demo's 2016)
# gets its notice but no SMS: a text today about a card collected months ago only confuses.
SMS_STALE_AFTER = timedelta(days=30)


def notices_queue_many(
    *, kind: str, items: list[tuple[int, str, dict]], at: datetime, sms: bool = True
) -> list[int]:
    """Notices (member id, key, params) of one kind and their SMS, in bulk; keys already taken
    are skipped. Returns the new outbox ids (the caller sends them: `sms_send_later`). The
    caller holds the lock that makes the event happen once (the cards', the lines')."""
    from members.models import Member

    taken = set(Notice.objects.filter(key__in=[key for _m, key, _p in items]).values_list("key", flat=True))
    fresh = [item for item in items if item[1] not in taken]
    Notice.objects.bulk_create(
        [Notice(member_id=m, kind=kind, key=key, params=p, created_at=at) for m, key, p in fresh],
        batch_size=2000,
    )
    if not (fresh and sms):
        return []
    members = Member.objects.only(
        "union_id", "phone_encrypted", "phone_hash", "phone_prefix", "phone_last4"
    ).in_bulk([m for m, _key, _p in fresh])
    messages = SmsMessage.objects.bulk_create(
        [
            SmsMessage(
                phone_encrypted=members[m].phone_encrypted,
                phone_hash=members[m].phone_hash,
                phone_masked=members[m].masked_phone,
                member_id=m,
                union_id=members[m].union_id,
                template=TEMPLATE[kind],
                key=key,
                params=p,
            )
            for m, key, p in fresh
            if members[m].phone_encrypted
        ],
        batch_size=2000,
    )
    return [message.pk for message in messages]


def notices_send_many(*, kind: str, items: list[tuple[int, str, dict]]) -> int:
    """`notices_queue_many`, with the SMS sent after commit. Returns how many were new."""
    message_ids = notices_queue_many(kind=kind, items=items, at=timezone.now())
    sms_send_later(message_ids)
    return len(message_ids)
