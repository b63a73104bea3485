"""The audit log as an .xlsx: masked, formula-free, bounded.

Written with openpyxl's write-only workbook (rows streamed, flat memory). `safe_text` is the one
place that neutralises formula-leading text; when the shared export writer (issue 10, "one writer
helper for every .xlsx/.csv") lands, `audit_workbook` should switch to it and drop `safe_text`.
"""

import io
import json

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from .audit import audit_record, mask_pii_text, verb_family
from .scoping import staff_of

# More rows than this is a question for a narrower date range, not one synchronous download.
EXPORT_MAX_ROWS = 20_000

HEADERS = [
    "时间",
    "操作人",
    "操作类别",
    "操作",
    "操作代码",
    "对象类型",
    "对象编号",
    "对象",
    "所属工会",
    "IP 地址",
    "详情",
]
WIDTHS = [20, 14, 14, 24, 26, 20, 10, 36, 24, 16, 60]

# Excel, LibreOffice and WPS start a formula (or DDE call) with these; a tab or CR in front is
# stripped by some importers, which then see the formula.
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value) -> str:
    """Text for a cell: personal numbers masked, a formula-leading value prefixed with ' so every
    spreadsheet program shows it as text."""
    text = mask_pii_text("" if value is None else str(value))
    return f"'{text}" if text.startswith(_FORMULA_LEAD) else text


def entry_row(entry) -> list[str]:
    data = json.dumps(entry.data, ensure_ascii=False, sort_keys=True) if entry.data else ""
    return [
        timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        entry.actor.username if entry.actor else "（系统）",
        verb_family(entry.verb).label,
        entry.verb_label,
        entry.verb,
        entry.target_type,
        entry.target_id,
        entry.target_label,
        entry.union.name if entry.union else "",
        entry.ip or "",
        data,
    ]


def audit_workbook(entries, *, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    for i, width in enumerate(WIDTHS):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    title_cell = WriteOnlyCell(sheet, value=safe_text(title))
    title_cell.font = Font(bold=True, size=13)
    sheet.append([title_cell])
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for entry in entries:
        # Every value is written as a string (openpyxl would store "=..." as a formula and a
        # long digit run as a number that Excel rounds).
        sheet.append([safe_text(value) for value in entry_row(entry)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@transaction.atomic
def audit_log_export(*, actor, entries: list, filters: dict, ip: str | None = None) -> tuple[bytes, str]:
    """The .xlsx of `entries` (already scoped and bounded by the caller's selector) and its file
    name; the export is itself audited, with the filters and the row count, in one transaction."""
    staff = staff_of(actor)
    now = timezone.localtime()
    audit_record(
        actor=actor,
        verb="audit.exported",
        target=staff.union if staff else actor,
        union=staff.union if staff else None,
        data={"filters": filters, "rows": len(entries)},
        ip=ip,
        label=f"{now:%Y-%m-%d %H:%M} 审计日志导出（{len(entries)} 条）",
    )
    scope = staff.union.name if staff else "全部"
    content = audit_workbook(entries, title=f"审计日志 · {scope} · 导出于 {now:%Y-%m-%d %H:%M}")
    return content, f"audit-{now:%Y%m%d-%H%M}.xlsx"
