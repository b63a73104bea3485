"""Reading the bank's files (.xlsx/.xls/.csv) into header-mapped rows. Pure: no ORM writes."""

import csv
import io
from collections.abc import Iterator

from cardportal.errors import ApplicationError


def _cell(value) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """All rows of the first sheet (or the CSV) as strings, header included."""
    name = filename.lower()
    if name.endswith(".csv") or name.endswith(".txt"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ApplicationError("无法识别CSV文件的编码（应为UTF-8或GBK）", code="bad_encoding")
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    if name.endswith((".xlsx", ".xls", ".xlsm")):
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except Exception as exc:  # calamine raises its own error types for damaged files
            raise ApplicationError(f"无法读取Excel文件：{exc}", code="bad_file") from exc
        return [[_cell(c) for c in row] for row in rows]
    raise ApplicationError("只支持 .xlsx、.xls 或 .csv 文件", code="bad_type")


def mapped_rows(
    table: list[list[str]], columns: dict[str, list[str]], required: tuple[str, ...]
) -> Iterator[tuple[int, dict]]:
    """Find the header row (first row naming every required column, within the first 10 rows)
    and yield (excel_row_number, {logical: value}) for each non-empty data row."""
    for h, header in enumerate(table[:10]):
        titles = [t.strip() for t in header]
        index = {}
        for key, aliases in columns.items():
            for alias in aliases:
                if alias in titles:
                    index[key] = titles.index(alias)
                    break
        if all(k in index for k in required):
            header_row = h
            break
    else:
        wanted = "、".join(columns[k][0] for k in required)
        raise ApplicationError(f"文件中找不到表头（需要列：{wanted}）", code="no_header")
    for r, row in enumerate(table[header_row + 1 :], start=header_row + 2):
        values = {k: (row[i].strip() if i < len(row) else "") for k, i in index.items()}
        if any(values.values()):
            yield r, values
