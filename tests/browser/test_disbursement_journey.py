"""Four eyes on aid money, in a real browser: the grassroots clerk prepares a 送温暖 batch (the
50,000-yuan list is refused), submits it; the county reviewer approves it; the clerk generates
the payment file; the bank operator downloads it and uploads the result; the batch is 已确认."""

from pathlib import Path

import pytest

from benefits.models import Disbursement

from ..conftest import login, nav_to
from ..factories import ROLE, make_member, make_staff
from ..merchants.factories import give_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NAMES = ["王建国", "李秀英", "张伟"]


def _logout(page):
    page.click("button:has-text('退出')")
    page.wait_for_url("**/login/**")


def _csv(path: Path, rows) -> Path:
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    return path


def _buttons(page) -> set[str]:
    return {b.strip() for b in page.locator("main button").all_inner_texts()} - {"退出"}


def test_disbursement_journey_preparer_approver_confirmer(
    live_server, page, screenshot, tree, clerk, reviewer, run_tasks_inline, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    members = [make_member(tree.unit_a1, name=n, is_hardship=True) for n in NAMES]
    numbers = [give_card(m).number for m in members]

    # The clerk creates the batch for their union and tries 50,000 yuan each.
    login(page, live_server, "clerk-a1")
    nav_to(page, "帮扶资金")
    page.fill("input[name=name]", "2026年春节送温暖")
    page.select_option("select[name=kind]", label="送温暖")
    page.select_option("select[name=union]", label="甲县第一中学工会")
    page.click("button:has-text('新建')")
    page.wait_for_url("**/benefits/disbursements/*/")
    batch = Disbursement.objects.get()
    assert page.inner_text("#batch-state") == "草稿"
    assert "每人不超过2,000.00元" in page.inner_text("#limits")
    greedy = _csv(tmp_path / "名单.csv", [["卡号", "金额"], *[[n, "50000"] for n in numbers]])
    page.set_input_files("form[action$='/upload/'] input[name=file]", str(greedy))
    page.click("form[action$='/upload/'] button")
    page.wait_for_selector(".messages")
    screenshot("clerk-50000-refused")
    text = page.inner_text(".messages")
    assert "第2行：王建国金额50,000.00元超过每人上限2,000.00元" in text
    assert batch.lines.count() == 0

    fair = _csv(tmp_path / "名单2.csv", [["卡号", "金额"], *[[n, "500"] for n in numbers]])
    page.set_input_files("form[action$='/upload/'] input[name=file]", str(fair))
    page.click("form[action$='/upload/'] button")
    page.wait_for_selector("text=已导入 3 人")
    # No way to a payment file from a draft: only building the list and submitting it.
    assert "生成银行代发文件" not in _buttons(page)
    page.click("#submit")
    page.wait_for_selector("text=已提交上级工会审批")
    assert page.inner_text("#batch-state") == "待审批"
    assert "经办人不能审批自己编制的批次" in page.inner_text("#approve-refusal")
    assert _buttons(page) == set()
    screenshot("clerk-submitted")
    _logout(page)

    # The county reviewer sees the amounts and approves.
    login(page, live_server, "reviewer-a")
    page.goto(f"{live_server.url}{batch.get_absolute_url()}")
    assert page.inner_text("#approve") == "审批通过（3 人，合计 1500.00 元）"
    screenshot("reviewer-before-approval")
    page.click("#approve")
    page.wait_for_selector("text=已审批，经办人现在可以生成银行代发文件")
    assert page.inner_text("#batch-state") == "已审批"
    assert "reviewer-a" in page.inner_text("#approver")
    _logout(page)

    # The clerk generates the payment file (the approved list, unchanged).
    login(page, live_server, "clerk-a1")
    page.goto(f"{live_server.url}{batch.get_absolute_url()}")
    page.click("#export")
    page.wait_for_function("document.querySelector('#batch-state').innerText === '已生成支付文件'")
    assert "导入回盘" not in _buttons(page)  # the preparer does not confirm
    screenshot("clerk-exported")
    _logout(page)

    # The bank operator downloads the file and uploads the bank's result.
    login(page, live_server, "bank")
    page.goto(f"{live_server.url}{batch.get_absolute_url()}")
    with page.expect_download() as info:
        page.click("text=下载代发文件")
    lines = Path(info.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert lines == ["序号,卡号,姓名,金额"] + [
        f"{i},{n},{name},500.00" for i, (n, name) in enumerate(zip(numbers, NAMES, strict=True), start=1)
    ]
    result = _csv(
        tmp_path / "回盘.csv",
        [["卡号", "金额", "结果", "流水号"], *[[n, "500.00", "成功", f"B{n[-4:]}"] for n in numbers]],
    )
    page.set_input_files("form[action$='/confirm/'] input[name=file]", str(result))
    page.click("form[action$='/confirm/'] button")
    page.wait_for_selector("text=回盘已导入：到账 3 笔")
    assert page.inner_text("#batch-state") == "已确认"
    audit = page.inner_text("#audit")
    for expected in ["提交发放批次审批", "审批通过发放批次", "3人，合计1500.00元", "到账3笔 1500.00元"]:
        assert expected in audit
    screenshot("bank-confirmed")
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by.username, batch.lines.filter(status="paid").count()) == (
        "closed",
        "reviewer-a",
        3,
    )
