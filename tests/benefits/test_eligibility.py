from datetime import date
from decimal import Decimal

import pytest

from benefits.eligibility import evaluate
from benefits.seed import programmes_seed
from benefits.selectors import member_eligibility, programmes_by_county
from members.models import Member, Union

from ..factories import make_member
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db
ON = date(2016, 9, 1)


@pytest.fixture
def programmes(tree):
    return programmes_seed(union=tree.province)


def set_unit_type(union, unit_type):
    Union.objects.filter(pk=union.pk).update(unit_type=unit_type)
    union.refresh_from_db()


def test_fire_cover_is_30000_for_members_who_paid_dues_and_20000_otherwise(tree, programmes):
    paid = make_member(tree.unit_a1, name="按时交费", dues_paid=True)
    unpaid = make_member(tree.unit_a1, name="未按时交费", dues_paid=False)
    give_card(paid, to_status="issued")
    give_card(unpaid, to_status="distributed")
    a = evaluate(programme=programmes["accident-fire"], member=paid, on=ON)
    b = evaluate(programme=programmes["accident-fire"], member=unpaid, on=ON)
    assert (a.eligible, a.amount, a.tier_label) == (True, Decimal("30000.00"), "按时交纳会费")
    assert (b.eligible, b.amount, b.tier_label) == (True, Decimal("20000.00"), "基本保障")
    assert a.checks[-1].text == "适用档次“按时交纳会费”：30000.00元（按时交纳会费）"


def test_dues_not_recorded_are_not_proven_so_the_dues_tier_does_not_apply(tree, programmes):
    """A registered member whose sheet said nothing about dues gets the basic 20,000, with why."""
    unknown = make_member(tree.unit_a1, name="未登记会费", dues_paid=None)
    give_card(unknown, to_status="issued")
    result = evaluate(programme=programmes["accident-fire"], member=unknown, on=ON)
    assert (result.eligible, result.amount, result.tier_label) == (True, Decimal("20000.00"), "基本保障")
    assert "会费交纳情况未登记，不适用“按时交纳会费”" in result.checks[-1].text


def test_cataract_subsidy_is_500_for_enterprises_and_300_for_government_and_institutions(tree, programmes):
    set_unit_type(tree.unit_a2, Union.UnitType.ENTERPRISE_MANAGED)
    set_unit_type(tree.unit_a1, Union.UnitType.GOVERNMENT)
    set_unit_type(tree.unit_b1, Union.UnitType.INSTITUTION)
    amounts = {}
    for union in (tree.unit_a2, tree.unit_a1, tree.unit_b1):
        member = make_member(union)
        give_card(member)
        result = evaluate(programme=programmes["cataract"], member=member, on=ON)
        assert result.eligible
        amounts[union.unit_type] = (result.amount, result.checks[-1].text)
    assert amounts == {
        "enterprise_managed": (
            Decimal("500.00"),
            "适用档次“企业和企业化管理事业单位”：500.00元（所在单位为企业化管理事业单位）",
        ),
        "government": (Decimal("300.00"), "适用档次“机关和其他事业单位”：300.00元（所在单位为机关）"),
        "institution": (
            Decimal("300.00"),
            "适用档次“机关和其他事业单位”：300.00元（所在单位为其他事业单位）",
        ),
    }


def test_ineligible_members_are_told_why(tree, programmes):
    no_card = make_member(tree.unit_a1, name="未办卡")
    left = make_member(tree.unit_a1, name="已离会")
    Member.objects.filter(pk=left.pk).update(status=Member.Status.LEFT)
    left.refresh_from_db()
    give_card(left)
    not_yet_issued = make_member(tree.unit_a1)
    give_card(not_yet_issued, to_status="in_batch")

    assert evaluate(programme=programmes["cataract"], member=no_card, on=ON).reasons == [
        "没有有效的工会会员卡"
    ]
    assert evaluate(programme=programmes["cataract"], member=left, on=ON).reasons == [
        "会籍状态为“已离会”，不是在职在岗"
    ]
    assert evaluate(programme=programmes["cataract"], member=not_yet_issued, on=ON).reasons == [
        "工会卡尚未制卡（当前：已报银行）"
    ]
    assert evaluate(programme=programmes["cataract"], member=no_card, on=date(2015, 12, 31)).reasons == [
        "2015-12-31不在项目保障期内或项目已停用",
        "没有有效的工会会员卡",
    ]


def test_opening_bonus_needs_an_activated_early_card(tree, programmes):
    from issuance.models import Card

    early = make_member(tree.unit_a1)
    distributed = give_card(early, to_status="distributed")
    Card.objects.filter(pk=distributed.pk).update(applied_at="2016-05-01T08:00:00+08:00")
    result = evaluate(programme=programmes["opening-bonus"], member=early, on=ON)
    assert result.reasons == ["工会卡尚未激活（当前：已发放）"]
    early_card = give_card(make_member(tree.unit_a1))

    Card.objects.filter(pk=early_card.pk).update(applied_at="2016-05-01T08:00:00+08:00")
    ok = evaluate(programme=programmes["opening-bonus"], member=early_card.member, on=ON)
    assert (ok.eligible, ok.amount) == (True, Decimal("20.00"))
    late = give_card(make_member(tree.unit_a1))
    Card.objects.filter(pk=late.pk).update(applied_at="2016-07-01T08:00:00+08:00")
    assert evaluate(programme=programmes["opening-bonus"], member=late.member, on=ON).reasons == [
        "不是2016-06-30前申请办卡的前期会员"
    ]


def test_free_services_need_no_card(tree, programmes):
    member = make_member(tree.unit_a1)
    result = evaluate(programme=programmes["legal-aid"], member=member, on=ON)
    assert (result.eligible, result.amount, result.tier_label) == (True, Decimal("0.00"), "免费服务")


def test_member_eligibility_lists_programmes_of_unions_above(tree, programmes):
    from benefits.models import BenefitProgramme

    BenefitProgramme.objects.create(
        code="county-b-only", name="乙县专项", kind="aid", union=tree.county_b, valid_from=date(2016, 1, 1)
    )
    member = make_member(tree.unit_a1)
    names = [e.programme.name for e in member_eligibility(member=member, on=ON)]
    assert len(names) == 6 and "乙县专项" not in names


def test_programmes_by_county(tree, programmes):
    from benefits.models import BenefitProgramme

    BenefitProgramme.objects.create(
        code="county-b", name="乙县专项", kind="aid", union=tree.county_b, valid_from=date(2016, 1, 1)
    )
    BenefitProgramme.objects.create(
        code="unit-a1", name="一中互助", kind="aid", union=tree.unit_a1, valid_from=date(2016, 1, 1)
    )
    BenefitProgramme.objects.create(
        code="ended",
        name="已结束",
        kind="aid",
        union=tree.city,
        valid_from=date(2015, 1, 1),
        valid_until=date(2015, 12, 31),
    )
    assert programmes_by_county(on=ON) == {tree.county_a.pk: 7, tree.county_b.pk: 7}
    assert programmes_by_county(on=date(2015, 6, 1)) == {tree.county_a.pk: 1, tree.county_b.pk: 1}
