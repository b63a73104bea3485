"""Writes for benefits: claims and their review, disbursement batches (build, export, confirm).

Every service owns its transaction and writes its audit row inside it. Building a batch is
all-or-nothing for explicit lists (claims, an uploaded sheet): one bad row refuses the whole
call and nothing changes. Money is Decimal with 2 places; totals are sums of the lines, never
kept separately, so they always reconcile.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from cardportal import exports, tables
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import job_fail, job_finish, job_holds, job_progress, job_queue, job_start
from cardportal.retention import removed_message
from cardportal.scoping import scope_path, staff_of
from issuance.models import Card
from members.idcard import mask_id_like
from members.models import Member, StaffRole, Union

from . import eligibility
from .limits import Limits, limits_for
from .models import BenefitProgramme, Claim, Disbursement, DisbursementLine
from .retention import PAYMENT_RULES

CENT = Decimal("0.01")
MAX_ERRORS_SHOWN = 20


def _visible(actor, union: Union) -> bool:
    path = scope_path(actor)
    return path is not None and union.path.startswith(path)


def _require_reviewer(actor) -> None:
    staff = staff_of(actor)
    if not (actor.is_superuser or (staff is not None and staff.can_review)):
        raise ApplicationError("只有县级及以上工会的审核人员可以审核", code="forbidden")


def _refuse(errors: list[str], *, code: str, lead: str) -> None:
    shown = errors[:MAX_ERRORS_SHOWN]
    more = f"（另有{len(errors) - len(shown)}处问题）" if len(errors) > len(shown) else ""
    raise ApplicationError(f"{lead}：" + "；".join(shown) + more, code=code, extra={"errors": errors})


# --- claims -----------------------------------------------------------------------------------
@transaction.atomic
def claim_create(
    *, programme: BenefitProgramme, member: Member, incident_on: date, facts: str, actor
) -> Claim:
    """Record a claim; the amount comes from the programme's tiers. Refused, with the reasons,
    when the member is not eligible on the incident date."""
    facts = (facts or "").strip()
    if not facts:
        raise ApplicationError("请填写事由", code="facts_required")
    if not _visible(actor, member.union):
        raise ApplicationError("该会员不在您的工会范围内", code="forbidden")
    member = Member.objects.select_for_update().select_related("union").get(pk=member.pk)
    if (
        programme.once_per_member
        and Claim.objects.filter(programme=programme, member=member)
        .exclude(status=Claim.Status.REJECTED)
        .exists()
    ):
        raise ApplicationError(f"“{programme.name}”每人限领一次，该会员已有申请", code="once_per_member")
    result = eligibility.evaluate(programme=programme, member=member, on=incident_on)
    if not result.eligible:
        raise ApplicationError(
            "不符合申请条件：" + "；".join(result.reasons),
            code="not_eligible",
            extra={"reasons": result.reasons},
        )
    claim = Claim.objects.create(
        programme=programme,
        member=member,
        union=member.union,
        incident_on=incident_on,
        facts=facts[:300],
        amount=result.amount,
        tier_label=result.tier_label,
        explanation=result.as_list(),
        recorded_by=actor,
    )
    audit_record(actor=actor, verb="claim.created", target=claim, data={"amount": str(claim.amount)})
    return claim


def _claim_for_review(claim: Claim, actor) -> Claim:
    _require_reviewer(actor)
    claim = Claim.objects.select_for_update().select_related("union").get(pk=claim.pk)
    if not _visible(actor, claim.union):
        raise ApplicationError("该申请不在您的工会范围内", code="forbidden")
    if claim.status != Claim.Status.PENDING:
        raise ApplicationError(f"该申请已{claim.get_status_display()}，不能重复审核", code="not_pending")
    if claim.recorded_by_id == actor.pk:
        raise ApplicationError("登记人不能审核自己登记的申请", code="own_claim")
    return claim


@transaction.atomic
def claim_approve(*, claim: Claim, actor, note: str = "") -> Claim:
    claim = _claim_for_review(claim, actor)
    claim.status = Claim.Status.APPROVED
    claim.reviewed_by, claim.reviewed_at, claim.review_note = actor, timezone.now(), note.strip()[:300]
    claim.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit_record(actor=actor, verb="claim.approved", target=claim, data={"amount": str(claim.amount)})
    return claim


@transaction.atomic
def claim_reject(*, claim: Claim, actor, reason: str) -> Claim:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("驳回须填写理由", code="reason_required")
    claim = _claim_for_review(claim, actor)
    claim.status = Claim.Status.REJECTED
    claim.reviewed_by, claim.reviewed_at, claim.review_note = actor, timezone.now(), reason[:300]
    claim.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit_record(actor=actor, verb="claim.rejected", target=claim, data={"reason": reason})
    return claim


# --- disbursement batches: building -----------------------------------------------------------
@dataclass
class Entry:
    """One intended payment before it becomes a line. `where` names it in messages ("第3行")."""

    member: Member
    amount: Decimal
    where: str
    claim: Claim | None = None


# --- four eyes: who may do what to a batch (docs/security.md "Four eyes") -----------------------
# Each *_refusal returns "" when `actor` may act, else the Chinese reason. The services raise it;
# the pages ask the same functions which buttons to offer, so there is one rule per step.
PREPARE_ROLES = frozenset({StaffRole.Role.CLERK, *StaffRole.REVIEW_ROLES})
CONFIRM_ROLES = frozenset({*StaffRole.REVIEW_ROLES, StaffRole.Role.BANK_OPERATOR})
S = Disbursement.State


def _has_role(actor, roles) -> bool:
    """A staff role in `roles`; a superuser without a staff role stands at the root."""
    staff = staff_of(actor)
    return actor.is_superuser if staff is None else staff.role in roles


def _preparer_path(disbursement: Disbursement) -> str:
    """The union path of the batch's preparer (its creator): "" for a superuser without a union
    (nobody is above them); the batch's own union when the account is gone."""
    preparer = disbursement.created_by
    if preparer is None:
        return disbursement.union.path
    staff = staff_of(preparer)
    if staff is not None:
        return staff.union.path
    return "" if preparer.is_superuser else disbursement.union.path


