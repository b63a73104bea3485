"""A member on a 390×844 phone: sign in with the code from the SMS outbox, read the card
timeline, report the card lost; the clerk's member page shows the loss."""

import pytest

from issuance.models import Card, IssuingPartner
from tests.issuance.factories import make_card

from ..conftest import login
from ..factories import ROLE, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _transferred_kb(page) -> float:
    """Bytes this page load moved over the network (document + every resource), in KB."""
    return page.evaluate(
        """() => {
        const nav = performance.getEntriesByType('navigation').map(e => e.transferSize);
        const res = performance.getEntriesByType('resource').map(e => e.transferSize);
        return [...nav, ...res].reduce((a, b) => a + b, 0) / 1024;
    }"""
    )


def test_member_signs_in_sees_timeline_reports_lost_clerk_sees_it(
    live_server, phone, page, screenshot, tree, run_tasks_inline
):
    partner = IssuingPartner.objects.create(code="hbb", name="河北银行沧州分行")
    card = make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="王建国", phone="13912345678")
    Card.objects.filter(pk=card.pk).update(partner=partner)
    member = card.member
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")

    # the public landing page
    phone.goto(f"{live_server.url}/")
    assert phone.locator("#faq details").count() == 10
    assert "400-612-9999" in phone.inner_text("#hotline")
    screenshot("landing-390", phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

    # sign in: ID number, then the code as the outbox shows it
    phone.click("text=会员登录")
    phone.fill("#id_number", member.reveal_id_number())
    phone.click("button:has-text('获取验证码')")
    phone.wait_for_url("**/me/login/code/**")
    screenshot("code-390", phone)
    login(page, live_server, "city")
    page.goto(f"{live_server.url}/sms/")
    assert "139****5678" in page.inner_text("#sms-outbox")
    code = page.locator("#sms-outbox .sms-param[data-name=code]").first.inner_text().split("=")[1]
    screenshot("outbox-1366")
    phone.fill("#code", code)
    phone.click("button:has-text('登录')")
    phone.wait_for_url(f"{live_server.url}/me/")

    # my card: five stages, all done
    stages = phone.locator("#timeline li")
    assert stages.count() == 5
    assert [s.strip() for s in phone.locator("#timeline .m-stage-label").all_inner_texts()] == [
        "已申请",
        "银行制卡中",
        "已到工会",
        "已领取",
        "已激活",
    ]
    assert phone.locator("#timeline .m-done").count() == 5
    assert "卡片已激活" in phone.inner_text("#next-step")
    assert card.number not in phone.content()
    screenshot("card-390", phone)
    phone.reload()
    assert _transferred_kb(phone) < 200

    # 我的信息: masked only
    phone.click("nav.m-tabs >> text=我的信息")
    profile = phone.inner_text("#profile")
    assert "139****5678" in profile and member.masked_id in profile and "13912345678" not in profile
    screenshot("profile-390", phone)
    phone.click("nav.m-tabs >> text=我的会员卡")

    # report it lost
    phone.click("text=挂失这张卡")
    phone.fill("#note", "外出时遗失")
    phone.check("input[name=confirm]")
    screenshot("lost-390", phone)
    phone.click("button:has-text('确认挂失并申请补卡')")
    phone.wait_for_url(f"{live_server.url}/me/")
    assert "已挂失，补办的新卡已申请" in phone.inner_text(".m-messages")
    assert "挂失与补卡记录" in phone.inner_text("#card-history")
    screenshot("after-lost-390", phone)
    phone.set_viewport_size({"width": 1366, "height": 768})
    screenshot("after-lost-1366", phone)

    # the clerk's side
    page.click("button:has-text('退出')")
    login(page, live_server, "clerk-a1")
    page.goto(f"{live_server.url}{member.get_absolute_url()}")
    cards = page.inner_text("#member-cards")
    assert "由会员本人通过会员网站挂失" in cards and "会员本人（会员网站）" in cards
    screenshot("clerk-member-1366")
    card.refresh_from_db()
    assert card.status == Card.Status.LOST
    assert Card.objects.filter(replaces=card, status=Card.Status.APPLIED).count() == 1
