from datetime import timedelta

import pytest
from django.utils import timezone

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from issuance.lifecycle import recount_union_months, stored_union_months
from issuance.models import ActivationSession, Card, CardEvent, CardNotice, CardReceipt
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from issuance.services.cards import card_report_lost
from issuance.services.receipt import activation_session_record, cards_distribute, cards_receive

from .factories import card_number, csv_bytes, make_card, xlsx_bytes

pytestmark = pytest.mark.django_db
S = Card.Status


def test_receipt_with_matching_count_moves_the_ticked_cards(tree, clerk):
    cards = [make_card(tree.unit_a1, status=S.ISSUED) for _ in range(3)]
    receipt = cards_receive(union=tree.unit_a1, card_ids=[c.pk for c in cards[:2]], counted=2, actor=clerk)
    assert (receipt.accepted, receipt.expected, receipt.selected, receipt.counted) == (True, 3, 2, 2)
    assert [Card.objects.get(pk=c.pk).status for c in cards] == [S.RECEIVED, S.RECEIVED, S.ISSUED]
    assert AuditEntry.objects.filter(verb="cards.received", actor=clerk).count() == 1


def test_receipt_with_a_count_mismatch_is_recorded_and_moves_nothing(tree, clerk):
    cards = [make_card(tree.unit_a1, status=S.ISSUED) for _ in range(3)]
    events = CardEvent.objects.count()
    receipt = cards_receive(union=tree.unit_a1, card_ids=[c.pk for c in cards], counted=2, actor=clerk)
    assert (receipt.accepted, receipt.mismatch) == (False, True)
    assert CardReceipt.objects.get().counted == 2
    assert set(Card.objects.values_list("status", flat=True)) == {S.ISSUED}
    assert CardEvent.objects.count() == events
    assert AuditEntry.objects.filter(verb="cards.receipt_mismatch").count() == 1


def test_clerk_cannot_receive_another_unions_cards(tree, clerk):
    other = make_card(tree.unit_b1, status=S.ISSUED)
    with pytest.raises(ApplicationError):
        cards_receive(union=tree.unit_a1, card_ids=[other.pk], counted=1, actor=clerk)
    assert Card.objects.get(pk=other.pk).status == S.ISSUED
    assert not CardReceipt.objects.exists()


def test_distribution_by_ticks_and_by_scanned_numbers(tree, clerk):
    a, b, c = (make_card(tree.unit_a1, status=S.RECEIVED) for _ in range(3))
    moved = cards_distribute(
        union=tree.unit_a1, card_ids=[a.pk], numbers=[f" {b.number[:6]} {b.number[6:]}"], actor=clerk
    )
    assert moved == 2
    assert [Card.objects.get(pk=x.pk).status for x in (a, b, c)] == [S.DISTRIBUTED, S.DISTRIBUTED, S.RECEIVED]


def test_distributing_a_card_never_received_refuses_the_lot(tree, clerk):
    received = make_card(tree.unit_a1, status=S.RECEIVED)
    issued = make_card(tree.unit_a1, status=S.ISSUED)
    with pytest.raises(ApplicationError) as err:
        cards_distribute(union=tree.unit_a1, numbers=[received.number, issued.number], actor=clerk)
    assert "不能变更为“已发放”" in err.value.message
    assert Card.objects.get(pk=received.pk).status == S.RECEIVED
    assert Card.objects.get(pk=issued.pk).status == S.ISSUED


def test_unknown_scanned_number_is_named_and_nothing_moves(tree, clerk):
    received = make_card(tree.unit_a1, status=S.RECEIVED)
    stranger = make_card(tree.unit_b1, status=S.RECEIVED)
    with pytest.raises(ApplicationError) as err:
        cards_distribute(union=tree.unit_a1, numbers=[received.number, stranger.number], actor=clerk)
    assert stranger.number in err.value.message
    assert Card.objects.get(pk=received.pk).status == S.RECEIVED


def test_activation_session_keeps_the_session_date(tree, clerk):
    made = timezone.now() - timedelta(days=9)
    cards = [make_card(tree.unit_a1, status=S.DISTRIBUTED, at=made) for _ in range(2)]
    day = timezone.localdate() - timedelta(days=3)
    session = activation_session_record(
        union=tree.unit_a1, held_on=day, place="职工之家", card_ids=[c.pk for c in cards], actor=clerk
    )
    assert session.activated == 2 and ActivationSession.objects.count() == 1
    assert {timezone.localtime(c.activated_at).date() for c in Card.objects.all()} == {day}


def test_activation_session_before_distribution_is_refused(tree, clerk):
    card = make_card(tree.unit_a1, status=S.DISTRIBUTED)
    with pytest.raises(ApplicationError) as err:
        activation_session_record(
            union=tree.unit_a1,
            held_on=timezone.localdate() - timedelta(days=3),
            card_ids=[card.pk],
            actor=clerk,
        )
    assert err.value.code == "before_distribution"
    assert Card.objects.get(pk=card.pk).status == S.DISTRIBUTED and not ActivationSession.objects.exists()


