import io
from datetime import date

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from cardportal.models import AuditEntry
from issuance.lifecycle import cards_transition
from quotas import selectors
from quotas.models import AssessmentInput, Bulletin
from quotas.services import bulletin_draft, bulletin_publish
from quotas.tasks import bulletin_draft_due_task

from ..factories import ROLE, make_staff
from .factories import at, make_cards, make_quota

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(tree):
    make_quota(tree.county_a, 2016, target=10, members=100)
    make_quota(tree.county_b, 2016, target=20, members=200)
    # April: A 4/10 = 40%, B 6/20 = 30%; A's cards all distributed, 2 activated
    a = make_cards(
        tree.unit_a1,
        4,
        applied=at(2016, 3),
        issued=at(2016, 4),
        received=at(2016, 4),
        distributed=at(2016, 4),
    )
    cards_transition(cards=a[:2], to_status="activated", at=at(2016, 4, 20))
    make_cards(tree.unit_b1, 6, applied=at(2016, 3), issued=at(2016, 4))
    return tree


def test_city_staff_sees_every_county_ranked(client, league, city_staff):
    client.force_login(city_staff)
    response = client.get(reverse("quotas:league"), {"month": "2016-04"})
    assert response.status_code == 200
    rows = response.context["table"].rows
    assert [(r.union.name, r.issued, r.completion, r.rank) for r in rows] == [
        ("甲县总工会", 4, pytest.approx(40), 1),
        ("乙县总工会", 6, pytest.approx(30), 2),
    ]
    body = response.content.decode()
    assert "<svg" in body and "甲县" in body and "名词口径" in body


def test_league_sorts_by_a_column(client, league, city_staff):
    client.force_login(city_staff)
    response = client.get(reverse("quotas:league"), {"month": "2016-04", "sort": "issued", "dir": "desc"})
    assert [r.union.name for r, _ in response.context["rows"]] == ["乙县总工会", "甲县总工会"]


def test_county_reviewer_sees_only_their_own_row_and_not_other_counties(client, league, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("quotas:league"), {"month": "2016-04"})
    assert [r.union.name for r in response.context["table"].rows] == ["甲县总工会"]
    assert "乙县总工会" not in response.content.decode()
    assert client.get(reverse("quotas:league_county", args=[league.county_b.pk])).status_code == 404
    assert client.get(reverse("quotas:league_county", args=[league.county_a.pk])).status_code == 200


def test_clerk_is_refused(client, league, clerk):
    client.force_login(clerk)
    assert client.get(reverse("quotas:league")).status_code == 403


def test_excel_export_has_the_figures_and_terms(client, league, city_staff):
    client.force_login(city_staff)
    response = client.get(reverse("quotas:league_export"), {"month": "2016-04"})
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[3]][:7] == [1, "甲县总工会", 100, 4, 10, 4, 40.0]
    assert [c.value for c in ws[5]][:6] == [None, "合计", 300, 10, 30, 10]
    assert wb.worksheets[1].title == "口径说明"
    assert AuditEntry.objects.filter(verb="league.exported").count() == 1


def test_league_page_query_count_does_not_grow_with_counties(
    client, league, city_staff, django_assert_num_queries
):
    client.force_login(city_staff)
    # 16: session, user, TOTP device, role; quota years, counties, month sums, quotas; service
    # items (2 union paths + offers per county, programmes per county); 2 union look-ups, the
    # year's sums for the trend, quota years again for the year picker
    with django_assert_num_queries(16):
        client.get(reverse("quotas:league"), {"month": "2016-04"})


