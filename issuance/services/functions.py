"""Card functions a second partner enables (seeds 002/003, Harbin: the bank issues the union card,
the transit company adds the transit function to the same card).

The function partner's hand-off (the batch's issued cards, in its layout, `layouts.handoff_layout`)
and its return (enabled, or refused with a reason, per card number), reconciled like the bank's
return (`returns.py`): parse → classify → apply, in one transaction, idempotent on re-upload.
The upload, the job and the report are the bank files' (`bankfiles.import_create`, kind FUNCTION)."""

import io
from collections import defaultdict
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from cardportal import crypto
from cardportal.audit import audit_record, register_verbs
from cardportal.errors import ApplicationError
from cardportal.jobs import job_progress
from members.access import Cap, access_for

from .. import layouts
from ..cardnumbers import card_number_error, normalise_card_number
from ..files import mapped_rows
from ..models import BankBatch, BankFileImport, Card, CardFunction, IssuingPartner
from .handoff import layout_write
from .reports import REPORT_LIMIT, _import_owned, _keep_report

F = CardFunction.Status
# The lifecycle: which statuses a function may move to from each status.
FUNCTION_MOVES = {
    F.REQUESTED: {F.SENT},
    F.SENT: {F.ENABLED, F.REFUSED},
    F.REFUSED: {F.ENABLED},  # the partner enabled it after all (a later return)
    F.ENABLED: set(),
}
FUNCTION_LISTS = ("enabled", "declined", "unknown_card", "wrong_partner", "duplicate", "invalid", "conflict")

register_verbs(
    {
        "function.requested": "申请开通卡片功能",
        "download.function_handoff": "下载功能开通报送文件（含完整卡号）",
        "import.function_uploaded": "上传功能开通回盘文件",
        "import.function_applied": "功能开通回盘入库",
        "import.function_retried": "重新导入功能开通回盘文件",
    }
)


def function_partners():
    return IssuingPartner.objects.filter(role=IssuingPartner.Role.FUNCTION).order_by("name")


def _require_function_partner(partner: IssuingPartner) -> None:
    if not layouts.is_function_partner(partner) or not partner.function_kind:
        raise ApplicationError(f"{partner.name}不是功能合作方", code="not_function_partner")


# --- request and hand-off -------------------------------------------------------------------------
@transaction.atomic
def functions_request(*, batch: BankBatch, partner: IssuingPartner, actor) -> int:
    """Ask `partner` to enable its function on every card of the batch the bank made (a live card
    with a number) that has not been asked yet; return how many were added."""
    access_for(actor).require(Cap.BANK_FILES, "申请开通卡片功能")
    _require_function_partner(partner)
    now = timezone.now()
    ids = Card.objects.filter(batch=batch, status__in=Card.NUMBERED_LIVE).values_list("id", flat=True)
    asked = set(
        CardFunction.objects.filter(
            card__batch=batch, partner=partner, kind=partner.function_kind
        ).values_list("card_id", flat=True)
    )
    new = [
        CardFunction(card_id=i, partner=partner, kind=partner.function_kind, requested_at=now)
        for i in ids
        if i not in asked
    ]
    CardFunction.objects.bulk_create(new, batch_size=2000)
    if new:
        audit_record(
            actor=actor,
            verb="function.requested",
            target=batch,
            data={"partner": partner.code, "kind": partner.function_kind, "cards": len(new)},
        )
    return len(new)


def _function_rows(functions):
    for seq, (number, name, id_enc, union, card_id) in enumerate(functions, start=1):
        yield {
            "seq": seq,
            "name": name,
            "id_masked": crypto.mask_id_number(crypto.decrypt(id_enc)),
            "card_number": number,
            "union": union,
            "card_ref": str(card_id),
        }


