"""Writes of the issuance app. Every card status change goes through `lifecycle.cards_transition`
(so the monthly counters stay equal to a recount); each service owns its transaction and audit row."""

import hashlib
import io
import os
from collections import defaultdict
from datetime import date, datetime, time

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cardportal import crypto, exports
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import (
    Job,
    job_fail,
    job_finish,
    job_holds,
    job_is_stale,
    job_progress,
    job_queue,
    job_start,
)
from cardportal.retention import removed_message
from cardportal.scoping import staff_of
from members.idcard import normalise as normalise_id
from members.models import Member, StaffRole, Union

from . import layouts
from .cardnumbers import card_number_error, normalise_card_number
from .files import check_upload, mapped_rows, read_table
from .lifecycle import cards_move, cards_transition
from .models import (
    ActivationSession,
    BankBatch,
    BankFileImport,
    Card,
    CardEvent,
    CardNotice,
    CardReceipt,
    IssuingPartner,
    Wave,
)

S = Card.Status
R = StaffRole.Role
BATCH_ROLES = frozenset({R.CITY_STAFF, R.PROVINCE_STAFF, R.BANK_OPERATOR, R.ADMIN})
HANDOFF_ROLES = frozenset({R.CITY_STAFF, R.BANK_OPERATOR, R.ADMIN})
UNION_ROLES = frozenset({R.CLERK, R.ADMIN})  # receipt, distribution, activation sessions, loss
# A member reports only a card that is in their hands; the clerk also one still at the union.
MEMBER_LOSABLE = frozenset({S.DISTRIBUTED, S.ACTIVATED})
REPORT_LIMIT = 1000  # rows kept per list in a reconciliation report (counts are always complete)


def role_allows(user, roles: frozenset) -> bool:
    if user is None:
        return False
    if getattr(user, "is_superuser", False):
        return True
    staff = staff_of(user)
    return staff is not None and staff.role in roles


def _require(user, roles: frozenset, what: str) -> None:
    """Role check for people; actor=None is the system itself (demo loader, bank API jobs)."""
    if user is not None and not role_allows(user, roles):
        raise ApplicationError(f"您的角色无权{what}", code="forbidden")


# --- bank batches and the hand-off file --------------------------------------------------------
def applied_cards(*, union: Union, wave: Wave | None = None, hardship_only: bool = False):
    """Applied cards a batch may take: in `union`'s subtree (and the wave's areas), hardship
    workers first (004 §一), then replacements, then oldest application."""
    qs = Card.objects.filter(status=S.APPLIED, union__path__startswith=union.path)
    if wave is not None:
        area = Q()
        for path in wave.unions.values_list("path", flat=True):
            area |= Q(union__path__startswith=path)
        qs = qs.filter(area) if area else qs.none()
    if hardship_only:
        qs = qs.filter(is_hardship=True)
    return qs.order_by("-is_hardship", F("replaces_id").asc(nulls_last=True), "id")


