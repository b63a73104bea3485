"""Synthetic registration sheets for the benchmark and the kill -9 test: distinct valid ID
numbers, a known share of rows with a bad phone (rejected), written as CSV or .xlsx."""

import csv
import io
from datetime import date, timedelta

from members.idcard import make_id_number

HEADER = ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚"


def person(i: int, *, region: str = "130902", offset: int = 0) -> tuple[str, str, str]:
    """The i-th synthetic person: (id_number, name, phone). Distinct for distinct (i, offset)."""
    n = i + offset
    birth = date(1966, 1, 1) + timedelta(days=(n // 250) % 12_000)
    id_number = make_id_number(region, birth, (n % 250) * 2 + 1, male=n % 2 == 0)
    name = SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20]
    return id_number, name, f"139{n % 100_000_000:08d}"


def rows(n: int, *, bad_every: int = 0, offset: int = 0, region: str = "130902"):
    for i in range(n):
        id_number, name, phone = person(i, region=region, offset=offset)
        if bad_every and i % bad_every == bad_every - 1:
            phone = "12345"
        yield [i + 1, id_number, name, "", phone, f"第{i % 40 + 1}车间"]


def csv_bytes(n: int, **kwargs) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(n, **kwargs))
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(n: int, **kwargs) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("会员卡信息登记表")
    sheet.append(["会员卡信息登记表", "", "", "", "", ""])  # as wide as the table (tablib needs it)
    sheet.append(HEADER)
    for row in rows(n, **kwargs):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_shared_xlsx(target, rows, *, date_style_columns=()) -> None:
    """An .xlsx laid out as Excel saves it: every text in the shared-strings table (deduplicated),
    numbers as <v>, `date_style_columns` (0-based) styled as dates (yyyy-mm-dd). openpyxl writes
    inline strings instead, so its sheets never exercise a reader's shared strings. `target` is a
    path or a binary file; `rows` any iterable of lists (str, int, float, bool, None)."""
    import zipfile
    from xml.sax.saxutils import escape

    strings: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}"><sheetData>'.encode()
            )
            for number, row in enumerate(rows, 1):
                cells = []
                for col, value in enumerate(row):
                    ref = f"{chr(65 + col)}{number}"
                    if value is None or value == "":
                        continue
                    if isinstance(value, bool):
                        cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
                    elif isinstance(value, int | float):
                        style = ' s="1"' if col in date_style_columns else ""
                        cells.append(f'<c r="{ref}"{style}><v>{value!r}</v></c>')
                    else:
                        index = strings.setdefault(value, len(strings))
                        cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
                sheet.write(f'<row r="{number}">{"".join(cells)}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
            )
            batch = []
            for text in strings:
                space = ' xml:space="preserve"' if text != text.strip() else ""
                batch.append(f"<si><t{space}>{escape(text)}</t></si>")
                if len(batch) >= 10_000:
                    table.write("".join(batch).encode())
                    batch.clear()
            table.write(("".join(batch) + "</sst>").encode())


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE_RELS}"><sheets>'
    '<sheet name="会员卡信息登记表" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_OFFICE_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    f'<Relationship Id="rId3" Type="{_OFFICE_RELS}/styles" Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>'
)
