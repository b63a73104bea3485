"""Builders for the subsidy tests: a world with merchants and members holding activated cards,
and transaction imports written straight into merchants.usage's table (as the feed's importer
leaves them)."""

import itertools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from benefits.subsidies import services
from issuance.models import Card, IssuingPartner
from merchants.models import Merchant, MerchantCategory
from merchants.usage.models import CardTransaction, TxnImport

from ..factories import ROLE, Tree, make_staff, make_tree
from ..issuance.factories import make_card, make_partner

_refs = itertools.count(1)


@dataclass
class World:
    tree: Tree
    partner: IssuingPartner
    food: MerchantCategory
    books: MerchantCategory
    canteen: Merchant  # food, county A
    bookshop: Merchant  # books, county B
    staff: object  # city staff


def make_merchant(name: str, category: MerchantCategory, union) -> Merchant:
    return Merchant.objects.create(
        name=name, category=category, union=union, address="测试路1号", contract_start=date(2026, 1, 1)
    )


def make_world() -> World:
    tree = make_tree()
    food = MerchantCategory.objects.get_or_create(name="餐饮")[0]
    books = MerchantCategory.objects.get_or_create(name="图书")[0]
    return World(
        tree=tree,
        partner=make_partner(),
        food=food,
        books=books,
        canteen=make_merchant("甲县职工食堂", food, tree.county_a),
        bookshop=make_merchant("乙县新华书店", books, tree.county_b),
        staff=make_staff(ROLE.CITY_STAFF, tree.city),
    )


def holder(union, **fields) -> Card:
    return make_card(union, status=Card.Status.ACTIVATED, **fields)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def txn(card, merchant, amount, when, *, kind="purchase", original="", reference=None) -> dict:
    return {
        "card": card,
        "merchant": merchant,
        "amount": Decimal(str(amount)),
        "when": when,
        "kind": kind,
        "original": original,
        "reference": reference or f"R{next(_refs):010d}",
    }


def import_rows(world: World, rows: list[dict]) -> TxnImport:
    imp = TxnImport.objects.create(
        partner=world.partner,
        file_name=f"txn-{next(_refs)}.csv",
        sha256=f"{next(_refs):064d}",
        job_status="done",
    )
    CardTransaction.objects.bulk_create(
        [
            CardTransaction(
                txn_at=r["when"],
                partner=world.partner,
                reference=r["reference"],
                card=r["card"],
                union_id=r["card"].union_id,
                merchant=r["merchant"],
                mid="M1" if r["merchant"] else "X9",
                category_id=r["merchant"].category_id if r["merchant"] else None,
                mcc="5812",
                channel="pos",
                amount=r["amount"] if r["kind"] == "purchase" else -abs(r["amount"]),
                kind=r["kind"],
                original_reference=r["original"],
                txn_import=imp,
            )
            for r in rows
        ]
    )
    return imp


def campaign(world: World, **fields):
    merchants = fields.pop("merchants", [])
    categories = fields.pop("categories", [])
    base = {
        "name": "职工消费补贴",
        "rule": "percent",
        "percent": Decimal("10"),
        "budget": Decimal("10000"),
        "starts_on": date(2026, 11, 1),
        "ends_on": date(2026, 12, 31),
    }
    base.update(fields)
    return services.subsidy_campaign_create(
        actor=world.staff, union=world.tree.city, fields=base, merchants=merchants, categories=categories
    )