@transaction.atomic
def batch_create(
    *,
    partner: IssuingPartner,
    union: Union,
    actor,
    wave: Wave | None = None,
    limit: int | None = None,
    hardship_only: bool = False,
    note: str = "",
) -> BankBatch:
    """Take applied cards into a new batch (applied → in_batch) and enqueue the hand-off file.

    Two people building batches at once cannot both take a card: cards_transition locks the cards
    and, non-strict, skips any another batch took first."""
    _require(actor, BATCH_ROLES, "创建银行批次")
    if limit is not None and limit <= 0:
        raise ApplicationError("张数须大于0", code="bad_limit")
    ids = list(
        applied_cards(union=union, wave=wave, hardship_only=hardship_only).values_list("id", flat=True)[
            :limit
        ]
    )
    if not ids:
        raise ApplicationError("范围内没有待报送银行的卡片", code="nothing_to_batch")
    today = timezone.localdate()
    batch = BankBatch.objects.create(
        code=f"TMP-{os.urandom(6).hex()}",  # unique placeholder until the pk gives the real code
        partner=partner,
        union=union,
        wave=wave,
        note=note,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    batch.code = f"B{today:%Y%m%d}-{batch.pk:05d}"
    moved = cards_transition(
        cards=ids,
        to_status=S.IN_BATCH,
        actor=actor,
        note=f"报送银行批次 {batch.code}",
        updates={i: {"batch_id": batch.pk, "partner_id": partner.pk} for i in ids},
        strict=False,
    )
    if not moved:
        raise ApplicationError("卡片已被其他批次占用，请重试", code="nothing_to_batch")
    batch.card_count = len(moved)
    batch.hardship_count = sum(1 for c in moved if c.is_hardship)
    batch.progress_total = batch.card_count
    batch.save(update_fields=["code", "card_count", "hardship_count", "progress_total"])
    audit_record(
        actor=actor,
        verb="batch.created",
        target=batch,
        data={"cards": batch.card_count, "hardship": batch.hardship_count, "wave": wave.pk if wave else None},
    )
    from .tasks import batch_handoff_task

    job_queue(batch, phase="handoff", task=batch_handoff_task)
    return batch


def _handoff_rows(batch: BankBatch, fields: list[str]):
    """The batch's rows for the hand-off list, decrypting each ID number and phone once (and
    only when the layout has the column)."""
    with_id, with_phone = "id_number" in fields, "phone" in fields
    qs = (
        Card.objects.filter(batch=batch)
        .order_by("-is_hardship", F("replaces_id").asc(nulls_last=True), "id")
        .values_list(
            "id",
            "is_hardship",
            "replaces_id",
            "member__name",
            "member__gender",
            "member__birth_date",
            "member__id_encrypted",
            "member__phone_encrypted",
            "member__work_unit",
            "union__name",
            "union__code",
        )
    )
    # crypto.decrypt is what Member.reveal_id_number()/reveal_phone() call; reading the ciphertexts
    # with values_list avoids building 100,000 model instances.
    for seq, row in enumerate(qs.iterator(chunk_size=5000), start=1):
        card_id, hardship, replaces, name, gender, birth, id_enc, phone_enc, work_unit, union, union_code = (
            row
        )
        yield {
            "seq": seq,
            "name": name,
            "id_type": "居民身份证",
            "id_number": crypto.decrypt(id_enc) if with_id else "",
            "gender": "男" if gender == "M" else "女",
            "birth_date": birth.isoformat(),
            "phone": crypto.decrypt(phone_enc) if with_phone else "",
            "work_unit": work_unit,
            "union": union,
            "union_code": union_code,
            "hardship": "是" if hardship else "",
            "replacement": "补卡" if replaces else "",
            "card_ref": str(card_id),
        }


# Columns of digits that must stay text (an 18-digit number loses its last three digits in Excel).
TEXT_FIELDS = frozenset({"id_number", "phone"})


def handoff_write(*, batch: BankBatch, layout: dict, out, progress=None) -> int:
    """Write the hand-off list to the binary stream `out`; return the data row count."""
    columns = layout["columns"]
    fields = [c["field"] for c in columns]
    text_cols = [i for i, f in enumerate(fields) if f in TEXT_FIELDS]
    rows = 0
    if layout.get("format", "xlsx") == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        writer = exports.csv_writer(text, text_cols=text_cols)
        writer.writerow([c["title"] for c in columns])
        for row in _handoff_rows(batch, fields):
            writer.writerow([row[f] for f in fields])
            rows += 1
            if progress and rows % 5000 == 0:
                progress(rows)
        text.flush()
        text.detach()
        return rows
    import xlsxwriter

    # constant_memory writes each row straight to disk: flat memory for 100,000 rows.
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet(layout.get("sheet") or "Sheet1")
    head = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text_fmt = book.add_format({"num_format": "@"})
    widths = {"id_number": 22, "phone": 14, "work_unit": 24, "union": 24, "name": 10, "card_ref": 10}
    for i, field in enumerate(fields):
        sheet.set_column(i, i, widths.get(field, 9), text_fmt if field in TEXT_FIELDS else None)
    # Values are strings except 序号; the ID and phone columns carry the text format, so cells
    # need no format of their own. Names and units are the clerks' text: written as strings, a
    # leading "=" quote-prefixed (cardportal.exports).
    write = exports.XlsxStreamRows(book, sheet).write
    write(0, [c["title"] for c in columns], head)
    for row in _handoff_rows(batch, fields):
        rows += 1
        write(rows, [row[f] for f in fields])
        if progress and rows % 5000 == 0:
            progress(rows)
    book.close()
    return rows


def batch_generate_handoff(*, batch_id: int, token: str | None = None) -> None:
    """The hand-off task's body. Idempotent: a finished batch is left alone (job_start refuses),
    and only the run that owns the batch (`token`) writes the file. An unexpected error fails
    the job through the task's failure path (JobTask)."""
    batch = BankBatch.objects.select_related("partner").get(pk=batch_id)
    if not job_start(batch, phase="handoff", token=token, total=batch.card_count):
        return
    if batch.handoff_file:  # an earlier run of this hand-off wrote it
        job_finish(batch, message=f"已生成报送文件，共 {batch.handoff_rows} 行")
        return
    try:
        layout = layouts.handoff_layout(batch.partner)
        ext = layout.get("format", "xlsx")
        name = (
            layout["filename"].format(
                partner=batch.partner.name, batch=batch.code, date=timezone.localdate().strftime("%Y%m%d")
            )
            + f".{ext}"
        )
        buffer = io.BytesIO()
        rows = handoff_write(
            batch=batch, layout=layout, out=buffer, progress=lambda n: job_progress(batch, done=n)
        )
        data = buffer.getvalue()
        with transaction.atomic():
            owner = batch
            batch = BankBatch.objects.select_for_update().get(pk=batch.pk)
            if batch.handoff_file or not job_holds(owner):  # no longer this run's work
                return
            batch.handoff_file.save(f"{batch.code}.{ext}", ContentFile(data), save=False)
            batch.handoff_name = name
            batch.handoff_sha256 = hashlib.sha256(data).hexdigest()
            batch.handoff_rows = rows
            batch.handoff_at = timezone.now()
            batch.status = BankBatch.BatchStatus.HANDED_OFF
            batch.save(
                update_fields=[
                    "handoff_file",
                    "handoff_name",
                    "handoff_sha256",
                    "handoff_rows",
                    "handoff_at",
                    "status",
                ]
            )
            audit_record(
                actor=batch.created_by,
                verb="batch.handoff_written",
                target=batch,
                data={"rows": rows, "sha256": batch.handoff_sha256},
            )
        job_finish(batch, message=f"已生成报送文件，共 {rows} 行")
    except ApplicationError as exc:
        job_fail(batch, message=exc.message, code=exc.code)


@transaction.atomic
def batch_handoff_retry(*, batch: BankBatch, actor) -> BankBatch:
    """Write the hand-off file again after its job failed or lost its worker (a new run)."""
    _require(actor, HANDOFF_ROLES, "重新生成报送银行文件")
    locked = BankBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.handoff_file or not (locked.job_status == Job.Status.FAILED or job_is_stale(locked)):
        raise ApplicationError("只有生成失败或中断的批次才能重新生成报送文件", code="invalid_status")
    from .tasks import batch_handoff_task

    job_queue(locked, phase="handoff", task=batch_handoff_task)
    audit_record(actor=actor, verb="batch.handoff_retried", target=locked)
    return locked


def batch_handoff_open(*, batch: BankBatch, actor, ip: str | None = None, via: str = "web"):
    """Open the hand-off file (full ID numbers) for download: allowed roles only, always audited."""
    _require(actor, HANDOFF_ROLES, "下载报送银行文件（含完整身份证号）")
    if not batch.handoff_file:
        if batch.handoff_at:  # it was generated: removed under the retention rule since
            raise ApplicationError(removed_message("handoff"), code="file_removed")
        raise ApplicationError("报送文件尚未生成", code="not_ready")
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="batch.handoff_downloaded",
            target=batch,
            ip=ip,
            data={"rows": batch.handoff_rows, "sha256": batch.handoff_sha256, "via": via},
        )
    return batch.handoff_file.open("rb")


