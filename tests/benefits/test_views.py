from decimal import Decimal

import pytest

from benefits.models import Claim, Disbursement
from benefits.seed import programmes_seed
from benefits.services.disbursements import disbursement_create

from ..factories import make_member
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def programmes(tree):
    return programmes_seed(union=tree.province)


def test_member_page_explains_eligibility_and_records_a_claim(client, tree, programmes, clerk):
    member = make_member(tree.unit_a1, name="李四", dues_paid=False)
    give_card(member)
    client.force_login(clerk)
    body = client.get(member.get_absolute_url()).content.decode()
    assert "普惠服务（资格逐条说明）" in body
    assert "适用档次“基本保障”：20000.00元" in body
    response = client.post(
        f"/benefits/members/{member.pk}/claim/",
        {"programme": programmes["accident-fire"].pk, "incident_on": "2016-09-01", "facts": "家中失火"},
    )
    claim = Claim.objects.get()
    assert response.status_code == 302 and response["Location"] == claim.get_absolute_url()
    assert (claim.amount, claim.recorded_by) == (20000, clerk)


def test_reviewer_approves_on_the_claim_page(client, tree, programmes, clerk, reviewer):
    member = make_member(tree.unit_a1)
    give_card(member)
    client.force_login(clerk)
    client.post(
        f"/benefits/members/{member.pk}/claim/",
        {"programme": programmes["accidental-death"].pk, "incident_on": "2016-09-01", "facts": "交通事故"},
    )
    claim = Claim.objects.get()
    client.force_login(reviewer)
    assert "批准" in client.get(claim.get_absolute_url()).content.decode()
    client.post(claim.get_absolute_url(), {"decision": "approve", "note": "材料齐全"})
    claim.refresh_from_db()
    assert claim.status == "approved"


def test_pages_are_scoped(client, tree, programmes, city_staff):
    other = make_member(tree.unit_b1)
    give_card(other)
    from benefits.services.claims import claim_create

    claim = claim_create(
        programme=programmes["accidental-death"],
        member=other,
        incident_on=programmes["cataract"].valid_from,
        facts="溺水",
        actor=city_staff,
    )
    batch = disbursement_create(name="乙县送温暖", kind="warmth", union=tree.county_b, actor=city_staff)
    from ..factories import ROLE, make_staff

    make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="rev-a")
    client.login(username="rev-a", password="pw-Cardportal-1")
    assert client.get(claim.get_absolute_url()).status_code == 404
    assert client.get(batch.get_absolute_url()).status_code == 404
    assert client.get(f"/api/benefits/members/{other.pk}/eligibility/").status_code == 404
    for url in ("/benefits/programmes/", "/benefits/claims/", "/benefits/disbursements/"):
        assert client.get(url).status_code == 200


def test_eligibility_api_is_masked(client, tree, programmes, clerk):
    member = make_member(tree.unit_a1, id_number="11010519491231002X")
    give_card(member)
    client.force_login(clerk)
    data = client.get(f"/api/benefits/members/{member.pk}/eligibility/").json()
    assert data["id_number"] == "110105********002X"
    fire = next(p for p in data["programmes"] if p["programme"] == "非工伤意外伤害及家庭财产火灾损失保障")
    assert (fire["eligible"], fire["amount"], fire["tier"]) == (True, "30000.00", "按时交纳会费")
    assert "11010519491231002X" not in str(data)
    assert client.get("/api/benefits/programmes/").status_code == 200
    client.logout()
    assert client.get(f"/api/benefits/members/{member.pk}/eligibility/").status_code in (401, 403)


