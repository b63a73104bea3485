"""The streaming .xlsx reader (cardportal/tables.py, issue 16): a large worksheet is read by expat
a buffer at a time instead of by calamine whole. Both paths must give the same cells (types and
values), the same head and the same refusals; every sheet here is read both ways, the threshold
forced. No database needed."""

import io
import math
import random
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from bench import sheetgen
from bench.sheetgen import rows as sheet_rows
from bench.sheetgen import write_shared_xlsx, xlsx_bytes
from cardportal import tables
from members.sheets import _header_spec

FIXTURES = Path(__file__).parent / "members" / "fixtures"
HEADER = ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"]
# Every row of the sheet through the stream: the first row is the "header" (nothing required).
WHOLE = tables.HeaderSpec(aliases={}, required=()).plain()
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def read(path, header: dict, *, streaming: bool, monkeypatch):
    monkeypatch.setattr(tables, "STREAM_XLSX_ABOVE", -1 if streaming else 10**12)
    assert tables._xlsx_streams(str(path)) is streaming
    try:
        fields, rows = tables._workbook_stream(
            str(path), file_format="xlsx", limits=tables.Limits(), header=header
        )
        return fields, list(rows)
    except tables.TableRefused as refused:
        return refused.code, refused.message


def typed(value):
    """A comparable form of one read: every cell with its type (True == 1.0 in Python), NaN as a
    marker (NaN != NaN)."""
    if isinstance(value, list | tuple):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def assert_same(path, monkeypatch, header: dict = WHOLE):
    by_calamine = read(path, header, streaming=False, monkeypatch=monkeypatch)
    streamed = read(path, header, streaming=True, monkeypatch=monkeypatch)
    assert typed(streamed) == typed(by_calamine)
    return by_calamine


def crafted(sheet_data: bytes, *, shared: bytes = b"", workbook_pr: bytes = b"", tmp_path) -> Path:
    """A workbook written by hand, for what no writer at hand produces."""
    styles = (
        f'<styleSheet xmlns="{MAIN}"><numFmts count="3">'
        '<numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
        '<numFmt numFmtId="165" formatCode="[h]:mm:ss"/><numFmt numFmtId="166" formatCode="0.00_ "/></numFmts>'
        '<cellXfs count="6"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/>'
        '<xf numFmtId="166"/><xf numFmtId="49"/></cellXfs></styleSheet>'
    )
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    path = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", sheetgen._CONTENT_TYPES)
        archive.writestr("_rels/.rels", sheetgen._PACKAGE_RELS)
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{rels}">'.encode()
            + workbook_pr
            + b'<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr("xl/styles.xml", styles)
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">'.encode() + shared + b"</sst>")
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{MAIN}"><sheetData>'.encode() + sheet_data + b"</sheetData></worksheet>",
        )
    return path


def test_the_fixtures_read_the_same(monkeypatch):
    fixtures = [path for path in sorted(FIXTURES.glob("*.xlsx")) if zipfile.is_zipfile(path)]
    assert fixtures  # encrypted.xlsx is an OLE2 file, refused before any parse
    for fixture in fixtures:
        assert_same(fixture, monkeypatch, _header_spec().plain())
        assert_same(fixture, monkeypatch)


@pytest.mark.parametrize("shared", [False, True], ids=["inline strings (openpyxl)", "shared strings (Excel)"])
def test_a_generated_registration_sheet_reads_the_same(shared, monkeypatch, tmp_path):
    path = tmp_path / "sheet.xlsx"
    if shared:
        write_shared_xlsx(path, [["会员卡信息登记表"], HEADER, *sheet_rows(3000, bad_every=7)])
    else:
        path.write_bytes(xlsx_bytes(3000, bad_every=7))
    fields, rows = assert_same(path, monkeypatch, _header_spec().plain())
    assert fields["header_index"] == 1 and len(rows) == 3000
    assert rows[0][1][1] == "130902196601010019"