# --- files from the bank: return (回盘) and activation ----------------------------------------
@transaction.atomic
def import_create(
    *, kind: str, union: Union, file_name: str, data: bytes, actor, batch: BankBatch | None = None
) -> BankFileImport:
    """Keep the uploaded file and its sha256, then reconcile it in a task. An upload identical
    to an earlier one is noted (`same_as`); applying it again changes nothing."""
    _require(actor, HANDOFF_ROLES, "导入银行文件")
    if kind == BankFileImport.Kind.RETURN and batch is None:
        raise ApplicationError("回盘文件须对应一个银行批次", code="no_batch")
    if batch is not None:
        batch = BankBatch.objects.get(pk=batch.pk)
    if batch is not None and not batch.handoff_file:
        raise ApplicationError("该批次的报送文件尚未生成", code="not_ready")
    if not file_name.lower().endswith((".xlsx", ".xls", ".xlsm", ".csv", ".txt")):
        raise ApplicationError("只支持 .xlsx、.xls 或 .csv 文件", code="bad_type")
    check_upload(data)
    sha = hashlib.sha256(data).hexdigest()
    _same_file_lock(kind, sha)
    previous = BankFileImport.objects.filter(kind=kind, batch=batch, sha256=sha).order_by("id").first()
    imp = BankFileImport(
        kind=kind,
        batch=batch,
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
            "same_as": previous.pk if previous else None,
        },
    )
    from .tasks import import_apply_task

    job_queue(imp, phase="apply", task=import_apply_task)
    return imp


def _same_file_lock(kind: str, sha: str) -> None:
    """Serialise the uploads of one file (kind + SHA-256) until commit, so the second of two
    identical files uploaded at the same moment sees the first and is marked `same_as` it
    (PostgreSQL advisory lock; SQLite's write transactions are serial already)."""
    if connection.vendor == "postgresql":
        key = int(hashlib.sha256(f"bank-file:{kind}:{sha}".encode()).hexdigest()[:15], 16)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def import_retry(*, imp: BankFileImport, actor) -> BankFileImport:
    """Apply a bank file again after its job failed or lost its worker (a new run). The
    reconciliation is one transaction and idempotent, so nothing is applied twice."""
    _require(actor, HANDOFF_ROLES, "重新导入银行文件")
    locked = BankFileImport.objects.select_for_update().get(pk=imp.pk)
    if not (locked.job_retryable or job_is_stale(locked)):
        raise ApplicationError("只有导入失败或中断的文件才能重新导入", code="invalid_status")
    from .tasks import import_apply_task

    job_queue(locked, phase="apply", task=import_apply_task)
    audit_record(actor=actor, verb=f"import.{locked.kind}_retried", target=locked)
    return locked


