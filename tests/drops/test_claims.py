"""The claim's answers, one member at a time, on whichever path this run has (Redis when
REDIS_URL is set) and on the database path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from benefits.drops import services, store
from benefits.drops.models import Drop, Ticket
from benefits.drops.selectors import drop_snapshot_forget
from cardportal.models import AuditEntry
from issuance.models import Card
from tests.issuance.factories import make_card

pytestmark = pytest.mark.django_db

PATHS = ["configured", "db"]


@pytest.fixture(params=PATHS)
def path(request, settings):
    if request.param == "db":
        settings.DROPS_REDIS_URL = ""
    return request.param


def claim(drop, member):
    return services.drop_claim(drop_id=drop.pk, member=member)


def test_first_member_wins_second_press_is_duplicate_then_sold_out(path, tree, make_drop):
    drop = make_drop(tickets=1)
    first = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    second = make_card(tree.unit_b1, status=Card.Status.ACTIVATED).member

    won = claim(drop, first)
    again = claim(drop, first)
    late = claim(drop, second)

    assert won.outcome == services.WON
    assert again.outcome == services.DUPLICATE and again.ticket.pk == won.ticket.pk
    assert late.outcome == services.SOLD_OUT
    assert list(Ticket.objects.filter(drop=drop).values_list("member_id", flat=True)) == [first.pk]
    assert Drop.objects.get(pk=drop.pk).taken == 1
    assert AuditEntry.objects.filter(verb="ticket.claimed").count() == 1


def test_before_opening_and_after_closing_nothing_is_taken(path, tree, make_drop):
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    early = make_drop(opens_in=60)
    ended = make_drop(opens_in=-120, closes_in=-60)

    assert claim(early, member).outcome == services.NOT_OPEN
    assert claim(ended, member).outcome == services.CLOSED
    assert Ticket.objects.count() == 0
    if store.enabled():
        assert store.read(drop_key=early.key) == (None, {})  # refused before Redis was asked


@pytest.mark.parametrize(
    "card_status, member_fields, drop_fields, reason",
    [
        (Card.Status.DISTRIBUTED, {}, {}, "需持已激活的工会会员卡（领卡后到银行网点激活即可）"),
        (Card.Status.ACTIVATED, {}, {"hardship_only": True}, "本次活动仅限困难职工参加"),
        (None, {}, {}, "需持已激活的工会会员卡（领卡后到银行网点激活即可）"),
    ],
)
def test_ineligible_member_gets_the_reason_and_takes_nothing(
    path, tree, make_drop, card_status, member_fields, drop_fields, reason
):
    drop = make_drop(**drop_fields)
    if card_status is None:
        from tests.factories import make_member

        member = make_member(tree.unit_a1)
    else:
        member = make_card(tree.unit_a1, status=card_status, **member_fields).member

    result = claim(drop, member)

    assert (result.outcome, result.reason) == (services.INELIGIBLE, reason)
    assert Ticket.objects.count() == 0 and Drop.objects.get(pk=drop.pk).taken == 0


def test_county_limit_names_the_counties(path, tree, make_drop):
    drop = make_drop(counties=[tree.county_a])
    inside = make_card(tree.unit_a2, status=Card.Status.ACTIVATED).member
    outside = make_card(tree.unit_b1, status=Card.Status.ACTIVATED).member

    assert claim(drop, outside).reason == "本次活动仅限甲县总工会的会员参加"
    assert claim(drop, inside).outcome == services.WON


def test_per_member_limit_two(path, tree, make_drop):
    drop = make_drop(tickets=5, per_member_limit=2)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member

    outcomes = [claim(drop, member).outcome for _ in range(3)]

    assert outcomes == [services.WON, services.WON, services.DUPLICATE]
    assert sorted(Ticket.objects.filter(drop=drop).values_list("slot", flat=True)) == [1, 2]


def test_unpaid_ticket_expires_and_returns_to_the_pool(
    path, tree, make_drop, django_capture_on_commit_callbacks
):
    drop = make_drop(tickets=1, price="0.01")
    first = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    second = make_card(tree.unit_a2, status=Card.Status.ACTIVATED).member
    ticket = claim(drop, first).ticket
    assert ticket.status == Ticket.Status.PENDING
    assert claim(drop, second).outcome == services.SOLD_OUT

    with django_capture_on_commit_callbacks(execute=True):
        assert services.tickets_expire(now=timezone.now() + timedelta(minutes=11)) == 1

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.EXPIRED
    assert Drop.objects.get(pk=drop.pk).taken == 0
    won = claim(drop, second)
    assert won.outcome == services.WON
    assert services.drop_reconcile(drop=drop).redis_agrees or not store.enabled()


def test_payment_confirms_at_once_and_late_payment_is_refused(path, tree, make_drop):
    drop = make_drop(tickets=2, price="0.01")
    payer = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    late = make_card(tree.unit_a2, status=Card.Status.ACTIVATED).member
    paid = services.ticket_pay(ticket=claim(drop, payer).ticket, member=payer)
    assert paid.status == Ticket.Status.VALID and paid.payment_ref.startswith("sim-")

    expired = claim(drop, late).ticket
    Ticket.objects.filter(pk=expired.pk).update(pay_by=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.ApplicationError) as exc:
        services.ticket_pay(ticket=expired, member=late)

    assert exc.value.message == "已超过支付时限，票已退回，可在活动进行中再次抢票"
    assert Ticket.objects.get(pk=expired.pk).status == Ticket.Status.EXPIRED
    # the paid one is not touched by the sweep
    assert Ticket.objects.get(pk=paid.pk).status == Ticket.Status.VALID


def test_voucher_is_used_once(path, tree, make_drop, city_staff):
    drop = make_drop(tickets=1)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    ticket = claim(drop, member).ticket

    used = services.voucher_redeem(ticket=ticket, actor=city_staff)
    with pytest.raises(services.ApplicationError) as exc:
        services.voucher_redeem(ticket=ticket, at_venue=True)

    assert used.status == Ticket.Status.USED
    assert exc.value.message.startswith("该券已于") and exc.value.message.endswith("使用过，不能重复使用")
    assert Ticket.objects.get(pk=ticket.pk).used_at_venue is False
    assert AuditEntry.objects.filter(verb="ticket.redeemed").count() == 1


def test_close_early_stops_claims_and_no_edit_after_opening(path, tree, make_drop, city_staff):
    drop = make_drop(tickets=3)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    with pytest.raises(services.ApplicationError) as exc:
        services.drop_update(drop=drop, actor=city_staff, fields={"tickets": 30})
    assert exc.value.message == "活动已开始，不能再修改（只能提前结束）"

    services.drop_close_early(drop=drop, actor=city_staff)
    drop_snapshot_forget()

    assert claim(drop, member).outcome == services.CLOSED
    assert Drop.objects.get(pk=drop.pk).tickets == 3
    assert AuditEntry.objects.filter(verb="drop.closed_early").count() == 1


def test_stale_snapshot_cannot_sell_after_close(path, tree, make_drop, city_staff):
    """Another web process still has the drop open in its snapshot: the database write refuses."""
    drop = make_drop(tickets=3)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    services.drop_snapshot(drop.pk)  # cached as open
    Drop.objects.filter(pk=drop.pk).update(closed_early_at=timezone.now())

    assert claim(drop, member).outcome == services.CLOSED
    assert Ticket.objects.count() == 0
    if store.enabled():
        assert store.read(drop_key=drop.key) == (3, {})  # the slot went back
