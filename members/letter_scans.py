"""The scan of a sheet's stamped confirmation letter (确认书, seed 000 附件3): optional, uploaded by
the clerk beside the sheet, read by the reviewer. Through the proof kernel (`cardportal.proofs`):
the bytes decide the format (JPEG, PNG or PDF), images are re-encoded, nothing is kept of a
refused file; every reading is audited."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from cardportal import proofs
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.tables import TableRefused

from .access import Cap, access_for
from .models import RegistrationSheet, SheetLetterScan

S = RegistrationSheet.Status
# Until the reviewer has decided: the scan goes with the submission.
OPEN_STATUSES = (S.VALIDATED, S.SUBMITTED, S.RETURNED)


def scan_limit() -> int:
    return min(settings.PROOF_MAX_BYTES, settings.UPLOAD_MAX_BYTES)


def may_upload_scan(actor, sheet: RegistrationSheet) -> bool:
    """The sheet's side hands in the letter: a user who may upload sheets and does not review this
    one (a reviewer governs the sheet's union from above), or the sheet's own uploader."""
    access = access_for(actor)
    if not access.can(Cap.SHEET_UPLOAD):
        return False
    return actor.pk == sheet.created_by_id or not access.governs(sheet.union)


def letter_scan_upload(
    *, sheet: RegistrationSheet, data: bytes, actor, ip: str | None = None
) -> SheetLetterScan:
    """Check the file (outside any transaction: nothing is written for a refused file), then
    store it for the sheet, replacing an earlier scan, and audit it. A stored file whose
    transaction fails is deleted again."""
    if not may_upload_scan(actor, sheet):
        raise ApplicationError("确认书扫描件由登记表所属的基层工会上传", code="forbidden")
    if sheet.status not in OPEN_STATUSES:
        raise ApplicationError("登记表审核后不能再更换确认书扫描件", code="invalid_status")
    try:
        checked = proofs.read_proof(data, max_bytes=scan_limit())
    except TableRefused as exc:
        raise ApplicationError(exc.message, code=exc.code) from exc
    stored = None
    old_name = ""
    try:
        with transaction.atomic():
            locked = RegistrationSheet.objects.select_for_update().get(pk=sheet.pk)
            if locked.status not in OPEN_STATUSES:
                raise ApplicationError("登记表审核后不能再更换确认书扫描件", code="invalid_status")
            stored = SheetLetterScan.objects.filter(sheet=locked).first() or SheetLetterScan(sheet=locked)
            old_name = stored.file.name if stored.file else ""
            stored.content_type = checked.content_type
            stored.size = len(checked.data)
            stored.sha256 = checked.sha256
            stored.pages = checked.pages
            stored.uploaded_by = actor if getattr(actor, "is_authenticated", False) else None
            stored.file.save(f"letter.{checked.extension}", ContentFile(checked.data), save=False)
            stored.save()
            audit_record(
                actor=actor,
                verb="sheet.letter_scan_uploaded",
                target=locked,
                ip=ip,
                data={"sha256": checked.sha256, "type": checked.content_type, "replaced": bool(old_name)},
            )
    except BaseException:
        if stored is not None and stored.file and stored.file.name != old_name:
            stored.file.delete(save=False)
        raise
    if old_name and old_name != stored.file.name:
        stored.file.storage.delete(old_name)
    return stored


def letter_scan_read(*, scan: SheetLetterScan, actor, ip: str | None = None) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of the scan; every reading is audited. The caller has
    scoped the sheet (sheet_get_for_user)."""
    with scan.file.open("rb") as handle:
        content = handle.read()
    audit_record(actor=actor, verb="sheet.letter_scan_read", target=scan.sheet, ip=ip)
    extension = scan.file.name.rsplit(".", 1)[-1]
    return content, f"确认书扫描件-登记表{scan.sheet_id}.{extension}", scan.content_type
