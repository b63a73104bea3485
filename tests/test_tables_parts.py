"""calamine a part at a time (cardportal/tables.py `_SheetInParts`, issue 16): a streamed .xlsx is
cut after every chunk's worth of rows into workbooks of their own, each parsed alone, so the first
rows go out before the whole sheet is parsed. Every sheet here is read in parts and whole: the same
rows (a part's rows may be narrower than the sheet's widest: a missing cell is an empty one), the
same head but for its height (an estimate, for progress), the same refusals. Where a part could
mean something else than in the whole sheet, the sheet is read whole or refused. No database."""

import io
import zipfile

from bench.sheetgen import rows as sheet_rows
from bench.sheetgen import write_shared_xlsx, xlsx_bytes
from cardportal import tables
from members.sheets import _header_spec
from tests.test_tables_xlsx_stream import HEADER, WHOLE, crafted, typed


def read(path, *, part_rows: int, header: dict = WHOLE):
    try:
        fields, rows = tables._workbook_stream(
            str(path), file_format="xlsx", limits=tables.Limits(), header=header, part_rows=part_rows
        )
        return fields, list(rows)
    except tables.TableRefused as refused:
        return refused.code, refused.message


def trimmed(rows):
    out = []
    for index, cells in rows:
        cells = list(cells)
        while cells and cells[-1] == "":
            cells.pop()
        out.append((index, cells))
    return out


def parts_made(path, part_rows: int) -> int:
    """How many parts the sheet is read in; 0 where it is read whole."""
    parts = tables._SheetInParts.open(str(path), 0, part_rows)
    if parts is None:
        return 0
    for _row in parts.rows(tables.Limits()):
        pass
    return parts._made


def assert_same_in_parts(path, part_rows: int, *, header: dict = WHOLE, exact: bool = True):
    whole = read(path, part_rows=0, header=header)
    in_parts = read(path, part_rows=part_rows, header=header)
    assert isinstance(whole[0], dict), whole
    assert isinstance(in_parts[0], dict), in_parts
    (whole_head, whole_rows), (head, rows) = whole, in_parts
    if exact:
        assert typed(rows) == typed(whole_rows)
    else:  # the preamble's rows too may come from parts narrower than the sheet
        assert typed(trimmed(rows)) == typed(trimmed(whole_rows))
        head, whole_head = dict(head), dict(whole_head)
        head["rows"], whole_head["rows"] = (
            [cells for _i, cells in trimmed(enumerate(h["rows"]))] for h in (head, whole_head)
        )
    assert {k: v for k, v in head.items() if k != "height"} == {
        k: v for k, v in whole_head.items() if k != "height"
    }
    return head, rows


def test_the_benchmark_sheet_reads_the_same_in_parts(tmp_path):
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(xlsx_bytes(3000, bad_every=7))
    for part_rows in (1, 700):  # in parts of 1 row, the title row is 1 cell wide
        head, rows = assert_same_in_parts(path, part_rows, header=_header_spec().plain(), exact=part_rows > 1)
        assert len(rows) == 3000
    assert abs(head["height"] - 3002) <= 300  # the title, the header, the rows; from a 1-row part: less
    assert parts_made(path, 700) == 5  # 3,002 rows in parts of 700


def test_a_sheet_with_small_shared_strings_reads_the_same_in_parts(tmp_path):
    path = tmp_path / "shared.xlsx"
    write_shared_xlsx(path, [["登记表"], [], HEADER, *sheet_rows(2000, bad_every=5)], date_style_columns=(0,))
    assert_same_in_parts(path, 300, header=_header_spec().plain())
    assert parts_made(path, 300) == 7


def test_large_shared_strings_are_read_whole(tmp_path, monkeypatch):
    """Each part would parse the shared strings again: a sheet saved by Excel is read whole."""
    path = tmp_path / "shared.xlsx"
    write_shared_xlsx(path, [HEADER, *sheet_rows(500)])
    assert parts_made(path, 100) == 6  # 501 rows in parts of 100
    monkeypatch.setattr(tables, "PART_SHARED_MAX", 1000)
    assert parts_made(path, 100) == 0
    assert_same_in_parts(path, 100)


def _row(number: int, cells: str) -> bytes:
    return f'<row r="{number}">{cells}</row>'.encode()


def _cell(ref: str, value) -> str:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def test_gaps_empty_columns_and_a_wider_row_read_the_same(tmp_path):
    sheet = b"".join(
        [
            _row(2, _cell("C2", "头") + _cell("D2", "尾")),
            *(_row(n, _cell(f"C{n}", f"r{n}") + _cell(f"D{n}", n)) for n in range(3, 9)),
            _row(9, ""),  # a row with nothing in it
            *(_row(n, _cell(f"C{n}", f"r{n}")) for n in range(20, 26)),  # rows the XML skips before
            _row(26, _cell("C26", "x") + _cell("H26", "wide")),  # wider than every part before it
            _row(27, _cell("D27", 1.5)),
        ]
    )
    path = crafted(sheet, tmp_path=tmp_path)
    for part_rows in (1, 2, 3, 5):
        assert parts_made(path, part_rows) > 1
        _head, rows = assert_same_in_parts(path, part_rows, exact=False)
        assert rows[-2] == (25, ["", "", "x", "", "", "", "", "wide"])