def import_apply(*, import_id: int, token: str | None = None) -> None:
    """The import task's body: claim the job, reconcile, keep the report. Only the run that owns
    the import (`token`) applies it; the reconciliation checks that under the batch lock."""
    imp = BankFileImport.objects.select_related("batch", "batch__partner", "union").get(pk=import_id)
    if not job_start(imp, phase="apply", token=token):
        return
    if imp.report:  # an earlier run of this import applied it
        job_finish(imp, message=_import_summary(imp.kind, imp.report))
        return
    if not imp.file:
        job_fail(imp, message=removed_message("bank_import") + "请重新上传。", code="file_removed")
        return
    try:
        with imp.file.open("rb") as handle:
            data = handle.read()
        table = read_table(data, imp.file_name)
        reconcile = return_reconcile if imp.kind == BankFileImport.Kind.RETURN else activation_reconcile
        report = reconcile(imp=imp, table=table)
        if report is None:  # another run owns the import now
            return
        job_finish(imp, message=_import_summary(imp.kind, report))
    except ApplicationError as exc:
        job_fail(imp, message=exc.message, code=exc.code)


def _import_summary(kind: str, report: dict) -> str:
    """Every class of row in the file, so the counts add up to the rows read (and missing cards)."""
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


def _entry(lst: list, **item) -> None:
    if len(lst) < REPORT_LIMIT:
        lst.append(item)


def _mask(id_number: str) -> str:
    return crypto.mask_id_number(id_number)


def _cards_by_number(numbers: list[str]) -> dict[str, int]:
    """{card number: card id} for the cards already holding one of `numbers`. On PostgreSQL one
    query whose list is a single string parameter (no 100,000-placeholder IN list or ARRAY[…]
    of 100,000 expressions to parse); only digit strings can be stored (card_number_shape), so
    the others are left out. Chunks elsewhere."""
    if connection.vendor == "postgresql":
        digits = [n for n in numbers if n.isascii() and n.isdigit()]
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "number", "id" FROM "{Card._meta.db_table}" '
                "WHERE \"number\" = ANY(string_to_array(%s, ','))",
                [",".join(digits)],
            )
            return dict(cursor.fetchall())
    taken = {}
    for start in range(0, len(numbers), 5000):
        taken.update(
            Card.objects.filter(number__in=numbers[start : start + 5000]).values_list("number", "id")
        )
    return taken


