"""The hand-off file (报送银行文件): writing the batch's list for the bank in its partner's layout
(the hand-off task's body), writing it again after a failed run, and the audited download."""

import hashlib
import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cardportal import crypto, exports
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import (
    Job,
    job_finish,
    job_holds,
    job_is_stale,
    job_progress,
    job_queue,
    job_start,
)
from cardportal.retention import removed_message
from members.access import Cap, access_for

from .. import layouts
from ..models import (
    BankBatch,
    Card,
)


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
TEXT_FIELDS = frozenset({"id_number", "phone", "card_number"})


def handoff_write(*, batch: BankBatch, layout: dict, out, progress=None) -> int:
    """Write the hand-off list to the binary stream `out`; return the data row count."""
    fields = [c["field"] for c in layout["columns"]]
    return layout_write(rows=_handoff_rows(batch, fields), layout=layout, out=out, progress=progress)


def layout_write(*, rows, layout: dict, out, progress=None) -> int:
    """Write `rows` (dicts by field) in a partner's layout (xlsx or csv) to the binary stream
    `out`; return the data row count. The bank's hand-off and a function partner's use it."""
    columns = layout["columns"]
    fields = [c["field"] for c in columns]
    text_cols = [i for i, f in enumerate(fields) if f in TEXT_FIELDS]
    count = 0
    if layout.get("format", "xlsx") == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        writer = exports.csv_writer(text, text_cols=text_cols)
        writer.writerow([c["title"] for c in columns])
        for row in rows:
            writer.writerow([row[f] for f in fields])
            count += 1
            if progress and count % 5000 == 0:
                progress(count)
        text.flush()
        text.detach()
        return count
    import xlsxwriter

    # constant_memory writes each row straight to disk: flat memory for 100,000 rows.
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet(layout.get("sheet") or "Sheet1")
    head = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text_fmt = book.add_format({"num_format": "@"})
    widths = {
        "id_number": 22,
        "id_masked": 22,
        "card_number": 22,
        "phone": 14,
        "work_unit": 24,
        "union": 24,
        "name": 10,
        "card_ref": 10,
    }
    for i, field in enumerate(fields):
        sheet.set_column(i, i, widths.get(field, 9), text_fmt if field in TEXT_FIELDS else None)
    # Values are strings except 序号; the ID and phone columns carry the text format, so cells
    # need no format of their own. Names and units are the clerks' text: written as strings, a
    # leading "=" quote-prefixed (cardportal.exports).
    write = exports.XlsxStreamRows(book, sheet).write
    write(0, [c["title"] for c in columns], head)
    for row in rows:
        count += 1
        write(count, [row[f] for f in fields])
        if progress and count % 5000 == 0:
            progress(count)
    book.close()
    return count


def batch_generate_handoff(*, batch_id: int, token: str | None = None) -> None:
    """The hand-off task's body. Idempotent: a finished batch is left alone (job_start refuses),
    and only the run that owns the batch (`token`) writes the file. A refusal (ApplicationError)
    or an unexpected error fails the job through the task's one failure path (JobTask)."""
    batch = BankBatch.objects.select_related("partner").get(pk=batch_id)
    if not job_start(batch, phase="handoff", token=token, total=batch.card_count):
        return
    if batch.handoff_file:  # an earlier run of this hand-off wrote it
        job_finish(batch, message=f"已生成报送文件，共 {batch.handoff_rows} 行")
        return
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


@transaction.atomic
def batch_handoff_retry(*, batch: BankBatch, actor) -> BankBatch:
    """Write the hand-off file again after its job failed or lost its worker (a new run)."""
    access_for(actor).require(Cap.BANK_FILES, "重新生成报送银行文件")
    locked = BankBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.handoff_file or not (locked.job_status == Job.Status.FAILED or job_is_stale(locked)):
        raise ApplicationError("只有生成失败或中断的批次才能重新生成报送文件", code="invalid_status")
    from ..tasks import batch_handoff_task

    job_queue(locked, phase="handoff", task=batch_handoff_task)
    audit_record(actor=actor, verb="batch.handoff_retried", target=locked)
    return locked


def batch_handoff_open(*, batch: BankBatch, actor, ip: str | None = None, via: str = "web"):
    """Open the hand-off file (full ID numbers) for download: allowed roles only, always audited."""
    access_for(actor).require(Cap.BANK_FILES, "下载报送银行文件（含完整身份证号）")
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
