"""Excel workbooks of the analytics pages (openpyxl, every cell through `cardportal.exports`:
union, merchant and member names are typed by people, never a formula). No card or ID number
is written: member lists carry the name, union, work unit and the masked phone only."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cardportal.exports import xlsx_append

HEAD = Font(bold=True, color="FFFFFF")
FILL = PatternFill("solid", fgColor="C0272D")


def _num(value):
    return float(value) if value is not None else None


def workbook(sheets: list[tuple[str, str, list[str], list[list]]], notes: list[tuple[str, str]]) -> bytes:
    """sheets: (sheet name, title, header, rows); notes: the 口径说明 sheet (term, meaning)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, title, header, rows in sheets:
        ws = wb.create_sheet(name[:31])
        xlsx_append(ws, [title])
        ws["A1"].font = Font(bold=True, size=14)
        xlsx_append(ws, header)
        for cell in ws[2]:
            cell.font, cell.fill = HEAD, FILL
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in rows:
            xlsx_append(ws, [_num(v) if hasattr(v, "quantize") else v for v in row])
        for i, label in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(10, min(30, len(label) * 2 + 4))
        ws.freeze_panes = "B3"
    ws = wb.create_sheet("口径说明")
    xlsx_append(ws, ["名词", "口径"])
    for term, meaning in notes:
        xlsx_append(ws, [term, meaning])
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 18, 100
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def activity_sheet(table) -> tuple:
    header = [
        "工会",
        "已激活卡",
        "用过的卡",
        "近30天用卡",
        "近30天活跃率（%）",
        "近90天用卡",
        "近90天活跃率（%）",
        "激活后从未使用",
    ]
    rows = [
        [r.union.name, r.activated, r.used_ever, r.active30, r.rate30, r.active90, r.rate90, r.never_used]
        for r in [*table.rows, table.total]
    ]
    return ("活跃用卡", f"活跃用卡（统计日期 {table.as_of or '—'}）", header, rows)


def spend_sheets(table) -> list[tuple]:
    m, p = f"{table.month:%Y年%m月}", f"{table.previous:%Y年%m月}"
    by_cat = [[name, now, before, change] for name, now, before, change in table.by_category]
    by_cat.append(["（特约商户以外）", table.outside[0], table.outside[1], None])
    header = ["县级工会", *[c.name for c in table.categories], "未分类"]
    grid = []
    for county in table.counties:
        cells = [table.cells.get((county.pk, c.pk), (0, 0))[0] for c in table.categories]
        grid.append([county.name, *cells, table.cells.get((county.pk, None), (0, 0))[0]])
    return [
        ("按类别", f"特约商户消费：{m}与{p}", ["类别", f"{m}（元）", f"{p}（元）", "环比（%）"], by_cat),
        ("按县和类别", f"{m}特约商户消费（元）", header, grid),
    ]


def merchant_sheets(rows, unused, month) -> list[tuple]:
    header = [
        "名次",
        "商户",
        "类别",
        "签约工会",
        "服务会员（张卡）",
        "回头客（张卡）",
        "回头率（%）",
        "交易笔数",
        "金额（元）",
        "上月服务会员",
    ]
    ranking = [
        [i, r.merchant.name, r.merchant.category.name, r.merchant.union.name, r.cards, r.repeat_cards,
         r.repeat_rate, r.txn_count, r.amount, r.cards_before]
        for i, r in enumerate(rows, start=1)
    ]  # fmt: skip
    idle = [[m.name, m.category.name, m.union.name, m.get_status_display()] for m in unused]
    return [
        ("商户排行", f"{month:%Y年%m月}特约商户排行", header, ranking),
        (
            "近三个月无人使用",
            "近三个月无会员刷卡的特约商户（可列入退出评估）",
            ["商户", "类别", "签约工会", "状态"],
            idle,
        ),
    ]


def member_list_rows(members) -> tuple[list[str], list[list]]:
    header = ["姓名", "性别", "所属工会", "所属单位", "手机号（脱敏）", "困难职工"]
    rows = [
        [
            m.name,
            m.get_gender_display(),
            m.union.name,
            m.work_unit,
            m.masked_phone,
            "是" if m.is_hardship else "",
        ]
        for m in members
    ]
    return header, rows