@transaction.atomic
def return_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict:
    """Apply a return file to its batch and report: issued (matched), rejected (failed with the
    bank's reason), unknown IDs, duplicates, invalid numbers, conflicts and rows missing from the
    return. Idempotent: a card already in the state the row asks for is counted `unchanged`."""
    batch = BankBatch.objects.select_for_update().get(pk=imp.batch_id)
    if not _import_owned(imp):
        return None
    layout = layouts.return_layout(batch.partner)
    success_values = {v.strip().lower() for v in layout.get("success_values", [])}
    rows = list(
        mapped_rows(
            table, {k: layout[k] for k in ("id_number", "number", "status", "reason")}, ("id_number",)
        )
    )
    job_progress(imp, done=0, total=len(rows))

    cards = {}
    for card_id, id_hash, status, number, reason in Card.objects.filter(batch=batch).values_list(
        "id", "member__id_hash", "status", "number", "bank_reason"
    ):
        cards[id_hash] = (card_id, status, number, reason)

    lists = {k: [] for k in ("issued", "rejected", "unknown", "duplicate", "invalid", "conflict", "missing")}
    counts = dict.fromkeys(list(lists) + ["unchanged", "rows"], 0)
    counts["rows"] = len(rows)

    def listed(kind: str, row_no: int, id_number: str, number: str, reason: str) -> None:
        # only the first REPORT_LIMIT rows of a list are kept, so only those are masked
        if len(lists[kind]) < REPORT_LIMIT:
            lists[kind].append({"row": row_no, "id": _mask(id_number), "number": number, "reason": reason})

    parsed = []
    by_id = defaultdict(list)
    by_number = defaultdict(list)
    for row_no, values in rows:
        raw_id, raw_number = values.get("id_number", ""), values.get("number", "")
        # plain ASCII cells (nearly all) are already normal: NFKC and the noise removal only
        # matter for full-width characters, spaces and dashes
        id_number = raw_id.upper() if raw_id.isascii() and raw_id.isalnum() else normalise_id(raw_id)
        number = (
            raw_number if raw_number.isascii() and raw_number.isdigit() else normalise_card_number(raw_number)
        )
        status = values.get("status", "").strip()
        ok = status.lower() in success_values if status else bool(number)
        parsed.append((row_no, id_number, number, ok, values.get("reason", "").strip() or status))
    id_hashes = crypto.keyed_hash_many([p[1] for p in parsed])
    parsed = [(row_no, i, h, n, ok, r) for (row_no, i, n, ok, r), h in zip(parsed, id_hashes, strict=True)]
    for row_no, _id_number, id_hash, number, ok, _reason in parsed:
        by_id[id_hash].append(row_no)
        if ok and number:
            by_number[number].append(row_no)

    taken = _cards_by_number([p[3] for p in parsed if p[4] and p[3]])

    to_issue: dict[int, str] = {}
    to_reject: dict[int, str] = {}
    seen_hashes = set()
    for row_no, id_number, id_hash, number, ok, reason in parsed:
        seen_hashes.add(id_hash)
        if len(by_id[id_hash]) > 1:
            counts["duplicate"] += 1
            listed(
                "duplicate",
                row_no,
                id_number,
                number,
                f"证件号码重复（第{'、'.join(map(str, by_id[id_hash]))}行）",
            )
            continue
        if ok and number and len(by_number[number]) > 1:
            counts["duplicate"] += 1
            listed(
                "duplicate",
                row_no,
                id_number,
                number,
                f"卡号重复（第{'、'.join(map(str, by_number[number]))}行）",
            )
            continue
        card = cards.get(id_hash)
        if card is None:
            counts["unknown"] += 1
            listed("unknown", row_no, id_number, number, "该证件号码不在本批次中")
            continue
        card_id, status, current_number, current_reason = card
        if ok:
            error = card_number_error(number)
            if error:
                counts["invalid"] += 1
                listed("invalid", row_no, id_number, number, error)
            elif status == S.IN_BATCH:
                if taken.get(number, card_id) != card_id:
                    counts["conflict"] += 1
                    listed("conflict", row_no, id_number, number, "卡号已被其他会员卡使用")
                else:
                    to_issue[card_id] = number
                    listed("issued", row_no, id_number, number, "")
            elif current_number == number:
                counts["unchanged"] += 1
            else:
                counts["conflict"] += 1
                listed(
                    "conflict",
                    row_no,
                    id_number,
                    number,
                    f"卡片当前为“{S(status).label}”{('，卡号' + current_number) if current_number else ''}",
                )
        else:
            reason = reason or "银行未说明原因"
            if status == S.IN_BATCH:
                to_reject[card_id] = reason[:200]
                listed("rejected", row_no, id_number, "", reason)
            elif status == S.REJECTED_BY_BANK and current_reason == reason[:200]:
                counts["unchanged"] += 1
            else:
                counts["conflict"] += 1
                listed(
                    "conflict",
                    row_no,
                    id_number,
                    number,
                    f"银行报失败（{reason}），但卡片当前为“{S(status).label}”",
                )

    note = f"回盘文件 {imp.file_name}"
    issued = cards_move(
        cards=list(to_issue),
        to_status=S.ISSUED,
        actor=imp.created_by,
        note=note,
        updates={i: {"number": n, "bank_reason": ""} for i, n in to_issue.items()},
        strict=False,
    )
    rejected = cards_move(
        cards=list(to_reject),
        to_status=S.REJECTED_BY_BANK,
        actor=imp.created_by,
        note=note,
        updates={i: {"bank_reason": r} for i, r in to_reject.items()},
        strict=False,
    )
    counts["issued"], counts["rejected"] = len(issued), len(rejected)
    replacements = [card_id for card_id, _status, _number, _union, replaces_id, _at in issued if replaces_id]
    _notify_number_changes(list(Card.objects.filter(pk__in=replacements)) if replacements else [])

    for id_hash, (card_id, status, _n, _r) in cards.items():
        if status == S.IN_BATCH and id_hash not in seen_hashes:
            counts["missing"] += 1
            if len(lists["missing"]) < REPORT_LIMIT:
                lists["missing"].append({"card": card_id})
    if lists["missing"]:
        named = Card.objects.filter(pk__in=[m["card"] for m in lists["missing"]]).select_related("member")
        lists["missing"] = [{"card": c.pk, "name": c.member.name, "id": c.member.masked_id} for c in named]

    remaining = Card.objects.filter(batch=batch, status=S.IN_BATCH).exists()
    batch.status = BankBatch.BatchStatus.PARTLY_RETURNED if remaining else BankBatch.BatchStatus.RETURNED
    batch.save(update_fields=["status"])
    audit_record(
        actor=imp.created_by, verb="import.return_applied", target=imp, union=batch.union, data=counts
    )
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": counts, "lists": lists, "same_as": imp.same_as_id})


def _import_owned(imp: BankFileImport) -> bool:
    """Lock the import row; True while this run owns it and it has not been applied."""
    locked = BankFileImport.objects.select_for_update().get(pk=imp.pk)
    return not locked.report and job_holds(imp)


def _keep_report(imp: BankFileImport, report: dict) -> dict:
    """Stored in the reconciliation's transaction: a report means "applied", exactly once."""
    BankFileImport.objects.filter(pk=imp.pk).update(report=report)
    return report


