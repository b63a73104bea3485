"""Aid paid to the card and a claim decided: the member gets a notice and an SMS, once each,
however often the bank's file is re-imported."""

from datetime import date
from decimal import Decimal

import pytest

from benefits.seed import programmes_seed
from benefits.services.bankfiles import disbursement_confirm, disbursement_export
from benefits.services.claims import claim_approve, claim_create, claim_reject
from benefits.services.disbursements import (
    Entry,
    disbursement_add_entries,
    disbursement_approve,
    disbursement_create,
    disbursement_submit,
)
from members.sms.models import Notice, SmsMessage

from ..factories import make_member
from ..merchants.factories import give_card

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


def _csv(rows) -> bytes:
    return "\n".join(",".join(str(c) for c in row) for row in rows).encode("utf-8")


def test_aid_paid_notifies_once_per_line(
    tree, city_staff, province_staff, bank_operator, django_capture_on_commit_callbacks
):
    paid, failed = make_member(tree.unit_a1, name="甲"), make_member(tree.unit_a1, name="乙")
    cards = [give_card(paid), give_card(failed)]
    batch = disbursement_create(name="2016年春节送温暖", kind="warmth", union=tree.city, actor=city_staff)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("500"), where=m.name) for m in (paid, failed)],
        actor=city_staff,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=city_staff)
    disbursement_approve(disbursement=batch, actor=province_staff)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    SmsMessage.objects.all().delete()  # the card notices of give_card: not what this test is about
    Notice.objects.all().delete()
    confirmation = _csv(
        [
            ["卡号", "金额", "结果", "失败原因"],
            [cards[0].number, "500.00", "成功", ""],
            [cards[1].number, "500.00", "失败", "账户状态异常"],
        ]
    )

    for _ in range(2):  # the same file twice
        with django_capture_on_commit_callbacks(execute=True):
            disbursement_confirm(
                disbursement=batch, data=confirmation, filename="回盘.csv", actor=bank_operator
            )

    notice = Notice.objects.get()
    line = batch.lines.get(member=paid)
    assert (notice.member, notice.kind, notice.key) == (paid, "aid_paid", f"aid-paid:{line.pk}")
    assert notice.params == {"programme": "送温暖", "amount": "500.00", "tail": cards[0].number[-4:]}
    sms = SmsMessage.objects.get()
    assert (sms.member, sms.template, sms.status) == (paid, "notice_aid_paid", "sent")


@pytest.fixture
def programmes(tree):
    return programmes_seed(union=tree.province)


def test_claim_decisions_notify_the_member(
    tree, programmes, clerk, reviewer, django_capture_on_commit_callbacks
):
    approved_member, rejected_member = make_member(tree.unit_a1), make_member(tree.unit_a1)
    give_card(approved_member)
    give_card(rejected_member)
    Notice.objects.all().delete()
    SmsMessage.objects.all().delete()
    on = date(2016, 9, 1)
    claims = [
        claim_create(
            programme=programmes["accident-fire"], member=m, incident_on=on, facts="家中失火", actor=clerk
        )
        for m in (approved_member, rejected_member)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        claim_approve(claim=claims[0], actor=reviewer)
        claim_reject(claim=claims[1], actor=reviewer, reason="材料不全")

    texts = {n.member_id: n.params["decision"] for n in Notice.objects.filter(kind="claim_decided")}
    assert texts == {approved_member.pk: "已批准", rejected_member.pk: "未通过（材料不全）"}
    assert sorted(SmsMessage.objects.values_list("key", "status")) == sorted(
        [(f"claim-decided:{c.pk}", "sent") for c in claims]
    )
