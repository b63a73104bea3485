"""Member notices (the 消息 page) and the SMS that goes with each.

Each event a member hears about is written once: a `Notice` and an outbox `SmsMessage` under the
same unique key ("card-ready:<card id>", "aid-paid:<line id>", ...), in the transaction that
writes the event itself. A replayed event, a retried task or a re-run import finds the key taken
and adds nothing: the database's unique constraints decide, not a Python check alone."""

from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
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
# Card statuses that notify the member, with the notice kind and its key prefix.
CARD_KINDS = {"received": (K.CARD_READY, "card-ready"), "activated": (K.CARD_ACTIVATED, "card-activated")}


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


def card_notices_send(*, card_ids: list[int], to_status: str, at: datetime) -> int:
    """The notices (and SMS) of cards that just reached `to_status` (received: ready to collect;
    activated), set-based for an import of 100,000 cards. Called by `issuance.lifecycle.cards_move`
    under the cards' lock. Returns how many SMS were queued (keys already taken add nothing)."""
    if to_status not in CARD_KINDS or not card_ids:
        return 0
    kind, prefix = CARD_KINDS[to_status]
    sms = at >= timezone.now() - SMS_STALE_AFTER
    if connection.vendor == "postgresql":
        message_ids = _card_notices_sql(card_ids, kind=kind, prefix=prefix, at=at, sms=sms)
    else:
        message_ids = _card_notices_orm(card_ids, kind=kind, prefix=prefix, at=at, sms=sms)
    sms_send_later(message_ids)
    return len(message_ids)


def _card_notices_orm(card_ids: list[int], *, kind: str, prefix: str, at: datetime, sms: bool) -> list[int]:
    from issuance.models import Card

    cards = Card.objects.filter(pk__in=card_ids).select_related("union").order_by("pk")
    return notices_queue_many(
        kind=kind, items=[(c.member_id, f"{prefix}:{c.pk}", _card_params(c)) for c in cards], at=at, sms=sms
    )


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


def _card_params(card) -> dict:
    return {"tail": (card.number or "")[-4:], "union": card.union.name}


# PostgreSQL: one statement per import whatever its size. The notices are inserted from the
# cards joined to their members and unions; the SMS rows from the notices actually inserted
# (RETURNING), so a key already taken gives neither. ON CONFLICT names the partial unique index of
# the outbox by its predicate.
CARD_NOTICES = """
WITH src AS (
    SELECT c.id AS card_id, m.id AS member_id, m.union_id AS member_union_id,
           m.phone_encrypted, m.phone_hash, m.phone_prefix || '****' || m.phone_last4 AS masked,
           jsonb_build_object('tail', right(c.number, 4), 'union', u.name) AS params,
           %(prefix)s || ':' || c.id AS key
    FROM {card} c JOIN {member} m ON m.id = c.member_id JOIN {union} u ON u.id = c.union_id
    WHERE c.id = ANY(%(ids)s::bigint[])
), notices AS (
    INSERT INTO {notice} (member_id, kind, key, params, created_at)
    SELECT member_id, %(kind)s, key, params, %(at)s FROM src ORDER BY card_id
    ON CONFLICT (key) DO NOTHING
    RETURNING key
)
INSERT INTO {sms} (phone_encrypted, phone_hash, phone_masked, member_id, union_id, template, key,
                   params, secret_params, status, attempts, gateway, provider_id, last_error,
                   created_at, updated_at)
SELECT phone_encrypted, phone_hash, masked, member_id, member_union_id, %(template)s, src.key,
       params, '', 'queued', 0, '', '', '', %(now)s, %(now)s
FROM src JOIN notices ON notices.key = src.key
WHERE %(sms)s AND phone_encrypted <> ''
ORDER BY card_id
ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
RETURNING id
"""


def _card_notices_sql(card_ids: list[int], *, kind: str, prefix: str, at: datetime, sms: bool) -> list[int]:
    from issuance.models import Card
    from members.models import Member, Union

    sql = CARD_NOTICES.format(
        card=Card._meta.db_table,
        member=Member._meta.db_table,
        union=Union._meta.db_table,
        notice=Notice._meta.db_table,
        sms=SmsMessage._meta.db_table,
    )
    params = {
        "ids": card_ids,
        "prefix": prefix,
        "kind": kind,
        "at": at,
        "template": TEMPLATE[kind],
        "now": timezone.now(),
        "sms": sms,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