def function_handoff_open(*, batch: BankBatch, partner: IssuingPartner, actor, ip=None) -> tuple[str, bytes]:
    """The partner's hand-off file (file name, bytes): the batch's cards asked of it and not yet
    decided, in its layout; asking for the batch's new cards first. Full card numbers: allowed
    roles only, always audited; the cards in it move requested → sent."""
    functions_request(batch=batch, partner=partner, actor=actor)
    layout = layouts.handoff_layout(partner)
    with transaction.atomic():
        pending = CardFunction.objects.select_for_update().filter(
            card__batch=batch, partner=partner, status__in=[F.REQUESTED, F.SENT]
        )
        pending_ids = list(pending.values_list("id", flat=True))
        if not pending_ids:
            raise ApplicationError(
                f"本批次没有待{partner.name}开通的卡片（银行尚未制卡，或均已开通/已答复）",
                code="nothing_to_send",
            )
        rows = (
            CardFunction.objects.filter(pk__in=pending_ids)
            .order_by("card_id")
            .values_list(
                "card__number",
                "card__member__name",
                "card__member__id_encrypted",
                "card__union__name",
                "card_id",
            )
        )
        out = io.BytesIO()
        count = layout_write(rows=_function_rows(rows.iterator()), layout=layout, out=out)
        CardFunction.objects.filter(pk__in=pending_ids, status=F.REQUESTED).update(
            status=F.SENT, sent_at=timezone.now()
        )
        audit_record(
            actor=actor,
            verb="download.function_handoff",
            target=batch,
            ip=ip,
            data={"partner": partner.code, "rows": count},
        )
    stamp = timezone.localdate().strftime("%Y%m%d")
    name = layout["filename"].format(partner=partner.name, batch=batch.code, date=stamp)
    return f"{name}.{layout.get('format', 'xlsx')}", out.getvalue()


# --- the return: parse ----------------------------------------------------------------------------
class FunctionRow(NamedTuple):
    row: int
    number: str
    ok: bool | None  # None: the status column holds a value the layout does not know
    status: str
    reason: str


def parse_function_rows(table: list[list[str]], layout: dict) -> list[FunctionRow]:
    """The return's data rows: the card number normalised, the verdict read from 开通结果."""
    yes = {v.strip().lower() for v in layout.get("success_values", [])}
    no = {v.strip().lower() for v in layout.get("failure_values", [])}
    columns = {k: layout[k] for k in ("number", "status", "reason")}
    parsed = []
    for row_no, values in mapped_rows(table, columns, ("number", "status")):
        raw = values.get("number", "")
        number = raw if raw.isascii() and raw.isdigit() else normalise_card_number(raw)
        status = values.get("status", "").strip()
        ok = True if status.lower() in yes else False if status.lower() in no else None
        parsed.append(FunctionRow(row_no, number, ok, status, values.get("reason", "").strip()))
    return parsed


# --- classify -------------------------------------------------------------------------------------
class FunctionReport:
    def __init__(self, rows: int):
        self.lists = {k: [] for k in FUNCTION_LISTS}
        self.counts = dict.fromkeys([*FUNCTION_LISTS, "unchanged", "rows"], 0)
        self.counts["rows"] = rows

    def add(self, kind: str, row: FunctionRow, reason: str = "") -> None:
        self.counts[kind] += 1
        if kind != "unchanged" and len(self.lists[kind]) < REPORT_LIMIT:
            self.lists[kind].append({"row": row.row, "number": row.number, "reason": reason})


class FunctionPlan(NamedTuple):
    enable: list[int]  # CardFunction ids
    refuse: dict[int, str]  # CardFunction id → reason


def _row_error(row: FunctionRow, layout: dict) -> str:
    """Why the row cannot be read (naming its column), or ""."""
    title = layout["number"][0]
    if not row.number:
        return f"“{title}”列为空"
    error = card_number_error(row.number)
    if error:
        return f"“{title}”列：{error}"
    if row.ok is None:
        wanted = f"{layout['success_values'][0]} 或 {layout['failure_values'][0]}"
        return f"“{layout['status'][0]}”列的值“{row.status or '（空）'}”无法识别，应为 {wanted}"
    return ""


def _classify_one(row: FunctionRow, fn: CardFunction, plan: FunctionPlan, report: FunctionReport) -> None:
    reason = (row.reason or "合作方未说明原因")[:200]
    target = F.ENABLED if row.ok else F.REFUSED
    if fn.status == target and (row.ok or fn.refused_reason == reason):
        report.add("unchanged", row)
    elif target in FUNCTION_MOVES[fn.status]:
        if row.ok:
            plan.enable.append(fn.pk)
            report.add("enabled", row)
        else:
            plan.refuse[fn.pk] = reason
            report.add("declined", row, reason)
    else:
        report.add("conflict", row, f"合作方报“{row.status}”，但该卡功能当前为“{F(fn.status).label}”")


