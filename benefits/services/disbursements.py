"""The disbursement workflow: creating a batch, building its list (entries, approved claims, a
filter) all or nothing within the caps, then submit, approve or return (four eyes).

Every service owns its transaction and writes its audit row inside it. Money is Decimal with 2
places; totals are sums of the lines, never kept separately, so they always reconcile."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.models import Member, Union

from .. import eligibility
from ..limits import Limits, limits_for
from ..models import BenefitProgramme, Claim, Disbursement, DisbursementLine
from .common import CENT, _money, _refuse, _refuse_if, _visible
from .four_eyes import S, disbursement_approve_refusal, disbursement_prepare_refusal, may_prepare


@dataclass
class Entry:
    """One intended payment before it becomes a line. `where` names it in messages ("第3行")."""

    member: Member
    amount: Decimal
    where: str
    claim: Claim | None = None


@transaction.atomic
def disbursement_create(
    *, name: str, kind: str, union: Union, actor, programme: BenefitProgramme | None = None
) -> Disbursement:
    if not may_prepare(actor) or not _visible(actor, union):
        raise ApplicationError("只能为本级及下级工会建立发放批次", code="forbidden")
    if kind not in Disbursement.Kind.values:
        raise ApplicationError("未知的发放类别", code="invalid_kind")
    disbursement = Disbursement.objects.create(
        name=name.strip()[:100], kind=kind, union=union, programme=programme, created_by=actor
    )
    limits = limits_for(disbursement)
    audit_record(
        actor=actor,
        verb="disbursement.created",
        target=disbursement,
        data={
            "kind": kind,
            "per_member_limit": _money(limits.per_member),
            "batch_limit": _money(limits.per_batch),
        },
    )
    return disbursement


def _lock(disbursement: Disbursement) -> Disbursement:
    return (
        Disbursement.objects.select_for_update(of=("self",))
        .select_related("union", "programme", "created_by")
        .get(pk=disbursement.pk)
    )


def _lock_draft(disbursement: Disbursement, actor) -> Disbursement:
    disbursement = _lock(disbursement)
    _refuse_if(disbursement_prepare_refusal(disbursement, actor))
    return disbursement


def _over_member_limit(amount: Decimal, limits: Limits) -> str:
    return f"金额{amount:,.2f}元超过每人上限{limits.per_member:,.2f}元（{limits.source}）"


def _batch_total(disbursement: Disbursement) -> Decimal:
    return (disbursement.lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(CENT)


def _refuse_over_batch_limit(
    disbursement: Disbursement, adding: list[DisbursementLine], limits: Limits
) -> None:
    current = _batch_total(disbursement)
    added = sum((ln.amount for ln in adding), Decimal("0"))
    if current + added > limits.per_batch:
        raise ApplicationError(
            f"名单未加入：加入后批次合计{current + added:,.2f}元，超过每批上限{limits.per_batch:,.2f}元"
            f"（{limits.source}）；本次{len(adding)}人合计{added:,.2f}元",
            code="batch_limit",
        )


def _amount_problems(disbursement: Disbursement) -> list[str]:
    """Every line over the per-member cap and a total over the batch cap (at submit and at
    approval: a programme's caps may have been lowered since the lines were added)."""
    limits = limits_for(disbursement)
    problems = [
        f"{line.name}（卡号尾号{line.card_tail}）{_over_member_limit(line.amount, limits)}"
        for line in disbursement.lines.filter(amount__gt=limits.per_member).order_by("id")
    ]
    total = _batch_total(disbursement)
    if total > limits.per_batch:
        problems.append(f"批次合计{total:,.2f}元超过每批上限{limits.per_batch:,.2f}元（{limits.source}）")
    return problems


def _check_entries(disbursement: Disbursement, entries: list[Entry], *, on: date) -> tuple[list, list[str]]:
    """Validate entries against the batch (union, duplicates), live cards and, when the batch
    is tied to a programme, eligibility. Returns (lines, errors); lines only when no errors."""
    errors: list[str] = []
    existing = set(disbursement.lines.values_list("member_id", flat=True))
    seen: dict[int, str] = {}
    cards = eligibility.live_cards_of(e.member.pk for e in entries)
    programme = disbursement.programme
    tiers = list(programme.tiers.all()) if programme else None
    limits = limits_for(disbursement)
    lines = []
    for e in entries:
        member, where = e.member, e.where
        if member.pk in existing:
            errors.append(f"{where}：{member.name}已在本批次中（同一批次每人只能发放一次）")
            continue
        if member.pk in seen:
            errors.append(f"{where}：{member.name}与{seen[member.pk]}重复（同一批次每人只能发放一次）")
            continue
        seen[member.pk] = where
        if not member.union.path.startswith(disbursement.union.path):
            errors.append(f"{where}：{member.name}不属于{disbursement.union.name}")
            continue
        if e.amount is None or e.amount <= 0 or e.amount != e.amount.quantize(CENT):
            errors.append(f"{where}：金额须为大于0、最多两位小数的数字")
            continue
        if e.amount > limits.per_member:
            errors.append(f"{where}：{member.name}{_over_member_limit(e.amount, limits)}")
            continue
        card = cards.get(member.pk)
        if card is None or card.status not in eligibility.NUMBERED_LIVE:
            state = "没有工会卡" if card is None else f"工会卡{card.get_status_display()}"
            errors.append(f"{where}：{member.name}{state}，无法打卡发放")
            continue
        if programme is not None:
            result = eligibility.evaluate(programme=programme, member=member, on=on, card=card, tiers=tiers)
            if not result.eligible:
                errors.append(
                    f"{where}：{member.name}不符合“{programme.name}”条件（{'；'.join(result.reasons)}）"
                )
                continue
        lines.append(
            DisbursementLine(
                disbursement=disbursement,
                member=member,
                card=card,
                card_number=card.number,
                name=member.name,
                amount=e.amount,
                claim=e.claim,
            )
        )
    return lines, errors


def _insert(disbursement: Disbursement, lines: list[DisbursementLine]) -> None:
    try:
        with transaction.atomic():
            DisbursementLine.objects.bulk_create(lines, batch_size=2000)
    except IntegrityError as exc:  # a concurrent adder won the race on (batch, member)
        raise ApplicationError("名单中有会员已在本批次中，请刷新后重试", code="duplicate") from exc


@transaction.atomic
def disbursement_add_entries(
    *, disbursement: Disbursement, entries: list[Entry], actor, source: str, on: date | None = None
) -> int:
    """All or nothing: any problem refuses the whole list, with every problem listed; a list
    that would take the batch over its total cap is refused whole too."""
    disbursement = _lock_draft(disbursement, actor)
    if not entries:
        raise ApplicationError("名单为空", code="empty")
    lines, errors = _check_entries(disbursement, entries, on=on or timezone.localdate())
    if errors:
        _refuse(errors, code="invalid_entries", lead="名单未加入，请修改后重试")
    _refuse_over_batch_limit(disbursement, lines, limits_for(disbursement))
    _insert(disbursement, lines)
    audit_record(
        actor=actor,
        verb="disbursement.lines_added",
        target=disbursement,
        data={
            "source": source,
            "count": len(lines),
            "amount": _money(sum((ln.amount for ln in lines), Decimal("0"))),
        },
    )
    return len(lines)


def disbursement_add_claims(*, disbursement: Disbursement, claims, actor) -> int:
    """Approved claims, each once (a claim is paid by at most one line, a database constraint)."""
    _refuse_if(disbursement_prepare_refusal(disbursement, actor))
    entries, errors = [], []
    for claim in (
        Claim.objects.filter(pk__in=[c.pk for c in claims])
        .select_related("member", "member__union", "programme")
        .order_by("id")
    ):
        where = f"申请#{claim.pk}"
        if claim.status != Claim.Status.APPROVED:
            errors.append(f"{where}：{claim.get_status_display()}，只有已批准的申请可以发放")
        elif DisbursementLine.objects.filter(claim=claim).exists():
            errors.append(f"{where}：已列入发放批次")
        elif disbursement.programme_id and claim.programme_id != disbursement.programme_id:
            errors.append(f"{where}：不属于本批次对应的项目")
        elif claim.amount <= 0:
            errors.append(f"{where}：“{claim.programme.name}”是免费服务，无需发放资金")
        else:
            entries.append(Entry(member=claim.member, amount=claim.amount, where=where, claim=claim))
    if errors:
        _refuse(errors, code="invalid_claims", lead="申请未加入")
    return disbursement_add_entries(disbursement=disbursement, entries=entries, actor=actor, source="claims")


@transaction.atomic
def disbursement_add_filtered(
    *,
    disbursement: Disbursement,
    union: Union,
    amount: Decimal,
    actor,
    hardship: bool = False,
    model_worker: bool = False,
    on: date | None = None,
) -> dict:
    """Everyone in service in `union`'s subtree matching the filter, at one amount. Members
    already in the batch, without a card to pay into, or not eligible are skipped and counted
    (a filter describes a group, unlike a list where each name is meant)."""
    disbursement = _lock_draft(disbursement, actor)
    if not union.path.startswith(disbursement.union.path):
        raise ApplicationError(f"所选工会不属于{disbursement.union.name}", code="forbidden")
    if amount is None or amount <= 0:
        raise ApplicationError("金额须大于0", code="amount_invalid")
    limits = limits_for(disbursement)
    if amount > limits.per_member:
        raise ApplicationError(f"每人{_over_member_limit(amount, limits)}", code="member_limit")
    members = Member.objects.filter(union__path__startswith=union.path, status=Member.Status.ACTIVE)
    if hardship:
        members = members.filter(is_hardship=True)
    if model_worker:
        members = members.filter(is_model_worker=True)
    members = members.exclude(pk__in=disbursement.lines.values("member_id")).select_related("union")
    entries = [Entry(member=m, amount=amount.quantize(CENT), where=m.name) for m in members.order_by("id")]
    lines, skipped = [], []
    for chunk_start in range(0, len(entries), 2000):
        ok, errs = _check_entries(
            disbursement, entries[chunk_start : chunk_start + 2000], on=on or timezone.localdate()
        )
        lines += ok
        skipped += errs
    _refuse_over_batch_limit(disbursement, lines, limits)
    _insert(disbursement, lines)
    audit_record(
        actor=actor,
        verb="disbursement.lines_added",
        target=disbursement,
        data={
            "source": "filter",
            "union": union.code,
            "count": len(lines),
            "amount": _money(sum((ln.amount for ln in lines), Decimal("0"))),
            "skipped": len(skipped),
        },
    )
    return {"added": len(lines), "skipped": skipped}


@transaction.atomic
def disbursement_remove_line(*, line: DisbursementLine, actor) -> None:
    disbursement = _lock_draft(line.disbursement, actor)
    DisbursementLine.objects.filter(pk=line.pk, disbursement=disbursement).delete()
    audit_record(
        actor=actor,
        verb="disbursement.line_removed",
        target=disbursement,
        data={"member": line.member_id, "amount": _money(line.amount)},
    )


@transaction.atomic
def disbursement_submit(*, disbursement: Disbursement, actor) -> Disbursement:
    """The preparer freezes the list and asks a higher union to approve it. Refused, with every
    line named, when a line or the total is over the programme's caps."""
    disbursement = _lock_draft(disbursement, actor)
    totals = disbursement_totals(disbursement)
    if not totals["count"]:
        raise ApplicationError("批次中还没有发放名单", code="empty")
    problems = _amount_problems(disbursement)
    if problems:
        _refuse(problems, code="amount_limit", lead="不能提交审批")
    disbursement.state = S.SUBMITTED
    disbursement.submitted_at = timezone.now()
    disbursement.return_reason = ""
    disbursement.save(update_fields=["state", "submitted_at", "return_reason"])
    audit_record(
        actor=actor,
        verb="disbursement.submitted",
        target=disbursement,
        data={"count": totals["count"], "total": _money(totals["total"])},
    )
    return disbursement


@transaction.atomic
def disbursement_approve(*, disbursement: Disbursement, actor) -> Disbursement:
    """A reviewer of a union above the preparer's approves the list as it stands; the count and
    total approved are kept, and the export refuses a list that no longer matches them."""
    disbursement = _lock(disbursement)
    _refuse_if(disbursement_approve_refusal(disbursement, actor))
    problems = _amount_problems(disbursement)
    if problems:
        _refuse(problems, code="amount_limit", lead="不能审批")
    totals = disbursement_totals(disbursement)
    limits = limits_for(disbursement)
    disbursement.state = S.APPROVED
    disbursement.approved_by, disbursement.approved_at = actor, timezone.now()
    disbursement.approved_count, disbursement.approved_total = totals["count"], totals["total"]
    disbursement.save(
        update_fields=["state", "approved_by", "approved_at", "approved_count", "approved_total"]
    )
    audit_record(
        actor=actor,
        verb="disbursement.approved",
        target=disbursement,
        data={
            "count": totals["count"],
            "total": _money(totals["total"]),
            "per_member_limit": _money(limits.per_member),
            "batch_limit": _money(limits.per_batch),
        },
    )
    return disbursement


@transaction.atomic
def disbursement_return(*, disbursement: Disbursement, reason: str, actor) -> Disbursement:
    """The approver sends the list back to its preparer as a draft, with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("退回须填写理由", code="reason_required")
    disbursement = _lock(disbursement)
    _refuse_if(disbursement_approve_refusal(disbursement, actor))
    totals = disbursement_totals(disbursement)
    disbursement.state = S.DRAFT
    disbursement.return_reason = reason[:300]
    disbursement.save(update_fields=["state", "return_reason"])
    audit_record(
        actor=actor,
        verb="disbursement.returned",
        target=disbursement,
        data={"count": totals["count"], "total": _money(totals["total"]), "reason": reason[:300]},
    )
    return disbursement


def disbursement_totals(disbursement: Disbursement) -> dict:
    """Counts and sums by line status; `total` always equals paid + failed + pending."""
    agg = disbursement.lines.aggregate(
        count=Count("id"),
        total=Sum("amount"),
        paid_count=Count("id", filter=Q(status="paid")),
        paid=Sum("amount", filter=Q(status="paid")),
        failed_count=Count("id", filter=Q(status="failed")),
        failed=Sum("amount", filter=Q(status="failed")),
        pending_count=Count("id", filter=Q(status="pending")),
        pending=Sum("amount", filter=Q(status="pending")),
    )
    for key in ("total", "paid", "failed", "pending"):
        agg[key] = (agg[key] or Decimal("0")).quantize(CENT)
    return agg
