"""附件1's two checkpoints (end of April, end of June) and the sign-off that freezes a year's
assessment (附件3 三), with the Cangzhou plan's own numbers where the seed gives them."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.urls import reverse

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from quotas import selectors
from quotas.conf import DEFAULTS
from quotas.models import AssessmentSignoff, Quota
from quotas.scoring import AnnualFacts, annual_assessment, april_check, midyear_check
from quotas.services import assessment_input_save, assessment_signoff

from .factories import at, make_cards

CONF = dict(DEFAULTS)


# --- pure rules, the plan's numbers ------------------------------------------------------------
def test_june_line_is_forty_percent_of_the_years_target_rounded_up():
    # 新华区 2017: 12,700 new cards in the year; 40% = 5,080
    assert midyear_check(label="发放", value=5080, target=12700, conf=CONF).passed
    short = midyear_check(label="发放", value=5079, target=12700, conf=CONF)
    assert not short.passed and short.threshold == 5080
    assert short.explain == "发放 5079 张，年度目标 12700 张的 40% 为 5080 张，还差 1 张"
    # 沧县 2016: 18,000 → 7,200; a fractional line rounds up (40% of 4,201 = 1,680.4 → 1,681)
    assert midyear_check(label="发放", value=7200, target=18000, conf=CONF).threshold == 7200
    assert midyear_check(label="发放", value=1680, target=4201, conf=CONF).threshold == 1681


def test_april_members_must_reach_the_card_target():
    # 运河区 2016: target 6,500 cards; 6,499 verified members is short by one
    assert not april_check(members=6499, target=6500).passed
    assert april_check(members=6500, target=6500).passed
    assert (
        april_check(members=6499, target=6500).explain
        == "已核实会员 6499 人，低于发卡任务 6500 张，还差 1 人"
    )


def test_the_total_is_not_capped_at_100():
    # 附件3 names no ceiling for the total: 150% completion = 20 + 50×0.5 = 45, activation 90% =
    # 20 + 10 (capped) = 30, service 10 items above the average = 30, full staff parts 3+4+5 and
    # 4 quarters at 7: 3+4+5+28+45+30+30 = 145
    top = AnnualFacts("a", "甲", 1000, 100, 150, 150, 135, 20, (D(7),) * 4, 0, D(3), D(4), 0)
    low = AnnualFacts("b", "乙", 1000, 100, 100, 100, 60, 0, (D(7),) * 4, 0, D(3), D(4), 0)
    results = {r.facts.key: r for r in annual_assessment([top, low], CONF)}
    assert results["a"].total == D("145")
    assert results["a"].place == 1


# --- the checkpoint page, from real cards --------------------------------------------------------


@pytest.mark.django_db
def test_checkpoints_from_the_cards(plan_2016, city_staff):
    checks = selectors.checkpoints(user=city_staff, year=2016)
    rows = {r.union.pk: r for r in checks.rows}
    a, b = rows[plan_2016.county_a.pk], rows[plan_2016.county_b.pk]
    assert (a.april.value, a.april.passed) == (12, True)
    assert (b.april.value, b.april.passed) == (3, False)
    assert [(c.value, c.threshold, c.passed) for c in a.midyear] == [(4, 4, True), (4, 4, True)]
    assert [(c.value, c.passed) for c in b.midyear] == [(2, True), (0, False)]  # 40% of 5 = 2
    assert a.midyear_passed and not b.midyear_passed
    assert checks.april_over and checks.june_over


@pytest.mark.django_db
def test_checkpoints_page_is_scoped(client, plan_2016, reviewer, clerk):
    client.force_login(reviewer)  # county A's reviewer
    page = client.get(reverse("quotas:checkpoints") + "?year=2016").content.decode()
    assert plan_2016.county_a.name in page and plan_2016.county_b.name not in page
    assert "还差" not in page.split("6月底")[0]  # A met the April line
    client.force_login(clerk)
    assert client.get(reverse("quotas:checkpoints")).status_code == 403


# --- signing off the assessment ------------------------------------------------------------------
@pytest.mark.django_db
def test_signoff_freezes_the_year(client, plan_2016, city_staff):
    signoff = assessment_signoff(year=2016, approval="2017年1月主席会议纪要第3号", actor=city_staff)
    frozen = {r["key"]: r for r in signoff.results}
    assert frozen[plan_2016.county_a.pk]["vetoed"] is True  # 4 of 10 issued by year end
    signoff.refresh_from_db()  # as stored: the parts keep the page's column order
    parts = [p["part"] for p in signoff.results[0]["parts"]]
    assert parts == [
        "leadership",
        "measures",
        "responsiveness",
        "ranking",
        "completion",
        "activation",
        "service",
    ]
    # later cards do not move the signed result
    make_cards(plan_2016.unit_a1, 10, applied=at(2016, 3), issued=at(2016, 11))
    assert selectors.annual_assessment(user=city_staff, year=2016)[0].facts.issued >= 10
    client.force_login(city_staff)
    page = client.get(reverse("quotas:assessment") + "?year=2016").content.decode()
    assert "主席会议纪要第3号" in page and "保存评分" not in page and "审定并冻结" not in page
    assert "一票否决" in page  # the frozen result, not today's
    with pytest.raises(ApplicationError, match="已于.*审定，不能再修改"):
        assessment_input_save(
            union=plan_2016.county_a,
            year=2016,
            leadership=D(3),
            measures=D(4),
            missed_reports=0,
            public_criticisms=0,
            actor=city_staff,
        )
    with pytest.raises(ApplicationError, match="已于"):
        assessment_signoff(year=2016, approval="again", actor=city_staff)
    assert AuditEntry.objects.filter(verb="assessment.signed_off").count() == 1


@pytest.mark.django_db
def test_signoff_is_refused_before_the_year_ends_without_a_reason_and_for_a_reviewer(
    plan_2016, city_staff, reviewer
):
    this_year = date.today().year
    Quota.objects.create(union=plan_2016.county_a, year=this_year, target=10, member_base=100)
    with pytest.raises(ApplicationError, match="尚未结束"):
        assessment_signoff(year=this_year, approval="x", actor=city_staff)
    with pytest.raises(ApplicationError, match="审批依据"):
        assessment_signoff(year=2016, approval="  ", actor=city_staff)
    with pytest.raises(ApplicationError, match="无权审定年度考核"):
        assessment_signoff(year=2016, approval="x", actor=reviewer)
    assert not AssessmentSignoff.objects.exists()


@pytest.mark.django_db
def test_signoff_through_the_page(client, plan_2016, city_staff, reviewer):
    client.force_login(reviewer)
    assert (
        client.post(reverse("quotas:assessment_signoff", args=[2016]), {"approval": "x"}).status_code == 403
    )
    client.force_login(city_staff)
    page = client.get(reverse("quotas:assessment") + "?year=2016").content.decode()
    assert "审定并冻结" in page
    response = client.post(
        reverse("quotas:assessment_signoff", args=[2016]), {"approval": "纪要第3号"}, follow=True
    )
    assert "已审定，此后只读" in response.content.decode()
    client.force_login(reviewer)
    page = client.get(reverse("quotas:assessment") + "?year=2016").content.decode()
    assert plan_2016.county_a.name in page and plan_2016.county_b.name not in page and "纪要第3号" in page