def classify_function_rows(
    rows: list[FunctionRow],
    *,
    batch: BankBatch,
    partner: IssuingPartner,
    layout: dict,
    report: FunctionReport,
) -> FunctionPlan:
    """Decide each row against the batch's cards and this partner's requests, writing nothing."""
    cards = dict(Card.objects.filter(batch=batch, number__isnull=False).values_list("number", "id"))
    functions = {
        f.card_id: f
        for f in CardFunction.objects.filter(card__batch=batch, partner=partner, kind=partner.function_kind)
    }
    by_number = defaultdict(list)
    for row in rows:
        by_number[row.number].append(row.row)
    plan = FunctionPlan([], {})
    for row in rows:
        error = _row_error(row, layout)
        card_id = cards.get(row.number)
        if error:
            report.add("invalid", row, error)
        elif len(by_number[row.number]) > 1:
            report.add("duplicate", row, f"卡号重复（第{'、'.join(map(str, by_number[row.number]))}行）")
        elif card_id is None:
            report.add("unknown_card", row, "该卡号不在本批次中")
        elif card_id not in functions:
            report.add(
                "wrong_partner", row, f"该卡未向{partner.name}申请{partner.get_function_kind_display()}"
            )
        else:
            _classify_one(row, functions[card_id], plan, report)
    return plan


# --- apply ----------------------------------------------------------------------------------------
def _apply_function_plan(imp: BankFileImport, plan: FunctionPlan) -> None:
    now = timezone.now()
    CardFunction.objects.filter(pk__in=plan.enable).update(
        status=F.ENABLED, enabled_at=now, refused_reason="", decided_by=imp
    )
    by_reason = defaultdict(list)
    for pk, reason in plan.refuse.items():
        by_reason[reason].append(pk)
    for reason, ids in by_reason.items():
        CardFunction.objects.filter(pk__in=ids).update(
            status=F.REFUSED, refused_reason=reason, decided_by=imp
        )


@transaction.atomic
def function_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict | None:
    """Apply a function partner's return to the batch's requests and report every row: enabled,
    refused (with the partner's reason), unknown card numbers, cards not asked of this partner,
    duplicates, unreadable rows, conflicts. One transaction under the batch lock; None when another
    run owns the import. Idempotent: the same file again changes nothing (all `unchanged`)."""
    batch = BankBatch.objects.select_for_update().get(pk=imp.batch_id)
    if not _import_owned(imp):
        return None
    layout = layouts.return_layout(imp.partner)
    rows = parse_function_rows(table, layout)
    job_progress(imp, done=0, total=len(rows))
    report = FunctionReport(len(rows))
    plan = classify_function_rows(rows, batch=batch, partner=imp.partner, layout=layout, report=report)
    _apply_function_plan(imp, plan)
    audit_record(
        actor=imp.created_by,
        verb="import.function_applied",
        target=imp,
        union=batch.union,
        data={"partner": imp.partner.code, **report.counts},
    )
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": report.counts, "lists": report.lists, "same_as": imp.same_as_id})


def function_summary(report: dict) -> str:
    c = report["counts"]
    return (
        f"共 {c['rows']} 行：已开通 {c['enabled']}，未开通 {c['declined']}，卡号不在本批次 {c['unknown_card']}，"
        f"未向该合作方申请 {c['wrong_partner']}，重复 {c['duplicate']}，无法识别 {c['invalid']}，"
        f"冲突 {c['conflict']}，已处理过 {c['unchanged']}"
    )


# --- what pages show ------------------------------------------------------------------------------
def function_counts(*, batch: BankBatch, partner: IssuingPartner) -> dict[str, int]:
    counts = dict.fromkeys(F.values, 0)
    rows = CardFunction.objects.filter(card__batch=batch, partner=partner).values("status")
    counts.update(dict(rows.annotate(n=Count("id")).values_list("status", "n")))
    return counts


def member_function_line(fn: CardFunction) -> str:
    """For the member: 交通功能：已开通 / 办理中 / 未开通（原因）."""
    label = fn.get_kind_display()
    if fn.status == F.ENABLED:
        return f"{label}：已开通"
    if fn.status == F.REFUSED:
        return f"{label}：未开通（{fn.refused_reason}）"
    return f"{label}：办理中"
