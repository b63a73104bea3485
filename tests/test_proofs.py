"""The proof kernel (cardportal/proofs.py): photos and PDFs checked by their bytes, photos stored
as our own re-encoding without the camera's metadata."""

import io

import pytest
from PIL import Image

from cardportal.proofs import MAX_SIDE, read_proof
from cardportal.tables import TableRefused

from .hostile import hostile_proofs, jpeg_bytes, pdf_bytes, png_bytes

LIMIT = 1024 * 1024


@pytest.mark.parametrize("kind", list(hostile_proofs(max_bytes=LIMIT)))
def test_every_hostile_proof_is_refused_with_its_reason_in_chinese(kind):
    _name, content, expected = hostile_proofs(max_bytes=LIMIT)[kind]

    with pytest.raises(TableRefused) as refused:
        read_proof(content, max_bytes=LIMIT)

    assert refused.value.code == expected
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)


def test_a_phone_photo_loses_its_gps_position_and_camera_data():
    original = jpeg_bytes(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the position is there

    proof = read_proof(original)

    stored = Image.open(io.BytesIO(proof.data))
    assert (proof.kind, proof.content_type, proof.extension) == ("image", "image/jpeg", "jpg")
    assert stored.format == "JPEG" and stored.size == (64, 48)
    assert dict(stored.getexif()) == {}
    assert b"TestPhone" not in proof.data


def test_a_photo_taken_sideways_is_stored_upright():
    proof = read_proof(jpeg_bytes((64, 48), orientation=6))  # EXIF: rotate 90° to view

    assert Image.open(io.BytesIO(proof.data)).size == (48, 64)


def test_a_large_photo_is_shrunk_for_the_phone():
    proof = read_proof(jpeg_bytes((MAX_SIDE * 2, MAX_SIDE)))

    assert Image.open(io.BytesIO(proof.data)).size == (MAX_SIDE, MAX_SIDE // 2)


def test_a_png_named_jpg_is_read_as_the_png_it_is():
    proof = read_proof(png_bytes())

    assert (proof.content_type, proof.extension) == ("image/png", "png")
    assert Image.open(io.BytesIO(proof.data)).format == "PNG"


def test_a_pdf_is_kept_as_sent_with_its_page_count():
    content = pdf_bytes(pages=3)

    proof = read_proof(content)

    assert (proof.kind, proof.content_type, proof.pages, proof.data) == ("pdf", "application/pdf", 3, content)


def test_a_pdf_of_too_many_pages_is_refused():
    with pytest.raises(TableRefused) as refused:
        read_proof(pdf_bytes(pages=51))

    assert (refused.value.code, refused.value.message) == ("too_many_pages", "PDF超过50页，请只上传相关页")
