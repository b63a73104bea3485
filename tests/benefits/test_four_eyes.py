"""Four eyes on aid money (issue 10, finding 2): prepared by one person, approved by a reviewer of a
higher union, confirmed by a third person; amount caps per member and per batch; every step
audited with its amounts. Each denied step also asserts that nothing changed."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from benefits.models import Disbursement, DisbursementLine
from benefits.seed import programmes_seed
from benefits.services.bankfiles import disbursement_confirm, disbursement_export
from benefits.services.disbursements import (
    Entry,
    disbursement_add_entries,
    disbursement_add_filtered,
    disbursement_approve,
    disbursement_create,
    disbursement_remove_line,
    disbursement_return,
    disbursement_submit,
)
from benefits.services.payment_sheets import disbursement_import_sheet
from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry

from ..factories import ROLE, make_member, make_staff
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db


def csv_bytes(rows) -> bytes:
    return "\n".join(",".join(str(c) for c in row) for row in rows).encode("utf-8")


def holders(union, n, **fields):
    members = []
    for i in range(n):
        m = make_member(union, name=f"会员{i}", **fields)
        give_card(m)
        members.append(m)
    return members


def snapshot(batch):
    """Everything a denied action must leave as it was."""
    batch = Disbursement.objects.get(pk=batch.pk)
    return (
        batch.state,
        batch.approved_by_id,
        batch.approved_total,
        batch.payment_file.name,
        list(batch.lines.order_by("id").values_list("member_id", "amount", "status")),
        AuditEntry.objects.filter(target_type="benefits.disbursement", target_id=str(batch.pk)).count(),
    )


def refused(call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        call(**kwargs)
    return exc.value


def audit_rows(batch):
    return [
        (e.verb, e.actor.username if e.actor else None, e.data)
        for e in AuditEntry.objects.filter(
            target_type="benefits.disbursement", target_id=str(batch.pk)
        ).order_by("id")
    ]


def export_now(batch, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=actor)
    batch.refresh_from_db()
    return batch


# --- the attack of the issue, step by step -----------------------------------------------------
def test_one_clerk_cannot_pay_out_aid_alone_and_three_people_can(
    tree, clerk, reviewer, bank_operator, run_tasks_inline, django_capture_on_commit_callbacks
):
    members = holders(tree.unit_a1, 50)
    numbers = [m.cards.get().number for m in members]
    batch = disbursement_create(name="2026年春节送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)

    # 50 members at 50,000 yuan each: refused, every line named, nothing added.
    upload = csv_bytes([["卡号", "金额"], *[[n, "50000"] for n in numbers]])
    exc = refused(
        disbursement_import_sheet, disbursement=batch, data=upload, filename="名单.csv", actor=clerk
    )
    assert len(exc.extra["errors"]) == 50
    assert exc.extra["errors"][0] == (
        "第2行：会员0金额50,000.00元超过每人上限2,000.00元（“送温暖”发放类别默认上限）"
    )
    assert exc.extra["errors"][49].startswith("第51行：会员49金额50,000.00元超过每人上限")
    assert batch.lines.count() == 0

    # Within the cap the clerk builds the list, but cannot generate the payment file.
    upload = csv_bytes([["卡号", "金额"], *[[n, "500"] for n in numbers]])
    assert disbursement_import_sheet(disbursement=batch, data=upload, filename="名单.csv", actor=clerk) == 50
    before = snapshot(batch)
    exc = refused(disbursement_export, disbursement=batch, actor=clerk)
    assert (exc.code, exc.message) == ("forbidden", "批次须经审批后才能生成银行代发文件")
    assert snapshot(batch) == before

    disbursement_submit(disbursement=batch, actor=clerk)
    # The clerk cannot approve their own batch, nor can a colleague of the same union.
    colleague = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1-2")
    own_union_reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.unit_a1, username="reviewer-in-unit")
    before = snapshot(batch)
    for actor, message in [
        (clerk, "经办人不能审批自己编制的批次，须由上级工会审批"),
        (colleague, "只有上级工会的审核人员可以审批发放批次"),
        (own_union_reviewer, "审批人须属于经办人所在工会的上级工会"),
    ]:
        assert refused(disbursement_approve, disbursement=batch, actor=actor).message == message
        assert refused(disbursement_export, disbursement=batch, actor=actor).code == "forbidden"
    # and nobody can slip a line in after submission
    extra = holders(tree.unit_a1, 1)[0]
    exc = refused(
        disbursement_add_entries,
        disbursement=batch,
        entries=[Entry(member=extra, amount=Decimal("500"), where="x")],
        actor=clerk,
        source="t",
    )
    assert exc.message == "批次待审批，名单不能再修改"
    assert snapshot(batch) == before

    # The county reviewer approves; then the clerk may generate the file.
    disbursement_approve(disbursement=batch, actor=reviewer)
    batch = export_now(batch, clerk, django_capture_on_commit_callbacks)
    assert (batch.state, batch.manifest["lines"], batch.manifest["total"]) == ("exported", 50, "25000.00")

    # The bank result saying 成功: neither the preparer nor the approver may upload it.
    result = csv_bytes([["卡号", "金额", "结果"], *[[n, "500.00", "成功"] for n in numbers]])
    before = snapshot(batch)
    for actor, message in [
        (clerk, "经办人不能确认自己编制的批次的发放结果，须由第三人导入银行回盘"),
        (reviewer, "审批人不能确认自己审批的批次的发放结果，须由第三人导入银行回盘"),
        (colleague, "只有银行经办员或上级工会审核人员可以导入银行回盘"),
    ]:
        exc = refused(disbursement_confirm, disbursement=batch, data=result, filename="回盘.csv", actor=actor)
        assert (exc.code, exc.message) == ("forbidden", message)
    assert snapshot(batch) == before

    # A third person, the bank operator, confirms: 50 lines paid, batch closed.
    outcome = disbursement_confirm(disbursement=batch, data=result, filename="回盘.csv", actor=bank_operator)
    assert outcome == {"paid": 50, "failed": 0, "unchanged": 0}
    batch.refresh_from_db()
    assert batch.state == "closed" and batch.get_state_display() == "已确认"
    assert batch.lines.filter(status="paid").count() == 50

    # Every step is in the audit log, with its amounts.
    assert audit_rows(batch) == [
        (
            "disbursement.created",
            "clerk-a1",
            {"kind": "warmth", "per_member_limit": "2000.00", "batch_limit": "1000000.00"},
        ),
        (
            "disbursement.lines_added",
            "clerk-a1",
            {"source": "upload:名单.csv", "count": 50, "amount": "25000.00"},
        ),
        ("disbursement.submitted", "clerk-a1", {"count": 50, "total": "25000.00"}),
        (
            "disbursement.approved",
            "reviewer-a",
            {"count": 50, "total": "25000.00", "per_member_limit": "2000.00", "batch_limit": "1000000.00"},
        ),
        ("disbursement.export_requested", "clerk-a1", {"count": 50, "total": "25000.00"}),
        ("disbursement.exported", "clerk-a1", batch.manifest),
        (
            "disbursement.confirmed",
            "bank",
            {
                "file": "回盘.csv",
                "paid": 50,
                "paid_amount": "25000.00",
                "failed": 0,
                "failed_amount": "0.00",
                "closed": True,
            },
        ),
    ]


def test_only_the_preparer_builds_the_list(tree, clerk, reviewer):
    (member,) = holders(tree.unit_a1, 1)
    batch = disbursement_create(name="日常救助", kind="daily_relief", union=tree.unit_a1, actor=clerk)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=member, amount=Decimal("800"), where="x")],
        actor=clerk,
        source="t",
    )
    line = batch.lines.get()
    before = snapshot(batch)
    # the future approver cannot add to or remove from a list they will approve
    exc = refused(
        disbursement_add_filtered,
        disbursement=batch,
        union=tree.unit_a1,
        amount=Decimal("100"),
        actor=reviewer,
    )
    assert exc.message == "只有本批次的经办人（创建人）可以修改名单和提交审批"
    assert refused(disbursement_remove_line, line=line, actor=reviewer).code == "forbidden"
    assert refused(disbursement_submit, disbursement=batch, actor=reviewer).code == "forbidden"
    assert snapshot(batch) == before


def test_a_bank_operator_cannot_prepare_a_batch(tree, bank_operator):
    exc = refused(disbursement_create, name="x", kind="warmth", union=tree.city, actor=bank_operator)
    assert exc.message == "只能为本级及下级工会建立发放批次"
    assert Disbursement.objects.count() == 0


def test_the_approver_stands_above_the_preparer_not_only_above_the_batch(
    tree, city_staff, reviewer, province_staff
):
    """City staff prepare a batch for a grassroots union: the county reviewer (above the batch,
    below the preparer) may not approve it; provincial staff may."""
    (member,) = holders(tree.unit_a1, 1)
    batch = disbursement_create(name="金秋助学", kind="school_aid", union=tree.unit_a1, actor=city_staff)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=member, amount=Decimal("3000"), where="x")],
        actor=city_staff,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=city_staff)
    before = snapshot(batch)
    assert (
        refused(disbursement_approve, disbursement=batch, actor=reviewer).message
        == "审批人须属于经办人所在工会的上级工会"
    )
    other_city = make_staff(ROLE.CITY_STAFF, tree.city, username="city-2")
    assert (
        refused(disbursement_approve, disbursement=batch, actor=other_city).message
        == "审批人须属于经办人所在工会的上级工会"
    )
    county_b = make_staff(ROLE.COUNTY_REVIEWER, tree.county_b, username="reviewer-b")
    assert (
        refused(disbursement_approve, disbursement=batch, actor=county_b).message
        == "只有上级工会的审核人员可以审批发放批次"
    )
    assert snapshot(batch) == before
    disbursement_approve(disbursement=batch, actor=province_staff)
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by, batch.approved_count, batch.approved_total) == (
        "approved",
        province_staff,
        1,
        Decimal("3000.00"),
    )


def test_return_sends_the_list_back_to_its_preparer_with_the_reason(tree, clerk, reviewer):
    (member,) = holders(tree.unit_a1, 1)
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=member, amount=Decimal("600"), where="x")],
        actor=clerk,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=clerk)
    before = snapshot(batch)
    assert (
        refused(disbursement_return, disbursement=batch, reason="", actor=reviewer).code == "reason_required"
    )
    assert refused(disbursement_return, disbursement=batch, reason="自退", actor=clerk).code == "forbidden"
    assert snapshot(batch) == before
    disbursement_return(disbursement=batch, reason="请附困难职工建档编号", actor=reviewer)
    batch.refresh_from_db()
    assert (batch.state, batch.return_reason) == ("draft", "请附困难职工建档编号")
    assert audit_rows(batch)[-1] == (
        "disbursement.returned",
        "reviewer-a",
        {"count": 1, "total": "600.00", "reason": "请附困难职工建档编号"},
    )
    # the preparer may change the list again and resubmit
    disbursement_remove_line(line=batch.lines.get(), actor=clerk)
    assert batch.lines.count() == 0


# --- amount rules at the boundary ---------------------------------------------------------------
def test_per_member_cap_of_a_kind_at_the_boundary(tree, clerk):
    a, b = holders(tree.unit_a1, 2)
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)
    exc = refused(
        disbursement_add_entries,
        disbursement=batch,
        entries=[
            Entry(member=a, amount=Decimal("2000.00"), where="第2行"),
            Entry(member=b, amount=Decimal("2000.01"), where="第3行"),
        ],
        actor=clerk,
        source="t",
    )
    assert exc.extra["errors"] == [
        "第3行：会员1金额2,000.01元超过每人上限2,000.00元（“送温暖”发放类别默认上限）"
    ]
    assert batch.lines.count() == 0
    exc = refused(
        disbursement_add_filtered,
        disbursement=batch,
        union=tree.unit_a1,
        amount=Decimal("2000.01"),
        actor=clerk,
    )
    assert exc.message == "每人金额2,000.01元超过每人上限2,000.00元（“送温暖”发放类别默认上限）"
    assert batch.lines.count() == 0
    result = disbursement_add_filtered(
        disbursement=batch, union=tree.unit_a1, amount=Decimal("2000.00"), actor=clerk
    )
    assert result == {"added": 2, "skipped": []}


def test_programme_caps_per_member_and_per_batch_at_the_boundary(tree, city_staff):
    programme = programmes_seed(union=tree.province, valid_from=date(2016, 1, 1))["cataract"]
    a, b, c = holders(tree.unit_a1, 3)  # enterprise unit: the 500 tier
    batch = disbursement_create(
        name="白内障补贴", kind="claims", union=tree.city, programme=programme, actor=city_staff
    )
    # blank caps: the programme's highest tier (500, seed 000 附件2 Q6) per member
    exc = refused(
        disbursement_add_entries,
        disbursement=batch,
        entries=[Entry(member=a, amount=Decimal("500.01"), where="第2行")],
        actor=city_staff,
        source="t",
    )
    assert exc.extra["errors"] == [
        "第2行：会员0金额500.01元超过每人上限500.00元（“白内障光明保障项目”最高档次金额；“项目理赔/补贴”发放类别默认上限）"
    ]
    # the admin sets the programme's caps: 400 per member, 800 per batch
    programme.max_per_member, programme.max_per_batch = Decimal("400"), Decimal("800")
    programme.save()
    batch.refresh_from_db()
    disbursement_add_entries(
        disbursement=batch,
        entries=[
            Entry(member=a, amount=Decimal("400.00"), where="第2行"),
            Entry(member=b, amount=Decimal("399.99"), where="第3行"),
        ],
        actor=city_staff,
        source="t",
    )
    exc = refused(
        disbursement_add_entries,
        disbursement=batch,
        entries=[Entry(member=c, amount=Decimal("0.02"), where="第2行")],
        actor=city_staff,
        source="t",
    )
    assert exc.code == "batch_limit"
    assert exc.message == (
        "名单未加入：加入后批次合计800.01元，超过每批上限800.00元"
        "（“白内障光明保障项目”设定的每人上限；“白内障光明保障项目”设定的每批上限）；本次1人合计0.02元"
    )
    assert batch.lines.count() == 2
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=c, amount=Decimal("0.01"), where="第2行")],
        actor=city_staff,
        source="t",
    )
    assert sum(batch.lines.values_list("amount", flat=True)) == Decimal("800.00")


def test_caps_lowered_after_submission_stop_the_approval_naming_the_line(tree, city_staff, province_staff):
    programme = programmes_seed(union=tree.province, valid_from=date(2016, 1, 1))["cataract"]
    (a,) = holders(tree.unit_a1, 1)
    a.name = "李四"
    a.save()
    batch = disbursement_create(
        name="白内障补贴", kind="claims", union=tree.city, programme=programme, actor=city_staff
    )
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=a, amount=Decimal("500"), where="x")],
        actor=city_staff,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=city_staff)
    programme.max_per_member = Decimal("300")
    programme.save()
    before = snapshot(batch)
    exc = refused(disbursement_approve, disbursement=batch, actor=province_staff)
    tail = a.cards.get().number[-4:]
    assert exc.extra["errors"] == [
        f"李四（卡号尾号{tail}）金额500.00元超过每人上限300.00元"
        "（“白内障光明保障项目”设定的每人上限；“项目理赔/补贴”发放类别默认上限）"
    ]
    assert exc.message.startswith("不能审批：")
    assert snapshot(batch) == before


# --- the export checks what was approved ---------------------------------------------------------
def test_a_line_slipped_in_after_approval_stops_the_export(
    tree, clerk, reviewer, run_tasks_inline, django_capture_on_commit_callbacks
):
    a, b = holders(tree.unit_a1, 2)
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=a, amount=Decimal("500"), where="x")],
        actor=clerk,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=clerk)
    disbursement_approve(disbursement=batch, actor=reviewer)
    card = b.cards.get()
    DisbursementLine.objects.create(  # behind the services' back (admin shell, SQL)
        disbursement=batch, member=b, card=card, card_number=card.number, name=b.name, amount=Decimal("1999")
    )
    batch = export_now(batch, clerk, django_capture_on_commit_callbacks)
    assert (batch.state, batch.job_status, batch.payment_file.name, batch.approved_by) == (
        "draft",
        "failed",
        "",
        None,
    )
    assert (
        batch.job_message == "名单（2人，2499.00元）与审批时（1人，500.00元）不符，已退回草稿，须重新提交审批"
    )
    assert audit_rows(batch)[-1][:2] == ("disbursement.export_refused", None)


def test_the_database_refuses_an_approver_who_is_the_preparer(tree, clerk):
    batch = disbursement_create(name="x", kind="warmth", union=tree.unit_a1, actor=clerk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Disbursement.objects.filter(pk=batch.pk).update(approved_by=clerk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Disbursement.objects.filter(pk=batch.pk).update(state="approved")  # no approval time


def test_a_queued_export_of_a_batch_not_exporting_writes_nothing(tree, clerk):
    """A job queued before the four-eyes migration, for a batch now waiting for approval."""
    from benefits.services.bankfiles import disbursement_write_payment_file

    (member,) = holders(tree.unit_a1, 1)
    batch = disbursement_create(name="送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=member, amount=Decimal("500"), where="x")],
        actor=clerk,
        source="t",
    )
    disbursement_submit(disbursement=batch, actor=clerk)
    before = snapshot(batch)
    disbursement_write_payment_file(batch.pk)
    assert snapshot(batch) == before
