"""Excel files the unions print or send upward: the distribution sheet (发放表), progress reports
and reconciliation reports. Small files: openpyxl, built in memory. Every cell goes through
`cardportal.exports` (names and units are typed by clerks: never a formula)."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from cardportal.exports import xlsx_append

from .models import Card
from .selectors import STAGES, WEEK_STAGES

THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
STATUS_LABELS = dict(Card.Status.choices)


def _finish(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(sheet, title: str, header: list[str], rows, widths: list[int], text_cols=()) -> None:
    """`text_cols`: 0-based columns of ID / card numbers, kept as text."""
    xlsx_append(sheet, [title])
    sheet.cell(1, 1).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    xlsx_append(sheet, header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        xlsx_append(sheet, row, text_cols=text_cols)
        for cell in sheet[sheet.max_row]:
            cell.border = BOX
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A3"


def distribution_sheet_xlsx(*, union, cards: list[Card]) -> bytes:
    """发放表: member, masked ID, last four digits of the card number, and a column to sign in."""
    book = Workbook()
    sheet = book.active
    sheet.title = "发放表"
    rows = [
        [i, c.member.name, c.member.masked_id, c.member.work_unit, f"尾号{c.number_tail}", "", ""]
        for i, c in enumerate(cards, start=1)
    ]
    _table(
        sheet,
        f"{union.name} 工会会员卡发放表",
        ["序号", "姓名", "身份证号（脱敏）", "单位", "卡号后四位", "会员签字", "领取日期"],
        rows,
        [6, 12, 22, 24, 12, 16, 14],
        text_cols=(2, 4),
    )
    for r in range(3, sheet.max_row + 1):
        sheet.row_dimensions[r].height = 28
    sheet.append([])
    xlsx_append(sheet, [f"共 {len(cards)} 张。发放工作完成后，本表由基层工会留存备查。"])
    xlsx_append(sheet, ["经办人签字：", "", "", "工会负责人签字：", "", "日期："])
    sheet.print_title_rows = "2:2"
    return _finish(book)


def progress_xlsx(*, root, by_status: list[dict], by_week: list[dict]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "按状态"
    rows = [[r["union"].name, *r["counts"], r["total"], r["issued"]] for r in by_status]
    totals = [sum(col) for col in zip(*[r["counts"] for r in by_status], strict=True)] if by_status else []
    rows.append(["合计", *totals, sum(r["total"] for r in by_status), sum(r["issued"] for r in by_status)])
    _table(
        sheet,
        f"{root.name} 会员卡发放进度（按状态）",
        ["工会", *[str(STATUS_LABELS[s]) for s in STAGES], "合计", "已制卡及以后"],
        rows,
        [28] + [10] * (len(STAGES) + 2),
    )
    weekly = book.create_sheet("按周")
    _table(
        weekly,
        f"{root.name} 会员卡发放进度（按周）",
        ["周", "周一", *[str(STATUS_LABELS[s]) for s in WEEK_STAGES]],
        [[w["label"], w["week"].isoformat(), *w["counts"]] for w in by_week],
        [16, 12] + [10] * len(WEEK_STAGES),
    )
    return _finish(book)


REPORT_SECTIONS = {
    "issued": "制卡成功",
    "rejected": "银行退回",
    "unknown": "不在本批次的证件号码",
    "duplicate": "重复行",
    "invalid": "卡号无效",
    "conflict": "冲突",
    "missing": "未回盘",
    "activated": "已激活",
    "refused": "不能激活",
    "enabled": "功能已开通",
    "declined": "功能未开通",
    "unknown_card": "不在本批次的卡号",
    "wrong_partner": "未向该合作方申请",
}


SUMMARY_LABELS = {"rows": "文件行数", **REPORT_SECTIONS, "unchanged": "已处理过（未变化）"}


def reconciliation_xlsx(*, imp) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "汇总"
    counts = imp.report.get("counts", {})
    _table(
        summary,
        f"{imp.get_kind_display()}对账结果：{imp.file_name}",
        ["项目", "数量"],
        [[SUMMARY_LABELS[k], counts[k]] for k in SUMMARY_LABELS if k in counts],
        [24, 10],
    )
    lists = imp.report.get("lists", {})
    for key in REPORT_SECTIONS:  # a fixed order (jsonb does not keep the keys' order)
        items = lists.get(key)
        if not items:
            continue
        sheet = book.create_sheet(REPORT_SECTIONS.get(key, key)[:31])
        if key == "missing":
            _table(
                sheet,
                REPORT_SECTIONS[key],
                ["姓名", "身份证号（脱敏）"],
                [[i["name"], i["id"]] for i in items],
                [12, 22],
                text_cols=(1,),
            )
        else:
            _table(
                sheet,
                REPORT_SECTIONS.get(key, key),
                ["行号", "身份证号（脱敏）", "卡号", "说明"],
                [[i.get("row"), i.get("id", ""), i.get("number", ""), i.get("reason", "")] for i in items],
                [8, 22, 22, 40],
                text_cols=(1, 2),
            )
    return _finish(book)


def hardship_cards_xlsx(*, root, cards) -> bytes:
    """Seed 004 §三: the card numbers of the hardship members, for the union above. Full card
    numbers, because the aid is paid to them; ID numbers masked (the card identifies the member)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "困难职工卡号"
    rows = (
        [i, c.union.name, c.member.name, c.member.masked_id, c.number, str(STATUS_LABELS[c.status])]
        for i, c in enumerate(cards.iterator(chunk_size=2000), start=1)
    )
    _table(
        sheet,
        f"{root.name} 建档困难职工工会会员卡卡号统计表",
        ["序号", "基层工会", "姓名", "身份证号", "卡号", "卡片状态"],
        rows,
        [6, 28, 12, 22, 22, 12],
        text_cols=(3, 4),
    )
    return _finish(book)
