"""Files the portal writes for clerks (openpyxl): the registration template and the error report."""

import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from cardportal.crypto import mask_id_number, mask_phone
from cardportal.exports import xlsx_cell

from .phones import normalise_phone
from .sheets import SheetData
from .validation import text_of

TEMPLATE_HEADERS = [
    "序号",
    "身份证号",
    "姓名",
    "性别",
    "手机号码",
    "所属单位",
    "困难职工（是/否，可不填）",
    "用工类型（在编/劳务派遣/临时/农民工，可不填）",
    "按时交纳会费（是/否，可不填）",
]
TEMPLATE_WIDTHS = [8, 24, 14, 8, 16, 30, 22, 26, 20]
TEMPLATE_ROWS = 2000
TEXT = "@"
RED = PatternFill("solid", fgColor="FFC7CE")
YELLOW = PatternFill("solid", fgColor="FFF2CC")
INSTRUCTIONS = [
    "填表说明",
    "1. 请勿修改表头和列的顺序；“身份证号”“手机号码”两列已设为文本格式，请直接输入或“选择性粘贴—数值”，不要改成数字格式（Excel 会把18位号码的末几位变成0）。",
    "2. 身份证号：本人第二代18位号码，最后一位可为X；须与身份证复印件一致（复印件上标明与本表一致的序号）。",
    "3. 姓名：与身份证一致；少数民族姓名中的间隔号请用“·”。",
    "4. 性别：男/女，可不填（按身份证号自动识别），填写的须与身份证号一致。",
    "5. 手机号码：本人正在使用的11位手机号，不能为空。",
    "6. 所属单位：本人所在的学院（系）、处（科）或车间等，不能为空。",
    "7. 困难职工：已建档的困难职工填“是”，其他可不填；困难职工优先办卡。",
    "8. 用工类型：在编、劳务派遣、临时或农民工；按时交纳会费：是/否。两列都可不填，不填的按“未登记”处理（不会当作在编或已交会费，相应的保障待遇须另行核实）。",
    "9. 序号：从1起依次填写，不要重复或空缺；身份证复印件上标明同一序号。",
    "10. 一人只登记一次；跨单位兼职的职工在原工作单位登记。",
    "11. 上传时请同时填写《身份证复印件确认书》中的会员人数和复印件份数，系统会核对人数。",
]


def template_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "会员卡信息登记表"
    sheet.append(["会员卡信息登记表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(TEMPLATE_HEADERS))
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(["基层工会名称："])
    sheet.append(TEMPLATE_HEADERS)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.fill = YELLOW
    for col, width in enumerate(TEMPLATE_WIDTHS, start=1):
        sheet.column_dimensions[chr(64 + col)].width = width
    for row in range(4, 4 + TEMPLATE_ROWS):
        for col in ("B", "E"):
            sheet[f"{col}{row}"].number_format = TEXT
    gender = DataValidation(type="list", formula1='"男,女"', allow_blank=True)
    hardship = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    employment = DataValidation(type="list", formula1='"在编,劳务派遣,临时,农民工"', allow_blank=True)
    dues = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    for validation, column in ((gender, "D"), (hardship, "G"), (employment, "H"), (dues, "I")):
        sheet.add_data_validation(validation)
        validation.add(f"{column}4:{column}{3 + TEMPLATE_ROWS}")
    sheet.freeze_panes = "A4"
    notes = book.create_sheet("填表说明")
    for line in INSTRUCTIONS:
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    notes["A1"].font = Font(size=14, bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_MASKERS = {
    "id_number": lambda text: mask_id_number("".join(text.split())),
    "phone": lambda text: mask_phone(normalise_phone(text)),
}


def error_report_workbook(
    data: SheetData, problems: dict[int, tuple[str, str]], *, only_rejected: bool = False
) -> bytes:
    """The sheet as uploaded plus a 错误原因 column; the cell of each rejected row's first problem is
    red. `problems` maps Excel row number -> (field, message). Written in write-only mode so a
    100,000-row sheet stays within memory.

    A rejected row comes back as typed (the clerk fixes it from this file); every other row's ID
    number and phone are masked, since nothing is to be fixed there and the whole sheet's numbers
    would otherwise leave the portal again with every download (the journey leak scan found it).

    `only_rejected` keeps the layout (title, header) and only the rejected rows: the file to fix
    and upload again. Its 错误原因 column is ignored on upload, and the rows already accepted are
    not in it, so they do not come back as 已登记或待审核."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("登记表（含错误原因）")
    text_cols = {data.columns[f] for f in ("id_number", "phone") if f in data.columns}
    maskers = {data.columns[f]: m for f, m in _MASKERS.items() if f in data.columns}
    # Echo the columns up to the last one the header names, never the grid's full width (a stray
    # cell far to the right made every row of the report 16,384 cells wide: issue 11).
    reason_col = max(data.columns.values()) + 1
    for index in range(reason_col + 1):
        sheet.column_dimensions[get_column_letter(index + 1)].width = 24 if index in text_cols else 14

    def out(values: list, *, number: int | None = None) -> list:
        cells = []
        field, message = problems.get(number, ("", "")) if number else ("", "")
        bad_col = data.columns.get(field)
        for col in range(reason_col):
            value = values[col] if col < len(values) else None
            if col in maskers and number is not None and number not in problems and value is not None:
                value = maskers[col](text_of(value))
            # As text (never a formula: a unit typed as "=HYPERLINK(…)" stays that text).
            cell = xlsx_cell(
                sheet,
                text_of(value) if col in text_cols and value is not None else value,
                text=col in text_cols,
            )
            if bad_col is not None and col == bad_col:
                cell.fill = RED
            cells.append(cell)
        return cells

    for i, values in enumerate(data.preamble):
        cells = out(values)
        if i == len(data.preamble) - 1:
            head = WriteOnlyCell(sheet, value="错误原因")
            head.font = Font(bold=True, color="B42318")
            cells.append(head)
        sheet.append(cells)
    for number, values in data.rows:
        if only_rejected and number not in problems:
            continue
        cells = out(values, number=number)
        if number in problems:
            note = xlsx_cell(sheet, problems[number][1])
            note.font = Font(color="B42318")
            cells.append(note)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
