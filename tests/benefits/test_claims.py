from datetime import date
from decimal import Decimal

import pytest

from benefits.models import Claim
from benefits.seed import programmes_seed
from benefits.services.claims import claim_approve, claim_create, claim_reject
from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry

from ..factories import make_member
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db
ON = date(2016, 9, 1)


@pytest.fixture
def programmes(tree):
    return programmes_seed(union=tree.province)


def test_claim_amount_comes_from_the_tier_and_reviewer_approves(tree, programmes, clerk, reviewer):
    member = make_member(tree.unit_a1, dues_paid=True)
    give_card(member)
    claim = claim_create(
        programme=programmes["accident-fire"], member=member, incident_on=ON, facts="家中失火", actor=clerk
    )
    assert (claim.amount, claim.tier_label, claim.status) == (Decimal("30000.00"), "按时交纳会费", "pending")
    assert claim.explanation[-1] == {"ok": True, "text": "适用档次“按时交纳会费”：30000.00元（按时交纳会费）"}
    claim_approve(claim=claim, actor=reviewer, note="材料齐全")
    claim.refresh_from_db()
    assert (claim.status, claim.reviewed_by, claim.review_note) == ("approved", reviewer, "材料齐全")
    assert list(AuditEntry.objects.order_by("id").values_list("verb", flat=True)) == [
        "claim.created",
        "claim.approved",
    ]


def test_ineligible_claim_is_refused_with_reasons(tree, programmes, clerk):
    member = make_member(tree.unit_a1)
    with pytest.raises(ApplicationError) as exc:
        claim_create(
            programme=programmes["cataract"], member=member, incident_on=ON, facts="手术", actor=clerk
        )
    assert exc.value.code == "not_eligible"
    assert exc.value.message == "不符合申请条件：没有有效的工会会员卡"
    assert Claim.objects.count() == 0


def test_clerk_cannot_approve_and_reviewer_cannot_approve_own_claim(tree, programmes, clerk, reviewer):
    member = make_member(tree.unit_a1)
    give_card(member)
    claim = claim_create(
        programme=programmes["accidental-death"],
        member=member,
        incident_on=ON,
        facts="交通事故",
        actor=reviewer,
    )
    with pytest.raises(ApplicationError) as by_clerk:
        claim_approve(claim=claim, actor=clerk)
    with pytest.raises(ApplicationError) as own:
        claim_approve(claim=claim, actor=reviewer)
    assert (by_clerk.value.code, own.value.code) == ("forbidden", "own_claim")
    claim.refresh_from_db()
    assert claim.status == "pending" and claim.reviewed_by is None


def test_reject_needs_a_reason_and_is_final(tree, programmes, clerk, reviewer):
    member = make_member(tree.unit_a1)
    give_card(member)
    claim = claim_create(
        programme=programmes["accidental-death"], member=member, incident_on=ON, facts="溺水", actor=clerk
    )
    with pytest.raises(ApplicationError):
        claim_reject(claim=claim, actor=reviewer, reason="")
    claim_reject(claim=claim, actor=reviewer, reason="材料不全")
    with pytest.raises(ApplicationError) as exc:
        claim_approve(claim=claim, actor=reviewer)
    assert exc.value.code == "not_pending"
    claim.refresh_from_db()
    assert (claim.status, claim.review_note) == ("rejected", "材料不全")


def test_once_per_member_programme(tree, programmes, clerk):
    from issuance.models import Card

    member = make_member(tree.unit_a1)
    card = give_card(member)
    Card.objects.filter(pk=card.pk).update(applied_at="2016-04-01T09:00:00+08:00")
    claim_create(
        programme=programmes["opening-bonus"], member=member, incident_on=ON, facts="开卡", actor=clerk
    )
    with pytest.raises(ApplicationError) as exc:
        claim_create(
            programme=programmes["opening-bonus"], member=member, incident_on=ON, facts="开卡", actor=clerk
        )
    assert exc.value.code == "once_per_member"
    assert Claim.objects.count() == 1
