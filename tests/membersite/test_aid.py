"""到卡资金: aid paid to the member's card, from the disbursement records, once a batch is approved."""

import pytest
from django.utils import timezone

from tests.factories import ROLE, approve_disbursement, make_member, make_staff
from tests.merchants.factories import give_card

from .helpers import bank_result, batch_with, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


def test_member_sees_paid_failed_and_pending_aid_but_not_a_draft(
    client, tree, city_staff, django_capture_on_commit_callbacks
):
    member = make_member(tree.unit_a1, name="王建国", is_hardship=True)
    card = give_card(member)
    other = make_member(tree.unit_a1, name="李四")
    other_card = give_card(other)
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    warmth = batch_with(tree, city_staff, "春节送温暖", "warmth", [(member, "500.00"), (other, "300.00")])
    approve_disbursement(warmth, preparer=city_staff, tree=tree)
    bank_result(
        warmth, [(card.number, "500.00", "成功", ""), (other_card.number, "300.00", "失败", "账户冻结")], bank
    )
    school = batch_with(tree, city_staff, "金秋助学", "school_aid", [(member, "1000.00")])
    approve_disbursement(school, preparer=city_staff, tree=tree)
    batch_with(tree, city_staff, "日常救助（草稿）", "daily_relief", [(member, "200.00")])
    sign_in(client, django_capture_on_commit_callbacks, member)

    html = client.get("/me/aid/").content.decode()

    today = timezone.localdate()
    assert "已到账合计 <strong>500.00元</strong>" in html
    assert html.count("<li>") == 2  # the draft batch is not shown
    assert "送温暖" in html and "金秋助学" in html and "日常救助" not in html
    assert "1000.00元" in html and "发放中" in html and "已到账" in html
    assert f"{today.year}年{today.month}月{today.day}日 · 尾号{card.number[-4:]}" in html
    assert "300.00" not in html and "李四" not in html  # nobody else's line


def test_a_failed_payment_says_why_and_whom_to_ask(
    client, tree, city_staff, django_capture_on_commit_callbacks
):
    member = make_member(tree.unit_a1)
    card = give_card(member)
    batch = batch_with(tree, city_staff, "慰问金", "warmth", [(member, "800.00")])
    approve_disbursement(batch, preparer=city_staff, tree=tree)
    bank_result(
        batch, [(card.number, "800.00", "失败", "卡片已挂失")], make_staff(ROLE.BANK_OPERATOR, tree.city)
    )
    sign_in(client, django_capture_on_commit_callbacks, member)

    html = client.get("/me/aid/").content.decode()

    assert "发放失败" in html and "银行未能入账（卡片已挂失），请联系所在工会核对卡片状态" in html
    assert "已到账合计 <strong>0.00元</strong>" in html


def test_a_member_without_aid_is_told_what_will_show(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    sign_in(client, django_capture_on_commit_callbacks, member)

    assert "还没有发放到您工会卡的资金" in client.get("/me/aid/").content.decode()


def test_aid_page_queries_do_not_grow_with_payments(
    client, tree, city_staff, django_capture_on_commit_callbacks, django_assert_num_queries
):
    member = make_member(tree.unit_a1)
    give_card(member)
    first = batch_with(tree, city_staff, "送温暖", "warmth", [(member, "100.00")])
    approve_disbursement(first, preparer=city_staff, tree=tree)
    sign_in(client, django_capture_on_commit_callbacks, member)
    # session, the member with union and parent, the lines with batch and programmes, the
    # consumption subsidies (benefits.subsidies, one query with campaign, merchant and line)
    with django_assert_num_queries(4):
        client.get("/me/aid/")
    second = batch_with(tree, city_staff, "金秋助学", "school_aid", [(member, "200.00")])
    approve_disbursement(second, preparer=city_staff, tree=tree)
    with django_assert_num_queries(4):
        assert client.get("/me/aid/").content.decode().count("<li>") == 2
