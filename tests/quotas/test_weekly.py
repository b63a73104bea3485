"""Seed 002 四(二): the campaign teams report their week (progress, problems, next steps), and the
federation prints a weekly summary with the week's card and merchant figures."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from issuance.models import Card
from quotas.models import WeeklyReport, WorkTeam
from quotas.selectors import weekly_summary
from quotas.services import weekly_report_save

from ..issuance.factories import make_card
from ..merchants.factories import make_merchant

pytestmark = pytest.mark.django_db


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture
def teams(tree):
    return [
        WorkTeam.objects.create(owner=tree.city, name="发行推进组", order=0),
        WorkTeam.objects.create(owner=tree.city, name="商户推进组", order=1),
    ]


def test_a_team_reports_its_week_and_a_rewrite_is_audited(teams, city_staff):
    week = monday(timezone.localdate())
    weekly_report_save(
        team=teams[0], week=week, actor=city_staff, progress="走访12家基层工会", members_developed=320
    )
    weekly_report_save(
        team=teams[0], week=week, actor=city_staff, progress="走访15家基层工会", members_developed=350
    )
    report = WeeklyReport.objects.get()
    assert (report.progress, report.members_developed) == ("走访15家基层工会", 350)
    entries = AuditEntry.objects.filter(verb="weekly_report.saved").order_by("pk")
    assert [e.data["before"] and e.data["before"]["progress"] for e in entries] == [None, "走访12家基层工会"]


def test_bad_weeks_and_empty_progress_are_refused(teams, city_staff):
    this_monday = monday(timezone.localdate())
    with pytest.raises(ApplicationError, match="周一"):
        weekly_report_save(
            team=teams[0], week=this_monday + timedelta(days=1), actor=city_staff, progress="x"
        )
    with pytest.raises(ApplicationError, match="尚未开始"):
        weekly_report_save(
            team=teams[0], week=this_monday + timedelta(days=7), actor=city_staff, progress="x"
        )
    with pytest.raises(ApplicationError, match="工作进展"):
        weekly_report_save(team=teams[0], week=this_monday, actor=city_staff, progress="  ")
    assert not WeeklyReport.objects.exists()


def test_summary_has_the_weeks_figures_and_who_has_not_reported(tree, teams, city_staff):
    week = monday(timezone.localdate())
    make_card(tree.unit_a1, status=Card.Status.ISSUED)  # applied, in batch and issued this week
    make_merchant(tree.county_a, contract_start=week)
    make_merchant(tree.county_a, contract_start=week - timedelta(days=1))  # last week's
    weekly_report_save(team=teams[1], week=week, actor=city_staff, progress="签约1家", merchants_enrolled=1)
    summary = weekly_summary(user=city_staff, week=week + timedelta(days=3))
    assert summary.week == week
    assert dict(summary.cards)["银行已制卡"] == 1 and dict(summary.cards)["已申请"] == 1
    assert summary.merchants_signed == 1
    assert [t.name for t in summary.missing] == ["发行推进组"]


def test_weekly_page_form_and_print(client, tree, teams, city_staff, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("quotas:weekly")).status_code == 403
    client.force_login(city_staff)
    week = monday(timezone.localdate())
    url = reverse("quotas:weekly_save", args=[teams[0].pk, f"{week:%Y-%m-%d}"])
    client.post(
        url,
        {
            f"t{teams[0].pk}-progress": "",
            f"t{teams[0].pk}-merchants_enrolled": 0,
            f"t{teams[0].pk}-members_developed": 0,
        },
    )
    assert not WeeklyReport.objects.exists()  # the empty progress was refused
    client.post(
        url,
        {
            f"t{teams[0].pk}-progress": "收齐3个单位资料",
            f"t{teams[0].pk}-problems": "复印件不清晰",
            f"t{teams[0].pk}-merchants_enrolled": 0,
            f"t{teams[0].pk}-members_developed": 40,
        },
    )
    printed = client.get(reverse("quotas:weekly") + f"?week={week:%Y-%m-%d}&print=1").content.decode()
    assert "收齐3个单位资料" in printed and "复印件不清晰" in printed and "商户推进组" in printed
    assert "本周未汇报" in printed  # 商户推进组