def may_prepare(actor) -> bool:
    """Whether `actor` may create batches at all (the list page offers the form)."""
    return _has_role(actor, PREPARE_ROLES) and scope_path(actor) is not None


def _is_preparer(disbursement: Disbursement, actor) -> bool:
    return disbursement.created_by_id is not None and disbursement.created_by_id == actor.pk


def disbursement_prepare_refusal(disbursement: Disbursement, actor) -> str:
    """Building the list, removing lines and submitting: the batch's creator, while a draft."""
    if not _has_role(actor, PREPARE_ROLES) or not _visible(actor, disbursement.union):
        return "您的角色不能编制发放批次"
    if not _is_preparer(disbursement, actor):
        return "只有本批次的经办人（创建人）可以修改名单和提交审批"
    if disbursement.state != S.DRAFT:
        return f"批次{disbursement.get_state_display()}，名单不能再修改"
    return ""


def disbursement_approve_refusal(disbursement: Disbursement, actor) -> str:
    """Approving or returning: a reviewer of a union above the preparer's, never the preparer."""
    if disbursement.state != S.SUBMITTED:
        return f"批次{disbursement.get_state_display()}，不是待审批状态"
    if _is_preparer(disbursement, actor):
        return "经办人不能审批自己编制的批次，须由上级工会审批"
    if not _has_role(actor, StaffRole.REVIEW_ROLES) or not _visible(actor, disbursement.union):
        return "只有上级工会的审核人员可以审批发放批次"
    approver_path, preparer_path = scope_path(actor), _preparer_path(disbursement)
    if not (preparer_path.startswith(approver_path) and preparer_path != approver_path):
        return "审批人须属于经办人所在工会的上级工会"
    return ""


def disbursement_export_refusal(disbursement: Disbursement, actor) -> str:
    """Generating the payment file of an approved batch: its preparer or approver, or another
    preparing role in scope (the list is frozen and approved; this only writes it out)."""
    if disbursement.state in (S.DRAFT, S.SUBMITTED):
        return "批次须经审批后才能生成银行代发文件"
    if disbursement.state != S.APPROVED:
        return "正在生成银行代发文件" if disbursement.state == S.EXPORTING else "银行代发文件已生成"
    if not _has_role(actor, PREPARE_ROLES) or not _visible(actor, disbursement.union):
        return "您的角色不能生成银行代发文件"
    return ""


def disbursement_confirm_refusal(disbursement: Disbursement, actor) -> str:
    """Uploading the bank's result: a bank operator or a reviewer in scope who neither prepared
    nor approved the batch (a third person)."""
    if disbursement.state not in (S.EXPORTED, S.CLOSED):
        return "批次尚未生成银行文件，不能导入回盘"
    if _is_preparer(disbursement, actor):
        return "经办人不能确认自己编制的批次的发放结果，须由第三人导入银行回盘"
    if disbursement.approved_by_id is not None and disbursement.approved_by_id == actor.pk:
        return "审批人不能确认自己审批的批次的发放结果，须由第三人导入银行回盘"
    if not _has_role(actor, CONFIRM_ROLES) or not _visible(actor, disbursement.union):
        return "只有银行经办员或上级工会审核人员可以导入银行回盘"
    return ""


