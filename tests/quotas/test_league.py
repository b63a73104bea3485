import io
from collections import defaultdict
from datetime import date

import pytest
from django.core.management import call_command
from django.db.models import Sum

from cardportal.errors import ApplicationError
from issuance.lifecycle import (
    cards_apply,
    cards_transition,
    rebuild_union_months,
    recount_union_months,
    stored_union_months,
)
from issuance.models import Card
from members.models import Union
from quotas import selectors
from quotas.models import Quota
from quotas.rollup import county_months_rebuild, county_months_recount, county_months_stored
from quotas.services import quotas_load

from ..factories import make_member
from .factories import at, make_cards, make_quota

pytestmark = pytest.mark.django_db


def _recount_by_county(tree_obj, month: date) -> dict[int, dict[str, int]]:
    """Straight from the Card table: members whose first card reached a stage by `month`'s end."""
    counties = {tree_obj.unit_a1.pk: tree_obj.county_a.pk, tree_obj.unit_a2.pk: tree_obj.county_a.pk}
    counties[tree_obj.unit_b1.pk] = tree_obj.county_b.pk
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    end = selectors.add_months(month, 1)
    for card in Card.objects.filter(replaces__isnull=True):
        for metric in ("applied", "issued", "distributed", "activated"):
            when = getattr(card, f"{metric}_at")
            if when is not None and selectors.month_start(when.astimezone(at(2016, 1).tzinfo).date()) < end:
                result[counties[card.union_id]][metric] += 1
    return result


def test_league_table_equals_a_recount_from_cards_after_a_mixed_workload(tree, city_staff):
    # given: quotas for two counties and cards moving through every stage over several months,
    # including a lost card replaced (the replacement must not count twice) and a cancellation
    make_quota(tree.county_a, 2016, target=20, members=200)
    make_quota(tree.county_b, 2016, target=10, members=100)
    make_cards(
        tree.unit_a1,
        6,
        applied=at(2016, 3),
        issued=at(2016, 4),
        received=at(2016, 4),
        distributed=at(2016, 5),
    )
    a2 = make_cards(tree.unit_a2, 5, applied=at(2016, 4), issued=at(2016, 6, 1), received=at(2016, 6))
    cards_transition(cards=a2[:3], to_status="distributed", at=at(2016, 6, 20))
    cards_transition(cards=a2[:2], to_status="activated", at=at(2016, 7, 1))
    b1 = make_cards(
        tree.unit_b1,
        4,
        applied=at(2016, 4),
        issued=at(2016, 5),
        received=at(2016, 5),
        distributed=at(2016, 6),
    )
    cards_transition(cards=b1[:3], to_status="activated", at=at(2016, 6, 30))
    cards_transition(cards=b1[:1], to_status="lost", at=at(2016, 7, 2))
    lost = Card.objects.get(pk=b1[0])
    replacement = Card.objects.create(
        member=lost.member,
        union=lost.union,
        replaces=lost,
        applied_at=at(2016, 7, 3),
        updated_at=at(2016, 7, 3),
    )
    cards_transition(cards=[replacement.pk], to_status="in_batch", at=at(2016, 7, 4))
    cards_transition(
        cards=[replacement.pk],
        to_status="issued",
        at=at(2016, 7, 5),
        updates={replacement.pk: {"number": "6212000000000099"}},
    )
    cancelled = cards_apply(members=[make_member(tree.unit_b1)], at=at(2016, 5))
    cards_transition(cards=[c.pk for c in cancelled], to_status="cancelled", at=at(2016, 6))

    # the counters agree with the lifecycle's own recount
    assert stored_union_months() == recount_union_months()
    # and the county roll-up the league table reads, kept by the triggers, sums them exactly
    assert county_months_stored() == county_months_recount()

    for month in (date(2016, 5, 1), date(2016, 6, 1), date(2016, 7, 1)):
        table = selectors.league_table(user=city_staff, month=month, service_items={})
        expected = _recount_by_county(tree, month)
        got = {
            r.union.pk: {
                "applied": r.registered,
                "issued": r.issued,
                "distributed": r.distributed,
                "activated": r.activated,
            }
            for r in table.rows
        }
        assert got == {
            k: {m: v.get(m, 0) for m in ("applied", "issued", "distributed", "activated")}
            for k, v in {
                tree.county_a.pk: expected[tree.county_a.pk],
                tree.county_b.pk: expected[tree.county_b.pk],
            }.items()
        }

    # and the hand-checked figures at the end of June:
    # A: issued 6 + 5 = 11 of 20 = 55%; distributed 6 + 3 = 9; activated 0
    # B: issued 4 of 10 = 40%; distributed 4; activated 3 -> 3/4 = 75%
    june = selectors.league_table(user=city_staff, month=date(2016, 6, 1), service_items={})
    a, b = june.rows
    assert (a.union, a.issued, a.completion, a.distributed, a.activated, a.rank) == (
        tree.county_a,
        11,
        pytest.approx(55),
        9,
        0,
        1,
    )
    assert (b.union, b.issued, b.completion, b.activated, b.activation_rate, b.rank) == (
        tree.county_b,
        4,
        pytest.approx(40),
        3,
        pytest.approx(75),
        2,
    )
    # May: A 6/20 = 30%, B 4/10 = 40% -> B was first, A second: A moved up one, B down one
    assert (a.prev_rank, a.rank_change, b.prev_rank, b.rank_change) == (2, 1, 1, -1)
    assert (june.totals.issued, june.totals.target) == (15, 30)


