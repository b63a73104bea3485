"""Query parameters and form fields anyone can send: Unicode digits ("²".isdigit() is true, int("²")
raises), NUL (PostgreSQL rejects it in text) and numbers too large for the database or for date().
Each was a 500; each must be an ordinary answer. NUL only fails on PostgreSQL, so run this there."""

import pytest

from cardportal.models import AuditEntry
from cardportal.params import positive_int, positive_ints, query_text
from issuance.models import Card, CardEvent
from tests.issuance.factories import make_card
from tests.membersite.helpers import sign_in
from tests.merchants.factories import make_merchant

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.mark.parametrize(
    "value",
    ["", None, "0", "-1", "+1", " 1", "1.0", "1e3", "²", "١٢", "１", "\x00", "1\x00", HUGE, str(2**63)],
)
def test_positive_int_refuses_anything_but_a_positive_ascii_number(value):
    assert positive_int(value) is None


def test_positive_int_reads_plain_numbers_and_lists_drop_the_rest():
    assert (positive_int("7"), positive_int(42), positive_int(str(2**63 - 1))) == (7, 42, 2**63 - 1)
    assert positive_ints(["3", "²", "", "5", HUGE]) == [3, 5]


def test_query_text_removes_nul_and_space_and_cuts():
    assert query_text(" 博纳\x00影城 ", max_length=3) == "博纳影"
    assert query_text(None) == ""


@pytest.mark.parametrize(
    "params",
    [{"category": "²"}, {"area": "²"}, {"q": "\x00"}, {"q": "博纳\x00"}, {"category": HUGE}, {"page": "²"}],
)
def test_public_directory_answers_hostile_parameters_without_signing_in(client, tree, params):
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")

    response = client.get("/merchants/directory/", params)

    assert response.status_code == 200
    assert ("甲县博纳影城" in response.content.decode()) is True


def test_public_directory_search_ignores_the_nul(client, tree):
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")
    make_merchant(tree.county_b, name="乙县影城", cat="文化影视")

    body = client.get("/merchants/directory/", {"q": "博纳\x00"}).content.decode()

    assert "甲县博纳影城" in body and "乙县影城" not in body


@pytest.mark.parametrize("params", [{"category": HUGE}, {"area": "²"}, {"area": HUGE}])
def test_directory_api_answers_hostile_ids(client, tree, params):
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")

    response = client.get("/api/merchants/", params)

    assert response.status_code == 200


def test_ticking_a_unicode_digit_card_is_ignored_not_a_500(client, tree, clerk):
    card = make_card(tree.unit_a1, status=Card.Status.ISSUED)
    client.force_login(clerk)

    response = client.post(
        f"/issuance/unions/{tree.unit_a1.pk}/receive/", {"card": ["²", HUGE], "counted": "0"}
    )

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == Card.Status.ISSUED


@pytest.mark.parametrize("month", [f"{HUGE}-1", "2016-²", "\x00"])
def test_league_table_with_a_hostile_month_shows_the_default_month(client, tree, city_staff, month):
    client.force_login(city_staff)

    assert client.get("/quotas/league/", {"month": month}).status_code == 200


def test_member_loss_note_with_a_nul_is_saved_without_it(
    client, tree, django_capture_on_commit_callbacks, run_tasks_inline
):
    card = make_card(tree.unit_a1, status=Card.Status.ACTIVATED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    response = client.post(f"/me/cards/{card.pk}/lost/", {"confirm": "yes", "note": "外出\x00遗失"})

    assert response.status_code == 302
    assert CardEvent.objects.get(card=card, to_status=Card.Status.LOST).note == "外出遗失"


def test_account_security_username_with_a_nul_is_not_found(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/account/security/", {"username": "clerk\x00", "action": "unlock"})

    assert response.status_code == 400  # the page's own answer to an unknown account
    assert "在您管辖的范围内没有用户名为“clerk”的账号" in response.content.decode()
    assert AuditEntry.objects.filter(verb__startswith="signin").count() == 0


@pytest.mark.parametrize("page", ["/quotas/quarterly/", "/quotas/assessment/"])
@pytest.mark.parametrize("year", [HUGE, "²", "\x00", "-1"])
def test_ranking_pages_with_a_hostile_year_show_the_default_year(client, tree, city_staff, page, year):
    client.force_login(city_staff)

    assert client.get(page, {"year": year}).status_code == 200