def _refuse_if(refusal: str) -> None:
    if refusal:
        raise ApplicationError(refusal, code="forbidden")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


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


# --- four eyes: submit, approve or return ------------------------------------------------------
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


# --- uploaded lists ---------------------------------------------------------------------------
ID_HEADERS = ("身份证号", "身份证号码")
CARD_HEADERS = ("卡号", "会员卡号", "工会卡号")
AMOUNT_HEADERS = ("金额", "发放金额", "金额（元）", "金额(元)")
NAME_HEADERS = ("姓名",)


def read_rows(data: bytes, filename: str) -> list[list]:
    """Rows of the first visible sheet (.xlsx/.xls) or of a CSV file, as Python values, read
    through the upload kernel (`cardportal.tables`) with its reason codes; `filename` only
    names the file in messages elsewhere (the format comes from the bytes)."""
    try:
        return tables.read_table(data, limits=tables.Limits(max_bytes=settings.UPLOAD_MAX_BYTES)).rows
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused


def _column(headers: list[str], names: tuple[str, ...]) -> int | None:
    for i, h in enumerate(headers):
        if h in names:
            return i
    return None


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount(value) -> Decimal | None:
    try:
        amount = Decimal(_text(value).replace(",", "").replace("元", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def parse_payment_sheet(
    rows: list[list],
) -> tuple[list[tuple[int, str, str, Decimal | None, str]], list[str]]:
    """(row number, key kind "id"/"card", key, amount, name) per data row, and errors naming
    the row and column. Numbers stored as numbers in Excel lose digits beyond 15: refused."""
    if not rows:
        raise ApplicationError("文件是空的", code="file_empty")
    headers = [_text(h) for h in rows[0]]
    id_col, card_col = _column(headers, ID_HEADERS), _column(headers, CARD_HEADERS)
    amount_col, name_col = _column(headers, AMOUNT_HEADERS), _column(headers, NAME_HEADERS)
    if amount_col is None or (id_col is None and card_col is None):
        raise ApplicationError(
            "第1行须有表头：“身份证号”或“卡号”，以及“金额”（可选“姓名”）", code="header_not_found"
        )
    key_col, kind = (id_col, "id") if id_col is not None else (card_col, "card")
    header = headers[key_col]
    parsed, errors = [], []
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(headers) - len(row))
        if all(_text(c) == "" for c in cells):
            continue
        raw = cells[key_col]
        key = _text(raw).upper().replace(" ", "")
        where = f"第{n}行{_col_letter(key_col)}列（{header}）"
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):  # 16+ digits never survive
            errors.append(f"{where}：以数字格式保存会丢失位数，请将该列设为文本格式后重新填写")
            continue
        if not key:
            errors.append(f"{where}：不能为空")
            continue
        if kind == "id" and len(key) != 18:
            errors.append(f"{where}：“{mask_id_like(key)}”不是18位身份证号")  # a 17/19-digit typo, masked
            continue
        if kind == "card" and not (key.isascii() and key.isdigit() and 16 <= len(key) <= 19):
            errors.append(f"{where}：“{key}”不是16至19位卡号")
            continue
        amount = _amount(cells[amount_col])
        if amount is None:
            errors.append(
                f"第{n}行{_col_letter(amount_col)}列（{headers[amount_col]}）：“{_text(cells[amount_col])}”不是金额"
            )
            continue
        name = _text(cells[name_col]) if name_col is not None else ""
        parsed.append((n, kind, key, amount, name))
    return parsed, errors