def test_a_cut_is_made_only_before_a_row_that_names_its_number(tmp_path):
    """calamine places a row without `r` after the one before it: it never starts a part."""
    sheet = b"".join(
        [_row(1, _cell("A1", "h"))]
        + [f"<row>{_cell(f'A{n}', n)}</row>".encode() for n in range(2, 6)]
        + [_row(n, _cell(f"A{n}", n)) for n in range(6, 9)]
    )
    path = crafted(sheet, tmp_path=tmp_path)
    assert parts_made(path, 1) == 4  # cut before rows 2, 6, 7 and 8 only
    assert_same_in_parts(path, 1)


def test_no_cut_after_a_comment_or_cdata(tmp_path):
    """Only there can a `</row>` be other than the end of a row: the rest is one part."""
    sheet = b"".join(
        [_row(n, _cell(f"A{n}", n)) for n in range(1, 4)]
        + [b'<!-- </row><row r="99"><c r="A99"><v>99</v></c></row> -->']
        + [_row(n, _cell(f"A{n}", n)) for n in range(4, 8)]
    )
    path = crafted(sheet, tmp_path=tmp_path)
    assert parts_made(path, 1) == 3  # row 1, row 2, then row 3 with the rest
    assert_same_in_parts(path, 1)


def test_a_row_written_out_of_order_in_a_later_part_is_refused(tmp_path):
    """The whole sheet would sort it in; rows already sent cannot be taken back (the streaming
    reader refuses it too)."""
    sheet = b"".join([_row(n, _cell(f"A{n}", n)) for n in range(1, 7)] + [_row(3, _cell("B3", "late"))])
    path = crafted(sheet, tmp_path=tmp_path)
    assert read(path, part_rows=2) == ("file_corrupt", tables.ROWS_OUT_OF_ORDER)
    assert read(path, part_rows=0)[1][1] == (2, [3.0, "late"])  # whole, calamine sorts it in


def test_a_cell_placed_past_its_part_is_refused(tmp_path):
    sheet = b"".join(
        [_row(1, _cell("A1", 1) + _cell("A5", "stray"))] + [_row(n, _cell(f"A{n}", n)) for n in range(2, 6)]
    )
    path = crafted(sheet, tmp_path=tmp_path)
    # in the first part: read whole instead
    assert parts_made(path, 1) == 0
    assert_same_in_parts(path, 1)
    sheet = b"".join(
        [_row(n, _cell(f"A{n}", n)) for n in range(1, 4)]
        + [_row(4, _cell("A4", 4) + _cell("A9", "stray"))]
        + [_row(n, _cell(f"A{n}", n)) for n in range(5, 10)]
    )
    path = crafted(sheet, tmp_path=tmp_path)
    assert read(path, part_rows=2) == ("file_corrupt", tables.ROWS_OUT_OF_ORDER)


def _rewritten(path, replace) -> None:
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(
                info.filename, replace(data) if info.filename == "xl/worksheets/sheet1.xml" else data
            )


def test_a_prefixed_worksheet_is_read_whole(tmp_path):
    path = crafted(b"".join(_row(n, _cell(f"A{n}", n)) for n in range(1, 5)), tmp_path=tmp_path)
    _rewritten(
        path,
        lambda data: (
            data.replace(b"<worksheet xmlns=", b"<x:worksheet xmlns:x=")
            .replace(b"</worksheet>", b"</x:worksheet>")
            .replace(b"<sheetData>", b"<x:sheetData>")
            .replace(b"</sheetData>", b"</x:sheetData>")
            .replace(b"<row ", b"<x:row ")
            .replace(b"</row>", b"</x:row>")
            .replace(b"<c ", b"<x:c ")
            .replace(b"</c>", b"</x:c>")
            .replace(b"<v>", b"<x:v>")
            .replace(b"</v>", b"</x:v>")
        ),
    )
    assert parts_made(path, 1) == 0
    assert_same_in_parts(path, 1)


def test_the_child_streams_the_same_chunks_in_parts(monkeypatch, tmp_path):
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(xlsx_bytes(2500, bad_every=5))
    read_as = {}
    for in_parts in (True, False):
        monkeypatch.setattr(tables, "XLSX_IN_PARTS", in_parts)
        with tables.stream_table(str(path), header=_header_spec(), chunk_rows=600) as stream:
            head = dict(stream.head.__dict__)
            del head["child_peak_mb"], head["height"]
            read_as[in_parts] = head, list(stream.chunks())
    (head, chunks), (whole_head, whole_chunks) = read_as[True], read_as[False]
    assert head == whole_head
    assert [row for chunk in chunks for row in chunk] == [row for chunk in whole_chunks for row in chunk]
    # each part's rows go as they are read: the first chunk before the second part is parsed
    # (the title and the header are two of the first part's 600 rows)
    assert [len(chunk) for chunk in chunks] == [598, 600, 600, 600, 102]
    assert [len(chunk) for chunk in whole_chunks] == [600, 600, 600, 600, 100]
