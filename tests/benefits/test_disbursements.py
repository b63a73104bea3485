from datetime import date
from decimal import Decimal

import pytest

from benefits.models import Disbursement, DisbursementLine
from benefits.seed import programmes_seed
from benefits.services.bankfiles import disbursement_confirm, disbursement_download, disbursement_export
from benefits.services.claims import claim_approve, claim_create
from benefits.services.disbursements import (
    Entry,
    disbursement_add_claims,
    disbursement_add_entries,
    disbursement_add_filtered,
    disbursement_approve,
    disbursement_create,
    disbursement_submit,
    disbursement_totals,
)
from benefits.services.payment_sheets import disbursement_import_sheet
from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from issuance.lifecycle import cards_transition

from ..factories import make_member
from ..hostile import workbook_bytes
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db


def xlsx(rows) -> bytes:
    return workbook_bytes(rows)


def csv_bytes(rows) -> bytes:
    return "\n".join(",".join(str(c) for c in row) for row in rows).encode("utf-8")


@pytest.fixture
def batch(tree, city_staff):
    return disbursement_create(name="2016年春节送温暖", kind="warmth", union=tree.city, actor=city_staff)


def approved(batch, *, preparer, approver):
    """The batch submitted by its preparer and approved by a reviewer of a higher union."""
    disbursement_submit(disbursement=batch, actor=preparer)
    return disbursement_approve(disbursement=batch, actor=approver)


def holders(union, n, **fields):
    members = []
    for i in range(n):
        m = make_member(union, name=f"会员{i}", **fields)
        give_card(m)
        members.append(m)
    return members


def test_filter_adds_hardship_workers_of_a_subtree_and_skips_those_without_cards(tree, batch, city_staff):
    hard = holders(tree.unit_a1, 2, is_hardship=True)
    holders(tree.unit_a1, 1)  # not hardship
    holders(tree.unit_b1, 1, is_hardship=True)  # other county
    no_card = make_member(tree.unit_a2, name="无卡", is_hardship=True)
    result = disbursement_add_filtered(
        disbursement=batch, union=tree.county_a, amount=Decimal("500"), hardship=True, actor=city_staff
    )
    assert result["added"] == 2
    assert result["skipped"] == ["无卡：无卡没有工会卡，无法打卡发放"]
    assert sorted(batch.lines.values_list("member_id", flat=True)) == sorted(m.pk for m in hard)
    assert no_card.pk not in batch.lines.values_list("member_id", flat=True)
    # running the same filter again adds nobody twice
    again = disbursement_add_filtered(
        disbursement=batch, union=tree.county_a, amount=Decimal("500"), hardship=True, actor=city_staff
    )
    assert again == {"added": 0, "skipped": ["无卡：无卡没有工会卡，无法打卡发放"]}
    assert batch.lines.count() == 2


def test_upload_with_id_numbers_and_totals(tree, batch, city_staff):
    a = make_member(tree.unit_a1, name="李四", id_number="11010519491231002X")
    b = make_member(tree.unit_b1, name="王五", id_number="130902198506150012")
    give_card(a)
    card_b = give_card(b)
    data = xlsx([["身份证号", "姓名", "金额"], ["11010519491231002X", "李四", "800.50"], [None, None, None]])
    assert (
        disbursement_import_sheet(disbursement=batch, data=data, filename="名单.xlsx", actor=city_staff) == 1
    )
    by_card = csv_bytes([["卡号", "金额"], [card_b.number, "1200"]])
    assert (
        disbursement_import_sheet(disbursement=batch, data=by_card, filename="名单.csv", actor=city_staff)
        == 1
    )
    totals = disbursement_totals(batch)
    assert (totals["count"], totals["total"], totals["pending"], totals["paid"]) == (
        2,
        Decimal("2000.50"),
        Decimal("2000.50"),
        Decimal("0.00"),
    )


def test_upload_errors_name_row_and_column_and_change_nothing(tree, batch, city_staff):
    a = make_member(tree.unit_a1, name="李四", id_number="11010519491231002X")
    give_card(a)
    data = xlsx(
        [
            ["身份证号", "姓名", "金额"],
            ["11010519491231002X", "李四", "100"],
            ["11010519491231002X", "李四", "100"],
            ["110105194912310", "赵六", "abc"],
            ["130902198506150012", "无此人", "50"],
            ["11010519491231002X", "张冠李戴", "100"],
        ]
    )
    with pytest.raises(ApplicationError) as exc:
        disbursement_import_sheet(disbursement=batch, data=data, filename="名单.xlsx", actor=city_staff)
    assert exc.value.extra["errors"] == [
        "第3行：李四与第2行重复（同一批次每人只能发放一次）",
        "第4行A列（身份证号）：“110105*****2310”不是18位身份证号",  # masked: an ID, if a wrong one
        "第5行：身份证号“130902********0012”未找到对应会员",
        "第6行：姓名“张冠李戴”与登记的“李四”不一致",
    ]
    assert batch.lines.count() == 0


