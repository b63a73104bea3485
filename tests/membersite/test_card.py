"""我的会员卡: the timeline, the next step, and a loss report through the clerk's service."""

import pytest

from benefits.membersite.selectors import card_timeline
from cardportal.models import AuditEntry
from issuance.models import Card, CardEvent, CardNotice
from tests.factories import make_member
from tests.issuance.factories import make_card

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
S = Card.Status


def _states(card):
    card = Card.objects.prefetch_related("events").get(pk=card.pk)
    return [(s.label, s.state) for s in card_timeline(card)]


def test_timeline_of_a_card_at_the_union(tree):
    card = make_card(tree.unit_a1, status=S.RECEIVED)

    stages = card_timeline(Card.objects.prefetch_related("events").get(pk=card.pk))

    assert [(s.label, s.state) for s in stages] == [
        ("已申请", "done"),
        ("银行制卡中", "done"),
        ("已到工会", "done"),
        ("已领取", "current"),
        ("已激活", "todo"),
    ]
    assert [s.at is not None for s in stages] == [True, True, True, False, False]


def test_timeline_while_the_bank_makes_the_card(tree):
    card = make_card(tree.unit_a1, status=S.IN_BATCH)

    assert _states(card) == [
        ("已申请", "done"),
        ("银行制卡中", "current"),
        ("已到工会", "todo"),
        ("已领取", "todo"),
        ("已激活", "todo"),
    ]


def test_card_page_says_where_to_collect(client, tree, django_capture_on_commit_callbacks):
    card = make_card(tree.unit_a1, status=S.RECEIVED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    html = client.get("/me/").content.decode()

    assert "请到甲县第一中学工会（甲县总工会）领取，带本人身份证。" in html
    assert f"**** **** **** {card.number[-4:]}" in html and card.number not in html
    assert "挂失这张卡" not in html  # still at the union: the clerk handles it


def test_member_without_card_is_told_whom_to_ask(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    sign_in(client, django_capture_on_commit_callbacks, member)

    assert "还没有您的办卡记录" in client.get("/me/").content.decode()


def test_member_reports_lost_and_clerk_sees_it(client, clerk, tree, django_capture_on_commit_callbacks):
    card = make_card(tree.unit_a1, status=S.ACTIVATED)
    member = card.member
    sign_in(client, django_capture_on_commit_callbacks, member)

    response = client.post(f"/me/cards/{card.pk}/lost/", {"confirm": "yes", "note": "外出时遗失"})

    assert response.status_code == 302 and response["Location"] == "/me/"
    card.refresh_from_db()
    replacement = Card.objects.get(replaces=card)
    assert (card.status, replacement.status, replacement.member) == (S.LOST, S.APPLIED, member)
    lost_event = CardEvent.objects.get(card=card, to_status=S.LOST)
    assert (lost_event.actor_id, lost_event.member_actor_id, lost_event.note) == (
        None,
        member.pk,
        "外出时遗失",
    )
    assert CardEvent.objects.get(card=replacement).member_actor_id == member.pk
    audit = AuditEntry.objects.get(verb="card.lost")
    assert (audit.actor, audit.data["by_member"], audit.target_id) == (None, member.pk, str(card.pk))
    notice = CardNotice.objects.get(card=card)
    assert "由会员本人通过会员网站挂失" in notice.message
    html = client.get("/me/").content.decode()
    assert "已挂失，补办的新卡已申请" in html and "挂失与补卡记录" in html

    staff = client.__class__()
    staff.force_login(clerk)
    clerk_page = staff.get(member.get_absolute_url()).content.decode()
    assert "会员本人（会员网站）" in clerk_page and "由会员本人通过会员网站挂失" in clerk_page


def test_loss_needs_the_confirmation_box(client, tree, django_capture_on_commit_callbacks):
    card = make_card(tree.unit_a1, status=S.DISTRIBUTED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    response = client.post(f"/me/cards/{card.pk}/lost/", {"note": "x"})

    assert response.status_code == 400 and "请勾选“我确认这张卡已丢失或被盗”" in response.content.decode()
    card.refresh_from_db()
    assert card.status == S.DISTRIBUTED and Card.objects.count() == 1


def test_member_cannot_report_lost_a_card_still_at_the_union(
    client, tree, django_capture_on_commit_callbacks
):
    card = make_card(tree.unit_a1, status=S.RECEIVED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    response = client.post(f"/me/cards/{card.pk}/lost/", {"confirm": "yes"})

    assert response.status_code == 400
    assert "这张卡当前状态为“工会已领卡”，尚未交到您手中，不能挂失" in response.content.decode()
    card.refresh_from_db()
    assert card.status == S.RECEIVED and Card.objects.count() == 1 and not CardNotice.objects.exists()


def test_profile_shows_masked_data_only(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1, name="李秀英", phone="13712345678")
    sign_in(client, django_capture_on_commit_callbacks, member)

    html = client.get("/me/profile/").content.decode()

    assert "李秀英" in html and "137****5678" in html and member.masked_id in html
    assert member.reveal_id_number() not in html and "13712345678" not in html
    assert "甲县第一中学工会（甲县总工会）" in html


def test_card_page_queries_do_not_grow_with_history(
    client, tree, django_capture_on_commit_callbacks, django_assert_num_queries
):
    card = make_card(tree.unit_a1, status=S.ACTIVATED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)
    client.post(f"/me/cards/{card.pk}/lost/", {"confirm": "yes"})
    client.get("/me/")  # the success message is consumed

    # session, member with union and county, cards with partner and replaced card, their events,
    # their functions (a second partner's, e.g. transit)
    with django_assert_num_queries(5):
        response = client.get("/me/")
    assert response.status_code == 200 and len(response.content) < 20_000


def test_card_page_reads_the_cards_once(
    client, tree, django_capture_on_commit_callbacks, django_assert_num_queries
):
    card = make_card(tree.unit_a1, status=S.ACTIVATED)
    sign_in(client, django_capture_on_commit_callbacks, card.member)

    # session, member with union and county, cards with partner and replaced card, their events,
    # their functions (a second partner's, e.g. transit)
    with django_assert_num_queries(5):
        assert client.get(f"/me/cards/{card.pk}/").status_code == 200
