"""The reviewer's view of a sheet's paper side: 序号 warnings (000 附件5: the ID copies are
numbered by 序号) and the stamped confirmation letter's scan (000 附件3)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cardportal.audit import audit_for
from members.models import RegistrationSheet, SheetLetterScan
from members.registration import sheet_approve, sheet_import, sheet_submit, sheet_upload
from members.selectors import sheet_seq_warnings

from ..factories import ROLE, make_staff, next_id_number
from ..hostile import jpeg_bytes, pdf_bytes

pytestmark = pytest.mark.django_db
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sheet_for(union, *seqs, actor=None):
    lines = "".join(f"{s},{next_id_number()},王芳,,1391234{n:04d},财务处\n" for n, s in enumerate(seqs))
    sheet, _ = sheet_upload(
        union=union, filename="表.csv", content=(HEADER + lines).encode(), actor=actor, enqueue=False
    )
    return sheet_import(sheet_id=sheet.pk)


# --- 序号 --------------------------------------------------------------------------------------------
def test_a_sheet_numbered_1_to_n_has_no_warning(tree):
    assert sheet_seq_warnings(sheet=sheet_for(tree.unit_a1, 1, 2, 3)) == []


def test_duplicate_and_missing_seq_are_warned_naming_rows(tree):
    sheet = sheet_for(tree.unit_a1, 1, 2, 2, "", 5, 5)
    assert sheet.rows_accepted == 6  # warnings never reject a row
    duplicate, missing = sheet_seq_warnings(sheet=sheet)
    assert duplicate.startswith("序号重复：序号2（第3行、第4行）、序号5（第6行、第7行）。")
    assert missing.startswith("1 行没有序号（第5行）。")


def test_a_sheet_without_any_seq_is_warned_once(tree):
    sheet = sheet_for(tree.unit_a1, "", "")
    assert sheet_seq_warnings(sheet=sheet) == [
        "全部 2 行没有序号（第2行、第3行）。身份证复印件按序号编号，请核对复印件是否齐全、对应"
    ]


def test_the_reviewer_sees_the_warning_and_may_still_approve(client, tree, clerk, reviewer):
    sheet = sheet_for(tree.unit_a1, 1, 1, actor=clerk)
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert 'id="seq-warnings"' in page and "序号1（第2行、第3行）" in page
    assert 'id="approve"' in page
    sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    sheet.refresh_from_db()
    assert sheet.status == RegistrationSheet.Status.APPROVED


# --- the stamped letter's scan -----------------------------------------------------------------------
def post_scan(client, sheet, content: bytes, name="确认书.jpg"):
    return client.post(
        f"/members/sheets/{sheet.pk}/letter-scan/upload/", {"scan": SimpleUploadedFile(name, content)}
    )


def test_the_clerk_uploads_the_scan_and_the_reviewer_opens_it_audited(client, tree, clerk, reviewer):
    sheet = sheet_for(tree.unit_a1, 1, actor=clerk)
    client.force_login(clerk)
    photo = jpeg_bytes()
    assert post_scan(client, sheet, photo).status_code == 302
    scan = SheetLetterScan.objects.get(sheet=sheet)
    assert (scan.content_type, scan.uploaded_by) == ("image/jpeg", clerk)
    stored = scan.file.read()
    assert stored != photo and Image.open(io.BytesIO(stored)).format == "JPEG"  # re-encoded
    assert "sheets" not in scan.file.name and "确认书" not in scan.file.name
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert 'id="letter-scan-link"' in page and 'id="scan-upload"' not in page
    response = client.get(f"/members/sheets/{sheet.pk}/letter-scan/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content == stored and response["Cache-Control"] == "private, no-store"
    verbs = [e.verb for e in audit_for(sheet).order_by("id")]
    assert verbs.count("sheet.letter_scan_uploaded") == 1 and verbs[-1] == "sheet.letter_scan_read"


def test_a_pdf_replaces_the_photo(client, tree, clerk):
    sheet = sheet_for(tree.unit_a1, 1, actor=clerk)
    client.force_login(clerk)
    post_scan(client, sheet, jpeg_bytes())
    first = SheetLetterScan.objects.get(sheet=sheet).file.name
    post_scan(client, sheet, pdf_bytes(pages=2), name="scan.pdf")
    scan = SheetLetterScan.objects.get(sheet=sheet)
    assert (scan.content_type, scan.pages) == ("application/pdf", 2)
    assert not scan.file.storage.exists(first)
    response = client.get(f"/members/sheets/{sheet.pk}/letter-scan/")
    assert "attachment" in response["Content-Disposition"]  # a PDF is never rendered inline


def test_a_file_that_is_not_a_scan_is_refused_in_chinese_and_nothing_is_kept(client, tree, clerk):
    sheet = sheet_for(tree.unit_a1, 1, actor=clerk)
    client.force_login(clerk)
    response = post_scan(client, sheet, b"MZ\x90\x00 not a photo", name="letter.jpg")
    page = client.get(response["Location"]).content.decode()
    assert "确认书扫描件没有上传：上传的文件不是照片或PDF" in page
    assert not SheetLetterScan.objects.exists()


def test_the_scan_is_scoped_and_only_the_uploader_role_may_upload(client, tree, clerk, reviewer):
    sheet = sheet_for(tree.unit_a1, 1, actor=clerk)
    client.force_login(clerk)
    post_scan(client, sheet, jpeg_bytes())
    client.force_login(make_staff(ROLE.CLERK, tree.unit_b1))
    assert client.get(f"/members/sheets/{sheet.pk}/letter-scan/").status_code == 404
    assert post_scan(client, sheet, jpeg_bytes()).status_code == 404
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    assert post_scan(client, sheet, jpeg_bytes()).status_code == 403


# --- the letter's counts on the upload form ----------------------------------------------------------
def test_a_city_migration_declares_two_million_members_and_a_count_past_every_limit_is_refused(
    tree, settings
):
    """A registry migration's letter counts its whole city: 2,000,000 was refused by a fixed cap
    of 1,000,000 while the sheet itself may hold MIGRATION_MAX_ROWS rows."""
    from members.forms import SheetUploadForm
    from members.models import Union

    def form(count):
        upload = SimpleUploadedFile("全市存量会员.csv", HEADER.encode())
        return SheetUploadForm(
            {"union": tree.unit_a1.pk, "declared_members": count, "declared_id_copies": count},
            {"file": upload},
            unions=Union.objects.filter(pk__in=[tree.unit_a1.pk, tree.unit_a2.pk]),
        )

    assert form(2_000_000).is_valid()
    too_many = form(settings.MIGRATION_MAX_ROWS + 1)
    assert not too_many.is_valid()
    assert "declared_members" in too_many.errors and "declared_id_copies" in too_many.errors


def test_the_letters_counts_read_grouped_beside_the_accepted_count(client, tree, clerk):
    # a migration's letter declares millions: the page groups them as it groups the accepted rows
    sheet = sheet_for(tree.unit_a1, 1, actor=clerk)
    RegistrationSheet.objects.filter(pk=sheet.pk).update(declared_members=2_000_000, declared_id_copies=None)
    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "<dd>2,000,000 <span" in page and "与通过的 1 人不符" in page
    assert "<dd>未填" in page  # no count of ID copies declared