def disbursement_import_sheet(*, disbursement: Disbursement, data: bytes, filename: str, actor) -> int:
    """An uploaded list (ID number or card number, amount, optional name). All or nothing."""
    from cardportal import crypto

    _refuse_if(disbursement_prepare_refusal(disbursement, actor))
    parsed, errors = parse_payment_sheet(read_rows(data, filename))
    by_hash = {crypto.keyed_hash(key): key for _, kind, key, _, _ in parsed if kind == "id"}
    members_by_hash = {
        m.id_hash: m for m in Member.objects.filter(id_hash__in=by_hash).select_related("union")
    }
    card_numbers = [key for _, kind, key, _, _ in parsed if kind == "card"]
    card_members = {
        c.number: c.member
        for c in Card.objects.filter(number__in=card_numbers).select_related("member", "member__union")
    }
    entries = []
    for n, kind, key, amount, name in parsed:
        member = members_by_hash.get(crypto.keyed_hash(key)) if kind == "id" else card_members.get(key)
        if member is None:
            errors.append(
                f"第{n}行：{'身份证号' if kind == 'id' else '卡号'}“{_mask(kind, key)}”未找到对应会员"
            )
            continue
        if name and name != member.name:
            errors.append(f"第{n}行：姓名“{name}”与登记的“{member.name}”不一致")
            continue
        entries.append(Entry(member=member, amount=amount, where=f"第{n}行"))
    if errors:
        # Report the batch-level problems of the readable rows too, so one upload shows them all.
        _, entry_errors = _check_entries(disbursement, entries, on=timezone.localdate())
        errors = sorted(errors + entry_errors, key=_row_number)
        _refuse(errors, code="invalid_rows", lead="文件未导入，请修改后重新上传")
    return disbursement_add_entries(
        disbursement=disbursement, entries=entries, actor=actor, source=f"upload:{filename}"
    )


