"""A small known city for the analytics tests: five activated cards (and one not activated) in
the test tree, three union merchants, and a handful of transactions whose roll-ups
(CardUsage, UsageDay, MerchantMonth) are written as the feed defines them (docs/usage.md): the pages
read only those roll-ups, so the tests state the figures the pages must show from them."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone

from benefits.models import Disbursement, DisbursementLine
from issuance.models import Card
from merchants.usage.models import CardUsage, MerchantMonth, UsageDay

from ..issuance.factories import make_card
from ..merchants.factories import make_merchant

TODAY = date(2026, 11, 20)
NOV, OCT = date(2026, 11, 1), date(2026, 10, 1)
S = Card.Status


@dataclass
class City:
    tree: object
    cards: dict
    merchants: dict


def write_rollups(txns: list[tuple]) -> None:
    """txns: (card, day, amount, merchant or None, channel). Rebuilds the three roll-ups."""
    usage: dict = {}
    days: dict = defaultdict(lambda: [0, Decimal(0), set()])
    months: dict = defaultdict(lambda: [0, Decimal(0), defaultdict(int)])
    for card, day, amount, merchant, channel in txns:
        u = usage.setdefault(card.pk, [card.union_id, day, day, 0, Decimal(0)])
        u[1], u[2], u[3], u[4] = min(u[1], day), max(u[2], day), u[3] + 1, u[4] + Decimal(amount)
        key = (day, card.union_id, merchant.category_id if merchant else None, merchant is not None, channel)
        days[key][0] += 1
        days[key][1] += Decimal(amount)
        days[key][2].add(card.pk)
        if merchant:
            m = months[(merchant.pk, day.replace(day=1))]
            m[0] += 1
            m[1] += Decimal(amount)
            m[2][card.pk] += 1
    CardUsage.objects.all().delete()
    UsageDay.objects.all().delete()
    MerchantMonth.objects.all().delete()
    CardUsage.objects.bulk_create(
        CardUsage(card_id=c, union_id=u, first_used_on=f, last_used_on=last, txn_count=n, amount=a)
        for c, (u, f, last, n, a) in usage.items()
    )
    UsageDay.objects.bulk_create(
        UsageDay(day=d, union_id=u, category_id=cat, at_union_merchant=at, channel=ch, txn_count=n, amount=a, cards=len(cs))
        for (d, u, cat, at, ch), (n, a, cs) in days.items()
    )  # fmt: skip
    MerchantMonth.objects.bulk_create(
        MerchantMonth(
            merchant_id=m,
            month=mo,
            txn_count=n,
            amount=a,
            cards=len(per),
            repeat_cards=sum(v >= 2 for v in per.values()),
        )
        for (m, mo), (n, a, per) in months.items()
    )


def make_city(tree) -> City:
    a1, a2, b1 = tree.unit_a1, tree.unit_a2, tree.unit_b1
    cards = {
        "c1": make_card(a1, status=S.ACTIVATED, name="甲一"),
        "c2": make_card(a1, status=S.ACTIVATED, name="甲二", is_hardship=True),
        "c3": make_card(a2, status=S.ACTIVATED, name="甲三"),
        "c4": make_card(b1, status=S.ACTIVATED, name="乙四"),
        "c5": make_card(b1, status=S.ACTIVATED, name="乙五", is_hardship=True),
        "c6": make_card(a2, status=S.DISTRIBUTED, name="甲六"),
    }
    merchants = {
        "m_a": make_merchant(tree.county_a, name="甲县康复医院", cat="医疗保健"),
        "m_b": make_merchant(tree.county_b, name="乙县影城", cat="文化影视"),
        "m_idle": make_merchant(tree.county_a, name="甲县书店", cat="文化影视"),
    }
    c, m = cards, merchants
    write_rollups(
        [
            (c["c1"], date(2026, 11, 18), "100.00", m["m_a"], "pos"),
            (c["c1"], date(2026, 11, 19), "50.00", m["m_a"], "pos"),
            (c["c3"], date(2026, 11, 10), "30.00", m["m_a"], "pos"),
            (c["c1"], date(2026, 10, 15), "40.00", m["m_a"], "pos"),
            (c["c4"], date(2026, 9, 1), "80.00", m["m_b"], "pos"),
            (c["c4"], date(2026, 10, 5), "200.00", None, "online"),
            (c["c6"], date(2026, 11, 1), "10.00", None, "pos"),
        ]
    )
    return City(tree, cards, merchants)


def make_paid_batch(union, lines: list[tuple], *, name="送温暖", state="closed") -> Disbursement:
    """A disbursement with lines (card, amount, status); written directly (the figures, not the
    workflow, are under test here)."""
    batch = Disbursement.objects.create(name=name, kind=Disbursement.Kind.WARMTH, union=union, state=state)
    paid_at = timezone.make_aware(datetime.combine(TODAY, time(10)))
    for card, amount, status in lines:
        DisbursementLine.objects.create(
            disbursement=batch, member=card.member, card=card, card_number=card.number, name=card.member.name,
            amount=Decimal(amount), status=status, paid_at=paid_at if status == "paid" else None,
        )  # fmt: skip
    return batch
