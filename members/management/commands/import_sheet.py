"""Headless registration-sheet import: the browser's pipeline without the browser.

    python manage.py import_sheet PATH --union CODE [--as USERNAME] [--register] [--json]

Prints one JSON object: {"file": {...}, "sheet": id, "counts": {...}, "rows": [...]}; a file
refused before a sheet exists (too large, not for this union) prints {"file": {"status":
"refused", "reason", "message", "name"}, "sheet": null} and exits 0 like any other refusal. With
--register the accepted rows are also submitted, approved and registered, as a reviewer would.
--as names the staff account the upload is made as (recorded as the sheet's uploader): its role
decides the limits, so a city administrator's registry migration gets the migration limits
(MIGRATION_MAX_BYTES/ROWS) and no --as the clerk's.
"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from cardportal import crypto
from cardportal.errors import ApplicationError
from cardportal.uploads import registry_upload_limit, too_large
from members.models import RegistrationSheet, SheetRow, Union
from members.registration import (
    sheet_approve,
    sheet_import,
    sheet_import_reset,
    sheet_register,
    sheet_submit,
    sheet_upload,
)
from members.validation import GENDER_LABEL

S = RegistrationSheet.Status


def sheet_report(sheet: RegistrationSheet, *, duplicate: bool = False) -> dict:
    if sheet.status == S.REFUSED:
        file_info = {"status": "refused", "reason": sheet.job_error_code, "message": sheet.job_message}
    elif duplicate:
        file_info = {
            "status": "duplicate",
            "reason": "duplicate_file",
            "message": f"同一文件已上传过（登记表 #{sheet.pk}），未重复导入",
        }
    else:
        file_info = {"status": "read", "format": sheet.file_format, "header_row": sheet.header_row}
    file_info.update({"name": sheet.original_name, "sha256": sheet.sha256, "sheet_status": sheet.status})
    rows = []
    for row in SheetRow.objects.filter(sheet=sheet).order_by("row_number").iterator(chunk_size=5000):
        item = {
            "row": row.row_number,
            "outcome": row.outcome,
            "reason": row.reason,
            "field": row.field,
            "message": row.message,
        }
        if row.outcome == SheetRow.Outcome.ACCEPT:
            item["values"] = {
                "id_number": crypto.decrypt(row.id_encrypted),
                "name": row.name,
                "gender": GENDER_LABEL.get(row.gender, ""),
                "phone": crypto.decrypt(row.phone_encrypted),
                "unit": row.work_unit,
            }
        rows.append(item)
    return {
        "file": file_info,
        "sheet": sheet.pk,
        "counts": {
            "accepted": sheet.rows_accepted,
            "rejected": sheet.rows_rejected,
            "skipped": sheet.rows_skipped,
        },
        "registered": sheet.rows_registered,
        "rows": rows,
    }


class Command(BaseCommand):
    help = "Import a registration sheet (.xlsx/.xls/.csv) for a grassroots union; print the result as JSON."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--union", required=True, help="code of the grassroots union")
        parser.add_argument(
            "--as", dest="as_user", default=None, help="username of the staff account uploading (its limits)"
        )
        parser.add_argument("--register", action="store_true", help="also submit, approve and register")
        parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
        parser.add_argument(
            "--members", type=int, default=None, help="member count of the confirmation letter"
        )
        parser.add_argument(
            "--id-copies", type=int, default=None, help="ID-copy count of the confirmation letter"
        )

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        union = Union.objects.filter(code=options["union"]).first()
        if union is None:
            raise CommandError(f"no union with code {options['union']!r}")
        actor = self._actor(options["as_user"])
        try:
            sheet, created = self._upload(path, union, actor, options)
        except ApplicationError as exc:
            refusal = {"status": "refused", "reason": exc.code, "message": exc.message, "name": path.name}
            self.stdout.write(json.dumps({"file": refusal, "sheet": None}, ensure_ascii=False))
            return
        resumed = not created and sheet.status in (S.UPLOADED, S.VALIDATING)
        if resumed:  # an earlier run died before staging finished: run it again
            sheet_import_reset(sheet=sheet)
        if created or resumed:
            sheet = sheet_import(sheet_id=sheet.pk)
            if options["register"] and sheet.status == S.VALIDATED and sheet.rows_accepted:
                sheet_submit(sheet=sheet, actor=None)
                sheet_approve(sheet=sheet, actor=None, enqueue=False)
                sheet = sheet_register(sheet_id=sheet.pk)
        sheet.refresh_from_db()
        self.stdout.write(
            json.dumps(sheet_report(sheet, duplicate=not (created or resumed)), ensure_ascii=False)
        )

    def _actor(self, username: str | None):
        if not username:
            return None  # the clerk's limits, no uploader recorded
        actor = get_user_model().objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {username!r}")
        return actor

    def _upload(self, path: Path, union: Union, actor, options) -> tuple[RegistrationSheet, bool]:
        size, limit = path.stat().st_size, registry_upload_limit(actor)
        if size > limit:  # refused before a byte of it is read
            raise ApplicationError(too_large(size, limit).message, code="file_too_large")
        with path.open("rb") as handle:
            return sheet_upload(
                union=union,
                filename=path.name,
                content=File(handle, name=path.name),  # hashed and copied in pieces
                actor=actor,
                declared_members=options["members"],
                declared_id_copies=options["id_copies"],
                enqueue=False,
            )
