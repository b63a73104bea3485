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


# --- proof files (photos of receipts, PDFs): cardportal/proofs.py ------------------------------
def jpeg_bytes(
    size: tuple[int, int] = (64, 48), *, gps: bool = False, orientation: int | None = None
) -> bytes:
    """A real JPEG photo; with `gps`, EXIF carrying a GPS position, as a phone camera writes it."""
    from PIL import Image

    image = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestPhone"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (38.0, 18.0, 0.0), 3: "E", 4: (116.0, 50.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", size, (40, 40, 200, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes(pages: int = 1, *, password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_bomb() -> bytes:
    """A tiny PNG that declares 20,000 x 20,000 pixels (400 MP: 1.2 GB once decoded)."""
    import struct
    import zlib as z

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", z.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    rows = z.compress(b"\x00" * (1 + 3 * 20_000) * 16)  # the first rows only: the file stays small
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def hostile_proofs(*, max_bytes: int) -> dict[str, tuple[str, bytes, str]]:
    """The hostile set for proof uploads: name -> (file name, bytes, expected reason code)."""
    photo = jpeg_bytes()
    return {
        "renamed_exe": (
            "receipt.jpg",
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 16,
            "file_not_proof",
        ),
        "html_as_jpg": ("receipt.jpg", b"<html><script>alert(1)</script></html>", "file_not_proof"),
        "spreadsheet_as_pdf": ("receipt.pdf", workbook_bytes([["a"]]), "file_not_proof"),
        "truncated_jpeg": ("receipt.jpg", photo[: len(photo) // 2], "file_corrupt"),
        "jpeg_header_only": ("receipt.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "file_corrupt"),
        "fake_pdf": ("receipt.pdf", b"%PDF-1.7\n" + b"not really a pdf\n" * 20, "file_corrupt"),
        "encrypted_pdf": ("receipt.pdf", pdf_bytes(password="secret"), "file_encrypted"),
        "pixel_bomb": ("receipt.png", png_bomb(), "image_too_large"),
        "empty": ("receipt.jpg", b"", "file_empty"),
        "giant": ("receipt.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * max_bytes, "file_too_large"),
    }
