import threading
from datetime import datetime

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from cardportal.errors import ApplicationError
from issuance.lifecycle import (
    TRANSITIONS,
    cards_apply,
    cards_apply_registered,
    cards_transition,
    recount_union_months,
    stored_union_months,
)
from issuance.models import Card, CardEvent, UnionMonthCount
from issuance.services.cards import card_report_lost

from ..factories import make_member
from .factories import card_number, make_card

pytestmark = pytest.mark.django_db
S = Card.Status
ALL = list(S.values)
PAIRS = [(a, b) for a in ALL for b in ALL]


def _move(card, to_status):
    updates = {card.pk: {"number": card.number or card_number()}} if to_status == S.ISSUED else None
    return cards_transition(cards=[card.pk], to_status=to_status, updates=updates)


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused_with_nothing_changed(tree, from_status, to_status):
    # given a card in from_status
    card = make_card(tree.unit_a1, status=from_status)
    events = CardEvent.objects.filter(card=card).count()
    counters = stored_union_months()
    # when it is moved to to_status
    if to_status in TRANSITIONS[from_status]:
        moved = _move(card, to_status)
        card.refresh_from_db()
        assert [c.pk for c in moved] == [card.pk]
        assert card.status == to_status
        last = CardEvent.objects.filter(card=card).last()
        assert (last.from_status, last.to_status) == (from_status, to_status)
        assert CardEvent.objects.filter(card=card).count() == events + 1
    else:
        with pytest.raises(ApplicationError) as err:
            _move(card, to_status)
        assert err.value.code == "transition_refused"
        before = card.updated_at
        card.refresh_from_db()
        assert card.status == from_status and card.updated_at == before
        assert CardEvent.objects.filter(card=card).count() == events
        assert stored_union_months() == counters
    assert stored_union_months() == recount_union_months()


def test_non_strict_transition_moves_only_the_cards_that_may_move(tree):
    received = make_card(tree.unit_a1, status=S.RECEIVED)
    issued = make_card(tree.unit_a1, status=S.ISSUED)
    moved = cards_transition(cards=[received.pk, issued.pk], to_status=S.DISTRIBUTED, strict=False)
    assert [c.pk for c in moved] == [received.pk]
    issued.refresh_from_db()
    assert issued.status == S.ISSUED


def test_cards_with_different_fields_to_set_move_together_and_come_back_as_moved(tree):
    # given two cards in a batch, one refused before, and numbers for both but a reason for one
    first = make_card(tree.unit_a1, status=S.IN_BATCH)
    second = make_card(tree.unit_a1, status=S.IN_BATCH)
    Card.objects.filter(pk=second.pk).update(bank_reason="证件过期")
    at = timezone.make_aware(datetime(2016, 5, 3, 10))
    numbers = {first.pk: card_number(), second.pk: card_number()}
    # when both are issued in one call
    moved = cards_transition(
        cards=[second.pk, first.pk],
        to_status=S.ISSUED,
        at=at,
        updates={
            first.pk: {"number": numbers[first.pk]},
            second.pk: {"number": numbers[second.pk], "bank_reason": ""},
        },
    )
    # then the returned cards are as stored, in pk order, each with its own values and one event
    assert [(c.pk, c.status, c.number, c.issued_at) for c in moved] == [
        (c.pk, S.ISSUED, numbers[c.pk], at) for c in sorted([first, second], key=lambda c: c.pk)
    ]
    assert dict(Card.objects.values_list("id", "bank_reason")) == {first.pk: "", second.pk: ""}
    assert sorted(
        CardEvent.objects.filter(to_status=S.ISSUED).values_list("card_id", "from_status", "at")
    ) == [
        (first.pk, S.IN_BATCH, at),
        (second.pk, S.IN_BATCH, at),
    ]
    assert stored_union_months() == recount_union_months()


def test_distributing_a_card_never_received_is_refused_for_the_whole_call(tree):
    received = make_card(tree.unit_a1, status=S.RECEIVED)
    issued = make_card(tree.unit_a1, status=S.ISSUED)
    with pytest.raises(ApplicationError):
        cards_transition(cards=[received.pk, issued.pk], to_status=S.DISTRIBUTED)
    assert set(Card.objects.values_list("status", flat=True)) == {S.RECEIVED, S.ISSUED}


def test_database_refuses_a_second_live_card_for_a_member(tree):
    card = make_card(tree.unit_a1)
    with pytest.raises(IntegrityError):
        Card.objects.create(member=card.member, union=card.union, applied_at=timezone.now())