def test_what_the_registration_rules_rely_on_reads_the_same(monkeypatch, tmp_path):
    book = openpyxl.Workbook()
    hidden = book.active
    hidden.title = "说明"
    hidden.append(["请勿修改本表"])
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet("登记表")
    sheet.append([None, None, "某某工会会员登记表"])
    sheet.merge_cells("C1:H1")
    sheet.append([None, None, "填表单位：", None, "2026年11月"])
    sheet.append([None, None, *HEADER, "出生日期", "在职", "困难职工"])
    sheet.append(
        [
            None,
            None,
            1,
            110105194912310021,
            "王芳",
            "女",
            13912345678,
            "财务处",
            date(1949, 12, 31),
            True,
            False,
        ]
    )
    sheet.append(
        [
            None,
            None,
            2.0,
            "11010519491231002X",
            " 李 明 ",
            None,
            "139 1234 5678",
            None,
            datetime(1990, 1, 2, 3, 4, 5),
        ]
    )
    sheet.append([])
    sheet.append([None, None, 3, "  ", "张三", "男", 1.5e10, "=A1", time(12, 30), None, "是"])
    sheet["K4"].number_format = "yyyy/m/d"
    sheet["K7"].number_format = "[h]:mm"
    sheet["G4"].number_format = "@"
    path = tmp_path / "layout.xlsx"
    book.save(path)
    fields, rows = assert_same(path, monkeypatch, _header_spec().plain())
    assert fields["sheet_name"] == "登记表" and fields["header_index"] == 2
    assert rows[0][1][8] == date(1949, 12, 31) and isinstance(rows[0][1][3], float)  # an ID as a number
    assert_same(path, monkeypatch)