def test_duplicates_are_refused_and_nothing_changes(tree, batch, city_staff):
    a, b = holders(tree.unit_a1, 2)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=a, amount=Decimal("300"), where="第2行")],
        actor=city_staff,
        source="t",
    )
    before = list(batch.lines.values_list("member_id", "amount"))
    with pytest.raises(ApplicationError) as exc:
        disbursement_add_entries(
            disbursement=batch,
            entries=[
                Entry(member=b, amount=Decimal("300"), where="第2行"),
                Entry(member=b, amount=Decimal("200"), where="第3行"),
                Entry(member=a, amount=Decimal("100"), where="第4行"),
            ],
            actor=city_staff,
            source="t",
        )
    assert exc.value.extra["errors"] == [
        "第3行：会员1与第2行重复（同一批次每人只能发放一次）",
        "第4行：会员0已在本批次中（同一批次每人只能发放一次）",
    ]
    assert list(batch.lines.values_list("member_id", "amount")) == before
    assert AuditEntry.objects.filter(verb="disbursement.lines_added").count() == 1


def test_database_refuses_a_member_twice_in_one_batch(tree, batch):
    from django.db import IntegrityError, transaction

    (a,) = holders(tree.unit_a1, 1)
    card = a.cards.get()
    DisbursementLine.objects.create(
        disbursement=batch, member=a, card=card, card_number=card.number, name=a.name, amount=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        DisbursementLine.objects.create(
            disbursement=batch, member=a, card=card, card_number="6221880000000000009", name=a.name, amount=2
        )


def test_claims_go_into_a_programme_batch(tree, city_staff, clerk, reviewer):
    programmes = programmes_seed(union=tree.province)
    member = make_member(tree.unit_a1)
    give_card(member)
    claim = claim_create(
        programme=programmes["cataract"],
        member=member,
        incident_on=date(2016, 9, 1),
        facts="手术",
        actor=clerk,
    )
    batch = disbursement_create(
        name="白内障补贴第1批",
        kind="claims",
        union=tree.city,
        programme=programmes["cataract"],
        actor=city_staff,
    )
    with pytest.raises(ApplicationError):  # not approved yet
        disbursement_add_claims(disbursement=batch, claims=[claim], actor=city_staff)
    claim_approve(claim=claim, actor=reviewer)
    assert disbursement_add_claims(disbursement=batch, claims=[claim], actor=city_staff) == 1
    line = batch.lines.get()
    assert (line.amount, line.claim, line.card_number) == (
        Decimal("500.00"),
        claim,
        member.cards.get().number,
    )
    with pytest.raises(ApplicationError) as exc:
        disbursement_add_claims(disbursement=batch, claims=[claim], actor=city_staff)
    assert exc.value.extra["errors"] == [f"申请#{claim.pk}：已列入发放批次"]


def test_export_writes_the_bank_file_and_manifest_then_confirmation_marks_paid_idempotently(
    tree,
    batch,
    city_staff,
    province_staff,
    bank_operator,
    run_tasks_inline,
    django_capture_on_commit_callbacks,
):
    members = holders(tree.unit_a1, 3)
    disbursement_add_entries(
        disbursement=batch,
        entries=[
            Entry(member=m, amount=Decimal(a), where=m.name)
            for m, a in zip(members, ["500", "300.25", "199.75"], strict=True)
        ],
        actor=city_staff,
        source="t",
    )
    approved(batch, preparer=city_staff, approver=province_staff)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    batch.refresh_from_db()
    assert (batch.state, batch.job_status) == ("exported", "done")
    assert batch.manifest["lines"] == 3 and batch.manifest["total"] == "1000.00"
    body, filename, _ = disbursement_download(disbursement=batch, actor=city_staff, what="payment")
    text = body.decode("utf-8-sig").splitlines()
    numbers = [m.cards.get().number for m in members]
    assert text == [
        "序号,卡号,姓名,金额",
        f"1,{numbers[0]},会员0,500.00",
        f"2,{numbers[1]},会员1,300.25",
        f"3,{numbers[2]},会员2,199.75",
    ]
    import hashlib

    assert batch.manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert AuditEntry.objects.filter(verb="disbursement.downloaded").count() == 1
    # the list is frozen after export
    with pytest.raises(ApplicationError):
        disbursement_add_filtered(
            disbursement=batch, union=tree.unit_a1, amount=Decimal("1"), actor=city_staff
        )

    confirmation = csv_bytes(
        [
            ["卡号", "金额", "结果", "流水号", "失败原因"],
            [numbers[0], "500.00", "成功", "B001", ""],
            [numbers[1], "300.25", "失败", "", "账户状态异常"],
        ]
    )
    assert disbursement_confirm(
        disbursement=batch, data=confirmation, filename="回盘.csv", actor=bank_operator
    ) == {
        "paid": 1,
        "failed": 1,
        "unchanged": 0,
    }
    snapshot = list(
        batch.lines.order_by("id").values_list("status", "paid_at", "bank_reference", "failure_reason")
    )
    # re-importing the same file changes nothing
    assert disbursement_confirm(
        disbursement=batch, data=confirmation, filename="回盘.csv", actor=bank_operator
    ) == {
        "paid": 0,
        "failed": 0,
        "unchanged": 2,
    }
    assert (
        list(batch.lines.order_by("id").values_list("status", "paid_at", "bank_reference", "failure_reason"))
        == snapshot
    )
    assert AuditEntry.objects.filter(verb="disbursement.confirmed").count() == 1
    totals = disbursement_totals(batch)
    assert (totals["paid"], totals["failed"], totals["pending"], totals["total"]) == (
        Decimal("500.00"),
        Decimal("300.25"),
        Decimal("199.75"),
        Decimal("1000.00"),
    )
    assert totals["paid"] + totals["failed"] + totals["pending"] == totals["total"]
    # the last line confirmed: the batch closes
    last = csv_bytes([["卡号", "金额", "结果"], [numbers[2], "199.75", "成功"]])
    disbursement_confirm(disbursement=batch, data=last, filename="回盘2.csv", actor=bank_operator)
    batch.refresh_from_db()
    assert batch.state == "closed"


def test_confirmation_with_wrong_amount_or_unknown_card_changes_nothing(
    tree,
    batch,
    city_staff,
    province_staff,
    bank_operator,
    run_tasks_inline,
    django_capture_on_commit_callbacks,
):
    (m,) = holders(tree.unit_a1, 1)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("500"), where="x")],
        actor=city_staff,
        source="t",
    )
    approved(batch, preparer=city_staff, approver=province_staff)
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    number = m.cards.get().number
    bad = csv_bytes(
        [["卡号", "金额", "结果"], [number, "50.00", "成功"], ["6222000000000000001", "1", "成功"]]
    )
    with pytest.raises(ApplicationError) as exc:
        disbursement_confirm(disbursement=batch, data=bad, filename="回盘.csv", actor=bank_operator)
    assert exc.value.extra["errors"] == [
        "第2行B列（金额）：50.00与批次金额500.00不符",
        "第3行A列（卡号）：尾号0001不在本批次中",
    ]
    assert list(batch.lines.values_list("status", flat=True)) == ["pending"]