def test_database_refuses_an_issued_card_without_a_number(tree):
    card = make_card(tree.unit_a1, status=S.IN_BATCH)
    with pytest.raises(IntegrityError):
        Card.objects.filter(pk=card.pk).update(status=S.ISSUED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_live_card_holds_when_two_threads_apply_for_the_same_member(tree):
    # given one member without a card
    member = make_member(tree.unit_a1)
    barrier = threading.Barrier(2)
    outcomes = []

    def apply():
        try:
            barrier.wait(timeout=5)
            outcomes.append(len(cards_apply(members=[member])))
        except IntegrityError:
            outcomes.append("integrity")
        finally:
            connection.close()

    # when two threads apply at the same moment
    threads = [threading.Thread(target=apply) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one card exists, and the other attempt created nothing
    assert Card.objects.filter(member=member).count() == 1
    assert sorted(map(str, outcomes)) in (["0", "1"], ["1", "integrity"])
    assert stored_union_months() == recount_union_months()


def test_counters_equal_a_recount_after_a_mixed_workload(tree):
    # given cards applied and moved across months, with rejections, losses and replacements
    def at(y, m, d=10):
        return timezone.make_aware(datetime(y, m, d, 9, 0))

    cards = [
        make_card(u, at=at(2016, 4)) for u in (tree.unit_a1, tree.unit_a2, tree.unit_b1) for _ in range(4)
    ]
    ids = [c.pk for c in cards]
    cards_transition(cards=ids, to_status=S.IN_BATCH, at=at(2016, 5))
    cards_transition(
        cards=ids[:2],
        to_status=S.REJECTED_BY_BANK,
        at=at(2016, 6),
        updates={ids[0]: {"bank_reason": "证件过期"}},
    )
    cards_transition(cards=ids[:1], to_status=S.APPLIED, at=at(2016, 7))
    cards_transition(
        cards=ids[2:],
        to_status=S.ISSUED,
        at=at(2016, 6, 30),
        updates={i: {"number": card_number()} for i in ids[2:]},
    )
    cards_transition(cards=ids[2:9], to_status=S.RECEIVED, at=at(2016, 7, 1))
    cards_transition(cards=ids[2:6], to_status=S.DISTRIBUTED, at=at(2016, 8))
    cards_transition(cards=ids[2:4], to_status=S.ACTIVATED, at=at(2016, 12, 31))
    replacement = card_report_lost(card=Card.objects.get(pk=ids[3]), actor=None, at=at(2017, 1))
    cards_transition(cards=[replacement.pk], to_status=S.IN_BATCH, at=at(2017, 2))
    cards_transition(
        cards=[replacement.pk],
        to_status=S.ISSUED,
        at=at(2017, 3),
        updates={replacement.pk: {"number": card_number()}},
    )
    cards_transition(cards=[ids[9]], to_status=S.CANCELLED, at=at(2017, 3))
    # then the stored counters equal the recount exactly, and the replacement added nothing
    stored = stored_union_months()
    assert stored == recount_union_months()
    assert sum(n for (_, _, metric), n in stored.items() if metric == "issued") == 10
    assert sum(n for (_, m, metric), n in stored.items() if metric == "activated" and m.year == 2016) == 2
    assert not UnionMonthCount.objects.filter(month__year=2017, metric="issued").exists()


def test_registration_hook_applies_for_new_members_once_with_events_and_counters(tree, reviewer):
    # given three new members, one of whom already holds a live card
    members = [make_member(tree.unit_a1, is_hardship=(n == 0)) for n in range(3)]
    cards_apply(members=[members[2]])
    at = timezone.make_aware(datetime(2016, 5, 10, 9))
    # when registration calls the hook with their ids
    created = cards_apply_registered(member_ids=[m.pk for m in members], actor=reviewer, at=at)
    # then the two without a card get one (hardship kept), each with an `applied` event by the
    # reviewer, and the monthly counter counts them; the third keeps its one live card
    assert created == 2
    new = Card.objects.filter(member__in=members[:2]).order_by("member_id")
    assert [(c.status, c.is_hardship, c.union_id) for c in new] == [
        (S.APPLIED, True, tree.unit_a1.pk),
        (S.APPLIED, False, tree.unit_a1.pk),
    ]
    assert Card.objects.filter(member=members[2]).count() == 1
    assert [(e.to_status, e.actor_id) for e in CardEvent.objects.filter(card__in=new)] == [
        (S.APPLIED, reviewer.pk)
    ] * 2
    may = UnionMonthCount.objects.get(union=tree.unit_a1, metric="applied", month=datetime(2016, 5, 1).date())
    assert may.count == 2
    # and calling it again (a re-run) creates nothing
    assert cards_apply_registered(member_ids=[m.pk for m in members], actor=reviewer, at=at) == 0
    assert recount_union_months() == stored_union_months()


def test_card_events_still_go_with_their_card_and_outlive_their_actor(tree, reviewer):
    # the event log has no database foreign keys; Django's on_delete still applies
    card = cards_apply(members=[make_member(tree.unit_a1)], actor=reviewer)[0]
    event = CardEvent.objects.get(card=card)
    reviewer.delete()
    event.refresh_from_db()
    assert event.actor_id is None
    card.delete()
    assert not CardEvent.objects.filter(pk=event.pk).exists()