def _notify_number_changes(cards: list[Card]) -> None:
    if not cards:
        return
    now = timezone.now()
    olds = {
        c.pk: c for c in Card.objects.filter(pk__in=[c.replaces_id for c in cards]).select_related("member")
    }
    unions = dict(Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("id", "member__union_id"))
    CardNotice.objects.bulk_create(
        [
            CardNotice(
                union_id=unions[c.pk],
                card=c,
                kind=CardNotice.Kind.NUMBER_CHANGED,
                message=(
                    f"{olds[c.replaces_id].member.name}（{olds[c.replaces_id].member.masked_id}）补办新卡，"
                    f"卡号由 {olds[c.replaces_id].number or '（未制卡）'} 变更为 {c.number}"
                ),
                created_at=now,
            )
            for c in cards
        ]
    )


def _parse_date(raw: str) -> date | None:
    text = (
        (raw or "")
        .strip()
        .replace("/", "-")
        .replace(".", "-")
        .replace("年", "-")
        .replace("月", "-")
        .replace("日", "")
    )
    text = text[:10]
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.strptime(text.split(" ")[0], "%Y-%m-%d").date()
    except ValueError:
        return None


def _at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12, 0)))


def _activate_by_date(card_ids_by_date: dict[date, list[int]], *, actor, note: str) -> list[Card]:
    """Activate cards on their dates. A card the bank activated before the union recorded
    receipt or distribution gets those stages recorded on the same date (the member has it)."""
    activated = []
    for day, ids in sorted(card_ids_by_date.items()):
        at = _at_noon(day)
        statuses = dict(Card.objects.filter(pk__in=ids).values_list("id", "status"))
        issued = [i for i in ids if statuses[i] == S.ISSUED]
        if issued:
            cards_transition(
                cards=issued, to_status=S.RECEIVED, actor=actor, at=at, note=f"{note}（按激活记录补记领卡）"
            )
        pending = [i for i in ids if statuses[i] in (S.ISSUED, S.RECEIVED)]
        if pending:
            cards_transition(
                cards=pending,
                to_status=S.DISTRIBUTED,
                actor=actor,
                at=at,
                note=f"{note}（按激活记录补记发放）",
            )
        activated += cards_transition(
            cards=ids, to_status=S.ACTIVATED, actor=actor, at=at, note=note, strict=False
        )
    return activated


@transaction.atomic
def activation_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict:
    """Apply an activation file (card number, date) within the import's union subtree."""
    if not _import_owned(imp):
        return None
    rows = list(mapped_rows(table, layouts.DEFAULT_ACTIVATION, ("number", "date")))
    job_progress(imp, done=0, total=len(rows))
    lists = {k: [] for k in ("activated", "unknown", "invalid", "refused")}
    counts = dict.fromkeys(list(lists) + ["unchanged", "rows"], 0)
    counts["rows"] = len(rows)
    numbers = [normalise_card_number(v["number"]) for _, v in rows]
    known = {}
    for start in range(0, len(numbers), 5000):
        known.update(
            {
                n: (i, st, timezone.localtime(issued).date() if issued else None)
                for n, i, st, issued in Card.objects.filter(
                    number__in=numbers[start : start + 5000], union__path__startswith=imp.union.path
                ).values_list("number", "id", "status", "issued_at")
            }
        )
    by_date: dict[date, list[int]] = defaultdict(list)
    today = timezone.localdate()
    for (row_no, values), number in zip(rows, numbers, strict=True):
        error = card_number_error(number)
        day = _parse_date(values["date"])
        if error or day is None or day > today:
            counts["invalid"] += 1
            _entry(
                lists["invalid"], row=row_no, number=number, reason=error or f"激活日期“{values['date']}”无效"
            )
            continue
        if number not in known:
            counts["unknown"] += 1
            _entry(lists["unknown"], row=row_no, number=number, reason="卡号不存在或不在本范围")
            continue
        card_id, status, issued_on = known[number]
        if issued_on and day < issued_on:
            counts["invalid"] += 1
            _entry(
                lists["invalid"], row=row_no, number=number, reason=f"激活日期 {day} 早于制卡日期 {issued_on}"
            )
            continue
        if status == S.ACTIVATED:
            counts["unchanged"] += 1
        elif status in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED):
            by_date[day].append(card_id)
            known[number] = (card_id, S.ACTIVATED, issued_on)  # a second row for the same card is a no-op
            _entry(lists["activated"], row=row_no, number=number, reason=day.isoformat())
        else:
            counts["refused"] += 1
            _entry(
                lists["refused"], row=row_no, number=number, reason=f"卡片当前为“{S(status).label}”，不能激活"
            )
    counts["activated"] = len(
        _activate_by_date(by_date, actor=imp.created_by, note=f"激活文件 {imp.file_name}")
    )
    audit_record(actor=imp.created_by, verb="import.activation_applied", target=imp, data=counts)
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": counts, "lists": lists, "same_as": imp.same_as_id})