def test_published_bulletin_is_frozen_and_a_late_correction_shows_next_month(league, city_staff):
    # given: April's bulletin published with A 4 issued, 2 activated
    april = bulletin_draft(month=date(2016, 4, 1))
    bulletin_publish(bulletin=april, actor=city_staff)
    # when: two more A cards are recorded late as issued in April, and one activation in April
    late = make_cards(league.unit_a2, 2, applied=at(2016, 3), issued=at(2016, 4, 28))
    cards_transition(cards=late[:1], to_status="received", at=at(2016, 4, 29))
    cards_transition(cards=late[:1], to_status="distributed", at=at(2016, 4, 29))
    cards_transition(cards=late[:1], to_status="activated", at=at(2016, 4, 30))
    # and one new card issued in May
    make_cards(league.unit_a1, 1, applied=at(2016, 5), issued=at(2016, 5, 10))
    may = bulletin_draft(month=date(2016, 5, 1))
    # then: April's published row is unchanged
    april_a = april.rows.get(union=league.county_a)
    assert (april_a.issued, april_a.activated) == (4, 2)
    # May shows 4 + 2 + 1 = 7 cumulative, 1 new in May, +2 issued and +1 activated as corrections
    may_a = may.rows.get(union=league.county_a)
    assert (may_a.issued, may_a.issued_in_month, may_a.issued_correction) == (7, 1, 2)
    assert (may_a.activated, may_a.activated_correction) == (3, 1)
    assert may.previous == april
    # and redrafting April (the beat job running again) leaves the published bulletin alone
    assert bulletin_draft(month=date(2016, 4, 1)).rows.get(union=league.county_a).issued == 4


def test_publishing_twice_is_refused(league, city_staff):
    bulletin = bulletin_draft(month=date(2016, 4, 1))
    bulletin_publish(bulletin=bulletin, actor=city_staff)
    from cardportal.errors import ApplicationError

    with pytest.raises(ApplicationError):
        bulletin_publish(bulletin=bulletin, actor=city_staff)
    assert AuditEntry.objects.filter(verb="bulletin.published").count() == 1


def test_beat_task_drafts_last_month_once(league):
    bulletin_draft_due_task()
    bulletin_draft_due_task()
    due = selectors.add_months(selectors.current_month(), -1)
    assert list(Bulletin.objects.values_list("month", "status")) == [(due, "draft")]