CRAFTED = {
    "text trimmed unless preserved, rich runs, phonetic runs, _xHHHH_ escapes": (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
        b'<c r="D1" t="inlineStr"><is><t>  in  </t></is></c><c r="E1" t="str"><v>  f  </v></c>'
        b'<c r="F1" t="inlineStr"><is><t>a_x000D_b&amp;&#20320;<![CDATA[ c ]]></t></is></c></row>',
        b'<si><t>  a b  </t></si><si><t xml:space="preserve">  a b  </t></si>'
        b"<si><r><t> r1 </t></r><r><t>r2</t></r><rPh><t>PH</t></rPh></si>",
        b"",
    ),
    "errors, booleans, empty and styled-empty cells at the edges": (
        b'<row r="2"><c r="C2" s="1"/><c r="D2" t="e"><v>#N/A</v></c><c r="E2" t="b"><v>1</v></c>'
        b'<c r="F2" t="b"><v>0</v></c><c r="G2"><v></v></c><c r="H2"><f>1+1</f><v/></c><c r="K2" s="2"/></row>'
        b'<row r="5"><c r="B5" t="str"><f>A1</f><v>x</v></c><c r="J5" t="e"><v>#DIV/0!</v></c></row>',
        b"",
        b"",
    ),
    "formula results at the edges: an empty text counts, no value does not": (
        b'<row r="1"><c r="A1"><v>1</v></c><c r="H1" t="str"><f>X</f></c><c r="I1" t="e"/></row>'
        b'<row r="3"><c r="C3" t="str"><f>IF(A1="","",A1)</f><v></v></c></row>',
        b"",
        b"",
    ),
    "cells and rows without references, a row written twice, r not first": (
        b'<row r="2"><c><v>1</v></c><c><v>2</v></c><c r="E2"><v>3</v></c><c><v>4</v></c></row>'
        b'<row><c><v>5</v></c></row><row r="3"><c s="0" r="B3"><v>6</v></c></row><row r="9"><c r="C9"><v>7</v></c></row>',
        b"",
        b"",
    ),
    "a namespace prefix": (
        f'<x:row xmlns:x="{MAIN}" r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="C1"><x:v>2</x:v></x:c></x:row>'.encode(),
        b"<si><t>p</t></si>",
        b"",
    ),
    "numbers as Rust reads them": (
        b'<row r="1"><c r="A1"><v>inf</v></c><c r="B1"><v>1e400</v></c><c r="C1"><v>0x10</v></c><c r="D1"><v>1_0</v></c>'
        b'<c r="E1"><v>+5</v></c><c r="F1"><v>.5</v></c><c r="G1"><v> 12 </v></c><c r="H1" s="4"><v>7</v></c>'
        b'<c r="I1" s="5"><v>42</v></c><c r="J1"><v>nan</v></c><c r="K1" t="d"><v>2020-01-02T03:04:05</v></c></row>',
        b"",
        b"",
    ),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_hand_written_cells_read_the_same(case, monkeypatch, tmp_path):
    sheet_data, shared, workbook_pr = CRAFTED[case]
    assert_same(crafted(sheet_data, shared=shared, workbook_pr=workbook_pr, tmp_path=tmp_path), monkeypatch)


@pytest.mark.parametrize("workbook_pr", [b"", b'<workbookPr date1904="1"/>'], ids=["1900", "1904"])
def test_date_and_duration_serials_convert_the_same(workbook_pr, monkeypatch, tmp_path):
    generator = random.Random(16)
    values = [59, 60, 61, 0, 1, -1, -0.5, 2958465, 2958466, 2958465.9999999, 45000.123456789]
    values += [generator.uniform(-100, 3e6) for _ in range(100)] + [generator.random() for _ in range(100)]
    values += [generator.randint(0, 80_000) + generator.choice([0, 0.5, 0.9999999, 1e-9]) for _ in range(200)]
    sheet_data = b"".join(
        b'<row r="%d"><c r="A%d" s="1"><v>%r</v></c><c r="B%d" s="2"><v>%r</v></c><c r="C%d" s="3"><v>%r</v></c></row>'
        % (n, n, value, n, value, n, value)
        for n, value in enumerate(values, 1)
    )
    assert_same(crafted(sheet_data, workbook_pr=workbook_pr, tmp_path=tmp_path), monkeypatch)


@pytest.mark.parametrize(
    "sheet_data",
    [
        b'<row r="1"><c r="A1" t="s"><v>9</v></c></row>',  # no such shared string
        b'<row r="1"><c r="A1" t="b"><v>x</v></c></row>',
        b'<row r="1"><c r="A1" t="bogus"><v>1</v></c></row>',
        b'<row r="1"><c r="A1"><v>1</v></row>',  # the XML itself is damaged
    ],
)
def test_damaged_cells_are_refused_the_same(sheet_data, monkeypatch, tmp_path):
    refused = assert_same(crafted(sheet_data, tmp_path=tmp_path), monkeypatch)
    assert refused == ("file_corrupt", tables.MESSAGES["file_corrupt"])


def _streamed(path, monkeypatch, *, streaming: bool):
    monkeypatch.setattr(tables, "STREAM_XLSX_ABOVE", -1 if streaming else 10**12)
    with tables.stream_table(str(path), header=_header_spec(), chunk_rows=700) as stream:
        head = {key: value for key, value in stream.head.__dict__.items() if key != "child_peak_mb"}
        return head, list(stream.chunks())


def test_the_child_streams_the_same_chunks_when_the_threshold_is_crossed(monkeypatch, tmp_path):
    path = tmp_path / "sheet.xlsx"
    write_shared_xlsx(path, [["登记表"], [], HEADER, *sheet_rows(2500, bad_every=5)])
    streamed, by_calamine = (
        _streamed(path, monkeypatch, streaming=True),
        _streamed(path, monkeypatch, streaming=False),
    )
    # calamine reads it in parts of the chunk's rows (test_tables_parts.py): its height, for
    # progress only, is the first part's scaled to the sheet
    assert streamed[0].pop("height") == 2503
    assert abs(by_calamine[0].pop("height") - 2503) <= 250
    assert streamed[0] == by_calamine[0]
    # the same rows (calamine's chunks end where its parts do)
    assert [row for chunk in streamed[1] for row in chunk] == [
        row for chunk in by_calamine[1] for row in chunk
    ]


def _with_part(content: bytes, name: str, replace) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info.filename, replace(data) if info.filename == name else data)
    return buffer.getvalue()


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(9))
    + f'<!ENTITY x SYSTEM "file:///etc/passwd">]><sst xmlns="{MAIN}"><si><t>&j;&x;</t></si></sst>'.encode()
)


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"])
def test_a_doctype_is_refused_before_any_entity_is_expanded(part, monkeypatch, tmp_path):
    path = tmp_path / "laughs.xlsx"
    write_shared_xlsx(path, [HEADER, ["1", "11010519491231002X", "王芳"]])
    if part == "xl/sharedStrings.xml":
        content = _with_part(path.read_bytes(), part, lambda data: LAUGHS)
    else:
        content = _with_part(
            path.read_bytes(),
            part,
            lambda data: b'<!DOCTYPE worksheet [<!ENTITY a "x">]>' + data.split(b"?>", 1)[1],
        )
    path.write_bytes(content)
    monkeypatch.setattr(tables, "STREAM_XLSX_ABOVE", -1)
    with (
        pytest.raises(tables.TableRefused) as refused,
        tables.stream_table(str(path), header=_header_spec()) as stream,
    ):
        list(stream.chunks())
    assert refused.value.code == "file_corrupt" and "DTD" in refused.value.message


def test_damage_far_down_the_sheet_is_refused_after_the_chunks_before_it(monkeypatch, tmp_path):
    path = tmp_path / "cut.xlsx"
    write_shared_xlsx(path, [HEADER, *sheet_rows(6000)])
    path.write_bytes(
        _with_part(
            path.read_bytes(), "xl/worksheets/sheet1.xml", lambda d: d.replace(b'<row r="5900">', b"<row r=")
        )
    )
    monkeypatch.setattr(tables, "STREAM_XLSX_ABOVE", -1)
    chunks = 0
    with (
        pytest.raises(tables.TableRefused) as refused,
        tables.stream_table(str(path), header=_header_spec(), chunk_rows=1000) as stream,
    ):
        for _chunk in stream.chunks():
            chunks += 1
    assert refused.value.code == "file_corrupt" and refused.value.message == tables.MESSAGES["file_corrupt"]
    assert chunks >= 3  # the rows before the damage went out first