# --- receipt, distribution, activation at the union -------------------------------------------
def _union_cards(union: Union, ids, *, status: str | None = None) -> dict[int, Card]:
    qs = Card.objects.filter(pk__in=list(ids), union__path__startswith=union.path)
    if status:
        qs = qs.filter(status=status)
    return {c.pk: c for c in qs}


def _ids_from_numbers(union: Union, numbers) -> list[int]:
    cleaned = [normalise_card_number(n) for n in numbers if str(n).strip()]
    found = dict(
        Card.objects.filter(number__in=cleaned, union__path__startswith=union.path).values_list(
            "number", "id"
        )
    )
    missing = [n for n in cleaned if n not in found]
    if missing:
        raise ApplicationError(
            f"以下卡号不存在或不属于本单位：{'、'.join(missing[:20])}", code="unknown_numbers"
        )
    return [found[n] for n in cleaned]


@transaction.atomic
def cards_receive(
    *,
    union: Union,
    card_ids,
    counted: int,
    actor,
    batch: BankBatch | None = None,
    note: str = "",
    at: datetime | None = None,
) -> CardReceipt:
    """Sign for delivered cards (issued → received). The clerk ticks the cards handed over and
    types the count in hand; when they disagree the receipt is kept as a mismatch and no card
    moves, so a short delivery is on record rather than silently accepted."""
    _require(actor, UNION_ROLES, "签收卡片")
    at = at or timezone.now()
    ids = set(card_ids)
    outstanding = Card.objects.filter(status=S.ISSUED, union__path__startswith=union.path)
    if batch is not None:
        outstanding = outstanding.filter(batch=batch)
    cards = _union_cards(union, ids, status=S.ISSUED)
    if batch is not None:
        cards = {k: c for k, c in cards.items() if c.batch_id == batch.pk}
    if not ids:
        raise ApplicationError("请勾选本次领取的卡片", code="nothing_selected")
    if len(cards) != len(ids):
        raise ApplicationError("勾选的卡片中有不是“银行已制卡”状态或不属于本单位的", code="bad_selection")
    if counted < 0:
        raise ApplicationError("清点张数不能为负数", code="bad_count")
    receipt = CardReceipt.objects.create(
        union=union,
        batch=batch,
        expected=outstanding.count(),
        selected=len(cards),
        counted=counted,
        accepted=counted == len(cards),
        note=note,
        actor=actor,
        at=at,
    )
    if not receipt.accepted:
        audit_record(
            actor=actor,
            verb="cards.receipt_mismatch",
            target=receipt,
            data={"selected": len(cards), "counted": counted, "expected": receipt.expected},
        )
        return receipt
    cards_transition(
        cards=list(cards), to_status=S.RECEIVED, actor=actor, at=at, note=f"领卡签收（清点 {counted} 张）"
    )
    audit_record(actor=actor, verb="cards.received", target=receipt, data={"count": counted})
    return receipt


@transaction.atomic
def cards_distribute(*, union: Union, actor, card_ids=(), numbers=(), at: datetime | None = None) -> int:
    """Record that members signed the distribution sheet (received → distributed), by ticked
    cards or typed/scanned card numbers. All or nothing: one wrong card refuses the lot."""
    _require(actor, UNION_ROLES, "登记发放")
    ids = list(dict.fromkeys([*card_ids, *_ids_from_numbers(union, numbers)]))
    if not ids:
        raise ApplicationError("请勾选或输入已签字领卡会员的卡片", code="nothing_selected")
    if len(_union_cards(union, ids)) != len(ids):
        raise ApplicationError("部分卡片不属于本单位", code="bad_selection")
    moved = cards_transition(cards=ids, to_status=S.DISTRIBUTED, actor=actor, at=at, note="会员签字领卡")
    audit_record(actor=actor, verb="cards.distributed", target=union, union=union, data={"count": len(moved)})
    return len(moved)


@transaction.atomic
def activation_session_record(
    *, union: Union, held_on: date, actor, place: str = "", card_ids=(), numbers=()
) -> ActivationSession:
    """An on-site activation session: the listed cards (distributed) become activated that day."""
    _require(actor, UNION_ROLES | HANDOFF_ROLES, "登记集中激活")
    if held_on > timezone.localdate():
        raise ApplicationError("激活日期不能晚于今天", code="future_date")
    ids = list(dict.fromkeys([*card_ids, *_ids_from_numbers(union, numbers)]))
    if not ids:
        raise ApplicationError("请勾选或输入本次激活的卡片", code="nothing_selected")
    cards = _union_cards(union, ids)
    if len(cards) != len(ids):
        raise ApplicationError("部分卡片不属于本单位", code="bad_selection")
    late = [
        c
        for c in cards.values()
        if c.distributed_at and timezone.localtime(c.distributed_at).date() > held_on
    ]
    if late:
        raise ApplicationError(f"激活日期早于卡片 {late[0].number} 的发放日期", code="before_distribution")
    moved = cards_transition(
        cards=ids,
        to_status=S.ACTIVATED,
        actor=actor,
        at=_at_noon(held_on),
        note=f"现场集中激活 {place}".strip(),
    )
    session = ActivationSession.objects.create(
        union=union, held_on=held_on, place=place, activated=len(moved), actor=actor
    )
    audit_record(actor=actor, verb="cards.activation_session", target=session, data={"count": len(moved)})
    return session


