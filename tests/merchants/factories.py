"""Builders for merchants and offers, and members holding a card (through the real lifecycle)."""

import itertools
from datetime import date

from issuance.lifecycle import cards_apply, cards_transition
from issuance.models import Card
from merchants.models import Merchant, MerchantCategory, Offer

_seq = itertools.count(1)
CARD_PATH = ["in_batch", "issued", "received", "distributed", "activated"]


def luhn_number(body: str) -> str:
    """`body` plus its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def next_card_number() -> str:
    return luhn_number(f"622188{next(_seq):012d}")  # 19 digits


def give_card(member, *, to_status: str = "activated", number: str | None = None) -> Card:
    """Apply for a card and walk it through the lifecycle up to `to_status`."""
    (card,) = cards_apply(members=[member])
    if to_status == "applied":
        return card
    number = number or next_card_number()
    for status in CARD_PATH:
        updates = {card.pk: {"number": number}} if status == "issued" else None
        cards_transition(cards=[card.pk], to_status=status, updates=updates)
        if status == to_status:
            break
    card.refresh_from_db()
    return card


def category(name: str = "医疗保健") -> MerchantCategory:
    # get_or_create: transactional tests flush the categories the data migration seeded
    return MerchantCategory.objects.get_or_create(name=name)[0]


def make_merchant(union, *, name: str | None = None, cat: str = "医疗保健", **fields) -> Merchant:
    fields.setdefault("address", "测试路1号")
    fields.setdefault("contract_start", date(2016, 1, 1))
    return Merchant.objects.create(
        name=name or f"测试商户{next(_seq)}", category=category(cat), union=union, **fields
    )


def make_offer(
    merchant, *, description="体检", terms="8.5折", valid_from=date(2016, 1, 1), **fields
) -> Offer:
    return Offer.objects.create(
        merchant=merchant, description=description, terms=terms, valid_from=valid_from, **fields
    )
