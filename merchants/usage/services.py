"""Feed uploads: the audited upload (the kernel's whole-file checks before anything is kept),
the retry, and the problem rows as a download."""

import hashlib
import os

from django.core.files.base import File
from django.db import transaction

from cardportal import tables
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import job_is_stale, job_queue
from members.access import Cap, access_for

from .importer import limits
from .models import PartnerFeed, TxnImport

SUFFIXES = (".csv", ".txt", ".xlsx", ".xls")


def _sha256(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for piece in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(piece)
    upload.seek(0)
    return digest.hexdigest()


def _check(upload) -> None:
    """The kernel's checks that need no parse, on the upload as it lies (memory or temp file)."""
    path = getattr(upload, "temporary_file_path", None)
    try:
        if path:
            tables.check_path(path(), limits=limits())
        else:
            upload.seek(0)
            tables.check_file(upload.read(), limits=limits())
            upload.seek(0)
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused


@transaction.atomic
def import_create(*, feed: PartnerFeed, upload, actor) -> TxnImport:
    """Keep the file (once checked) and import it in a task on the `bank` queue. The same file
    uploaded again is imported again and finds every transaction already there (duplicates)."""
    access_for(actor).require(Cap.USAGE_IMPORT, "导入刷卡交易明细")
    name = os.path.basename(upload.name or "feed")
    if not name.lower().endswith(SUFFIXES):
        raise ApplicationError("只支持 .csv、.txt、.xlsx 或 .xls 文件", code="bad_type")
    _check(upload)
    sha = _sha256(upload)
    imp = TxnImport(
        partner=feed.partner,
        kind=feed.code,
        file_name=name[:200],
        sha256=sha,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    imp.file.save(
        f"{feed.partner.code}-{sha[:16]}{os.path.splitext(name)[1].lower()}", File(upload), save=False
    )
    imp.save()
    earlier = TxnImport.objects.filter(partner=feed.partner, sha256=sha).exclude(pk=imp.pk).count()
    audit_record(
        actor=actor,
        verb="usage.imported",
        target=imp,
        data={"sha256": sha, "feed": feed.code, "same_file_before": earlier},
    )
    from .tasks import txn_import_task

    job_queue(imp, phase="import", task=txn_import_task)
    return imp


@transaction.atomic
def import_retry(*, imp: TxnImport, actor) -> TxnImport:
    """A failed or interrupted import again, whole: its one final transaction never half-applied."""
    access_for(actor).require(Cap.USAGE_IMPORT, "重新导入刷卡交易明细")
    locked = TxnImport.objects.select_for_update().get(pk=imp.pk)
    if not (locked.job_retryable or job_is_stale(locked)):
        raise ApplicationError("只有导入失败或中断的文件才能重新导入", code="invalid_status")
    from .tasks import txn_import_task

    job_queue(locked, phase="import", task=txn_import_task)
    return locked


PROBLEM_HEADER = ["类别", "行号", "列", "卡号（已遮蔽）", "交易参考号", "说明"]


def problem_rows(imp: TxnImport) -> list[list]:
    """The report's problem rows as a table (masked card numbers only), for the download."""
    report = imp.report or {}
    rows = [["格式错误", r["line"], r["column"], "", "", r["error"]] for r in report.get("rejected_rows", [])]
    rows += [
        ["未知卡号", r["line"], "卡号", r["card"], r["reference"], "系统中没有此卡号，未入库"]
        for r in report.get("unknown_cards", [])
    ]
    rows += [
        ["非有效卡", r["line"], "卡号", r["card"], r["reference"], f"卡片状态：{r['status']}（已入库）"]
        for r in report.get("cards_not_live", [])
    ]
    rows += [
        ["非特约商户", "", "商户号", "", r["mid"], f"{r['count']} 笔（已入库，不计入特约商户）"]
        for r in report.get("unknown_mids", [])
    ]
    return rows