def _row_number(message: str) -> int:
    digits = message.removeprefix("第").split("行", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _mask(kind: str, key: str) -> str:
    return f"{key[:6]}********{key[-4:]}" if kind == "id" else f"****{key[-4:]}"


# --- totals, export, confirmation -------------------------------------------------------------
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


@transaction.atomic
def disbursement_export(*, disbursement: Disbursement, actor) -> Disbursement:
    """Queue the job that writes the bank payment file of an APPROVED batch (never before)."""
    from .tasks import disbursement_export_task

    disbursement = _lock(disbursement)
    _refuse_if(disbursement_export_refusal(disbursement, actor))
    totals = disbursement_totals(disbursement)
    disbursement.state = Disbursement.State.EXPORTING
    disbursement.save(update_fields=["state"])
    audit_record(
        actor=actor,
        verb="disbursement.export_requested",
        target=disbursement,
        data={"count": totals["count"], "total": _money(totals["total"])},
    )
    job_queue(disbursement, phase="export", task=disbursement_export_task)
    return disbursement


def payment_file_name(disbursement: Disbursement) -> str:
    return f"disbursement-{disbursement.pk}-payment.csv"


def disbursement_write_payment_file(disbursement_id: int, *, token: str | None = None) -> None:
    """The export job: card number, name, amount per line, plus a manifest with the totals and
    the file's SHA-256. Idempotent: a finished job is not redone (job_start's compare-and-set),
    only the run that owns the batch (`token`) writes, and a batch already exported is not
    written again. Lines whose card is no longer live stop the export and return the batch to
    draft so staff can remove them. An unexpected error returns it to APPROVED (the task's
    failure path), where 生成代发文件 is the retry."""
    disbursement = Disbursement.objects.get(pk=disbursement_id)
    if not job_start(disbursement, phase="export", token=token, total=disbursement.lines.count()):
        return
    if disbursement.state != Disbursement.State.EXPORTING:  # written by an earlier run, or not approved
        job_finish(disbursement, message=disbursement.job_message)
        return
    lines = list(disbursement.lines.select_related("card").order_by("id"))
    total = sum((ln.amount for ln in lines), Decimal("0"))
    if (len(lines), total) != (disbursement.approved_count, disbursement.approved_total):
        _back_to_draft(
            disbursement,
            message=f"名单（{len(lines)}人，{total:.2f}元）与审批时（{disbursement.approved_count}人，"
            f"{disbursement.approved_total}元）不符，已退回草稿，须重新提交审批",
            code="changed_after_approval",
        )
        return
    dead = [
        ln
        for ln in lines
        if ln.card.status not in eligibility.NUMBERED_LIVE or ln.card.number != ln.card_number
    ]
    if dead:
        names = "、".join(ln.name for ln in dead[:10])
        _back_to_draft(
            disbursement,
            message=f"{len(dead)}人的工会卡已挂失或注销（{names}），请移出名单后重新提交审批",
            code="dead_cards",
        )
        return
    buffer = io.StringIO()
    writer = exports.csv_writer(buffer, text_cols=(1,), lineterminator="\r\n")
    writer.writerow(["序号", "卡号", "姓名", "金额"])
    for i, line in enumerate(lines, start=1):
        writer.writerow([i, line.card_number, line.name, f"{line.amount:.2f}"])
        if i % 1000 == 0:
            job_progress(disbursement, done=i)
    content = buffer.getvalue().encode("utf-8-sig")
    manifest = {
        "batch": disbursement.pk,
        "name": disbursement.name,
        "kind": disbursement.get_kind_display(),
        "union": disbursement.union.name,
        "lines": len(lines),
        "total": f"{total:.2f}",
        "file": payment_file_name(disbursement),
        "sha256": hashlib.sha256(content).hexdigest(),
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
    }
    with transaction.atomic():
        owner = disbursement
        disbursement = Disbursement.objects.select_for_update().get(pk=disbursement.pk)
        if disbursement.state != Disbursement.State.EXPORTING or not job_holds(owner):
            return  # no longer this run's work
        if disbursement.payment_file:
            disbursement.payment_file.delete(save=False)
        disbursement.payment_file.save(payment_file_name(disbursement), ContentFile(content), save=False)
        disbursement.manifest = manifest
        disbursement.state = Disbursement.State.EXPORTED
        disbursement.exported_at = timezone.now()
        disbursement.save(update_fields=["payment_file", "manifest", "state", "exported_at"])
        audit_record(
            actor=disbursement.created_by, verb="disbursement.exported", target=disbursement, data=manifest
        )
    job_finish(owner, message=f"共{len(lines)}笔，合计{total:.2f}元")


def _back_to_draft(disbursement: Disbursement, *, message: str, code: str) -> None:
    """The list has to change: back to its preparer, and the approval no longer stands."""
    with transaction.atomic():
        Disbursement.objects.filter(pk=disbursement.pk).update(
            state=Disbursement.State.DRAFT,
            approved_by=None,
            approved_at=None,
            approved_count=None,
            approved_total=None,
            return_reason=message[:300],
        )
        audit_record(
            actor=None, verb="disbursement.export_refused", target=disbursement, data={"reason": message}
        )
    job_fail(disbursement, message=message, code=code)


def disbursement_export_reopen(disbursement_id: int) -> None:
    """After the export job failed (the task's failure path): the list has not changed, so the
    approval stands: back to APPROVED, where 生成代发文件 is the retry."""
    Disbursement.objects.filter(pk=disbursement_id, state=Disbursement.State.EXPORTING).update(
        state=Disbursement.State.APPROVED
    )


DOWNLOAD_ROLES = frozenset({*StaffRole.REVIEW_ROLES, StaffRole.Role.BANK_OPERATOR})


def disbursement_download_refusal(actor) -> str:
    """Why `actor` may not download bank files ("" when they may)."""
    staff = staff_of(actor)
    if actor.is_superuser or (staff is not None and staff.role in DOWNLOAD_ROLES):
        return ""
    return "您的角色无权下载银行代发文件"


def disbursement_download(*, disbursement: Disbursement, actor, what: str, ip: str | None = None) -> tuple:
    """(bytes, filename, content type) of the payment file or the manifest; every download audited."""
    refusal = disbursement_download_refusal(actor)
    if refusal:
        raise ApplicationError(refusal, code="forbidden")
    if disbursement.state not in (Disbursement.State.EXPORTED, Disbursement.State.CLOSED):
        raise ApplicationError("银行文件尚未生成", code="not_exported")
    if what == "manifest":
        import json

        body = json.dumps(disbursement.manifest, ensure_ascii=False, indent=2).encode("utf-8")
        result = (body, f"disbursement-{disbursement.pk}-manifest.json", "application/json")
    else:
        if not disbursement.payment_file:
            raise ApplicationError(removed_message(*PAYMENT_RULES), code="file_removed")
        with disbursement.payment_file.open("rb") as handle:
            body = handle.read()
        result = (body, payment_file_name(disbursement), "text/csv; charset=utf-8")
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="disbursement.downloaded",
            target=disbursement,
            data={
                "what": what,
                "count": disbursement.manifest.get("lines"),
                "total": disbursement.manifest.get("total"),
            },
            ip=ip,
        )
    return result


CONFIRM_OK = ("成功", "已入账", "已到账", "success", "ok")
CONFIRM_FAIL = ("失败", "fail", "failed")


