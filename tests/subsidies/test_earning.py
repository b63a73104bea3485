"""Which card transactions earn what: the rule, the caps, the budget, dates and member filters,
the same import twice. Runs on both databases (PostgreSQL: the set-based SQL; SQLite: the Python
path); tests/subsidies/test_postgres.py checks that the two agree."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Q, Sum

from benefits.subsidies.models import SubsidyCampaign, SubsidyEarning
from benefits.subsidies.services import subsidies_compute

from .factories import at, campaign, holder, import_rows, make_world, txn

pytestmark = pytest.mark.django_db
D = Decimal
NOV = date(2026, 11, 10)


def earned(c) -> dict:
    return {e.txn_amount: e.amount for e in SubsidyEarning.objects.filter(campaign=c, amount__gt=0)}


def spent_matches_earnings(c) -> bool:
    c.refresh_from_db()
    total = SubsidyEarning.objects.filter(campaign=c, after_payout=False).exclude(
        status="cancelled"
    ).aggregate(s=Sum("amount"))["s"] or D("0")
    return c.spent == total


def test_percent_with_cap_per_transaction_and_per_member_month():
    w = make_world()
    c = campaign(w, percent=D("10"), cap_per_txn=D("8"), cap_per_member_month=D("20"))
    card = holder(w.tree.unit_a1)
    imp = import_rows(
        w,
        [
            txn(card, w.canteen, "55.55", at(NOV, 9)),  # 5.555 -> 5.55 (rounded down)
            txn(card, w.canteen, "200.00", at(NOV, 10)),  # 20 -> 8 (per transaction)
            txn(card, w.canteen, "90.00", at(NOV, 11)),  # 9 -> 6.45 (the month's cap: 20 - 13.55)
            txn(card, w.canteen, "70.00", at(NOV, 12)),  # cap reached: nothing
            txn(card, w.canteen, "30.00", at(date(2026, 12, 1), 8)),  # a new month: 3
        ],
    )
    outcome = subsidies_compute(txn_import_id=imp.pk)
    assert earned(c) == {
        D("55.55"): D("5.55"),
        D("200.00"): D("8.00"),
        D("90.00"): D("6.45"),
        D("30.00"): D("3.00"),
    }
    assert outcome.earned == 4
    c.refresh_from_db()
    assert c.spent == D("23.00")
    assert spent_matches_earnings(c)


def test_fixed_amount_with_minimum_spend_only_at_union_merchants_and_purchases():
    w = make_world()
    c = campaign(w, rule="fixed", percent=None, fixed_amount=D("5"), min_spend=D("20"))
    card = holder(w.tree.unit_a1)
    imp = import_rows(
        w,
        [
            txn(card, w.canteen, "20.00", at(NOV)),  # qualifies
            txn(card, w.canteen, "19.99", at(NOV)),  # under the minimum
            txn(card, None, "100.00", at(NOV)),  # not a union merchant (unknown MID)
            txn(card, w.bookshop, "50.00", at(NOV)),  # qualifies (any union merchant)
        ],
    )
    subsidies_compute(txn_import_id=imp.pk)
    assert earned(c) == {D("20.00"): D("5.00"), D("50.00"): D("5.00")}


def test_merchant_and_category_filters():
    w = make_world()
    by_category = campaign(w, name="餐饮补贴", categories=[w.food])
    by_merchant = campaign(w, name="书店补贴", merchants=[w.bookshop])
    card = holder(w.tree.unit_b1)
    imp = import_rows(w, [txn(card, w.canteen, "40.00", at(NOV)), txn(card, w.bookshop, "60.00", at(NOV))])
    subsidies_compute(txn_import_id=imp.pk)
    assert earned(by_category) == {D("40.00"): D("4.00")}
    assert earned(by_merchant) == {D("60.00"): D("6.00")}


def test_dates_are_local_days_inclusive():
    w = make_world()
    c = campaign(w, starts_on=date(2026, 11, 5), ends_on=date(2026, 11, 20))
    card = holder(w.tree.unit_a1)
    imp = import_rows(
        w,
        [
            txn(card, w.canteen, "10.00", at(date(2026, 11, 4), 23, 59)),  # the day before
            txn(card, w.canteen, "20.00", at(date(2026, 11, 5), 0, 0)),  # first minute
            txn(card, w.canteen, "30.00", at(date(2026, 11, 20), 23, 59)),  # last minute
            txn(card, w.canteen, "40.00", at(date(2026, 11, 21), 0, 0)),  # the day after
        ],
    )
    subsidies_compute(txn_import_id=imp.pk)
    assert set(earned(c)) == {D("20.00"), D("30.00")}


def test_member_filters_hardship_and_county():
    w = make_world()
    hardship = campaign(w, name="困难职工补贴", audience="hardship")
    county = campaign(w, name="甲县补贴", area=w.tree.county_a)
    poor_a = holder(w.tree.unit_a1, is_hardship=True)
    plain_a = holder(w.tree.unit_a2)
    poor_b = holder(w.tree.unit_b1, is_hardship=True)
    imp = import_rows(
        w,
        [
            txn(poor_a, w.canteen, "10.00", at(NOV)),
            txn(plain_a, w.canteen, "20.00", at(NOV)),
            txn(poor_b, w.canteen, "30.00", at(NOV)),
        ],
    )
    subsidies_compute(txn_import_id=imp.pk)
    assert set(earned(hardship)) == {D("10.00"), D("30.00")}
    assert set(earned(county)) == {D("10.00"), D("20.00")}


def test_inactive_campaign_earns_nothing():
    w = make_world()
    c = campaign(w, is_active=False)
    imp = import_rows(w, [txn(holder(w.tree.unit_a1), w.canteen, "10.00", at(NOV))])
    subsidies_compute(txn_import_id=imp.pk)
    assert not SubsidyEarning.objects.filter(campaign=c).exists()


def test_same_import_twice_earns_once():
    w = make_world()
    c = campaign(w)
    card = holder(w.tree.unit_a1)
    imp = import_rows(w, [txn(card, w.canteen, "10.00", at(NOV)), txn(card, w.canteen, "20.00", at(NOV, 13))])
    first = subsidies_compute(txn_import_id=imp.pk)
    second = subsidies_compute(txn_import_id=imp.pk)
    assert (first.earned, second.earned) == (2, 0)
    c.refresh_from_db()
    assert c.spent == D("3.00")
    assert SubsidyEarning.objects.filter(campaign=c).count() == 2


def test_budget_is_never_exceeded_and_the_last_subsidy_is_partial():
    w = make_world()
    c = campaign(w, budget=D("25.00"))
    cards = [holder(w.tree.unit_a1) for _ in range(3)]
    imp = import_rows(w, [txn(cards[i], w.canteen, "100.00", at(NOV, 9 + i)) for i in range(3)])
    subsidies_compute(txn_import_id=imp.pk)
    amounts = list(
        SubsidyEarning.objects.filter(campaign=c).order_by("txn_at").values_list("amount", flat=True)
    )
    assert amounts == [D("10.00"), D("10.00"), D("5.00")]  # 10 + 10 + the 5 that is left
    later = import_rows(w, [txn(cards[0], w.canteen, "100.00", at(NOV, 18))])
    assert subsidies_compute(txn_import_id=later.pk).earned == 0
    c.refresh_from_db()
    assert c.spent == c.budget == D("25.00")


def test_member_cap_counts_earlier_imports():
    w = make_world()
    c = campaign(w, cap_per_member_month=D("15"))
    card = holder(w.tree.unit_a1)
    subsidies_compute(txn_import_id=import_rows(w, [txn(card, w.canteen, "120.00", at(NOV))]).pk)
    subsidies_compute(txn_import_id=import_rows(w, [txn(card, w.canteen, "120.00", at(NOV, 15))]).pk)
    assert sorted(SubsidyEarning.objects.filter(campaign=c).values_list("amount", flat=True)) == [
        D("3.00"),
        D("12.00"),
    ]
    assert SubsidyEarning.objects.filter(Q(campaign=c), ~Q(member=card.member)).count() == 0
    assert SubsidyCampaign.objects.get(pk=c.pk).spent == D("15.00")


def test_refunds_come_first_and_an_import_computed_again_earns_nothing_more():
    w = make_world()
    c = campaign(w, cap_per_member_month=D("10"))
    card = holder(w.tree.unit_a1)
    first = txn(card, w.canteen, "100.00", at(NOV, 9))
    subsidies_compute(txn_import_id=import_rows(w, [first]).pk)  # 10: the month's cap is full
    same_day = txn(card, w.canteen, "60.00", at(NOV, 20))
    second = import_rows(
        w,
        [
            txn(
                card, w.canteen, "100.00", at(NOV, 18), kind="refund", original=first["reference"]
            ),  # frees the cap
            txn(card, w.canteen, "80.00", at(NOV, 19)),  # earns 8 in the room the refund made
            same_day,
            txn(card, w.canteen, "60.00", at(NOV, 21), kind="reversal", original=same_day["reference"]),
        ],
    )
    outcome = subsidies_compute(txn_import_id=second.pk)
    assert (outcome.cancelled, outcome.earned) == (1, 1)
    assert earned(c) == {D("100.00"): D("10.00"), D("80.00"): D("8.00")}  # the reversed 60 earns nothing
    again = subsidies_compute(txn_import_id=second.pk)
    assert (again.cancelled, again.clawbacks, again.earned) == (0, 0, 0)
    assert spent_matches_earnings(c) and c.spent == D("8.00")
