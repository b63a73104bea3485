"""Subsidies on swipe, end to end in a browser: city staff set up a campaign, the bank's daily
file is uploaded on the feed page and imported (the task inline), the import's signal computes
the subsidies, and the member sees the subsidy with the merchant and date on 到卡资金 (phone)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from benefits.subsidies.models import SubsidyCampaign, SubsidyEarning
from merchants.usage.models import MerchantMID, PartnerFeed
from tests.issuance.factories import make_partner
from tests.merchants.factories import give_card, make_merchant

from ..conftest import LIVE_REQUESTS, login
from ..factories import ROLE, make_member, make_staff
from ..usage.helpers import csv_bytes, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert LIVE_REQUESTS.wait_idle(), "the live server is still answering a request of this test"


def test_campaign_to_member_seeing_the_subsidy(
    live_server, page, phone, screenshot, tree, run_tasks_inline, tmp_path
):
    bank = make_partner()
    PartnerFeed.objects.create(partner=bank, code="daily", name="日交易明细", base="bank")
    shop = make_merchant(tree.county_a, name="好药房")
    MerchantMID.objects.create(merchant=shop, partner=bank, mid="104310000000001")
    member = make_member(tree.unit_a1, name="王建国", phone="13912345678")
    card = give_card(member)
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    today = timezone.localdate()

    # city staff set up the campaign
    login(page, live_server, "city")
    page.goto(f"{live_server.url}/subsidies/")
    page.click("#new-campaign")
    page.fill("#id_name", "药房刷卡补贴")
    page.check("text=医疗保健")
    page.check("#campaign-form input[name=rule][value=percent]")
    page.fill("#id_percent", "10")
    page.fill("#id_cap_per_txn", "30")
    page.fill("#id_cap_per_member_month", "100")
    page.fill("#id_budget", "5000")
    page.fill("#id_starts_on", f"{today - timedelta(days=7):%Y-%m-%d}")
    page.fill("#id_ends_on", f"{today + timedelta(days=30):%Y-%m-%d}")
    screenshot("subsidy-form-1366")
    page.click("#campaign-form button[type=submit]")
    campaign = SubsidyCampaign.objects.get()
    page.wait_for_url(f"{live_server.url}/subsidies/{campaign.pk}/")
    assert "返还消费金额的10%，每笔最多30.00元，每人每月最多100.00元" in page.inner_text("#campaign-info")

    # the bank's file of yesterday: a purchase at the union pharmacy, one elsewhere
    yesterday = f"{today - timedelta(days=1):%Y-%m-%d}"
    feed = tmp_path / "daily.csv"
    feed.write_bytes(
        csv_bytes(
            [
                row("R1", card, at=f"{yesterday} 12:30:00", amount="128.50"),
                row("R2", card, at=f"{yesterday} 18:00:00", amount="60.00", mid="999999999999999"),
            ]
        )
    )
    page.goto(f"{live_server.url}/usage/imports/")
    page.set_input_files("#feed-upload input[type=file]", str(feed))
    page.click("#feed-upload button[type=submit]")
    page.wait_for_url(f"{live_server.url}/usage/imports/*/")
    assert str(SubsidyEarning.objects.get().amount) == "12.85"  # 10 % of 128.50, rounded down
    page.goto(f"{live_server.url}/subsidies/{campaign.pk}/")
    assert page.inner_text("#spent") == "12.85"
    screenshot("subsidy-campaign-1366")

    # the member signs in on the phone (the code from the SMS outbox) and opens 到卡资金
    phone.goto(f"{live_server.url}/me/login/")
    phone.fill("#id_number", member.reveal_id_number())
    phone.click("button:has-text('获取验证码')")
    phone.wait_for_url("**/me/login/code/**")
    page.goto(f"{live_server.url}/sms/")
    code = page.locator("#sms-outbox .sms-param[data-name=code]").first.inner_text().split("=")[1]
    phone.fill("#code", code)
    phone.click("button:has-text('登录')")
    phone.wait_for_url(f"{live_server.url}/me/")
    phone.goto(f"{live_server.url}/me/aid/")
    text = phone.inner_text("#subsidies")
    assert "好药房" in text and "+12.85元" in text and "消费128.50元" in text
    assert f"{today - timedelta(days=1):%Y年%-m月%-d日}" in text and "待发放（次月发放到卡）" in text
    screenshot("subsidy-aid-390", phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
