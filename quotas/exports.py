"""Excel workbooks (openpyxl) for the league table and bulletins, with the defined terms. Cells go
through `cardportal.exports` (union names and notes are typed by people: never a formula)."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cardportal.exports import xlsx_append

from .models import Bulletin
from .terms import terms_for

HEAD = Font(bold=True, color="FFFFFF")
FILL = PatternFill("solid", fgColor="C0272D")


def _sheet(ws, title: str, header: list[str], rows: list[list]) -> None:
    xlsx_append(ws, [title])
    ws["A1"].font = Font(bold=True, size=14)
    xlsx_append(ws, header)
    for cell in ws[2]:
        cell.font = HEAD
        cell.fill = FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in rows:
        xlsx_append(ws, row)
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(28, len(name) * 2 + 4))
    ws.freeze_panes = "B3"


def _terms(wb: Workbook, conf: dict) -> None:
    ws = wb.create_sheet("口径说明")
    xlsx_append(ws, ["名词", "口径"])
    for name, meaning in terms_for(conf):
        xlsx_append(ws, [name, meaning])
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 100


def _pct(value):
    return float(value) if value is not None else None


def league_workbook(table) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"{table.month:%Y年%m月}"
    header = [
        "名次", "县级工会", "会员基数（规划）", "已申请办卡会员", "年度累计任务", "累计发卡", "完成率（%）",
        "累计发放", "累计激活", "激活率（%）", "服务项目", "名次变化（+上升）",
    ]  # fmt: skip
    rows = [
        [
            r.rank,
            r.union.name,
            r.members,
            r.registered,
            r.target,
            r.issued,
            _pct(r.completion),
            r.distributed,
            r.activated,
            _pct(r.activation_rate),
            r.service_items,
            r.rank_change,
        ]  # fmt: skip
        for r in table.rows
    ]
    if table.totals:
        t = table.totals
        rows.append(
            [
                "",
                "合计",
                t.members,
                t.registered,
                t.target,
                t.issued,
                _pct(t.completion),
                t.distributed,
                t.activated,
                _pct(t.activation_rate),
                t.service_items,
                "",
            ]  # fmt: skip
        )
    _sheet(ws, f"各县（市、区）发放工会会员卡进度（截至{table.month:%Y年%m月}底）", header, rows)
    _terms(wb, table.conf)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def bulletin_workbook(bulletin: Bulletin, rows, conf: dict) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"{bulletin.month:%Y年%m月}通报"
    header = [
        "名次", "县级工会", "会员基数", "年度累计任务", "累计发卡", "本月新增", "往期更正（发卡）", "完成率（%）",
        "累计发放", "累计激活", "往期更正（激活）", "激活率（%）", "名次变化（+上升）",
    ]  # fmt: skip
    data = [
        [
            r.rank,
            r.union_name,
            r.members,
            r.target,
            r.issued,
            r.issued_in_month,
            r.issued_correction,
            _pct(r.completion),
            r.distributed,
            r.activated,
            r.activated_correction,
            _pct(r.activation_rate),
            r.rank_change,
        ]  # fmt: skip
        for r in rows
    ]
    state = "已发布" if bulletin.is_published else "草稿"
    _sheet(ws, f"{bulletin.month:%Y年%m月}发放工会会员卡工作通报（{state}）", header, data)
    if bulletin.note:
        ws.append([])
        xlsx_append(ws, ["说明", bulletin.note])
    _terms(wb, conf)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
