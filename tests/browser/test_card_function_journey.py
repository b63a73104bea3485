"""Two partners on one card (seeds 002/003): the bank operator uploads the transit partner's
return on the batch page and reads the reconciliation; the member sees 交通功能 on 我的会员卡."""

import pytest

from issuance.lifecycle import cards_transition
from issuance.models import Card, CardFunction, IssuingPartner
from issuance.services.batches import batch_create
from issuance.services.functions import function_handoff_open
from tests.issuance.factories import card_number, make_card, xlsx_bytes

from ..conftest import login
from ..factories import ROLE, make_staff
from .conftest import member_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_upload_the_transit_return_and_the_member_sees_the_function(
    live_server, page, phone, screenshot, tree, run_tasks_inline, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    bank = IssuingPartner.objects.create(code="icbc", name="工商银行测试分行")
    transit = IssuingPartner.objects.create(
        code="hrb-transit",
        name="哈尔滨城市通智能卡有限公司",
        is_primary=False,
        role=IssuingPartner.Role.FUNCTION,
        function_kind="transit",
    )
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    operator = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    wang = make_card(tree.unit_a1, name="王建国", id_number="11010519491231002X", phone="13912345678")
    li = make_card(tree.unit_a1, name="李秀英", id_number="110105198506150014")
    batch = batch_create(partner=bank, union=tree.unit_a1, actor=city)
    numbers = {wang.pk: card_number(), li.pk: card_number()}
    cards_transition(
        cards=list(numbers),
        to_status=Card.Status.ISSUED,
        updates={k: {"number": v} for k, v in numbers.items()},
    )
    function_handoff_open(batch=batch, partner=transit, actor=operator)  # the list went to the partner

    returned = tmp_path / "交通功能回盘.xlsx"
    returned.write_bytes(
        xlsx_bytes(
            [
                ["卡号", "姓名", "开通结果", "未开通原因"],
                [numbers[wang.pk], "王建国", "已开通", ""],
                [numbers[li.pk], "李秀英", "未开通", "卡片芯片不支持交通应用"],
            ]
        )
    )
    login(page, live_server, "bank")
    page.goto(f"{live_server.url}/issuance/batches/{batch.pk}/")
    section = page.locator("#function-hrb-transit")
    assert "已报送，办理中" in section.inner_text()
    section.locator("input[type=file]").set_input_files(str(returned))
    section.locator("button:has-text('上传并对账')").click()
    page.wait_for_url("**/issuance/imports/**")
    page.wait_for_selector("#recon-counts")
    text = page.inner_text("main")
    assert "哈尔滨城市通智能卡有限公司（交通功能）" in text
    assert "功能已开通" in text and "卡片芯片不支持交通应用" in text
    screenshot("reconciliation")
    page.goto(f"{live_server.url}/issuance/batches/{batch.pk}/")
    page.locator("#function-hrb-transit").scroll_into_view_if_needed()
    screenshot("batch")

    member_sign_in(phone, live_server, wang.member)
    assert phone.inner_text("#my-card .m-function") == "交通功能：已开通"
    screenshot("member-enabled", target=phone)
    assert CardFunction.objects.get(card=li).refused_reason == "卡片芯片不支持交通应用"
