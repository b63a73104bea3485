"""Refunds before and after payout, and the monthly batch through benefits' disbursement
workflow (four eyes, bank file, the bank's result)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from benefits.models import DisbursementLine
from benefits.services.bankfiles import disbursement_confirm, disbursement_export
from benefits.subsidies.models import SubsidyEarning
from benefits.subsidies.services import subsidies_compute, subsidy_batch_build, subsidy_monthly_batches
from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from issuance.models import Card

from ..factories import ROLE, approve_disbursement, make_staff
from ..issuance.factories import csv_bytes
from .factories import at, campaign, holder, import_rows, make_world, txn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
D = Decimal
NOV, DEC = date(2026, 11, 10), date(2026, 12, 3)


def pay_out(w, batch, django_capture_on_commit_callbacks, failed_cards=()):
    """Submit, approve (province), export and confirm with the bank's 成功 for every line (失败 for
    the lines of `failed_cards`)."""
    approve_disbursement(batch, preparer=w.staff, tree=w.tree)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=w.staff)
    lines = list(batch.lines.all())
    failed = {card.number for card in failed_cards}
    result = csv_bytes(
        [
            ["卡号", "金额", "结果"],
            *[
                [ln.card_number, str(ln.amount), "失败" if ln.card_number in failed else "成功"]
                for ln in lines
            ],
        ]
    )
    bank = make_staff(ROLE.BANK_OPERATOR, w.tree.city)
    return disbursement_confirm(disbursement=batch, data=result, filename="回盘.csv", actor=bank)


def spent_matches(c) -> bool:
    c.refresh_from_db()
    total = SubsidyEarning.objects.filter(campaign=c, after_payout=False).exclude(
        status="cancelled"
    ).aggregate(s=Sum("amount"))["s"] or D("0")
    return c.spent == total


def test_refund_before_payout_cancels_the_subsidy_and_gives_the_budget_back():
    w = make_world()
    c = campaign(w)
    card = holder(w.tree.unit_a1)
    buy = txn(card, w.canteen, "80.00", at(NOV))
    part = txn(card, w.canteen, "50.00", at(NOV, 13))
    subsidies_compute(txn_import_id=import_rows(w, [buy, part]).pk)
    c.refresh_from_db()
    assert c.spent == D("13.00")
    refunds = import_rows(
        w,
        [
            txn(card, w.canteen, "80.00", at(NOV, 18), kind="refund", original=buy["reference"]),
            txn(
                card, w.canteen, "20.00", at(NOV, 19), kind="reversal", original=part["reference"]
            ),  # partial
        ],
    )
    outcome = subsidies_compute(txn_import_id=refunds.pk)
    assert (outcome.cancelled, outcome.clawbacks) == (1, 1)
    full = SubsidyEarning.objects.get(campaign=c, reference=buy["reference"], amount__gt=0)
    assert full.status == "cancelled"
    assert SubsidyEarning.objects.get(campaign=c, amount__lt=0).amount == D("-2.00")  # 5 * 20/50
    c.refresh_from_db()
    assert c.spent == D("3.00") and spent_matches(c)
    # the same refund file again changes nothing
    assert subsidies_compute(txn_import_id=refunds.pk).cancelled == 0
    assert SubsidyEarning.objects.filter(campaign=c).count() == 3
    # the month's batch pays the net: 5 - 2
    result = subsidy_batch_build(campaign=c, month=NOV, actor=w.staff)
    assert (result["count"], result["total"]) == (1, D("3.00"))


def test_refund_after_payout_is_deducted_from_the_next_month(django_capture_on_commit_callbacks):
    w = make_world()
    c = campaign(w)
    card, other = holder(w.tree.unit_a1), holder(w.tree.unit_b1)
    buy = txn(card, w.canteen, "100.00", at(NOV))
    subsidies_compute(txn_import_id=import_rows(w, [buy, txn(other, w.bookshop, "40.00", at(NOV))]).pk)
    result = subsidy_batch_build(campaign=c, month=NOV, actor=w.staff)
    batch = result["disbursement"]
    assert (result["count"], result["total"], batch.programme_id) == (2, D("14.00"), c.programme_id)
    assert pay_out(w, batch, django_capture_on_commit_callbacks)["paid"] == 2
    assert set(SubsidyEarning.objects.filter(campaign=c).values_list("line__status", flat=True)) == {"paid"}

    # December: the November purchase is refunded; the member also buys again.
    refund = txn(card, w.canteen, "100.00", at(DEC), kind="refund", original=buy["reference"])
    subsidies_compute(txn_import_id=import_rows(w, [refund, txn(card, w.canteen, "150.00", at(DEC, 14))]).pk)
    back = SubsidyEarning.objects.get(campaign=c, amount__lt=0)
    assert (back.amount, back.after_payout, back.month, back.status) == (
        D("-10.00"),
        True,
        DEC.replace(day=1),
        "earned",
    )
    c.refresh_from_db()
    assert c.spent == D("29.00") and spent_matches(c)  # 14 paid + 15 new; the paid 10 stays spent
    december = subsidy_batch_build(campaign=c, month=DEC, actor=w.staff)
    line = DisbursementLine.objects.get(disbursement=december["disbursement"])
    assert (line.member_id, line.amount) == (card.member_id, D("5.00"))  # 15 - 10


def test_earnings_of_a_line_the_bank_failed_are_paid_again_next_month(django_capture_on_commit_callbacks):
    w = make_world()
    c = campaign(w)
    paid_card, failed_card = holder(w.tree.unit_a1), holder(w.tree.unit_b1)
    subsidies_compute(
        txn_import_id=import_rows(
            w, [txn(paid_card, w.canteen, "100.00", at(NOV)), txn(failed_card, w.bookshop, "40.00", at(NOV))]
        ).pk
    )
    november = subsidy_batch_build(campaign=c, month=NOV, actor=w.staff)["disbursement"]
    confirmed = pay_out(w, november, django_capture_on_commit_callbacks, failed_cards=[failed_card])
    assert (confirmed["paid"], confirmed["failed"]) == (1, 1)
    subsidies_compute(
        txn_import_id=import_rows(
            w, [txn(paid_card, w.canteen, "30.00", at(DEC)), txn(failed_card, w.bookshop, "20.00", at(DEC))]
        ).pk
    )

    december = subsidy_batch_build(campaign=c, month=DEC, actor=w.staff)

    lines = {
        ln.member_id: ln for ln in DisbursementLine.objects.filter(disbursement=december["disbursement"])
    }
    # the failed 4 yuan of November comes again with December's 2; the paid 10 does not
    assert {m: ln.amount for m, ln in lines.items()} == {
        paid_card.member_id: D("3.00"),
        failed_card.member_id: D("6.00"),
    }
    assert december["total"] == D("9.00")
    again = SubsidyEarning.objects.filter(campaign=c, member_id=failed_card.member_id)
    assert set(again.values_list("status", "line_id")) == {("batched", lines[failed_card.member_id].pk)}
    paid = SubsidyEarning.objects.get(campaign=c, member_id=paid_card.member_id, month=NOV.replace(day=1))
    assert (paid.status, paid.line.disbursement_id, paid.line.status) == ("batched", november.pk, "paid")
    assert subsidy_batch_build(campaign=c, month=DEC, actor=w.staff)["disbursement"] is None


def test_net_not_positive_or_no_live_card_is_carried_forward(django_capture_on_commit_callbacks):
    w = make_world()
    c = campaign(w)
    card, lost = holder(w.tree.unit_a1), holder(w.tree.unit_a2)
    buy = txn(card, w.canteen, "100.00", at(NOV))
    subsidies_compute(txn_import_id=import_rows(w, [buy, txn(lost, w.canteen, "60.00", at(NOV))]).pk)
    Card.objects.filter(pk=lost.pk).update(status=Card.Status.LOST)
    first = subsidy_batch_build(campaign=c, month=NOV, actor=w.staff)
    assert (first["count"], first["no_card"]) == (1, 1)
    pay_out(w, first["disbursement"], django_capture_on_commit_callbacks)
    refund = txn(card, w.canteen, "100.00", at(DEC), kind="refund", original=buy["reference"])
    subsidies_compute(txn_import_id=import_rows(w, [refund]).pk)
    again = subsidy_batch_build(campaign=c, month=DEC, actor=w.staff)
    assert again["disbursement"] is None  # -10 for one member, no card for the other
    assert SubsidyEarning.objects.filter(campaign=c, status="earned").count() == 2


def test_batch_is_audited_refused_outside_scope_and_the_beat_builds_last_month():
    w = make_world()
    c = campaign(w)
    subsidies_compute(
        txn_import_id=import_rows(w, [txn(holder(w.tree.unit_a1), w.canteen, "30.00", at(NOV))]).pk
    )
    clerk = make_staff(ROLE.CLERK, w.tree.unit_a1)
    with pytest.raises(ApplicationError) as exc:
        subsidy_batch_build(campaign=c, month=NOV, actor=clerk)
    assert exc.value.code == "forbidden"
    built = subsidy_monthly_batches(month=NOV)
    assert [r["total"] for r in built] == [D("3.00")]
    assert built[0]["disbursement"].created_by == w.staff  # the campaign's creator prepares it
    assert subsidy_monthly_batches(month=NOV) == []  # nothing left to pay
    verbs = set(
        AuditEntry.objects.filter(target_type="subsidies.subsidycampaign").values_list("verb", flat=True)
    )
    assert verbs == {"subsidy_campaign.created", "subsidy_campaign.computed", "subsidy_campaign.batch_built"}
