from datetime import date
from decimal import Decimal

import pytest

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from merchants.models import EvaluationPolicy, Merchant, MerchantReview
from merchants.services import (
    merchant_evaluate,
    merchant_exit,
    merchant_review_create,
    merchant_score_refresh,
    merchants_set_status,
    period_of,
)

from ..factories import make_member
from .factories import give_card, make_merchant

pytestmark = pytest.mark.django_db

DAY = date(2016, 8, 10)


def card_holders(union, n):
    members = [make_member(union, name=f"会员{i}") for i in range(n)]
    for m in members:
        give_card(m)
    return members


def test_period_is_the_quarter():
    assert [period_of(date(2016, 1, 1)), period_of(date(2016, 6, 30)), period_of(date(2016, 12, 31))] == [
        "2016Q1",
        "2016Q2",
        "2016Q4",
    ]


def test_score_weighs_member_mean_and_staff_mean_equally(tree, admin_user):
    # given three member ratings (5, 4, 3: mean 4) and one staff evaluation of 2
    merchant = make_merchant(tree.county_a)
    for member, rating in zip(card_holders(tree.unit_a1, 3), [5, 4, 3], strict=True):
        merchant_review_create(merchant=merchant, member=member, rating=rating, on=DAY)
    # when staff evaluate
    merchant_evaluate(merchant=merchant, rating=2, on=DAY, actor=admin_user)
    # then the score is (4 + 2) / 2 over 4 ratings
    merchant.refresh_from_db()
    assert (merchant.score, merchant.rating_count) == (Decimal("3.00"), 4)
    assert merchant.flag == Merchant.Flag.NONE


def test_below_threshold_is_flagged_for_exit_and_good_ones_for_promotion(tree, admin_user):
    EvaluationPolicy.objects.create(
        window_days=180, min_ratings=3, exit_below=Decimal("2.50"), promote_at_least=Decimal("4.50")
    )
    bad, good, few = (make_merchant(tree.county_a, name=n) for n in ("差评商户", "好评商户", "评价太少"))
    members = card_holders(tree.unit_a1, 3)
    for member, rating in zip(members, [2, 2, 3], strict=True):  # mean 2.33
        merchant_review_create(merchant=bad, member=member, rating=rating, on=DAY)
    for member, rating in zip(members, [5, 5, 4], strict=True):  # mean 4.67
        merchant_review_create(merchant=good, member=member, rating=rating, on=DAY)
    for member in members[:2]:
        merchant_review_create(merchant=few, member=member, rating=1, on=DAY)
    flags = dict(Merchant.objects.values_list("name", "flag"))
    assert flags == {"差评商户": "exit", "好评商户": "promote", "评价太少": ""}
    assert Merchant.objects.get(name="差评商户").score == Decimal("2.33")


def test_the_window_rolls_old_ratings_out(tree):
    EvaluationPolicy.objects.create(window_days=90, min_ratings=1)
    merchant = make_merchant(tree.county_a)
    old, recent = card_holders(tree.unit_a1, 2)
    merchant_review_create(merchant=merchant, member=old, rating=1, on=date(2016, 1, 15))
    merchant_review_create(merchant=merchant, member=recent, rating=5, on=date(2016, 5, 1))
    merchant_score_refresh(merchant=merchant, on=date(2016, 5, 1))
    assert (merchant.score, merchant.rating_count, merchant.flag) == (Decimal("5.00"), 1, "promote")


def test_one_review_per_member_per_merchant_per_period(tree):
    merchant = make_merchant(tree.county_a)
    (member,) = card_holders(tree.unit_a1, 1)
    merchant_review_create(merchant=merchant, member=member, rating=4, on=date(2016, 7, 1))
    with pytest.raises(ApplicationError) as exc:
        merchant_review_create(merchant=merchant, member=member, rating=1, on=date(2016, 9, 30))
    assert exc.value.code == "review_duplicate"
    assert list(MerchantReview.objects.values_list("rating", "period")) == [(4, "2016Q3")]
    merchant.refresh_from_db()
    assert merchant.score == Decimal("4.00")
    # the next quarter is a new period
    merchant_review_create(merchant=merchant, member=member, rating=2, on=date(2016, 10, 1))
    assert MerchantReview.objects.count() == 2


def test_only_card_holders_review(tree):
    merchant = make_merchant(tree.county_a)
    member = make_member(tree.unit_a1)
    give_card(member, to_status="applied")
    with pytest.raises(ApplicationError) as exc:
        merchant_review_create(merchant=merchant, member=member, rating=5, on=DAY)
    assert exc.value.code == "no_card"
    assert MerchantReview.objects.count() == 0


def test_exit_needs_a_reason_and_is_audited(tree, admin_user):
    merchant = make_merchant(tree.county_a)
    with pytest.raises(ApplicationError):
        merchant_exit(merchant=merchant, reason="  ", actor=admin_user)
    merchant.refresh_from_db()
    assert merchant.status == "active"
    merchant_exit(merchant=merchant, reason="会员评议连续两季低于2.5分", actor=admin_user, on=DAY)
    merchant.refresh_from_db()
    assert (merchant.status, merchant.exited_on, merchant.exit_reason) == (
        "exited",
        DAY,
        "会员评议连续两季低于2.5分",
    )
    entry = AuditEntry.objects.get(verb="merchant.exited")
    assert (entry.actor, entry.target_id, entry.union) == (admin_user, str(merchant.pk), tree.county_a)
    with pytest.raises(ApplicationError) as exc:
        merchant_exit(merchant=merchant, reason="再次退出", actor=admin_user)
    assert exc.value.code == "already_exited"


def test_suspend_skips_exited_merchants(tree, admin_user):
    active = make_merchant(tree.county_a)
    gone = make_merchant(tree.county_a)
    merchant_exit(merchant=gone, reason="合约到期", actor=admin_user)
    n = merchants_set_status(merchants=[active, gone], status="suspended", actor=admin_user)
    assert n == 1
    assert dict(Merchant.objects.values_list("pk", "status")) == {active.pk: "suspended", gone.pk: "exited"}


def test_refresh_task_rolls_the_window(tree, run_tasks_inline):
    from merchants.tasks import merchant_scores_refresh_task

    EvaluationPolicy.objects.create(window_days=30, min_ratings=1)
    merchant = make_merchant(tree.county_a)
    (member,) = card_holders(tree.unit_a1, 1)
    merchant_review_create(merchant=merchant, member=member, rating=1, on=date(2016, 1, 10))
    Merchant.objects.filter(pk=merchant.pk).update(score=Decimal("1.00"), rating_count=1, flag="exit")
    assert merchant_scores_refresh_task.delay().get() == 1  # today is long after the window
    merchant.refresh_from_db()
    assert (merchant.score, merchant.rating_count, merchant.flag) == (None, 0, "")
