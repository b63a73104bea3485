"""Small generators of hostile upload files, shared by every upload path's test (no committed blobs
except the msoffcrypto-encrypted fixture, which needs a tool the suite does not run).

Each entry of `hostile_files()` is name -> (file name, bytes, expected reason code)."""

import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook

ENCRYPTED_FIXTURE = Path(__file__).parent / "members" / "fixtures" / "encrypted.xlsx"


def workbook_bytes(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_far_cell(content: bytes, ref: str) -> bytes:
    """A valid .xlsx plus one text cell at `ref` (e.g. XFD1048576), as in issue 11: a 5 KB file
    whose dense grid in calamine would be rows x 16,384 cells."""
    row = int(re.sub(r"[A-Z]+", "", ref))
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                cell = f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()
                data = data.replace(b"</sheetData>", cell + b"</sheetData>")
            out.writestr(info.filename, data)
    return buffer.getvalue()


def zipcrypto(content: bytes) -> bytes:
    """The same workbook with every member flagged as ZipCrypto-encrypted (what `zip -P` writes;
    the stdlib cannot encrypt, and the flag alone is what a reader sees first)."""
    data = bytearray(content)
    for marker, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = -1
        while (position := data.find(marker, position + 1)) != -1:
            data[position + flag_at] |= 0x01
    return bytes(data)


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024 * 1024))
    return buffer.getvalue()


def hostile_files(valid: bytes, *, max_bytes: int) -> dict[str, tuple[str, bytes, str]]:
    """The hostile set of issue 11/12 built around `valid` (a small .xlsx the path would accept)."""
    return {
        "zip_bomb": ("bomb.xlsx", zip_bomb(), "archive_bomb"),
        "zipcrypto": ("zipcrypto.xlsx", zipcrypto(valid), "file_encrypted"),
        "ooxml_encrypted": ("encrypted.xlsx", ENCRYPTED_FIXTURE.read_bytes(), "file_encrypted"),
        "truncated": ("truncated.xlsx", valid[: len(valid) // 2], "file_corrupt"),
        "renamed_exe": (
            "setup.xlsx",
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 16,
            "file_not_spreadsheet",
        ),
        "empty": ("empty.xlsx", b"", "file_empty"),
        "giant": ("giant.xlsx", b"PK\x03\x04" + b"\x00" * max_bytes, "file_too_large"),
        "far_cell": ("far.xlsx", with_far_cell(valid, "XFD1048576"), "too_many_cells"),
        "wide_cell": ("wide.xlsx", with_far_cell(valid, "XFD2000"), "too_many_cells"),
    }