# --- loss, replacement, cancellation ----------------------------------------------------------
@transaction.atomic
def card_report_lost(*, card: Card, actor, note: str = "", at: datetime | None = None) -> Card:
    """Report a card lost (closed) and apply for its replacement, which the next batch takes.
    The replacement (`replaces` set) does not count again in the monthly figures.

    `actor` is a staff user (clerk and up) or the card's own `Member` reporting on the members'
    site: then only a card in the member's hands (distributed, activated) may be reported, the
    events record the member (`CardEvent.member_actor`) and the union's notice says who reported."""
    by_member = isinstance(actor, Member)
    if by_member:
        if card.member_id != actor.pk:
            raise ApplicationError("只能挂失本人的会员卡", code="forbidden")
        if card.status not in MEMBER_LOSABLE:
            raise ApplicationError(
                f"这张卡当前状态为“{card.get_status_display()}”，尚未交到您手中，不能挂失；如有疑问请联系所在工会",
                code="transition_refused",
            )
    else:
        _require(actor, UNION_ROLES | BATCH_ROLES, "办理挂失")
    at = at or timezone.now()
    note = note or ("会员本人在会员网站挂失" if by_member else "挂失")
    old = cards_transition(cards=[card.pk], to_status=S.LOST, actor=actor, at=at, note=note)[0]
    member = old.member
    staff_actor, member_actor = (None, actor) if by_member else (actor, None)
    new = Card.objects.create(
        member=member,
        union_id=member.union_id,
        is_hardship=member.is_hardship,
        replaces=old,
        partner_id=old.partner_id,
        applied_at=at,
        updated_at=at,
    )
    CardEvent.objects.create(
        card=new,
        from_status="",
        to_status=S.APPLIED,
        at=at,
        actor=staff_actor,
        member_actor=member_actor,
        note=f"补办（原卡 {old.number}）",
    )
    who = "由会员本人通过会员网站" if by_member else ""
    CardNotice.objects.create(
        union_id=member.union_id,
        card=old,
        kind=CardNotice.Kind.LOST,
        message=f"{member.name}（{member.masked_id}）的卡 {old.number} 已{who}挂失，补卡已申请，将随下一银行批次办理",
        created_at=at,
    )
    data = {"replacement": new.pk, "note": note, **({"by_member": member.pk} if by_member else {})}
    audit_record(actor=staff_actor, verb="card.lost", target=old, data=data)
    return new


@transaction.atomic
def card_cancel(*, card: Card, actor, note: str) -> Card:
    _require(actor, UNION_ROLES | BATCH_ROLES, "注销卡片")
    if not note.strip():
        raise ApplicationError("请填写注销原因", code="no_reason")
    moved = cards_transition(cards=[card.pk], to_status=S.CANCELLED, actor=actor, note=note)[0]
    audit_record(actor=actor, verb="card.cancelled", target=moved, data={"note": note})
    return moved


@transaction.atomic
def cards_requeue(*, cards, actor, note: str = "资料已更正，重新报送") -> int:
    """Bank-rejected cards whose data was fixed go back to `applied` for the next batch."""
    _require(actor, UNION_ROLES | BATCH_ROLES, "重新报送")
    moved = cards_transition(cards=cards, to_status=S.APPLIED, actor=actor, note=note, strict=True)
    for card in moved:
        audit_record(actor=actor, verb="card.requeued", target=card)
    return len(moved)


@transaction.atomic
def notice_acknowledge(*, notice: CardNotice, actor) -> None:
    CardNotice.objects.filter(pk=notice.pk, read_at__isnull=True).update(
        read_at=timezone.now(), read_by=actor
    )


# --- waves ------------------------------------------------------------------------------------
@transaction.atomic
def wave_create(
    *,
    name: str,
    owner: Union,
    unions,
    target: int,
    deadline: date,
    actor,
    partner=None,
    starts_on=None,
    note="",
) -> Wave:
    _require(actor, frozenset({R.CITY_STAFF, R.PROVINCE_STAFF, R.ADMIN}), "制定发卡计划")
    wave = Wave(
        name=name,
        owner=owner,
        partner=partner,
        target=target,
        deadline=deadline,
        starts_on=starts_on,
        note=note,
    )
    wave.full_clean()
    wave.save()
    wave.unions.set(unions)
    audit_record(actor=actor, verb="wave.created", target=wave, union=owner, data={"target": target})
    return wave
