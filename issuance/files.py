"""Reading the bank's files (.xlsx/.xls/.csv) into header-mapped rows, through the upload kernel
(`cardportal.tables`), with its reason codes. Pure: no ORM writes."""

from collections.abc import Iterator

from django.conf import settings

from cardportal import tables
from cardportal.errors import ApplicationError


def _cell(value) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def upload_limits() -> tables.Limits:
    return tables.Limits(max_bytes=settings.UPLOAD_MAX_BYTES)


def check_upload(data: bytes) -> None:
    """The kernel's checks that need no parse (size, format, archive bomb, encryption, used
    range), at upload time so a hostile file is refused before it is kept or queued."""
    try:
        tables.check_file(data, limits=upload_limits())
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """All rows of the first visible sheet (or the CSV) as strings, header included, read through
    the upload kernel (the format comes from the bytes; `filename` is kept for the callers)."""
    try:
        table = tables.read_table(data, limits=upload_limits())
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused
    return [[_cell(c) for c in row] for row in table.rows]


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
        raise ApplicationError(f"文件中找不到表头（需要列：{wanted}）", code="header_not_found")
    for r, row in enumerate(table[header_row + 1 :], start=header_row + 2):
        values = {k: (row[i].strip() if i < len(row) else "") for k, i in index.items()}
        if any(values.values()):
            yield r, values
