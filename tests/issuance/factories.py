"""Builders for issuance tests: a partner, cards pushed through the lifecycle, bank files."""

import csv
import io
import itertools
from datetime import datetime

from django.utils import timezone

from issuance.cardnumbers import luhn_complete
from issuance.lifecycle import cards_apply, cards_transition
from issuance.models import Card, IssuingPartner

from ..factories import make_member
from ..hostile import workbook_bytes

_numbers = itertools.count(1)
S = Card.Status


def make_partner(code: str = "icbc", name: str = "工商银行沧州分行") -> IssuingPartner:
    return IssuingPartner.objects.get_or_create(code=code, defaults={"name": name})[0]


def card_number(prefix: str = "621226") -> str:
    return luhn_complete(f"{prefix}{next(_numbers):012d}")


def make_card(union, *, status: str = S.APPLIED, at: datetime | None = None, **member_fields) -> Card:
    """A card moved through every stage up to `status` (through the lifecycle, so counters agree)."""
    member = make_member(union, **member_fields)
    card = cards_apply(members=[member], at=at)[0]
    path = {
        S.APPLIED: [],
        S.IN_BATCH: [S.IN_BATCH],
        S.REJECTED_BY_BANK: [S.IN_BATCH, S.REJECTED_BY_BANK],
        S.ISSUED: [S.IN_BATCH, S.ISSUED],
        S.RECEIVED: [S.IN_BATCH, S.ISSUED, S.RECEIVED],
        S.DISTRIBUTED: [S.IN_BATCH, S.ISSUED, S.RECEIVED, S.DISTRIBUTED],
        S.ACTIVATED: [S.IN_BATCH, S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED],
        S.LOST: [S.IN_BATCH, S.ISSUED, S.LOST],
        S.CANCELLED: [S.CANCELLED],
    }[status]
    for step in path:
        updates = {card.pk: {"number": card_number()}} if step == S.ISSUED else None
        cards_transition(cards=[card.pk], to_status=step, at=at or timezone.now(), updates=updates)
    card.refresh_from_db()
    return card


def xlsx_bytes(rows: list[list]) -> bytes:
    return workbook_bytes(rows)


def csv_bytes(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")
