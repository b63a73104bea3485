"""The upload kernel's sibling for proof files (a photo of a receipt, a hospital bill, a PDF of
it): `read_proof(data, name=...)` returns a `Proof` to store, or raises `TableRefused` with one of
these whole-file reason codes (the same class and style as `cardportal.tables`):

    file_too_large  file_empty  file_not_proof  file_corrupt  file_encrypted  image_too_large

The checks, in order, all on the bytes and never on the file name (an .exe named .jpg is
`file_not_proof`; a PNG named .jpg is a PNG):

1. size (`PROOF_MAX_BYTES`, at most the upload limit the streaming handler enforces), empty;
2. the format from the magic number: JPEG, PNG or PDF, nothing else;
3. an image is decoded whole by Pillow (a truncated or fake image fails here), after its pixel
   count is checked against `MAX_PIXELS` from the header alone (a 100 KB PNG can declare
   50,000 x 50,000 pixels: a decompression bomb is refused before it is inflated). It is then
   turned upright (EXIF orientation), shrunk to `MAX_SIDE` and re-encoded: what is stored is
   our own encoding, with no EXIF (phone photos carry GPS positions) and no bytes the sender
   chose (no polyglot survives), and it is small enough for a phone on 4G;
4. a PDF is parsed by pypdf (cross-reference table and page tree); an encrypted one, one
   without pages or one pypdf cannot read is refused. A PDF is stored as sent and only ever
   served as a download (`attachment`), never rendered inline by the portal.

Pure functions: no Django models, nothing written.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from .tables import TableRefused

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 50 MP phone camera shoots 8160 x 6120; Pillow's own bomb limit is 89 MP
MAX_SIDE = 2400  # a receipt stays legible; a 12 MP photo becomes ~0.5 MB
MAX_PDF_PAGES = 50
JPEG_QUALITY = 85

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"

MESSAGES = {
    "file_empty": "文件是空的，请重新选择",
    "file_not_proof": "上传的文件不是照片或PDF（请上传 .jpg、.png 照片或 .pdf 文件）",
    "file_corrupt": "文件已损坏或不完整，无法打开，请重新拍照或保存后上传",
    "file_encrypted": "PDF文件设置了密码，请取消密码后重新上传",
    "image_too_large": "照片像素过大，请用手机正常拍照后上传",
    "too_many_pages": f"PDF超过{MAX_PDF_PAGES}页，请只上传相关页",
}


@dataclass(frozen=True)
class Proof:
    """What to store: `data` (re-encoded for images), its type and extension, and its digest."""

    kind: str  # "image" or "pdf"
    content_type: str
    extension: str
    data: bytes
    pages: int = 1
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def refuse(code: str, message: str | None = None) -> TableRefused:
    return TableRefused(code, message or MESSAGES[code])


def read_proof(data: bytes, *, max_bytes: int = MAX_BYTES) -> Proof:
    if len(data) > max_bytes:
        raise refuse(
            "file_too_large",
            f"文件太大（{len(data) / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB",
        )
    if not data:
        raise refuse("file_empty")
    if data.startswith(JPEG_MAGIC) or data.startswith(PNG_MAGIC):
        return _read_image(data)
    if data.startswith(PDF_MAGIC):
        return _read_pdf(data)
    raise refuse("file_not_proof")


def _read_image(data: bytes) -> Proof:
    from PIL import Image, ImageOps

    expected = "PNG" if data.startswith(PNG_MAGIC) else "JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[expected])
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise refuse("image_too_large")
            image.load()  # decodes every pixel: a truncated or fake body fails here
            image = ImageOps.exif_transpose(image)
    except TableRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refuse("image_too_large") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's "cannot identify/decode"
        raise refuse("file_corrupt") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if expected == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        content_type, extension = "image/jpeg", "jpg"
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
        content_type, extension = "image/png", "png"
    return Proof("image", content_type, extension, out.getvalue(), width=image.width, height=image.height)


def _read_pdf(data: bytes) -> Proof:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise refuse("file_encrypted")
        pages = len(reader.pages)
    except TableRefused:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise refuse("file_corrupt") from exc
    if pages == 0:
        raise refuse("file_corrupt")
    if pages > MAX_PDF_PAGES:
        raise refuse("too_many_pages")
    return Proof("pdf", "application/pdf", "pdf", data, pages=pages)