def test_county_reviewer_sees_published_bulletins_only_with_their_row(client, league, reviewer, city_staff):
    draft = bulletin_draft(month=date(2016, 5, 1))
    published = bulletin_publish(bulletin=bulletin_draft(month=date(2016, 4, 1)), actor=city_staff)
    client.force_login(reviewer)
    assert client.get(reverse("quotas:bulletin_detail", args=[draft.pk])).status_code == 404
    response = client.get(reverse("quotas:bulletin_detail", args=[published.pk]))
    assert [r.union_name for r in response.context["rows"]] == ["甲县总工会"]
    api = client.get(f"/api/quotas/bulletins/{published.pk}/")
    assert [r["union_name"] for r in api.json()["rows"]] == ["甲县总工会"]
    assert client.post(reverse("quotas:bulletin_publish", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_league_api(client, league, reviewer):
    client.force_login(reviewer)
    data = client.get("/api/quotas/league/", {"month": "2016-04"}).json()
    assert data["month"] == "2016-04"
    assert [(r["union"], r["issued"], r["rank"]) for r in data["rows"]] == [("甲县总工会", 4, 1)]


def test_assessment_page_and_staff_inputs(client, league, city_staff, reviewer):
    client.force_login(city_staff)
    url = reverse("quotas:assessment_input", args=[2016, league.county_a.pk])
    p = f"u{league.county_a.pk}"
    response = client.post(
        url,
        {
            f"{p}-leadership": "2.5",
            f"{p}-measures": "4",
            f"{p}-missed_reports": "1",
            f"{p}-public_criticisms": "1",
        },
    )
    assert response.status_code == 302
    saved = AssessmentInput.objects.get(union=league.county_a, year=2016)
    assert (saved.leadership, saved.measures, saved.missed_reports, saved.public_criticisms) == (2.5, 4, 1, 1)
    page = client.get(reverse("quotas:assessment"), {"year": "2016"})
    results = {r.facts.name: r for r, _ in page.context["results"]}
    a = results["甲县总工会"]
    assert a.parts["responsiveness"].points == 4.5  # 5 - 1 × 0.5
    assert a.parts["leadership"].points == 2.5
    # a county reviewer cannot enter scores, and nothing changes
    client.force_login(reviewer)
    assert client.post(url, {f"{p}-leadership": "3"}).status_code == 403
    saved.refresh_from_db()
    assert saved.leadership == 2.5


def test_quarterly_page(client, league, city_staff):
    client.force_login(city_staff)
    response = client.get(reverse("quotas:quarterly"), {"year": "2016"})
    assert [t.quarter for t in response.context["tables"]] == [2, 3, 4]
    assert "2016年为启动年" in response.content.decode()


def test_bulletin_download(client, league, city_staff):
    bulletin = bulletin_publish(bulletin=bulletin_draft(month=date(2016, 4, 1)), actor=city_staff)
    client.force_login(make_staff(ROLE.PROVINCE_STAFF, league.province, username="prov"))
    response = client.get(reverse("quotas:bulletin_download", args=[bulletin.pk]))
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert ws["A1"].value == "2016年04月发放工会会员卡工作通报（已发布）"
    assert [c.value for c in ws[3]][:6] == [1, "甲县总工会", 100, 10, 4, 4]


def test_beat_schedule_drafts_on_the_first_of_the_month(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["quotas-bulletin-draft"]
    assert entry["task"] == "quotas.tasks.bulletin_draft_due_task"
    assert entry["schedule"].day_of_month == {1}


def test_admin_imports_a_plan(client, tree):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from quotas.models import Quota

    admin = make_staff(ROLE.ADMIN, tree.province, username="portal-admin")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    csv = "union_name,members_2015,issued_2016,rate_2016\n甲县总工会,1000,100,10\n乙县总工会,2000,200,10\n"
    response = client.post(
        reverse("admin:quotas_quota_import"),
        {"file": SimpleUploadedFile("plan.csv", csv.encode("utf-8-sig"))},
    )
    assert response.status_code == 302
    assert sorted(Quota.objects.values_list("union__name", "target")) == [
        ("乙县总工会", 200),
        ("甲县总工会", 100),
    ]
    bad = "union_name,members_2015,issued_2016,rate_2016\n丙县总工会,1000,100,10\n"
    response = client.post(
        reverse("admin:quotas_quota_import"), {"file": SimpleUploadedFile("p.csv", bad.encode())}
    )
    assert "找不到这些县级工会" in response.content.decode()
    assert Quota.objects.count() == 2


def test_a_draft_bulletin_is_for_city_staff_on_the_page_and_in_the_api_alike(
    client, league, city_staff, reviewer
):
    """One selector (quotas.selectors.bulletin_list_for_user / _get_for_user) answers both."""
    draft = bulletin_draft(month=date(2016, 4, 1))
    pages = [reverse("quotas:bulletin_detail", args=[draft.pk]), f"/api/quotas/bulletins/{draft.pk}/"]
    client.force_login(reviewer)
    assert [client.get(url).status_code for url in pages] == [404, 404]
    assert client.get("/api/quotas/bulletins/").json() == []
    client.force_login(city_staff)
    assert [client.get(url).status_code for url in pages] == [200, 200]
    assert [b["id"] for b in client.get("/api/quotas/bulletins/").json()] == [draft.pk]


def test_a_county_reviewer_cannot_publish_and_nothing_changes(league, reviewer):
    from cardportal.errors import ApplicationError

    draft = bulletin_draft(month=date(2016, 4, 1))
    with pytest.raises(ApplicationError) as refused:
        bulletin_publish(bulletin=draft, actor=reviewer)
    assert refused.value.code == "forbidden"
    draft.refresh_from_db()
    assert draft.status == Bulletin.Status.DRAFT
    assert not AuditEntry.objects.filter(verb="bulletin.published").exists()