def test_county_reviewer_sees_only_their_row_with_its_city_rank(tree, reviewer):
    make_quota(tree.county_a, 2016, target=10)
    make_quota(tree.county_b, 2016, target=10)
    make_cards(tree.unit_a1, 2, applied=at(2016, 3), issued=at(2016, 4))
    make_cards(tree.unit_b1, 5, applied=at(2016, 3), issued=at(2016, 4))
    table = selectors.league_table(user=reviewer, month=date(2016, 4, 1), service_items={})
    assert [(r.union, r.issued, r.rank) for r in table.rows] == [(tree.county_a, 2, 2)]


def test_clerk_sees_no_county_rows(tree, clerk):
    make_quota(tree.county_a, 2016, target=10)
    assert selectors.league_table(user=clerk, month=date(2016, 4, 1), service_items={}).rows == []


def test_drill_down_lists_grassroots_unions_of_one_county(tree, city_staff, reviewer):
    make_cards(
        tree.unit_a1,
        3,
        applied=at(2016, 3),
        issued=at(2016, 4),
        received=at(2016, 4),
        distributed=at(2016, 4),
        activated=at(2016, 4),
    )
    make_cards(tree.unit_a2, 1, applied=at(2016, 3), issued=at(2016, 4))
    rows = selectors.county_units(user=city_staff, county=tree.county_a, month=date(2016, 4, 1))
    # A1: 3 issued of the county's 4 = 75%, all activated; A2: 1 = 25%
    assert [(r.union, r.issued, r.activated, r.share) for r in rows] == [
        (tree.unit_a1, 3, 3, pytest.approx(75)),
        (tree.unit_a2, 1, 0, pytest.approx(25)),
    ]
    with pytest.raises(selectors.Http404):
        selectors.county_units(user=reviewer, county=tree.county_b, month=date(2016, 4, 1))


def test_plan_load_matches_names_exactly_and_is_idempotent(tree):
    text = (
        "union_name,members_2015,issued_2016,rate_2016,issued_2017,cumulative_2017,rate_2017\n"
        "甲县总工会,42292,4200,10,12700,16900,40\n"
        "合计,42292,4200,10,12700,16900,40\n"
    )
    assert quotas_load(text=text) == {"unions": 1, "created": 2, "updated": 0}
    assert quotas_load(text=text) == {"unions": 1, "created": 0, "updated": 2}
    assert list(Quota.objects.values_list("year", "target", "new_in_year", "member_base")) == [
        (2016, 4200, 4200, 42292),
        (2017, 16900, 12700, 42292),
    ]
    tree.county_a.refresh_from_db()
    assert tree.county_a.declared_members == 42292


