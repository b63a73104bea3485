"""A member on a 390×844 phone: sign in with the code from the SMS outbox, read 我的权益, claim
the cataract subsidy with a photo of the receipt; the county reviewer opens the photo in the
staff claim queue (1366×768) and approves; the member sees the decision (and its SMS, where the
notices are installed). Then 到卡资金 and 特约商户 with a review."""

from decimal import Decimal

import pytest

from benefits.models import Claim
from benefits.seed import programmes_seed
from members.sms import templates as sms_templates
from members.sms.models import SmsMessage
from tests.hostile import jpeg_bytes
from tests.membersite.helpers import bank_result, batch_with
from tests.merchants.factories import give_card, make_merchant, make_offer

from ..conftest import login
from ..factories import ROLE, approve_disbursement, make_member, make_staff
from .conftest import PHONE, member_sign_in
from .test_member_journey import _transferred_kb as transferred_kb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESKTOP = {"width": 1366, "height": 768}


def image_loaded(page, selector: str) -> bool:
    """The image has arrived and decoded. The proofs are loading="lazy", so the page's load event
    does not wait for them: wait here (on a busy machine the first check came too early)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "sel => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0 }",
            arg=selector,
            timeout=15_000,
        )
    except PlaywrightTimeout:
        return False
    return True


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_member_claims_with_a_photo_reviewer_approves_member_sees_decision(
    live_server,
    phone,
    page,
    screenshot,
    tree,
    run_tasks_inline,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    programmes = programmes_seed(union=tree.province)
    member = make_member(tree.unit_a1, name="王建国", phone="13912345678", dues_paid=True)
    card = give_card(member)
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    warmth = batch_with(tree, city, "春节送温暖", "warmth", [(member, "500.00")])
    approve_disbursement(warmth, preparer=city, tree=tree)
    bank_result(warmth, [(card.number, "500.00", "成功", "")], make_staff(ROLE.BANK_OPERATOR, tree.city))
    cinema = make_merchant(tree.county_a, name="甲县影城", cat="文化影视")
    make_offer(cinema, description="电影票", terms="5折")
    make_offer(make_merchant(tree.county_b, name="乙县口腔诊所"), description="洁牙", terms="8折")
    receipt = tmp_path / "收费票据.jpg"
    receipt.write_bytes(jpeg_bytes((1200, 900), gps=True))

    # sign in with the code the SMS outbox holds
    member_sign_in(phone, live_server, member)

    # 我的权益: the staff's eligibility, the amount, how to claim
    phone.click("nav.m-tabs >> text=我的权益")
    cataract = phone.locator(f"#programme-{programmes['cataract'].pk}")
    assert "您符合条件：企业和企业化管理事业单位，500.00元" in cataract.inner_text()
    assert "上传医院收费票据" in cataract.inner_text()
    bonus = phone.locator(f"#programme-{programmes['opening-bonus'].pk}").inner_text()
    assert "您目前不符合条件" in bonus and "前申请办卡的前期会员" in bonus
    assert no_sideways_scroll(phone)
    screenshot("benefits-390", phone)
    phone.reload()
    assert transferred_kb(phone) < 200

    # claim with the photo of the receipt
    cataract.get_by_role("link", name="在线申请").click()
    phone.fill("#id_facts", "2026年11月在市人民医院做白内障手术")
    phone.set_input_files("#id_proof", str(receipt))
    screenshot("claim-form-390", phone)
    phone.click("button:has-text('提交申请')")
    phone.wait_for_url(f"{live_server.url}/me/claims/*/")
    claim = Claim.objects.get()
    assert phone.url == f"{live_server.url}/me/claims/{claim.pk}/"
    assert "申请已提交：白内障光明保障项目，500.00元" in phone.inner_text(".m-messages")
    assert phone.inner_text("#claim-status").strip() == "待审核"
    assert image_loaded(phone, "#claim .m-proofs img")
    screenshot("claim-pending-390", phone)

    # the reviewer's existing queue, on a desktop
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "reviewer-a")
    page.goto(f"{live_server.url}/benefits/claims/")
    row = page.locator("table.data tr", has_text="王建国")
    assert "会员本人（会员网站）" in row.inner_text() and "500.00" in row.inner_text()
    row.locator(f"a[href='/benefits/claims/{claim.pk}/']").click()
    assert image_loaded(page, "#claim-proofs img")
    page.fill("input[name=note]", "票据齐全")
    screenshot("reviewer-claim-1366")
    page.click("button:has-text('批准')")
    assert "已批准" in page.inner_text(".messages, main")
    claim.refresh_from_db()
    assert (claim.status, claim.amount) == ("approved", Decimal("500.00"))

    # the member sees the decision
    phone.reload()
    assert phone.inner_text("#claim-status").strip() == "已批准"
    decision = phone.inner_text("#decision")
    assert "批准您的申请，500.00元将随工会的下一批发放打入您的工会卡" in decision and "票据齐全" in decision
    screenshot("claim-approved-390", phone)
    phone.set_viewport_size(DESKTOP)
    screenshot("claim-approved-1366", phone)
    phone.set_viewport_size(PHONE)
    if "notice_claim_decided" in sms_templates.TEMPLATES:  # the event SMS (helper myinfo's notices)
        assert SmsMessage.objects.filter(member=member, template="notice_claim_decided").count() == 1

    # 到卡资金
    phone.click("nav.m-tabs >> text=到卡资金")
    aid = phone.inner_text("#aid")
    assert "已到账合计 500.00元" in aid and "送温暖" in aid and f"尾号{card.number[-4:]}" in aid
    screenshot("aid-390", phone)

    # 特约商户: the member's county first, then a review
    phone.click("nav.m-tabs >> text=特约商户")
    names = phone.locator("#merchants h2").all_inner_texts()
    assert names[0].startswith("甲县影城") and names[1].startswith("乙县口腔诊所")
    merchant = phone.locator(f"#merchant-{cinema.pk}")
    merchant.locator("summary:has-text('评价这家商户')").click()
    merchant.locator("label:has-text('4分')").click()
    merchant.locator("input[name=comment]").fill("影厅干净，优惠兑现")
    screenshot("review-390", phone)
    merchant.locator("button:has-text('提交评价')").click()
    phone.wait_for_url(f"{live_server.url}/me/merchants/")
    assert "已评价“甲县影城”：4分" in phone.inner_text(".m-messages")
    assert "您本季度已评价：4分" in phone.inner_text(f"#merchant-{cinema.pk}")
    assert no_sideways_scroll(phone)
    screenshot("merchants-390", phone)
    phone.reload()
    assert transferred_kb(phone) < 200
    phone.set_viewport_size(DESKTOP)
    screenshot("merchants-1366", phone)