def test_export_stops_when_a_card_was_lost_after_building(
    tree, batch, city_staff, province_staff, run_tasks_inline, django_capture_on_commit_callbacks
):
    (m,) = holders(tree.unit_a1, 1)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("500"), where="x")],
        actor=city_staff,
        source="t",
    )
    approved(batch, preparer=city_staff, approver=province_staff)
    cards_transition(cards=[m.cards.get().pk], to_status="lost")
    with django_capture_on_commit_callbacks(execute=True):
        disbursement_export(disbursement=batch, actor=city_staff)
    batch.refresh_from_db()
    assert (batch.state, batch.job_status, batch.payment_file.name) == ("draft", "failed", "")
    assert batch.job_message == "1人的工会卡已挂失或注销（会员0），请移出名单后重新提交审批"
    # the list has to change, so the approval no longer stands
    assert (batch.approved_by, batch.approved_at, batch.approved_total) == (None, None, None)


def test_clerk_cannot_download_the_payment_file(tree, batch, clerk):
    Disbursement.objects.filter(pk=batch.pk).update(state="exported")
    batch.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        disbursement_download(disbursement=batch, actor=clerk, what="payment")
    assert exc.value.code == "forbidden"
    assert AuditEntry.objects.filter(verb="disbursement.downloaded").count() == 0
