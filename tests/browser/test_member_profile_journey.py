"""A member on a 390×844 phone: records consent, asks for a correction, changes phone by a code
sent to the new number; the clerk answers the correction and activates the card on site; the
member reads 消息 and the card-activated SMS is in the outbox, sent to the new number."""

import pytest

from issuance.models import Card
from members.sms.models import SmsMessage
from members.sms.services import sms_secret_params
from tests.issuance.factories import make_card

from ..conftest import login
from ..factories import ROLE, make_staff
from .conftest import member_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _phone_code() -> str:
    return sms_secret_params(SmsMessage.objects.filter(template="member_phone_code").latest("id"))["code"]


def test_consent_correction_phone_change_and_notices(
    live_server,
    phone,
    page,
    screenshot,
    tree,
    run_tasks_inline,
):
    card = make_card(tree.unit_a1, status=Card.Status.DISTRIBUTED, name="王建国", phone="13912345678")
    member = card.member
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")

    # sign in
    member_sign_in(phone, live_server, member)

    # 我的信息: consent
    phone.click("nav.m-tabs >> text=我的信息")
    assert "您还没有在本站确认过办卡意愿" in phone.inner_text("#consent")
    phone.click("#consent button:has-text('同意')")
    assert "已同意办卡" in phone.inner_text("#consent")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # a correction request
    phone.click("text=信息有误，申请更正")
    phone.select_option("#field", "name")
    phone.fill("#details", "姓名应为王健国，以身份证为准")
    screenshot("correction-390", phone)
    phone.click("button:has-text('提交给工会')")
    assert "更正申请已提交给甲县第一中学工会的工会经办人" in phone.inner_text(".m-messages")
    assert "待处理" in phone.inner_text("#corrections")

    # change of phone: the code goes to the new number
    phone.click("#profile >> text=更换")
    phone.fill("#phone", "13698765432")
    phone.click("button:has-text('发送验证码到新手机号')")
    phone.wait_for_url("**/me/profile/phone/code/")
    sent = SmsMessage.objects.get(template="member_phone_code")
    assert sent.phone_masked == "136****5432"
    phone.fill("#code", _phone_code())
    screenshot("phone-code-390", phone)
    phone.click("button:has-text('确认更换')")
    phone.wait_for_url(f"{live_server.url}/me/profile/")
    assert "手机号已更换为136****5432" in phone.inner_text(".m-messages")
    assert "136****5432" in phone.inner_text("#profile")
    screenshot("profile-after-390", phone)
    old_notice = SmsMessage.objects.get(template="member_phone_changed")
    assert old_notice.phone_masked == "139****5678"

    # the clerk: the correction in the queue, answered; the card activated on site
    login(page, live_server, "clerk-a1")
    assert "会员更正申请" in page.inner_text("#panel-corrections")
    page.click("#panel-corrections >> text=全部更正申请")
    assert "王建国" in page.inner_text("#corrections")
    page.locator("#corrections").get_by_role("link", name="处理", exact=True).click()
    assert "姓名应为王健国，以身份证为准" in page.inner_text("#correction-details")
    page.fill("#reply", "已按身份证更正姓名")
    screenshot("clerk-correction-1366")
    page.click("button:has-text('标记为已处理')")
    assert "暂无更正申请" in page.inner_text("#corrections")
    page.goto(f"{live_server.url}/issuance/unions/{tree.unit_a1.pk}/")
    page.locator("#to-activate tr:has-text('王建国') input[name=card]").check()
    page.fill("#to-activate input[name=place]", "职工之家")
    page.click("text=登记现场集中激活")
    assert "已登记集中激活 1 张" in page.inner_text(".messages")

    # the member: 消息 and the answer on 我的信息
    phone.click("nav.m-tabs >> text=消息")
    notices = phone.inner_text("#notices")
    tail = card.number[-4:]
    assert f"您的工会会员卡（尾号{tail}）已激活，可在特约商户享受会员优惠。" in notices
    assert "手机号已变更" in notices and "新" in notices
    screenshot("notices-390", phone)
    phone.set_viewport_size({"width": 1366, "height": 768})
    screenshot("notices-1366", phone)
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.click("nav.m-tabs >> text=我的信息")
    assert "已按身份证更正姓名" in phone.inner_text("#corrections")

    # the SMS of the activation, in the outbox, to the new number
    page.click("button:has-text('退出')")
    login(page, live_server, "city")
    page.goto(f"{live_server.url}/sms/")
    outbox = page.inner_text("#sms-outbox")
    assert "卡片已激活" in outbox and "136****5432" in outbox
    screenshot("outbox-1366")
    activated = SmsMessage.objects.get(key=f"card-activated:{card.pk}")
    assert (activated.phone_masked, activated.status) == ("136****5432", SmsMessage.Status.SENT)