@transaction.atomic
def disbursement_confirm(*, disbursement: Disbursement, data: bytes, filename: str, actor) -> dict:
    """Apply the bank's confirmation file (卡号, 金额, 结果, optional 流水号 and 失败原因).

    Validated whole first; any unknown card, amount mismatch or contradiction refuses the file
    and changes nothing. Idempotent: re-importing the same file changes nothing (a paid line stays
    paid; only pending lines, or failed lines the bank now reports paid, change)."""
    disbursement = Disbursement.objects.select_for_update().get(pk=disbursement.pk)
    refusal = disbursement_confirm_refusal(disbursement, actor)
    if refusal:
        exported = disbursement.state in (Disbursement.State.EXPORTED, Disbursement.State.CLOSED)
        raise ApplicationError(refusal, code="forbidden" if exported else "not_exported")
    rows = read_rows(data, filename)
    if not rows:
        raise ApplicationError("文件是空的", code="file_empty")
    headers = [_text(h) for h in rows[0]]
    card_col, amount_col = _column(headers, CARD_HEADERS), _column(headers, AMOUNT_HEADERS)
    result_col = _column(headers, ("结果", "处理结果", "状态"))
    ref_col, reason_col = _column(headers, ("流水号", "银行流水号")), _column(headers, ("失败原因", "原因"))
    if None in (card_col, amount_col, result_col):
        raise ApplicationError(
            "第1行须有表头：“卡号”“金额”“结果”（可选“流水号”“失败原因”）", code="header_not_found"
        )
    lines = {ln.card_number: ln for ln in disbursement.lines.select_for_update().order_by("id")}
    errors, changes, seen = [], [], set()
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(headers) - len(row))
        if all(_text(c) == "" for c in cells):
            continue
        number = _text(cells[card_col]).replace(" ", "")
        line = lines.get(number)
        if line is None:
            errors.append(f"第{n}行{_col_letter(card_col)}列（卡号）：尾号{number[-4:]}不在本批次中")
            continue
        if number in seen:
            errors.append(f"第{n}行：卡号尾号{number[-4:]}在文件中重复")
            continue
        seen.add(number)
        amount = _amount(cells[amount_col])
        if amount != line.amount:
            errors.append(
                f"第{n}行{_col_letter(amount_col)}列（金额）：{_text(cells[amount_col])}与批次金额{line.amount}不符"
            )
            continue
        outcome = _text(cells[result_col]).lower()
        ref = _text(cells[ref_col])[:40] if ref_col is not None else ""
        if outcome in CONFIRM_OK:
            if line.status != DisbursementLine.Status.PAID:
                changes.append((line, DisbursementLine.Status.PAID, ref, ""))
        elif outcome in CONFIRM_FAIL:
            reason = (_text(cells[reason_col]) if reason_col is not None else "")[:200] or "银行未说明"
            if line.status == DisbursementLine.Status.PAID:
                errors.append(f"第{n}行：尾号{number[-4:]}此前已确认到账，不能改为失败")
            elif line.status == DisbursementLine.Status.PENDING:
                changes.append((line, DisbursementLine.Status.FAILED, ref, reason))
        else:
            errors.append(
                f"第{n}行{_col_letter(result_col)}列（结果）：“{_text(cells[result_col])}”应为“成功”或“失败”"
            )
    if errors:
        _refuse(errors, code="invalid_confirmation", lead="回盘文件未导入，请核对后重新上传")
    now = timezone.now()
    for line, status, ref, reason in changes:
        line.status, line.bank_reference, line.failure_reason = status, ref or line.bank_reference, reason
        line.paid_at = now if status == DisbursementLine.Status.PAID else None
    DisbursementLine.objects.bulk_update(
        [c[0] for c in changes], ["status", "bank_reference", "failure_reason", "paid_at"], batch_size=2000
    )
    paid = sum(1 for c in changes if c[1] == DisbursementLine.Status.PAID)
    failed = len(changes) - paid
    paid_amount = sum((c[0].amount for c in changes if c[1] == DisbursementLine.Status.PAID), Decimal("0"))
    failed_amount = sum((c[0].amount for c in changes if c[1] != DisbursementLine.Status.PAID), Decimal("0"))
    if not disbursement.lines.filter(status=DisbursementLine.Status.PENDING).exists():
        disbursement.state = Disbursement.State.CLOSED
        disbursement.save(update_fields=["state"])
    if changes:
        audit_record(
            actor=actor,
            verb="disbursement.confirmed",
            target=disbursement,
            data={
                "file": filename,
                "paid": paid,
                "paid_amount": _money(paid_amount),
                "failed": failed,
                "failed_amount": _money(failed_amount),
                "closed": disbursement.state == Disbursement.State.CLOSED,
            },
        )
    return {"paid": paid, "failed": failed, "unchanged": len(seen) - len(changes)}
