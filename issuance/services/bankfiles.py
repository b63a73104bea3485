"""Files from the bank (回盘 return files and activation files): the audited upload, the retry,
and the import task's body, which reconciles through `returns.py` or `activations.py`."""

import hashlib
import os

from django.core.files.base import ContentFile
from django.db import transaction

from cardportal import bulk
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import (
    job_finish,
    job_is_stale,
    job_queue,
    job_start,
)
from cardportal.retention import removed_message
from members.access import Cap, access_for
from members.models import Union

from ..files import check_upload, read_table
from ..models import (
    BankBatch,
    BankFileImport,
    CardFunction,
    IssuingPartner,
)
from .activations import activation_reconcile
from .functions import function_reconcile, function_summary
from .returns import return_reconcile


@transaction.atomic
def import_create(
    *,
    kind: str,
    union: Union,
    file_name: str,
    data: bytes,
    actor,
    batch: BankBatch | None = None,
    partner: IssuingPartner | None = None,
) -> BankFileImport:
    """Keep the uploaded file and its sha256, then reconcile it in a task. An upload identical
    to an earlier one is noted (`same_as`); applying it again changes nothing. A function
    partner's return (kind FUNCTION) names the batch and the partner (`functions.py`)."""
    access_for(actor).require(Cap.BANK_FILES, "导入银行文件")
    batch, partner = _import_target(kind, batch, partner)
    if not file_name.lower().endswith((".xlsx", ".xls", ".xlsm", ".csv", ".txt")):
        raise ApplicationError("只支持 .xlsx、.xls 或 .csv 文件", code="bad_type")
    check_upload(data)
    sha = hashlib.sha256(data).hexdigest()
    _same_file_lock(kind, sha)
    previous = (
        BankFileImport.objects.filter(kind=kind, batch=batch, partner=partner, sha256=sha)
        .order_by("id")
        .first()
    )
    imp = BankFileImport(
        kind=kind,
        batch=batch,
        partner=partner,
        union=batch.union if batch else union,
        file_name=file_name[:200],
        sha256=sha,
        same_as=previous,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    imp.file.save(f"{kind}-{sha[:16]}{os.path.splitext(file_name)[1].lower()}", ContentFile(data), save=False)
    imp.save()
    audit_record(
        actor=actor,
        verb=f"import.{kind}_uploaded",
        target=imp,
        data={
            "sha256": sha,
            "batch": batch.code if batch else None,
            "partner": partner.code if partner else None,
            "same_as": previous.pk if previous else None,
        },
    )
    from ..tasks import import_apply_task

    job_queue(imp, phase="apply", task=import_apply_task)
    return imp


def _import_target(kind: str, batch: BankBatch | None, partner: IssuingPartner | None):
    """The batch (read fresh) and, for a function partner's return, the partner the file is for."""
    if kind in (BankFileImport.Kind.RETURN, BankFileImport.Kind.FUNCTION) and batch is None:
        raise ApplicationError("回盘文件须对应一个银行批次", code="no_batch")
    if batch is not None:
        batch = BankBatch.objects.get(pk=batch.pk)
    if batch is not None and not batch.handoff_file:
        raise ApplicationError("该批次的报送文件尚未生成", code="not_ready")
    if kind != BankFileImport.Kind.FUNCTION:
        return batch, None
    function_upload_check(batch=batch, partner=partner)
    return batch, partner


def function_upload_check(*, batch: BankBatch, partner: IssuingPartner | None) -> None:
    """A function partner's return needs the partner, and the batch's cards sent to it."""
    if partner is None or partner.role != IssuingPartner.Role.FUNCTION:
        raise ApplicationError("请选择开通功能的合作方", code="not_function_partner")
    if (
        not CardFunction.objects.filter(card__batch=batch, partner=partner)
        .exclude(status=CardFunction.Status.REQUESTED)
        .exists()
    ):
        raise ApplicationError(
            f"该批次尚未向{partner.name}报送开通清单，不能导入它的回盘文件", code="not_sent"
        )


def _same_file_lock(kind: str, sha: str) -> None:
    """Serialise the uploads of one file (kind + SHA-256) until commit, so the second of two
    identical files uploaded at the same moment sees the first and is marked `same_as` it
    (PostgreSQL advisory lock; SQLite's write transactions are serial already)."""
    bulk.advisory_xact_lock(f"bank-file:{kind}:{sha}")


@transaction.atomic
def import_retry(*, imp: BankFileImport, actor) -> BankFileImport:
    """Apply a bank file again after its job failed or lost its worker (a new run). The
    reconciliation is one transaction and idempotent, so nothing is applied twice."""
    access_for(actor).require(Cap.BANK_FILES, "重新导入银行文件")
    locked = BankFileImport.objects.select_for_update().get(pk=imp.pk)
    if not (locked.job_retryable or job_is_stale(locked)):
        raise ApplicationError("只有导入失败或中断的文件才能重新导入", code="invalid_status")
    from ..tasks import import_apply_task

    job_queue(locked, phase="apply", task=import_apply_task)
    audit_record(actor=actor, verb=f"import.{locked.kind}_retried", target=locked)
    return locked


def import_apply(*, import_id: int, token: str | None = None) -> None:
    """The import task's body: claim the job, reconcile, keep the report. Only the run that owns
    the import (`token`) applies it; the reconciliation checks that under the batch lock. A
    refused file (ApplicationError) fails the job with its message through the task (JobTask)."""
    imp = BankFileImport.objects.select_related("batch", "batch__partner", "partner", "union").get(
        pk=import_id
    )
    if not job_start(imp, phase="apply", token=token):
        return
    if imp.report:  # an earlier run of this import applied it
        job_finish(imp, message=_import_summary(imp.kind, imp.report))
        return
    if not imp.file:
        raise ApplicationError(removed_message("bank_import") + "请重新上传。", code="file_removed")
    with imp.file.open("rb") as handle:
        data = handle.read()
    table = read_table(data, imp.file_name)
    reconcile = {
        BankFileImport.Kind.RETURN: return_reconcile,
        BankFileImport.Kind.FUNCTION: function_reconcile,
    }.get(imp.kind, activation_reconcile)
    report = reconcile(imp=imp, table=table)
    if report is None:  # another run owns the import now
        return
    job_finish(imp, message=_import_summary(imp.kind, report))


def _import_summary(kind: str, report: dict) -> str:
    """Every class of row in the file, so the counts add up to the rows read (and missing cards)."""
    if kind == BankFileImport.Kind.FUNCTION:
        return function_summary(report)
    c = report["counts"]
    if kind == BankFileImport.Kind.RETURN:
        return (
            f"共 {c['rows']} 行：制卡成功 {c['issued']}，制卡失败 {c['rejected']}，卡号无效 {c['invalid']}，"
            f"证件号不在本批次 {c['unknown']}，重复 {c['duplicate']}，冲突 {c['conflict']}，"
            f"已处理过 {c['unchanged']}；未回盘 {c['missing']}"
        )
    return (
        f"共 {c['rows']} 行：激活 {c['activated']}，卡号或日期无效 {c['invalid']}，未知卡号 {c['unknown']}，"
        f"不能激活 {c['refused']}，已激活过 {c['unchanged']}"
    )