def test_activation_file_import(tree, bank_user, run_tasks_inline, django_capture_on_commit_callbacks):
    made = timezone.now() - timedelta(days=60)
    distributed = make_card(tree.unit_a1, status=S.DISTRIBUTED, at=made)
    received = make_card(tree.unit_a1, status=S.RECEIVED, at=made)
    activated = make_card(tree.unit_a1, status=S.ACTIVATED, at=made)
    lost = make_card(tree.unit_a1, status=S.LOST, at=made)
    day = timezone.localdate() - timedelta(days=30)
    data = xlsx_bytes(
        [
            ["卡号", "激活日期"],
            [distributed.number, day.isoformat()],
            [received.number, f"{day.year}/{day.month}/{day.day}"],
            [activated.number, day.strftime("%Y%m%d")],
            [lost.number, day.isoformat()],
            [card_number(), day.isoformat()],
            [distributed.number[:-1] + "x", day.isoformat()],
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        imp = import_create(
            kind="activation", union=tree.city, file_name="激活.xlsx", data=data, actor=bank_user
        )
    imp.refresh_from_db()
    assert imp.job_status == "done", imp.job_message
    assert imp.report["counts"] == {
        "activated": 2,
        "unknown": 1,
        "invalid": 1,
        "refused": 1,
        "unchanged": 1,
        "rows": 6,
    }
    distributed.refresh_from_db()
    received.refresh_from_db()
    assert timezone.localtime(distributed.activated_at).date() == day
    assert received.status == S.ACTIVATED and timezone.localtime(received.distributed_at).date() == day
    assert stored_union_months() == recount_union_months()


def test_activation_before_the_card_was_made_is_invalid(
    tree, bank_user, run_tasks_inline, django_capture_on_commit_callbacks
):
    card = make_card(tree.unit_a1, status=S.DISTRIBUTED)
    early = timezone.localdate() - timedelta(days=10)
    data = csv_bytes([["卡号", "激活日期"], [card.number, early.isoformat()]])
    with django_capture_on_commit_callbacks(execute=True):
        imp = import_create(kind="activation", union=tree.city, file_name="a.csv", data=data, actor=bank_user)
    imp.refresh_from_db()
    assert (
        imp.report["counts"]["invalid"] == 1 and "早于制卡日期" in imp.report["lists"]["invalid"][0]["reason"]
    )
    assert Card.objects.get(pk=card.pk).status == S.DISTRIBUTED


def test_activation_reimport_changes_nothing(
    tree, bank_user, run_tasks_inline, django_capture_on_commit_callbacks
):
    card = make_card(tree.unit_a1, status=S.DISTRIBUTED, at=timezone.now() - timedelta(days=5))
    data = csv_bytes([["卡号", "激活日期"], [card.number, timezone.localdate().isoformat()]])
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            imp = import_create(
                kind="activation", union=tree.city, file_name="a.csv", data=data, actor=bank_user
            )
    imp.refresh_from_db()
    assert imp.report["counts"]["unchanged"] == 1 and imp.report["counts"]["activated"] == 0
    assert CardEvent.objects.filter(card=card, to_status=S.ACTIVATED).count() == 1


def test_loss_closes_the_card_applies_for_a_replacement_and_tells_the_union(tree, clerk):
    card = make_card(tree.unit_a1, status=S.ACTIVATED, name="李四")
    counters = stored_union_months()
    new = card_report_lost(card=card, actor=clerk, note="本人遗失")
    card.refresh_from_db()
    assert card.status == S.LOST and card.closed_at is not None
    assert (new.status, new.replaces_id, new.member_id) == (S.APPLIED, card.pk, card.member_id)
    assert stored_union_months() == counters  # a replacement does not count again
    notice = CardNotice.objects.get()
    assert notice.kind == "lost" and card.number in notice.message and notice.union == tree.unit_a1


def test_replacement_number_replaces_the_old_one_with_a_notice(
    client, tree, clerk, city_staff, bank_user, partner, run_tasks_inline, django_capture_on_commit_callbacks
):
    card = make_card(tree.unit_a1, status=S.DISTRIBUTED, id_number="11010519491231002X")
    card_report_lost(card=card, actor=clerk)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    new_number = card_number()
    data = xlsx_bytes([["证件号码", "卡号", "状态"], ["11010519491231002X", new_number, "成功"]])
    with django_capture_on_commit_callbacks(execute=True):
        import_create(
            kind="return", union=tree.unit_a1, batch=batch, file_name="r.xlsx", data=data, actor=bank_user
        )
    live = Card.objects.get(member=card.member, status=S.ISSUED)
    assert live.number == new_number and live.replaces_id == card.pk
    notice = CardNotice.objects.get(kind="number_changed")
    assert f"卡号由 {card.number} 变更为 {new_number}" in notice.message
    client.force_login(clerk)
    union_page = client.get(f"/issuance/unions/{tree.unit_a1.pk}/").content.decode()
    member_page = client.get(card.member.get_absolute_url()).content.decode()
    assert notice.message in union_page and notice.message in member_page
    client.post(f"/issuance/notices/{notice.pk}/ack/", {"next": "/"})
    notice.refresh_from_db()
    assert notice.read_by == clerk
    assert notice.message not in client.get(f"/issuance/unions/{tree.unit_a1.pk}/").content.decode()
    assert stored_union_months() == recount_union_months()


def test_lost_card_cannot_be_reported_lost_twice(tree, clerk):
    card = make_card(tree.unit_a1, status=S.ISSUED)
    card_report_lost(card=card, actor=clerk)
    with pytest.raises(ApplicationError):
        card_report_lost(card=card, actor=clerk)
    assert Card.objects.filter(member=card.member).count() == 2
