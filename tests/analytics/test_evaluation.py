"""The merchant evaluation sees usage: a merchant no member used in `unused_months` is flagged
for exit (issue 18, seed 001 §三(二)3), once the card feed is live."""

from datetime import date

import pytest

from merchants.models import EvaluationPolicy, Merchant
from merchants.services import merchant_score_refresh, merchant_scores_refresh_all
from merchants.usage.models import MerchantMonth

from .factories import NOV, TODAY

pytestmark = pytest.mark.django_db


def test_unused_merchant_is_flagged_for_exit(city):
    merchant_scores_refresh_all(on=TODAY)
    flags = dict(Merchant.objects.values_list("name", "flag"))
    assert flags == {"甲县康复医院": "", "乙县影城": "", "甲县书店": "exit"}


def test_a_new_contract_or_no_feed_flags_nothing(city):
    idle = city.merchants["m_idle"]
    Merchant.objects.filter(pk=idle.pk).update(contract_start=date(2026, 10, 1))
    idle.refresh_from_db()
    assert merchant_score_refresh(merchant=idle, on=TODAY).flag == ""
    MerchantMonth.objects.all().delete()  # the feed not running yet: usage says nothing
    Merchant.objects.filter(pk=idle.pk).update(contract_start=date(2016, 1, 1))
    idle.refresh_from_db()
    assert merchant_score_refresh(merchant=idle, on=TODAY).flag == ""


def test_policy_can_switch_usage_off(city):
    EvaluationPolicy.objects.create(unused_months=0)
    assert merchant_score_refresh(merchant=city.merchants["m_idle"], on=TODAY).flag == ""
    MerchantMonth.objects.create(merchant=city.merchants["m_idle"], month=NOV, cards=1, txn_count=1, amount=5)
    EvaluationPolicy.objects.update(unused_months=3)
    assert merchant_score_refresh(merchant=city.merchants["m_idle"], on=TODAY).flag == ""
