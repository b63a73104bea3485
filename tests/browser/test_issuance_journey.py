"""Batch → hand-off download → return upload → receipt → distribution sheet → distribution →
activation, in a real browser, opening the Excel files the portal produces."""

import io
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from issuance.lifecycle import cards_apply, recount_union_months, stored_union_months
from issuance.models import Card, IssuingPartner
from tests.issuance.factories import card_number, xlsx_bytes

from ..conftest import login, nav_to
from ..factories import ROLE, make_member, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IDS = ["11010519491231002X", "110105198506150014", "110105198506150030", "110105198506150057"]
NAMES = ["王建国", "李秀英", "张伟", "刘芳"]


def _workbook(download):
    return load_workbook(io.BytesIO(Path(download.path()).read_bytes()))


def _logout(page):
    page.click("button:has-text('退出')")
    page.wait_for_url("**/login/**")


def test_card_journey_from_batch_to_activation(
    live_server, page, screenshot, tree, run_tasks_inline, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    IssuingPartner.objects.create(code="icbc", name="工商银行测试分行")
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    members = [
        make_member(tree.unit_a1, name=n, id_number=i, is_hardship=(n == "刘芳"))
        for n, i in zip(NAMES, IDS, strict=True)
    ]
    cards_apply(members=members)

    # city staff builds a batch; the hand-off file is written by the task
    login(page, live_server, "city")
    nav_to(page, "银行批次")
    page.select_option("select[name=union]", label="甲县总工会")
    page.click("text=创建批次并生成报送文件")
    page.wait_for_selector("#download-handoff")
    screenshot("batch")
    assert "共 4 张" in page.inner_text(".messages")
    with page.expect_download() as info:
        page.click("#download-handoff")
    assert (
        info.value.suggested_filename.endswith(".xlsx")
        and "批量办理借记卡明细清单" in info.value.suggested_filename
    )
    handoff = _workbook(info.value)
    sheet = handoff["批量办理借记卡明细清单"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("序号", "姓名", "证件类型", "证件号码", "性别", "手机号码")
    assert [r[1] for r in rows[1:]][0] == "刘芳"  # hardship worker first
    assert sorted(r[3] for r in rows[1:]) == sorted(IDS)
    with page.context.expect_page() as opened:
        page.click("text=打印承诺书和委托书")
    paper = opened.value
    paper.wait_for_selector(".paper")
    assert "单位批量开卡承诺书" in paper.inner_text("body") and "共 4 人" in paper.inner_text("body").replace(
        "\n", ""
    )
    screenshot("paperwork", target=paper)
    paper.close()
    _logout(page)

    # the bank uploads its return file: three cards made, one refused
    numbers = {i: card_number() for i in IDS[:3]}
    return_file = tmp_path / "回盘.xlsx"
    return_file.write_bytes(
        xlsx_bytes(
            [["证件号码", "姓名", "卡号", "状态", "失败原因"]]
            + [[i, "", numbers[i], "成功", ""] for i in IDS[:3]]
            + [[IDS[3], "", "", "失败", "证件已过期"]]
        )
    )
    login(page, live_server, "bank")
    nav_to(page, "银行批次")
    page.click("table.data a.mono")
    page.set_input_files("#return-form input[type=file]", str(return_file))
    page.click("text=上传并对账")
    page.wait_for_selector("#recon-counts")
    screenshot("return-reconciliation")
    counts = page.inner_text("#recon-counts")
    assert "制卡成功" in counts and "银行退回" in counts
    assert Card.objects.filter(status=Card.Status.ISSUED).count() == 3
    _logout(page)

    # the clerk signs for the cards: a wrong count is recorded and refused, the right one accepted
    login(page, live_server, "clerk-a1")
    nav_to(page, "领卡发卡")
    page.fill("input[name=counted]", "2")
    page.click("text=确认签收")
    assert "差异已记录" in page.inner_text(".messages")
    screenshot("receipt-mismatch")
    page.fill("input[name=counted]", "3")
    page.click("text=确认签收")
    assert "已签收 3 张" in page.inner_text(".messages")

    # distribution sheet as Excel and as a printable page
    with page.expect_download() as info:
        page.click("text=下载发放表（Excel）")
    sheet = _workbook(info.value)["发放表"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("序号", "姓名", "身份证号（脱敏）", "单位", "卡号后四位", "会员签字", "领取日期")
    body = [r for r in rows[2:5]]
    assert sorted(r[1] for r in body) == sorted(NAMES[:3])
    assert all(r[2].startswith("110105********") and r[4].startswith("尾号") for r in body)
    assert not any(i in str(rows) for i in IDS)  # no full ID number on the sheet
    with page.context.expect_page() as opened:
        page.click("text=打印发放表")
    sheet_page = opened.value
    sheet_page.wait_for_selector("table.sheet")
    screenshot("distribution-sheet", target=sheet_page)
    sheet_page.close()

    # distribution: tick one member, scan the other's card number
    page.locator("#to-distribute tr:has-text('王建国') input[name=card]").check()
    page.fill("textarea[name=numbers]", numbers[IDS[2]])
    page.click("text=登记发放（会员已在发放表签字）")
    assert "已登记发放 2 张" in page.inner_text(".messages")
    # on-site activation of one card
    page.locator("#to-activate input[name=card]").first.check()
    page.fill("#to-activate input[name=place]", "职工之家")
    page.click("text=登记现场集中激活")
    assert "已登记集中激活 1 张" in page.inner_text(".messages")
    screenshot("union-cards")
    assert page.inner_text("#count-activated") == "1"
    _logout(page)

    # the bank's activation file activates the other distributed card
    distributed = Card.objects.get(status=Card.Status.DISTRIBUTED)
    activation_file = tmp_path / "激活.xlsx"
    activation_file.write_bytes(
        xlsx_bytes([["卡号", "激活日期"], [distributed.number, timezone.localdate().isoformat()]])
    )
    login(page, live_server, "bank")
    nav_to(page, "激活导入")
    page.set_input_files("input[type=file]", str(activation_file))
    page.click("text=上传并导入")
    page.wait_for_selector("#recon-counts")
    screenshot("activation-import")
    distributed.refresh_from_db()
    assert distributed.status == Card.Status.ACTIVATED
    assert Card.objects.filter(status=Card.Status.ACTIVATED).count() == 2
    page.goto(f"{live_server.url}{distributed.member.get_absolute_url()}")
    page.wait_for_selector("#member-cards")
    screenshot("member-cards")
    assert "已激活" in page.inner_text("#member-cards")
    assert stored_union_months() == recount_union_months()
