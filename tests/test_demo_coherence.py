"""The demo a newcomer opens: plan years that end with this one, targets scaled to the demo's
members, so the league table shows a race (some counties ahead, some behind) in the present."""

import io
from statistics import median

import pytest
from django.utils import timezone

from issuance import demo as issuance_demo
from members import demo as members_demo
from quotas import demo as quotas_demo
from quotas import selectors
from quotas.models import Bulletin, Quota
from quotas.selectors import EVERYONE

pytestmark = pytest.mark.django_db


def test_demo_league_runs_this_year_with_a_readable_race():
    members_demo.load(members_total=660)
    issuance_demo.load()
    quotas_demo.load(stdout=io.StringIO())
    today = timezone.localdate()
    years = members_demo.plan_years()
    assert years[-1] == today.year
    assert sorted(set(Quota.objects.values_list("year", flat=True))) == list(years)
    assert selectors.default_month() == today.replace(day=1)

    last_year = selectors.annual_assessment(user=EVERYONE, year=years[1])
    ratios = [r.facts.issued * 100 / r.facts.target for r in last_year]
    assert 70 < median(ratios) < 160  # targets at the demo's scale, not 0.1-6% of Cangzhou's plan
    assert 0 < sum(r.vetoed for r in last_year) < len(last_year)  # a race: some behind, most through

    # this year's bulletins: one published for each month that has ended
    assert Bulletin.objects.filter(status=Bulletin.Status.PUBLISHED, month__year=today.year).count() == (
        today.month - 1
    )
