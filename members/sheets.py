"""Reading registration sheets (.xlsx, .xls, .csv) into rows. Pure: no ORM, nothing written.

`read_sheet(data, filename=...)` returns a `SheetData` (the header row found, which column holds
which field, and every row after the header with its Excel row number), or raises `SheetRefused`
with one whole-file reason code:

    file_not_spreadsheet  file_corrupt  file_encrypted  archive_bomb
    file_too_large        file_empty    header_not_found  no_data_rows

The format is decided by the bytes, never by the file name: a zip is an .xlsx (its members'
sizes and ratios are checked from the central directory, then each member is inflated through a
bounded stream that stops at the declared size, before calamine sees it); an OLE2 compound file is
a legacy .xls or an encrypted OOXML package; anything else that decodes as text (UTF-8, UTF-8 with
BOM, UTF-16 with BOM, or GBK/GB18030 as WPS and Chinese Excel save it) is a CSV.

calamine reads both .xlsx and .xls about ten times faster than openpyxl. It returns every number
as a float: an ID number typed as a number is already damaged and is reported as such by the row
rules, never "repaired". openpyxl is used only to write (the template and the error report).
"""

import csv
import io
import operator
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from python_calamine import CalamineWorkbook, PasswordError

# Fields of 附件4 plus the optional hardship column, in template order.
FIELDS = ("seq", "id_number", "name", "gender", "phone", "unit", "hardship")
FIELD_LABELS = {
    "seq": "序号",
    "id_number": "身份证号",
    "name": "姓名",
    "gender": "性别",
    "phone": "手机号码",
    "unit": "所属单位",
    "hardship": "困难职工",
}
HEADER_ALIASES = {
    "序号": "seq",
    "编号": "seq",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "身份证": "id_number",
    "姓名": "name",
    "性别": "gender",
    "手机号码": "phone",
    "手机号": "phone",
    "手机": "phone",
    "联系电话": "phone",
    "所属单位": "unit",
    "工作单位": "unit",
    "单位": "unit",
    "困难职工": "hardship",
    "是否困难职工": "hardship",
}
REQUIRED_HEADERS = ("id_number", "name")
HEADER_SEARCH_ROWS = 30

MAX_BYTES = 30 * 1024 * 1024
MAX_ROWS = 200_000
# An .xlsx of 100,000 rows inflates to about 20 MB at a ratio near 10; bombs reach 1000 and more.
MAX_UNCOMPRESSED = 400 * 1024 * 1024
MAX_RATIO = 200
RATIO_APPLIES_ABOVE = 1024 * 1024
MAX_ZIP_MEMBERS = 2000

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NOT_SPREADSHEET_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"Rar!",
    b"7z\xbc\xaf",
    b"\x1f\x8b",
    b"BZh",
    b"MZ",
    b"\x7fELF",
    b"{\\rtf",
)
ENCRYPTED_OOXML_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_PARENS = re.compile(r"[（(【\[].*?[)）】\]]")


