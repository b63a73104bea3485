import io
from datetime import date

import pytest
from openpyxl import load_workbook

from issuance.models import Card, Wave
from issuance.services.batches import batch_create
from issuance.services.waves import wave_create

from ..factories import ROLE, make_staff
from .factories import make_card

pytestmark = pytest.mark.django_db
S = Card.Status


def test_clerk_union_page_lists_cards_and_another_unions_page_is_404(client, tree, clerk):
    make_card(tree.unit_a1, status=S.ISSUED, name="本单位")
    make_card(tree.unit_b1, status=S.ISSUED, name="外单位")
    client.force_login(clerk)
    response = client.get("/issuance/")
    assert response.status_code == 302 and response["Location"] == f"/issuance/unions/{tree.unit_a1.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "本单位" in page and "外单位" not in page
    assert client.get(f"/issuance/unions/{tree.unit_b1.pk}/").status_code == 404


def test_union_page_query_count_does_not_grow_with_cards(client, tree, clerk, django_assert_num_queries):
    for status in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED):
        for _ in range(3):
            make_card(tree.unit_a1, status=status)
    client.force_login(clerk)
    # 11 both times: session, user, role, scope union, the union; cards issued, received,
    # distributed; counts by status; notices; receipts
    with django_assert_num_queries(11):
        assert client.get(f"/issuance/unions/{tree.unit_a1.pk}/").status_code == 200
    for status in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED):
        for _ in range(5):
            make_card(tree.unit_a1, status=status)
    # 11 both times: session, user, role, scope union, the union; cards issued, received,
    # distributed; counts by status; notices; receipts
    with django_assert_num_queries(11):
        assert client.get(f"/issuance/unions/{tree.unit_a1.pk}/").status_code == 200


def test_batch_list_query_count(client, tree, partner, city_staff, django_assert_num_queries):
    for _ in range(3):
        make_card(tree.unit_a1)
        batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    client.force_login(city_staff)
    # 13: session, user, TOTP device, role, scope union; batch count, the union, applied cards
    # waiting; partners of the two pickers (read twice: form and filter), their unions (once: the
    # grouped union list reads its queryset once per rendering), waves, the page of batches
    with django_assert_num_queries(13):
        response = client.get("/issuance/batches/")
    assert response.status_code == 200 and response.content.decode().count("/issuance/batches/") >= 3


def test_clerk_cannot_open_the_batch_pages(client, tree, clerk, partner, city_staff):
    make_card(tree.unit_a1)
    batch = batch_create(partner=partner, union=tree.county_a, actor=city_staff)
    client.force_login(clerk)
    assert client.get("/issuance/batches/").status_code == 403
    assert client.get(f"/issuance/batches/{batch.pk}/").status_code == 404


def test_distribution_sheet_excel_has_masked_ids_and_card_tails(client, tree, clerk):
    card = make_card(tree.unit_a1, status=S.RECEIVED, name="王五", id_number="11010519491231002X")
    client.force_login(clerk)
    response = client.get(f"/issuance/unions/{tree.unit_a1.pk}/distribution-sheet/?format=xlsx")
    rows = list(load_workbook(io.BytesIO(response.content))["发放表"].iter_rows(values_only=True))
    assert rows[2][:5] == (1, "王五", "110105********002X", "甲县第一中学", f"尾号{card.number[-4:]}")
    assert "11010519491231002X" not in str(rows) and card.number not in str(rows)


def test_progress_report_counts_by_status_and_exports(client, tree, city_staff):
    make_card(tree.unit_a1, status=S.ISSUED)
    make_card(tree.unit_a2, status=S.ACTIVATED)
    make_card(tree.unit_b1, status=S.APPLIED)
    client.force_login(city_staff)
    response = client.get(f"/issuance/progress/?root={tree.city.pk}&weeks=4")
    rows = {
        r["union"].name: dict(zip(response.context["status_labels"], r["counts"], strict=True))
        for r in response.context["by_status"]
    }
    assert rows["甲县总工会"]["银行已制卡"] == 1 and rows["甲县总工会"]["已激活"] == 1
    assert rows["乙县总工会"]["已申请"] == 1
    this_week = response.context["by_week"][0]["counts"]
    assert this_week[0] == 3  # three applications this week
    export = client.get(f"/issuance/progress/?root={tree.city.pk}&format=xlsx")
    book = load_workbook(io.BytesIO(export.content))
    assert book.sheetnames == ["按状态", "按周"]
    totals = list(book["按状态"].iter_rows(values_only=True))[-1]
    assert totals[0] == "合计" and totals[1] == 1 and totals[6] == 1


def test_wave_page_shows_progress_against_target(client, tree, city_staff):
    wave = wave_create(
        name="首批",
        owner=tree.city,
        unions=[tree.county_a],
        target=4,
        deadline=date(2030, 5, 1),
        actor=city_staff,
    )
    make_card(tree.unit_a1, status=S.ISSUED)
    make_card(tree.unit_a2, status=S.DISTRIBUTED)
    make_card(tree.unit_b1, status=S.ISSUED)  # outside the wave's area
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="rev")
    client.force_login(reviewer)  # a county sees the city's plan
    response = client.get(f"/issuance/waves/{wave.pk}/")
    assert response.context["p"]["issued"] == 2 and response.context["p"]["percent"] == 50
    assert Wave.objects.count() == 1


def test_member_page_shows_the_cards_panel_with_events(client, tree, clerk):
    card = make_card(tree.unit_a1, status=S.RECEIVED)
    client.force_login(clerk)
    page = client.get(card.member.get_absolute_url()).content.decode()
    assert card.number in page and "银行已制卡 → 工会已领卡" in page and "挂失并申请补卡" in page


def test_dashboard_panels_for_clerk_and_city(client, tree, clerk, city_staff):
    make_card(tree.unit_a1, status=S.ISSUED)
    client.force_login(clerk)
    assert "领卡与发放" in client.get("/").content.decode()
    client.force_login(city_staff)
    assert "待报送银行" in client.get("/").content.decode()


def test_clerk_cancels_an_applied_card_from_the_member_page(client, tree, clerk):
    card = make_card(tree.unit_a1)
    client.force_login(clerk)
    response = client.post(f"/issuance/cards/{card.pk}/cancel/", {"note": "会员离会"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == S.CANCELLED and card.events.last().note == "会员离会"


def test_clerk_cannot_report_another_unions_card_lost(client, tree, clerk):
    card = make_card(tree.unit_b1, status=S.ACTIVATED)
    client.force_login(clerk)
    assert client.post(f"/issuance/cards/{card.pk}/lost/", {"note": "x"}).status_code == 404
    card.refresh_from_db()
    assert card.status == S.ACTIVATED and Card.objects.count() == 1


def test_progress_weeks_end_at_the_until_date(client, tree, city_staff):
    client.force_login(city_staff)
    response = client.get("/issuance/progress/?until=2018-12-31&weeks=2")
    assert [w["label"] for w in response.context["by_week"]] == ["2019年第1周", "2018年第52周"]
    assert response.context["root"] == tree.city
