"""The staff pages (city staff set up a campaign; others are refused or see nothing outside their
scope), the admin, and the member's 到卡资金 with each subsidy's merchant and date."""

from datetime import date
from decimal import Decimal

import pytest

from benefits.subsidies.models import SubsidyCampaign
from benefits.subsidies.services import subsidies_compute
from cardportal.models import AuditEntry

from ..factories import ROLE, make_staff
from ..membersite.helpers import sign_in
from .factories import at, campaign, holder, import_rows, make_world, txn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
NOV = date(2026, 11, 10)


def form(w, **overrides) -> dict:
    data = {
        "name": "十一月餐饮补贴",
        "description": "",
        "categories": [w.food.pk],
        "audience": "all",
        "area": "",
        "rule": "percent",
        "percent": "8",
        "cap_per_txn": "10",
        "cap_per_member_month": "60",
        "fixed_amount": "",
        "min_spend": "0",
        "budget": "20000",
        "starts_on": "2026-11-01",
        "ends_on": "2026-11-30",
    }
    data.update(overrides)
    return data


def test_city_staff_set_up_a_campaign_audited(client):
    w = make_world()
    client.force_login(w.staff)
    assert "设立消费补贴活动" in client.get("/subsidies/").content.decode()
    response = client.post("/subsidies/new/", form(w))
    c = SubsidyCampaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/subsidies/{c.pk}/"
    assert (c.union, c.created_by, c.percent, c.programme.kind) == (
        w.tree.city,
        w.staff,
        Decimal("8"),
        "subsidy",
    )
    assert list(c.categories.all()) == [w.food]
    page = client.get(f"/subsidies/{c.pk}/").content.decode()
    assert "返还消费金额的8%，每笔最多10.00元，每人每月最多60.00元" in page and "餐饮类" in page
    entry = AuditEntry.objects.get(verb="subsidy_campaign.created")
    assert entry.actor == w.staff and entry.data["budget"] == "20000.00"


def test_an_incomplete_rule_is_refused_in_chinese(client):
    w = make_world()
    client.force_login(w.staff)
    response = client.post("/subsidies/new/", form(w, rule="fixed", fixed_amount="", ends_on="2026-10-01"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "按每笔固定金额补贴时，须填写每笔补贴金额（大于0）" in page
    assert "结束日期不能早于开始日期" in page
    assert not SubsidyCampaign.objects.exists()


def test_who_may_manage_campaigns(client):
    w = make_world()
    c = campaign(w)
    clerk = make_staff(ROLE.CLERK, w.tree.unit_a1)
    client.force_login(clerk)
    assert client.get("/subsidies/").status_code == 403
    assert client.post("/subsidies/new/", form(w)).status_code == 403
    other_city = make_staff(ROLE.CITY_STAFF, w.tree.county_b)  # a city-staff role anchored lower
    client.force_login(other_city)
    assert client.get(f"/subsidies/{c.pk}/").status_code == 404
    assert client.post(f"/subsidies/{c.pk}/batch/", {"month": "2026-11"}).status_code == 404


def test_staff_build_the_month_batch_from_the_page(client):
    w = make_world()
    c = campaign(w)
    subsidies_compute(
        txn_import_id=import_rows(w, [txn(holder(w.tree.unit_a1), w.canteen, "88.00", at(NOV))]).pk
    )
    client.force_login(w.staff)
    response = client.post(f"/subsidies/{c.pk}/batch/", {"month": "2026-11"})
    batch = c.programme.disbursements.get()
    assert response["Location"] == batch.get_absolute_url()
    assert (batch.state, batch.lines.get().amount) == ("draft", Decimal("8.80"))
    assert "8.80" in client.get(f"/subsidies/{c.pk}/").content.decode()


def test_admin_lists_campaigns_in_scope_only(client):
    w = make_world()
    campaign(w)
    county_admin = make_staff(ROLE.ADMIN, w.tree.county_a)
    client.force_login(county_admin)
    assert "职工消费补贴" not in client.get("/admin/subsidies/subsidycampaign/").content.decode()
    client.force_login(make_staff(ROLE.ADMIN, w.tree.province))
    assert "职工消费补贴" in client.get("/admin/subsidies/subsidycampaign/").content.decode()


def test_member_sees_each_subsidy_with_merchant_and_date(client, django_capture_on_commit_callbacks):
    w = make_world()
    campaign(w, name="餐饮消费补贴")
    card = holder(w.tree.unit_a1, name="赵敏")
    other = holder(w.tree.unit_a1, name="钱多")
    subsidies_compute(
        txn_import_id=import_rows(
            w,
            [
                txn(card, w.canteen, "66.00", at(NOV)),
                txn(other, w.bookshop, "99.00", at(NOV)),
            ],
        ).pk
    )
    sign_in(client, django_capture_on_commit_callbacks, card.member)
    page = client.get("/me/aid/").content.decode()
    assert "消费补贴明细" in page
    assert "甲县职工食堂" in page and "+6.60元" in page and "2026年11月10日" in page
    assert "待发放（次月发放到卡）" in page
    assert "乙县新华书店" not in page  # another member's
