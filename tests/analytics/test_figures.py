"""The figures of each page, from a small known set of transactions (factories.make_city)."""

from decimal import Decimal

import pytest

from members.models import StaffRole
from quotas.analytics import selectors, sources
from quotas.analytics.segments import SEGMENTS, segment_members, segment_params

from ..factories import make_staff
from .factories import NOV, make_paid_batch

pytestmark = pytest.mark.django_db


def _rows(table):
    return {
        r.union.name: (r.activated, r.used_ever, r.active30, r.active90, r.never_used) for r in table.rows
    }


def test_active_cards_by_county_and_by_grassroots_union(city, city_staff, reviewer):
    table = selectors.activity_table(user=city_staff)
    assert table.level == "county"
    assert _rows(table) == {"甲县总工会": (3, 3, 3, 3, 1), "乙县总工会": (2, 1, 0, 1, 1)}
    assert (table.total.activated, table.total.never_used) == (5, 2)
    assert table.rows[0].rate30 == Decimal("100.0") and table.rows[1].rate90 == Decimal("50.0")
    drill = selectors.activity_table(user=city_staff, county=city.tree.county_b)
    assert _rows(drill) == {"乙县人民医院工会": (2, 1, 0, 1, 1)}
    # a county reviewer lands on their own county's grassroots unions
    own = selectors.activity_table(user=reviewer)
    assert own.level == "union"
    assert _rows(own) == {"甲县第一中学工会": (2, 1, 1, 1, 1), "甲县供电公司工会": (1, 2, 2, 2, 0)}


def test_spending_at_union_merchants_month_over_month(city, city_staff, reviewer):
    table = selectors.spend_table(user=city_staff, month=NOV)
    medical = next(row for row in table.by_category if row[0] == "医疗保健")
    assert medical[1:] == (Decimal("180.00"), Decimal("40.00"), Decimal("350.0"))
    assert table.cells[(city.tree.county_a.pk, city.merchants["m_a"].category_id)] == (
        Decimal("180.00"),
        Decimal("40.00"),
    )
    assert table.outside == (Decimal("10.00"), Decimal("200.00"))
    assert table.txns == (3, 1)
    assert [c.name for c in table.counties] == ["甲县总工会"]
    other = make_staff(StaffRole.Role.COUNTY_REVIEWER, city.tree.county_b, username="reviewer-b")
    assert selectors.spend_table(user=other, month=NOV).cells == {}
    assert selectors.spend_table(user=other, month=NOV).outside == (Decimal(0), Decimal("200.00"))


def test_merchant_ranking_and_unused_merchants(city, city_staff):
    rows, unused = selectors.merchant_ranking(user=city_staff, month=NOV)
    assert [
        (r.merchant.name, r.cards, r.repeat_cards, r.txn_count, r.amount, r.cards_before) for r in rows
    ] == [("甲县康复医院", 2, 1, 3, Decimal("180.00"), 1)]
    assert rows[0].repeat_rate == Decimal("50.0")
    assert [m.name for m in unused] == ["甲县书店"]


def test_benefit_uptake_counts_paid_members_and_spent_share(city, city_staff, reviewer):
    c = city.cards
    make_paid_batch(city.tree.county_a, [(c["c1"], "300", "paid"), (c["c2"], "300", "failed")])
    make_paid_batch(city.tree.county_b, [(c["c4"], "500", "paid")], name="乙县送温暖")
    make_paid_batch(city.tree.county_b, [(c["c5"], "900", "pending")], name="草稿", state="draft")
    rows = selectors.benefit_uptake(user=city_staff)
    assert [(r.label, r.members, r.lines, r.approved, r.paid, r.failed) for r in rows] == [
        ("送温暖", 2, 3, Decimal("1100.00"), Decimal("800.00"), Decimal("300.00"))
    ]
    mine = selectors.benefit_uptake(user=reviewer)
    assert [(r.members, r.paid, r.spent_rate) for r in mine] == [(1, Decimal("300.00"), Decimal("50.0"))]
    assert [r["name"] for r in selectors.recipients(user=reviewer)] == ["甲一"]


def test_subsidy_uptake_is_empty_without_the_subsidy_app(city, city_staff):
    if sources.subsidies_installed():
        pytest.skip("the subsidy app is installed: its own figures are tested with it")
    assert sources.subsidy_uptake(user=city_staff) == []


def test_segments_count_the_right_members_in_scope(city, city_staff, reviewer):
    def names(user, slug, **query):
        seg = SEGMENTS[slug]
        return sorted(segment_members(user, seg, segment_params(query)).values_list("name", flat=True))

    assert names(city_staff, "hardship_unused") == ["乙五", "甲二"]
    assert names(reviewer, "hardship_unused") == ["甲二"]
    assert names(city_staff, "activated_unused") == ["乙五", "甲二"]
    medical = city.merchants["m_a"].category_id
    assert names(city_staff, "no_merchant", category=str(medical)) == ["乙五", "乙四"]
    assert names(reviewer, "no_merchant", category=str(medical)) == []
    film = city.merchants["m_b"].category_id
    assert names(city_staff, "no_merchant", category=str(film)) == []


def test_an_import_refreshes_the_snapshots(city, city_staff, run_tasks_inline):
    from merchants.usage.models import CardUsage
    from merchants.usage.signals import transactions_imported
    from quotas.analytics.models import UnionActivity

    CardUsage.objects.filter(card=city.cards["c1"]).delete()  # as if the roll-ups changed
    transactions_imported.send(sender=None, txn_import_id=0)
    assert UnionActivity.objects.get(union=city.tree.unit_a1).used_ever == 0
