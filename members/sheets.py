"""Reading registration sheets (.xlsx, .xls, .csv) into rows. Pure: no ORM, nothing written.

`read_sheet(data, filename=...)` returns a `SheetData` (the header row found, which column holds
which field, and every row after the header with its Excel row number), or raises `SheetRefused`
with one whole-file reason code:

    file_not_spreadsheet  file_corrupt  file_encrypted  archive_bomb  file_too_large
    too_many_cells        file_empty    header_not_found  no_data_rows

The file itself is read by the upload kernel, `cardportal.tables` (format from the bytes, size,
archive-bomb and encryption checks, the used range bounded from the cell references, the parse in
a memory-capped child process); this module adds the registration sheet's header aliases and cuts
the grid into numbered rows.

calamine reads both .xlsx and .xls about ten times faster than openpyxl. It returns every number
as a float: an ID number typed as a number is already damaged and is reported as such by the row
rules, never "repaired". openpyxl is used only to write (the template and the error report).
"""

import operator
from dataclasses import dataclass, field

from cardportal import tables

# Fields of 附件4 plus the optional columns (hardship; employment type and dues paid, which the
# benefit rules of 000 §三(1) and 001 §二(三) need), in template order.
FIELDS = ("seq", "id_number", "name", "gender", "phone", "unit", "hardship", "employment", "dues")
FIELD_LABELS = {
    "seq": "序号",
    "id_number": "身份证号",
    "name": "姓名",
    "gender": "性别",
    "phone": "手机号码",
    "unit": "所属单位",
    "hardship": "困难职工",
    "employment": "用工类型",
    "dues": "按时交纳会费",
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
    "用工类型": "employment",
    "用工性质": "employment",
    "用工形式": "employment",
    "按时交纳会费": "dues",
    "按时缴纳会费": "dues",
    "是否按时交纳会费": "dues",
    "是否按时缴纳会费": "dues",
    "交纳会费": "dues",
    "缴纳会费": "dues",
}
REQUIRED_HEADERS = ("id_number", "name")
HEADER_SEARCH_ROWS = 30

MAX_BYTES = tables.MAX_BYTES
MAX_ROWS = tables.MAX_ROWS

# One exception type for every upload path: `except SheetRefused` catches the kernel's refusals.
SheetRefused = tables.TableRefused


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
    return HEADER_ALIASES.get(tables.header_text(value))


def read_sheet(
    data: bytes, *, filename: str = "", max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> SheetData:
    """Read through the upload kernel (`cardportal.tables`): checks before inflating, the parse in
    a memory-capped child process, the header located there, then the rows cut here."""
    table = tables.read_table(data, limits=_limits(max_bytes, max_rows), header=_header_spec())
    return _locate(table, max_rows=max_rows)


def _limits(max_bytes: int, max_rows: int) -> tables.Limits:
    """The kernel's limits for a sheet of at most `max_rows` rows. The cell budget grows with the
    row limit: the kernel's 6,000,000 cells refused a migration's 1,000,000-row .xlsx of six
    columns that the migration's row limit lets in. 26 cells a row, because the kernel's first
    scan bounds a stretch of one-letter references (A–Z) at 26 columns without reading them (see
    `tables.MAX_CELLS`); the reading child's memory cap stays the bound on what a sheet may hold.
    The clerk's limit keeps the kernel's budget."""
    cells = max(tables.MAX_CELLS, (max_rows + HEADER_SEARCH_ROWS) * 26)
    return tables.Limits(max_bytes=max_bytes, max_rows=max_rows, max_cells=cells)


def _header_spec() -> tables.HeaderSpec:
    return tables.HeaderSpec(
        aliases=HEADER_ALIASES,
        required=REQUIRED_HEADERS,
        search_rows=HEADER_SEARCH_ROWS,
        missing_message=_header_message(),
    )


class SheetStream:
    """`read_sheet` in chunks, for a file on disk (`cardportal.tables.stream_table`): `head` is a
    SheetData without rows; `chunks()` yields lists of (Excel row number, cells). The whole-file
    refusals are the same; `no_data_rows` comes at the end (after the last chunk), so callers keep
    what they make from the chunks uncommitted until the stream has ended."""

    def __init__(self, path: str, *, max_bytes: int, max_rows: int, chunk_rows: int):
        limits = _limits(max_bytes, max_rows)
        self._stream = tables.stream_table(path, limits=limits, header=_header_spec(), chunk_rows=chunk_rows)
        self.head: SheetData | None = None

    def __enter__(self) -> "SheetStream":
        table = self._stream.__enter__().head
        self.head = SheetData(
            table.file_format,
            table.sheet_name,
            table.header_index + 1,
            table.columns,
            [],
            table.encoding,
            table.rows,
        )
        return self

    def __exit__(self, *exc) -> None:
        self._stream.__exit__(*exc)

    @property
    def total_rows(self) -> int:
        """The data rows the sheet has (an estimate for progress: blank rows at the end count)."""
        return max(self._stream.head.height - self.head.header_row, 0)

    @property
    def child_peak_mb(self) -> int:
        return self._stream.child_peak_mb

    def chunks(self):
        seq = self.head.columns.get("seq")
        found = False
        for chunk in self._stream.chunks():
            numbered = [(index + 1, cells) for index, cells in chunk]
            if not found:
                found = any(
                    any(_present(c) for i, c in enumerate(cells) if i != seq) for _n, cells in numbered
                )
            yield numbered
        if not found:
            raise SheetRefused("no_data_rows", "表头下面没有填写任何会员信息")


def stream_sheet(
    path: str,
    *,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    chunk_rows: int = tables.STREAM_CHUNK_ROWS,
) -> SheetStream:
    return SheetStream(path, max_bytes=max_bytes, max_rows=max_rows, chunk_rows=chunk_rows)


# --- header and rows ------------------------------------------------------------------------------
_present = tables.present


def _header_message() -> str:
    return "找不到表头：前 30 行中没有同时含“身份证号”和“姓名”的一行；请使用下载的登记表模板（序号、身份证号、姓名、性别、手机号码、所属单位）"


def _locate(table: tables.Table, *, max_rows: int) -> SheetData:
    grid, header_index, columns = table.rows, table.header_index, table.columns
    body = grid[header_index + 1 :]
    if len(body) > max_rows:
        raise SheetRefused("file_too_large", f"表格行数太多（{len(body)} 行），每个文件最多 {max_rows} 行")
    rows = [(header_index + 2 + offset, cells) for offset, cells in enumerate(body)]
    while rows and not any(_present(c) for c in rows[-1][1]):
        rows.pop()
    data = SheetData(
        table.file_format,
        table.sheet_name,
        header_index + 1,
        columns,
        rows,
        table.encoding,
        grid[: header_index + 1],
    )
    seq = columns.get("seq")
    if not any(any(_present(c) for i, c in enumerate(cells) if i != seq) for _n, cells in rows):
        raise SheetRefused("no_data_rows", "表头下面没有填写任何会员信息")
    return data
