"""City staff check the plan's April and June lines, sign off a year's assessment (which then
stays frozen), and pull the hardship workers' card-number report for the union above."""

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from issuance.models import Card
from quotas.models import AssessmentSignoff

from ..conftest import login, nav_to
from ..issuance.factories import make_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def year_2016(plan_2016):
    """The shared 2016 plan, and two hardship workers: one holds a card, one is still waiting."""
    make_card(plan_2016.unit_a1, status=Card.Status.ACTIVATED, is_hardship=True, name="赵一")
    make_card(plan_2016.unit_b1, status=Card.Status.APPLIED, is_hardship=True, name="钱二")
    return plan_2016


def test_checkpoints_signoff_and_hardship_report(live_server, page, screenshot, year_2016, city_staff):
    login(page, live_server, "city")
    nav_to(page, "节点检查")
    page.select_option("select[name=year]", "2016")
    page.wait_for_url("**year=2016**")
    text = page.inner_text("main")
    assert "已核实会员 3 人，低于发卡任务 5 张，还差 2 人" in text  # 乙县 in April
    assert "启用（激活） 0 张，年度目标 5 张的 40% 为 2 张，还差 2 张" in text  # 乙县 by June
    screenshot("checkpoints")

    nav_to(page, "年度考核")
    page.select_option("select[name=year]", "2016")
    page.wait_for_url("**year=2016**")
    page.fill("textarea[name=approval]", "2017年1月10日主席会议纪要第3号")
    page.click("text=审定并冻结")
    page.wait_for_selector("text=已审定，此后只读")
    assert page.dialogs == ["审定后2016年的考核结果将冻结，评分不能再修改。确定审定吗？"]
    assert "主席会议纪要第3号" in page.inner_text("main")
    assert page.locator("text=保存评分").count() == 0
    assert AssessmentSignoff.objects.get(year=2016).signed_by == city_staff
    screenshot("assessment-signed")

    nav_to(page, "困难职工持卡")
    assert "年底全部持卡：1 / 2 人" in page.inner_text("main")
    with page.expect_download() as download_info:
        page.click("text=导出卡号统计表")
    sheet = load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes())).active
    assert [r[2] for r in sheet.iter_rows(min_row=3, values_only=True)] == ["赵一"]
    screenshot("hardship")


def test_a_team_writes_its_weekly_report_and_the_summary_prints(
    live_server, page, screenshot, tree, city_staff
):
    from quotas.models import WorkTeam

    team = WorkTeam.objects.create(owner=tree.city, name="发行推进组", leader="王梅", order=0)
    WorkTeam.objects.create(owner=tree.city, name="商户推进组", order=1)
    login(page, live_server, "city")
    nav_to(page, "推进周报")
    form = page.locator(f"#t{team.pk} form")
    form.locator("input[name$=members_developed]").fill("320")
    form.locator("textarea[name$=progress]").fill("走访新华区12家基层工会，收齐3个单位的会员资料。")
    form.locator("textarea[name$=problems]").fill("个别单位身份证复印件不清晰。")
    form.locator("button").click()
    page.wait_for_selector("text=这一周的汇报")
    assert "尚未汇报：商户推进组" in page.inner_text("main")
    screenshot("weekly")
    href = page.get_attribute("text=打印本周汇总", "href")  # opens in a new tab: follow it here
    page.goto(f"{live_server.url}/quotas/weekly/{href}")
    text = page.inner_text("main")
    assert "本周发展会员 320 人" in text and "商户推进组" in text and "本周未汇报" in text
    screenshot("weekly-print")


def test_groups_show_late_completion_and_the_paper_deliverables_are_signed_for(
    live_server, page, browser, screenshot, tree, city_staff, clerk
):
    from datetime import timedelta

    from django.utils import timezone

    from members.models import RegistrationSheet, SubmissionGroup

    group = SubmissionGroup.objects.create(
        name="第一组", due_date=timezone.localdate() - timedelta(days=10), owner=tree.city
    )
    group.unions.set([tree.unit_a1, tree.unit_a2])
    sheet = RegistrationSheet.objects.create(
        union=tree.unit_a1,
        original_name="第一中学.xlsx",
        sha256="1" * 64,
        status=RegistrationSheet.Status.REGISTERED,
        submitted_at=timezone.now() - timedelta(days=3),  # after the due date
        rows_accepted=36,
        declared_id_copies=36,
        created_by=clerk,
    )
    login(page, live_server, "city")
    page.goto(f"{live_server.url}/members/sheets/groups/")
    row = page.locator("tr", has_text="甲县第一中学工会")
    assert "逾期完成" in row.inner_text()
    row.get_by_role("button", name="签收甲县第一中学工会的盖章确认书").click()
    page.wait_for_url("**#g*")
    row = page.locator("tr", has_text="甲县第一中学工会")
    assert "✓" in row.inner_text()
    screenshot("groups")

    # the clerk's pages on a 390 px phone: nothing wider than the screen
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    clerk_page = phone.new_page()
    login(clerk_page, live_server, clerk.username)
    for path in ("/members/sheets/", "/members/sheets/groups/"):
        clerk_page.goto(f"{live_server.url}{path}")
        width = clerk_page.evaluate("document.scrollingElement.scrollWidth")
        screenshot(f"phone{path.replace('/', '-')}", target=clerk_page)
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    # the confirmation letter (附件3), pre-filled from the sheet, to print and stamp
    clerk_page.goto(f"{live_server.url}/members/sheets/{sheet.pk}/letter/")
    letter = " ".join(clerk_page.inner_text("article.paper").replace("\xa0", " ").split())
    assert "我单位共有工会会员 36 人" in letter and "合计 36 份" in letter and "甲县第一中学工会" in letter
    screenshot("letter-phone", target=clerk_page)
    phone.close()