class SheetRefused(Exception):
    """The whole file is refused; `code` is one of the whole-file reason codes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SheetData:
    file_format: str  # "xlsx", "xls" or "csv"
    sheet_name: str
    header_row: int  # 1-based, as Excel numbers it
    columns: dict[str, int]  # field -> 0-based column index
    rows: list[tuple[int, list]] = field(default_factory=list)  # (Excel row number, cells)
    encoding: str = ""
    preamble: list[list] = field(default_factory=list)  # the rows above the data, header included

    def cell(self, cells: list, name: str):
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def picker(self):
        """A function cells -> (id_number, name, gender, phone, unit, hardship) raw values."""
        indices = [self.columns.get(f) for f in ("id_number", "name", "gender", "phone", "unit", "hardship")]
        # Workbook rows all have the grid's width: one C call picks the cells, padded with None
        # for trailing absent columns (a sheet without 困难职工). Short rows (CSV lines) and
        # other layouts take the general path.
        known = len(indices)
        while known and indices[known - 1] is None:
            known -= 1
        fast = operator.itemgetter(*indices[:known]) if known > 1 and None not in indices[:known] else None
        width = max(indices[:known], default=0) + 1
        padding = (None,) * (len(indices) - known)

        def pick(cells: list) -> tuple:
            if fast is not None and len(cells) >= width:
                return fast(cells) + padding
            size = len(cells)
            return tuple(cells[i] if i is not None and i < size else None for i in indices)

        return pick


def header_key(value) -> str | None:
    """The field a header cell names: padded (" 身份证号 ", "姓  名"), full-width, "(必填)" tolerated."""
    if not isinstance(value, str):
        return None
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value)).strip("*＊:：")
    text = _PARENS.sub("", text)
    return HEADER_ALIASES.get(text)


def detect_format(data: bytes) -> str:
    if data.startswith(ZIP_MAGIC):
        return "xlsx"
    if data.startswith(OLE2_MAGIC):
        return "ole2"
    if data.startswith(NOT_SPREADSHEET_MAGIC):
        raise SheetRefused(
            "file_not_spreadsheet", "上传的文件不是电子表格（请上传 .xlsx、.xls 或 .csv 文件）"
        )
    return "csv"


def read_sheet(
    data: bytes, *, filename: str = "", max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> SheetData:
    if not data:
        raise SheetRefused("file_empty", "上传的文件是空的（0 字节）")
    if len(data) > max_bytes:
        raise SheetRefused(
            "file_too_large", f"文件太大（{len(data) / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB"
        )
    kind = detect_format(data)
    if kind == "csv":
        grid_rows, encoding = _csv_rows(data)
        return _locate(grid_rows, file_format="csv", sheet_name="", max_rows=max_rows, encoding=encoding)
    if kind == "xlsx":
        check_zip(data)
    elif _is_encrypted_ooxml(data):
        raise SheetRefused("file_encrypted", "文件设置了打开密码，请取消密码后重新上传")
    return _read_workbook(data, file_format="xlsx" if kind == "xlsx" else "xls", max_rows=max_rows)


# --- zip (.xlsx) --------------------------------------------------------------------------------
def check_zip(data: bytes) -> None:
    """Refuse archive bombs before calamine inflates anything: declared sizes and ratios from the
    central directory first, then each member inflated through a stream that stops at its declared
    size (zipfile verifies the CRC at the end, so a member that lies about its size is corrupt)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SheetRefused(
            "file_corrupt", "文件已损坏或不完整（无法按 .xlsx 打开），请重新保存后上传"
        ) from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise SheetRefused("archive_bomb", "文件内部结构异常（压缩包成员过多），已拒收")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > MAX_UNCOMPRESSED or (info.file_size > RATIO_APPLIES_ABOVE and ratio > MAX_RATIO):
            raise SheetRefused("archive_bomb", "文件解压后体积异常（疑似压缩炸弹），已拒收")
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise SheetRefused(
            "file_not_spreadsheet", "上传的压缩文件不是 Excel 工作簿（请上传 .xlsx、.xls 或 .csv 文件）"
        )
    if "xl/workbook.bin" in names:
        raise SheetRefused("file_not_spreadsheet", "不支持 .xlsb 格式，请另存为 .xlsx 后上传")
    try:
        for info in infos:
            with archive.open(info) as stream:
                inflated = 0
                while chunk := stream.read(1024 * 1024):
                    inflated += len(chunk)
                    if inflated > info.file_size:
                        raise SheetRefused("archive_bomb", "文件解压后体积与声明不符（疑似压缩炸弹），已拒收")
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise SheetRefused(
            "file_corrupt", "文件已损坏或不完整（压缩数据校验失败），请重新保存后上传"
        ) from exc


def _is_encrypted_ooxml(data: bytes) -> bool:
    # A password-protected .xlsx is an OLE2 container holding these two streams (MS-OFFCRYPTO).
    return all(name in data for name in ENCRYPTED_OOXML_STREAMS)


# --- workbooks (calamine) ------------------------------------------------------------------------
def _open_workbook(data: bytes) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError as exc:
        raise SheetRefused("file_encrypted", "文件设置了打开密码，请取消密码后重新上传") from exc
    except Exception as exc:  # calamine raises several error types for damaged files
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise SheetRefused("file_encrypted", "文件设置了打开密码，请取消密码后重新上传") from exc
        raise SheetRefused("file_corrupt", "文件已损坏或不完整，无法读取，请重新保存后上传") from exc


