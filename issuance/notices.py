"""The notices (and SMS) a card's stages send its member: ready to collect, activated.

Issuance owns the cards, so it writes these events' notices through the members' notice outbox
(`members.sms.notices`), in the same transaction and under the cards' lock as the move itself."""

from datetime import datetime

from django.db import connection
from django.utils import timezone

from cardportal import bulk
from members.models import Member, Union
from members.sms.models import Notice, SmsMessage
from members.sms.notices import SMS_STALE_AFTER, TEMPLATE, notices_queue_many
from members.sms.services import sms_send_later

from .models import Card

K = Notice.Kind
# Card statuses that notify the member, with the notice kind and its key prefix.
CARD_KINDS = {"received": (K.CARD_READY, "card-ready"), "activated": (K.CARD_ACTIVATED, "card-activated")}


def card_notices_send(*, card_ids: list[int], to_status: str, at: datetime) -> int:
    """The notices (and SMS) of cards that just reached `to_status` (received: ready to collect;
    activated), set-based for an import of 100,000 cards. Called by `issuance.lifecycle.cards_move`
    under the cards' lock. Returns how many SMS were queued (keys already taken add nothing)."""
    if to_status not in CARD_KINDS or not card_ids:
        return 0
    kind, prefix = CARD_KINDS[to_status]
    sms = at >= timezone.now() - SMS_STALE_AFTER
    if bulk.is_postgresql():
        message_ids = _card_notices_sql(card_ids, kind=kind, prefix=prefix, at=at, sms=sms)
    else:
        message_ids = _card_notices_orm(card_ids, kind=kind, prefix=prefix, at=at, sms=sms)
    sms_send_later(message_ids)
    return len(message_ids)


def _card_notices_orm(card_ids: list[int], *, kind: str, prefix: str, at: datetime, sms: bool) -> list[int]:
    cards = Card.objects.filter(pk__in=card_ids).select_related("union").order_by("pk")
    return notices_queue_many(
        kind=kind, items=[(c.member_id, f"{prefix}:{c.pk}", _card_params(c)) for c in cards], at=at, sms=sms
    )


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