def test_disbursement_page_flow(
    client, tree, city_staff, run_tasks_inline, django_capture_on_commit_callbacks
):
    from ..factories import ROLE, make_staff

    province = make_staff(ROLE.PROVINCE_STAFF, tree.province, username="province")
    members = [make_member(tree.unit_a1, name=f"困难{i}", is_hardship=True) for i in range(2)]
    for m in members:
        give_card(m)
    client.force_login(city_staff)
    response = client.post(
        "/benefits/disbursements/", {"name": "2017年送温暖", "kind": "warmth", "union": tree.city.pk}
    )
    url = response["Location"]
    pk = int(url.rstrip("/").split("/")[-1])
    client.post(f"{url}filter/", {"union": tree.county_a.pk, "amount": "500", "hardship": "on"})
    body = client.get(url).content.decode()
    assert "1000.00" in body and "困难0" in body
    client.post(f"{url}submit/")
    client.force_login(province)
    client.post(f"{url}approve/")
    client.force_login(city_staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{url}export/")
    response = client.get(f"/benefits/disbursements/{pk}/download/payment/")
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "序号,卡号,姓名,金额" and len(lines) == 3


def test_list_pages_do_not_grow_queries_with_rows(
    client, tree, programmes, clerk, city_staff, django_assert_num_queries
):
    from decimal import Decimal

    from benefits.services.claims import claim_create
    from benefits.services.disbursements import disbursement_add_filtered

    members = [make_member(tree.unit_a1, name=f"会员{i}", is_hardship=True) for i in range(15)]
    for m in members:
        give_card(m)
        claim_create(
            programme=programmes["accidental-death"],
            member=m,
            incident_on=programmes["cataract"].valid_from,
            facts="事故",
            actor=clerk,
        )
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.city, actor=city_staff)
    disbursement_add_filtered(
        disbursement=batch, union=tree.city, amount=Decimal("100"), hardship=True, actor=city_staff
    )
    client.force_login(city_staff)
    # 7: session, user, TOTP device, role, scope union; count and page of claims
    with django_assert_num_queries(7):
        assert client.get("/benefits/claims/").content.decode().count("事故") == 15
    # 12: session, user, TOTP device, role, scope union; the batch, its totals, line count,
    # approved claims waiting, audit entries, unions of the picker, the page of lines
    with django_assert_num_queries(12):
        assert client.get(batch.get_absolute_url()).content.decode().count("****") == 15


@pytest.mark.parametrize("line", [None, "", "abc", "²", "999999", "9" * 30])
def test_removing_a_missing_or_malformed_line_says_so_and_changes_nothing(client, tree, city_staff, line):
    member = make_member(tree.unit_a1, name="困难甲", is_hardship=True)
    give_card(member)
    client.force_login(city_staff)
    url = client.post(
        "/benefits/disbursements/", {"name": "2017年送温暖", "kind": "warmth", "union": tree.city.pk}
    )["Location"]
    client.post(f"{url}filter/", {"union": tree.county_a.pk, "amount": "500", "hardship": "on"})
    batch = Disbursement.objects.get()
    before = list(batch.lines.values_list("member__name", "amount"))

    response = client.post(f"{url}remove/", {} if line is None else {"line": line}, follow=True)

    assert response.status_code == 200
    assert "要移出的名单行不存在或已移出，请刷新页面后重试" in response.content.decode()
    assert before == [("困难甲", Decimal("500.00"))]
    assert list(batch.lines.values_list("member__name", "amount")) == before


def test_removing_a_line_of_another_batch_is_refused(client, tree, city_staff):
    member = make_member(tree.unit_a1, name="困难甲", is_hardship=True)
    give_card(member)
    client.force_login(city_staff)
    urls = [
        client.post("/benefits/disbursements/", {"name": name, "kind": "warmth", "union": tree.city.pk})[
            "Location"
        ]
        for name in ("甲批次", "乙批次")
    ]
    client.post(f"{urls[0]}filter/", {"union": tree.county_a.pk, "amount": "500", "hardship": "on"})
    line = Disbursement.objects.get(name="甲批次").lines.get()

    response = client.post(f"{urls[1]}remove/", {"line": line.pk}, follow=True)

    assert "要移出的名单行不存在或已移出，请刷新页面后重试" in response.content.decode()
    assert Disbursement.objects.get(name="甲批次").lines.count() == 1