def test_plan_load_refuses_unknown_names_and_writes_nothing(tree):
    text = "union_name,members_2015,issued_2016,rate_2016\n甲县总工会,100,10,10\n甲县工会,100,10,10\n"
    with pytest.raises(ApplicationError) as exc:
        quotas_load(text=text)
    assert exc.value.message == "找不到这些县级工会（名称须完全一致）：第3行“甲县工会”"
    assert Quota.objects.count() == 0


def test_load_quotas_command_loads_the_cangzhou_plan_exactly(db):
    from members.demo import BUNDLED_PLAN_CSV, plan_rows

    city = Union.objects.create(code="130900", name="沧州市总工会", level=Union.Level.CITY)
    for i, row in enumerate(plan_rows()):
        Union.objects.create(code=f"K{i:02d}", name=row["union_name"], level=Union.Level.COUNTY, parent=city)
    out = io.StringIO()
    call_command("load_quotas", str(BUNDLED_PLAN_CSV), stdout=out)
    assert out.getvalue() == "22个县级工会：新增 66 条，更新 0 条发卡任务。\n"
    assert Quota.objects.count() == 66
    assert Quota.objects.filter(year=2016).aggregate(t=Sum("target"))["t"] == 144400
    assert Quota.objects.filter(year=2017).aggregate(t=Sum("target"))["t"] == 577800
    assert Quota.objects.filter(year=2018).aggregate(t=Sum("target"))["t"] == 1155700
    cangxian = Quota.objects.get(union__name="沧县总工会", year=2018)
    assert (cangxian.target, cangxian.new_in_year, cangxian.member_base, cangxian.planned_rate) == (
        144300,
        72200,
        180355,
        80,
    )


def test_quarterly_ranking_2016_starts_in_q2_and_shares_tied_places(tree, city_staff, settings):
    make_quota(tree.county_a, 2016, target=10)
    make_quota(tree.county_b, 2016, target=20)
    # end of Q2 (June): A 5/10 = 50%, B 10/20 = 50% -> tied first, 7 points each
    make_cards(tree.unit_a1, 5, applied=at(2016, 4), issued=at(2016, 6))
    make_cards(tree.unit_b1, 10, applied=at(2016, 4), issued=at(2016, 6))
    # Q3 (September): A 5 + 4 = 9/10 = 90% first (7), B 10/20 = 50% second (6.5)
    make_cards(tree.unit_a1, 4, applied=at(2016, 7), issued=at(2016, 8))
    tables = selectors.quarterly_rankings(user=city_staff, year=2016)
    assert [t.quarter for t in tables] == [2, 3, 4]
    q2, q3, _q4 = tables
    assert [(r.name, r.place, r.points) for r in q2.rows] == [("乙县总工会", 1, 7), ("甲县总工会", 1, 7)]
    assert "与甲县总工会完成率相同" in q2.rows[0].explain
    assert [(r.name, r.place, r.points) for r in q3.rows] == [("甲县总工会", 1, 7), ("乙县总工会", 2, 6.5)]


def test_county_rollup_follows_a_counter_rebuild_and_can_be_rebuilt(tree):
    # given counters built by the lifecycle, then rebuilt wholesale (DELETE + bulk INSERT)
    make_cards(tree.unit_a1, 3, applied=at(2016, 3), issued=at(2016, 4), received=at(2016, 5))
    make_cards(tree.unit_b1, 2, applied=at(2016, 4), issued=at(2016, 4))
    before = county_months_stored()
    rebuild_union_months()
    # then the roll-up is unchanged and equals the counters summed per county:
    # A: applied 3 in March, issued 3 in April, received 3 in May; B: applied 2 and issued 2 in April
    assert (
        county_months_stored()
        == before
        == {
            (tree.county_a.pk, date(2016, 3, 1), "applied"): 3,
            (tree.county_a.pk, date(2016, 4, 1), "issued"): 3,
            (tree.county_a.pk, date(2016, 5, 1), "received"): 3,
            (tree.county_b.pk, date(2016, 4, 1), "applied"): 2,
            (tree.county_b.pk, date(2016, 4, 1), "issued"): 2,
        }
    )
    assert county_months_rebuild() == 5
    assert county_months_stored() == before