def _visible_sheets(book: CalamineWorkbook) -> list[int]:
    indices = [
        i
        for i, meta in enumerate(book.sheets_metadata)
        if str(meta.visible).lower().endswith("visible") and "worksheet" in str(meta.typ).lower()
    ]
    return indices or list(range(len(book.sheet_names)))


def _read_workbook(data: bytes, *, file_format: str, max_rows: int) -> SheetData:
    book = _open_workbook(data)
    found_any_cell = False
    try:
        for index in _visible_sheets(book):
            sheet = book.get_sheet_by_index(index)
            if sheet.height > max_rows + HEADER_SEARCH_ROWS:
                raise SheetRefused(
                    "file_too_large", f"表格行数太多（{sheet.height} 行），每个文件最多 {max_rows} 行"
                )
            grid = sheet.to_python(skip_empty_area=False)
            if (
                any(any(_present(c) for c in row) for row in grid[:HEADER_SEARCH_ROWS])
                or len(grid) > HEADER_SEARCH_ROWS
            ):
                found_any_cell = True
            if _find_header(grid) is not None:
                return _locate(grid, file_format=file_format, sheet_name=sheet.name, max_rows=max_rows)
    except SheetRefused:
        raise
    except Exception as exc:  # damaged sheet XML inside a sound zip
        raise SheetRefused("file_corrupt", "文件已损坏或不完整，无法读取，请重新保存后上传") from exc
    if not found_any_cell:
        raise SheetRefused("file_empty", "表格里没有任何内容")
    raise SheetRefused("header_not_found", _header_message())


# --- CSV ------------------------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:4096]:
        raise SheetRefused(
            "file_not_spreadsheet", "上传的文件不是电子表格（请上传 .xlsx、.xls 或 .csv 文件）"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise SheetRefused(
            "file_not_spreadsheet", "无法识别文件的文字编码（CSV 请用 UTF-8 或 GBK 保存），或文件不是电子表格"
        ) from exc


def _csv_rows(data: bytes) -> tuple[list[list], str]:
    text, encoding = decode_text(data)
    head = text.lstrip()[:200].lower()
    if head.startswith(("<html", "<!doctype", "<?xml", "<table")):
        raise SheetRefused(
            "file_not_spreadsheet", "上传的文件是网页或 XML，不是电子表格；请在 Excel 中另存为 .xlsx"
        )
    if not text.strip():
        raise SheetRefused("file_empty", "文件里没有任何内容")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SheetRefused("file_corrupt", f"CSV 文件格式有误：{exc}") from exc
    return rows, encoding


# --- header and rows ------------------------------------------------------------------------------
def _present(value) -> bool:
    return value is not None and not (isinstance(value, str) and not _SPACES.sub("", value))


def _find_header(grid: list[list]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for col, value in enumerate(row):
            key = header_key(value)
            if key is not None and key not in columns:
                columns[key] = col
        if all(k in columns for k in REQUIRED_HEADERS):
            return index, columns
    return None


def _header_message() -> str:
    return "找不到表头：前 30 行中没有同时含“身份证号”和“姓名”的一行；请使用下载的登记表模板（序号、身份证号、姓名、性别、手机号码、所属单位）"


def _locate(
    grid: list[list], *, file_format: str, sheet_name: str, max_rows: int, encoding: str = ""
) -> SheetData:
    if not any(any(_present(c) for c in row) for row in grid):
        raise SheetRefused("file_empty", "表格里没有任何内容")
    found = _find_header(grid)
    if found is None:
        raise SheetRefused("header_not_found", _header_message())
    header_index, columns = found
    body = grid[header_index + 1 :]
    if len(body) > max_rows:
        raise SheetRefused("file_too_large", f"表格行数太多（{len(body)} 行），每个文件最多 {max_rows} 行")
    rows = [(header_index + 2 + offset, cells) for offset, cells in enumerate(body)]
    while rows and not any(_present(c) for c in rows[-1][1]):
        rows.pop()
    data = SheetData(
        file_format, sheet_name, header_index + 1, columns, rows, encoding, grid[: header_index + 1]
    )
    seq = columns.get("seq")
    if not any(any(_present(c) for i, c in enumerate(cells) if i != seq) for _n, cells in rows):
        raise SheetRefused("no_data_rows", "表头下面没有填写任何会员信息")
    return data
