"""The upload kernel itself (cardportal/tables.py): the used range bounded before any grid is built,
the child process that contains a native abort, and bounded echoes. No database needed."""

import io
import multiprocessing
import shutil
import subprocess
import zipfile
from datetime import date

import openpyxl
import pytest

from cardportal import tables
from members.sheet_files import error_report_workbook
from members.sheets import read_sheet
from members.validation import validate_rows

from .hostile import with_far_cell, workbook_bytes

HEADER = ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"]
VALID = workbook_bytes([HEADER, [1, "11010519491231002X", "王芳", "", "13912345678", "财务处"]])


def code_of(call) -> str:
    with pytest.raises(tables.TableRefused) as refused:
        call()
    assert refused.value.message
    return refused.value.code


def replace_sheet_data(content: bytes, sheet_data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                start, end = data.index(b"<sheetData"), data.index(b"</sheetData>") + len(b"</sheetData>")
                data = data[:start] + sheet_data + data[end:]
            out.writestr(info.filename, data)
    return buffer.getvalue()


@pytest.mark.parametrize("ref", ["XFD1048576", "XFD200000", "XFD2000"])
def test_a_far_cell_is_refused_from_the_references_before_calamine_runs(ref, monkeypatch):
    def no_parse(*args, **kwargs):
        raise AssertionError("the child must not be started for this file")

    monkeypatch.setattr(tables, "parse_in_child", no_parse)
    assert code_of(lambda: tables.read_table(with_far_cell(VALID, ref))) == "too_many_cells"


def test_a_native_abort_in_the_parse_kills_only_the_child():
    # Skip the pre-scan: calamine in the child tries to allocate a 550 GB grid and aborts.
    far = with_far_cell(VALID, "XFD1048576")
    code = code_of(
        lambda: tables.parse_in_child(far, file_format="xlsx", limits=tables.Limits(), header=None)
    )
    assert code == "too_many_cells"
    # this process is alive and reads on
    assert tables.read_table(VALID).rows[1][2] == "王芳"


def test_rows_times_columns_over_the_cell_budget_is_refused():
    # 256 columns is allowed, 30,000 rows too, but not both: 7,680,000 cells > 6,000,000
    assert code_of(lambda: tables.check_file(with_far_cell(VALID, "IV30000"))) == "too_many_cells"
    assert tables.check_file(with_far_cell(VALID, "IV100")) == "xlsx"


def test_cells_without_references_widen_the_bound():
    row = b"<row>" + b"<c><v>1</v></c>" * 300 + b"</row>"
    wide = replace_sheet_data(VALID, b"<sheetData>" + row + b"</sheetData>")
    assert code_of(lambda: tables.check_file(wide)) == "too_many_cells"
    narrow = replace_sheet_data(VALID, b"<sheetData><row><c><v>1</v></c><c><v>2</v></c></row></sheetData>")
    assert tables.read_table(narrow).rows == [[1.0, 2.0]]


@pytest.mark.parametrize(
    "cell",
    [
        b'<c t="inlineStr" r="XFD5"><is><t>x</t></is></c>',  # r not the first attribute
        b'<x:c r="XFD5"><x:v>1</x:v></x:c>',  # a namespace prefix
        b"<c\nr='XFD5'><v>1</v></c>",  # a newline and single quotes
        b'<c r="A1048576"><v>1</v></c>',  # seven digits
        b'<c r="a999999"><v>1</v></c>',  # lower case, six digits
    ],
)
def test_unusual_cell_tags_take_the_exact_scan(cell):
    sheet = replace_sheet_data(
        VALID, b'<sheetData><row r="1"><c r="A1"><v>1</v></c>' + cell + b"</row></sheetData>"
    )
    assert code_of(lambda: tables.check_file(sheet)) in {"too_many_cells", "file_too_large"}


def test_the_fast_scan_bounds_rows_by_the_longest_reference():
    scan = tables._RangeScan(tables.Limits())
    scan.feed(b'<row r="1"><c r="A1"><v>1</v></c><c r="F12"><v>1</v></c></row>')
    assert (scan.max_row, scan.max_col, scan.unreferenced) == (99, 26, 0)
    scan.feed(b'<row r="3"><c r="B123456"><v>1</v></c></row>')  # six digits: read exactly
    assert (scan.max_row, scan.max_col) == (123456, 26)


def test_a_sheet_placed_outside_xl_worksheets_is_scanned_too():
    source = zipfile.ZipFile(io.BytesIO(with_far_cell(VALID, "XFD2000")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            name = info.filename.replace("worksheets/sheet1.xml", "elsewhere/data.xml")
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"worksheets/sheet1.xml", b"elsewhere/data.xml")
            out.writestr(name, data)
    assert code_of(lambda: tables.check_file(buffer.getvalue())) == "too_many_cells"


def test_a_tag_cut_at_a_chunk_boundary_is_still_scanned(monkeypatch):
    monkeypatch.setattr(tables, "_SCAN_CHUNK", 7)  # every tag straddles a chunk
    assert code_of(lambda: tables.check_file(with_far_cell(VALID, "XFD2000"))) == "too_many_cells"
    assert tables.check_file(VALID) == "xlsx"


def test_a_run_of_unclosed_cell_tags_does_not_stall_the_scan(monkeypatch):
    """A hostile sheet of `<c ` tags that never close (no ">" in a whole scan buffer): the scan
    that runs in the web process at upload ends at once, and the parse refuses the file. Before,
    every tag was scanned to the buffer's end: a minute for this 300 KB run, hours for 1 MB."""
    monkeypatch.setattr(tables, "_SCAN_CHUNK", 256 * 1024)  # the run fills a buffer with no ">"
    hostile = replace_sheet_data(VALID, b'<sheetData><row r="1">' + b"<c " * 100_000)
    # In a forked process: a regex holds the GIL, so a thread could not be timed out.
    scan = multiprocessing.get_context("fork").Process(target=tables.check_file, args=(hostile,))
    scan.start()
    scan.join(timeout=30)  # linear: milliseconds
    stalled = scan.is_alive()
    scan.kill()
    assert not stalled, "the cell-tag scan went quadratic on unclosed tags"
    assert scan.exitcode == 0  # the scan itself passes it; calamine then finds it damaged
    assert code_of(lambda: tables.read_table(hostile)) == "file_corrupt"


def test_a_long_cell_above_the_header_is_not_a_label_and_costs_nothing():
    # a hostile preamble cell of unclosed brackets: bracket stripping on it was quadratic
    assert tables.header_text("（" * 100_000) is None
    assert tables.header_text("*身份证号（必填）：") == "身份证号"
    sheet = workbook_bytes(
        [["（" * 30_000], HEADER, [1, "11010519491231002X", "王芳", "", "13912345678", "财务处"]]
    )
    data = read_sheet(sheet)
    assert data.header_row == 2 and data.cell(data.rows[0][1], "name") == "王芳"


def test_a_wide_csv_is_refused():
    text = ",".join(["x"] * 300) + "\n"
    assert code_of(lambda: tables.read_table(text.encode())) == "too_many_cells"


def test_the_error_report_echoes_only_the_known_columns():
    # a stray cell at IV3 (column 256) is within the limits, but the report stays 7 columns wide
    data = read_sheet(with_far_cell(VALID, "IV3"))
    problems = {
        r.row: (r.field, r.message)
        for r in validate_rows(data, today=date(2026, 4, 1))
        if r.outcome == "reject"
    }
    sheet = openpyxl.load_workbook(io.BytesIO(error_report_workbook(data, problems))).active
    assert sheet.max_column == 7
    assert sheet.cell(1, 7).value == "错误原因"


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip command")
def test_a_real_zip_p_workbook_is_encrypted_not_a_crash(tmp_path):
    zipfile.ZipFile(io.BytesIO(VALID)).extractall(tmp_path / "parts")
    subprocess.run(
        ["zip", "-q", "-r", "-P", "secret", str(tmp_path / "locked.xlsx"), "."],
        cwd=tmp_path / "parts",
        check=True,
    )
    content = (tmp_path / "locked.xlsx").read_bytes()
    assert code_of(lambda: tables.read_table(content)) == "file_encrypted"


def test_a_cell_is_present_exactly_when_it_holds_more_than_spaces():
    """`present` finds the first character that is not a space instead of removing the spaces:
    the same answer for every kind of blank the sheets bring (full-width and no-break spaces,
    zero-width space, BOM) and for every value that is not text."""
    from cardportal.tables import _SPACES, present

    blanks = [
        "",
        " ",
        "\t\n\r",
        "\u3000",
        "\u00a0",
        "\u200b",
        "\ufeff",
        " \u3000\u200b\ufeff\u00a0\t",
        "\u2003",
    ]
    texts = ["a", " a", "\u3000甲", "\u200b1", "a\u3000", "-", "0", "\ufeff编号", "\u200c"]
    for value in blanks:
        assert not present(value) and not _SPACES.sub("", value), repr(value)
    for value in texts:
        assert present(value) and _SPACES.sub("", value), repr(value)
    assert not present(None)
    assert all(present(v) for v in (0, 0.0, False, 12.5))


class _Runs:
    """Unpickled, it calls os.mkdir: what a reading child taken over by a file could send."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.path,))


def test_a_taken_over_reading_child_cannot_run_code_in_this_process(tmp_path, monkeypatch):
    """The child parses untrusted files and answers in pickles. Were a file ever to take it over,
    its answer could name any function for this process (web or worker) to call; only plain
    values and the date and time types are accepted, the rest is refused like a child that
    failed."""
    import pickle
    import sys

    ran = tmp_path / "ran"
    answer = tmp_path / "answer.pickle"
    answer.write_bytes(pickle.dumps(("head", _Runs(ran)), protocol=pickle.HIGHEST_PROTOCOL))
    real_popen = subprocess.Popen

    def child_that_sends(args, **kwargs):  # the streaming child: frames on its stdout
        echo = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
        return real_popen([sys.executable, "-c", echo, str(answer)], **kwargs)

    def child_that_answers(args, **kwargs):  # the whole-file child: one answer file
        shutil.copy(answer, args[-1])
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(tables.subprocess, "Popen", child_that_sends)
    monkeypatch.setattr(tables.subprocess, "run", child_that_answers)
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(VALID)
    header = tables.HeaderSpec(aliases={"身份证号": "id_number"}, required=("id_number",), search_rows=5)

    def stream():
        with tables.stream_table(str(path), header=header):
            pass

    assert code_of(stream) == "too_many_cells"
    assert code_of(lambda: tables.read_table(VALID)) == "file_corrupt"
    assert not ran.exists()


def test_date_and_time_cells_still_cross_from_the_child():
    from datetime import datetime, time, timedelta

    table = tables.read_table(
        workbook_bytes(
            [HEADER, [date(2026, 6, 1), datetime(2026, 6, 1, 8, 30), time(9, 15), timedelta(hours=2)]]
        )
    )
    assert table.rows[1][:4] == [
        date(2026, 6, 1),
        datetime(2026, 6, 1, 8, 30),
        time(9, 15),
        timedelta(hours=2),
    ]


def test_the_whole_file_checks_beside_the_child_still_refuse_first_and_end_it(tmp_path, monkeypatch):
    """A streamed file's archive checks run while its reading child starts: an archive bomb is
    still refused as one (not as whatever the child makes of it), and the child already started
    is ended with the refusal, not left running."""
    from .hostile import zip_bomb

    started = []
    popen = subprocess.Popen

    def recorded(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(tables.subprocess, "Popen", recorded)
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(zip_bomb())
    header = tables.HeaderSpec(aliases={"身份证号": "id_number"}, required=("id_number",), search_rows=5)

    def stream():
        with tables.stream_table(str(path), header=header):
            pass

    assert code_of(stream) == "archive_bomb"
    assert all(child.returncode is not None for child in started)  # ended and reaped
