"""Files exchanged with the bank for a batch: the payment file written by the export job (with
its manifest), the audited download, and applying the bank's confirmation file."""

import hashlib
import io
from decimal import Decimal
from typing import NamedTuple

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from cardportal import exports
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import job_fail, job_finish, job_holds, job_progress, job_queue, job_start
from cardportal.retention import removed_message

from ..models import Disbursement, DisbursementLine
from ..retention import PAYMENT_RULES
from .common import _money, _refuse, _refuse_if
from .disbursements import _lock, disbursement_totals
from .four_eyes import (
    disbursement_confirm_refusal,
    disbursement_download_refusal,
    disbursement_export_refusal,
)
from .payment_sheets import AMOUNT_HEADERS, CARD_HEADERS, _amount, _col_letter, _column, _text, read_rows


@transaction.atomic
def disbursement_export(*, disbursement: Disbursement, actor) -> Disbursement:
    """Queue the job that writes the bank payment file of an APPROVED batch (never before)."""
    from ..tasks import disbursement_export_task

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


def _list_no_longer_approved(disbursement: Disbursement, lines: list, total: Decimal) -> tuple | None:
    """(message, code) when the list cannot be paid as approved: it changed since the approval,
    or a line's card is no longer live (lost, cancelled, renumbered)."""
    if (len(lines), total) != (disbursement.approved_count, disbursement.approved_total):
        return (
            f"名单（{len(lines)}人，{total:.2f}元）与审批时（{disbursement.approved_count}人，"
            f"{disbursement.approved_total}元）不符，已退回草稿，须重新提交审批",
            "changed_after_approval",
        )
    dead = [ln for ln in lines if not ln.card.is_numbered_live or ln.card.number != ln.card_number]
    if dead:
        names = "、".join(ln.name for ln in dead[:10])
        return f"{len(dead)}人的工会卡已挂失或注销（{names}），请移出名单后重新提交审批", "dead_cards"
    return None


def _payment_file(disbursement: Disbursement, lines: list, total: Decimal) -> tuple[bytes, dict]:
    """The payment file (序号, 卡号, 姓名, 金额; UTF-8 CSV, card numbers kept as text) and its manifest."""
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
    return content, manifest


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
    stale = _list_no_longer_approved(disbursement, lines, total)
    if stale:
        _back_to_draft(disbursement, message=stale[0], code=stale[1])
        return
    content, manifest = _payment_file(disbursement, lines, total)
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


def _notify_paid(disbursement: Disbursement, lines: list[DisbursementLine]) -> None:
    """资金已到卡: a notice and an SMS per line the bank confirmed paid, once per line (its key)."""
    from members.sms.models import Notice
    from members.sms.notices import notices_send_many

    what = disbursement.programme.name if disbursement.programme_id else disbursement.get_kind_display()
    notices_send_many(
        kind=Notice.Kind.AID_PAID,
        items=[
            (
                line.member_id,
                f"aid-paid:{line.pk}",
                {"programme": what, "amount": _money(line.amount), "tail": line.card_tail},
            )
            for line in lines
        ],
    )


class ConfirmColumns(NamedTuple):
    """Where the confirmation file's columns are (reference and reason are optional)."""

    card: int
    amount: int
    result: int
    ref: int | None
    reason: int | None

    @classmethod
    def find(cls, headers: list[str]) -> "ConfirmColumns":
        card, amount = _column(headers, CARD_HEADERS), _column(headers, AMOUNT_HEADERS)
        result = _column(headers, ("结果", "处理结果", "状态"))
        if None in (card, amount, result):
            raise ApplicationError(
                "第1行须有表头：“卡号”“金额”“结果”（可选“流水号”“失败原因”）", code="header_not_found"
            )
        ref, reason = _column(headers, ("流水号", "银行流水号")), _column(headers, ("失败原因", "原因"))
        return cls(card, amount, result, ref, reason)


def _confirm_row(n: int, cells: list, cols: ConfirmColumns, lines: dict, seen: set) -> tuple:
    """Classify one data row against the batch's lines: (change or None, error or "")."""
    number = _text(cells[cols.card]).replace(" ", "")
    line = lines.get(number)
    if line is None:
        return None, f"第{n}行{_col_letter(cols.card)}列（卡号）：尾号{number[-4:]}不在本批次中"
    if number in seen:
        return None, f"第{n}行：卡号尾号{number[-4:]}在文件中重复"
    seen.add(number)
    if _amount(cells[cols.amount]) != line.amount:
        shown = _text(cells[cols.amount])
        return None, f"第{n}行{_col_letter(cols.amount)}列（金额）：{shown}与批次金额{line.amount}不符"
    outcome = _text(cells[cols.result]).lower()
    ref = _text(cells[cols.ref])[:40] if cols.ref is not None else ""
    if outcome in CONFIRM_OK:
        paid = line.status != DisbursementLine.Status.PAID
        return ((line, DisbursementLine.Status.PAID, ref, "") if paid else None), ""
    if outcome not in CONFIRM_FAIL:
        shown = _text(cells[cols.result])
        return None, f"第{n}行{_col_letter(cols.result)}列（结果）：“{shown}”应为“成功”或“失败”"
    reason = (_text(cells[cols.reason]) if cols.reason is not None else "")[:200] or "银行未说明"
    if line.status == DisbursementLine.Status.PAID:
        return None, f"第{n}行：尾号{number[-4:]}此前已确认到账，不能改为失败"
    if line.status == DisbursementLine.Status.PENDING:
        return (line, DisbursementLine.Status.FAILED, ref, reason), ""
    return None, ""


def _apply_confirmation(
    disbursement: Disbursement, changes: list, *, filename: str, actor
) -> tuple[int, int]:
    """Write the lines' new states, close the batch when nothing is pending; (paid, failed)."""
    now = timezone.now()
    for line, status, ref, reason in changes:
        line.status, line.bank_reference, line.failure_reason = status, ref or line.bank_reference, reason
        line.paid_at = now if status == DisbursementLine.Status.PAID else None
    DisbursementLine.objects.bulk_update(
        [c[0] for c in changes], ["status", "bank_reference", "failure_reason", "paid_at"], batch_size=2000
    )
    _notify_paid(disbursement, [c[0] for c in changes if c[1] == DisbursementLine.Status.PAID])
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
    return paid, failed


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
    cols = ConfirmColumns.find(headers)
    lines = {ln.card_number: ln for ln in disbursement.lines.select_for_update().order_by("id")}
    errors, changes, seen = [], [], set()
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(headers) - len(row))
        if all(_text(c) == "" for c in cells):
            continue
        change, error = _confirm_row(n, cells, cols, lines, seen)
        if error:
            errors.append(error)
        elif change is not None:
            changes.append(change)
    if errors:
        _refuse(errors, code="invalid_confirmation", lead="回盘文件未导入，请核对后重新上传")
    paid, failed = _apply_confirmation(disbursement, changes, filename=filename, actor=actor)
    return {"paid": paid, "failed": failed, "unchanged": len(seen) - len(changes)}
