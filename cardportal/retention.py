"""Files at rest: what MEDIA_ROOT keeps, and for how long.

Uploaded registration sheets, bank hand-off files (full ID numbers and phones), bank return and
activation files (ID numbers, card numbers) and aid payment files (card numbers, names, amounts)
are written to MEDIA_ROOT in clear. Each is needed for a while (the error report is rebuilt from
the uploaded sheet; the bank downloads the hand-off file), after which the database holds all
that matters (the sheet's rows, the reconciliation report, the manifest and its SHA-256). Each app
registers a `FileRule` saying when a file is no longer needed; `files_purge` (a daily Celery beat
task and `manage.py files_purge`) deletes the due files. docs/security.md states the periods.

Removing one file is one transaction: the row is locked, the file deleted, the field emptied
and an audit row (`file.removed`) written. The file goes first, so a crash leaves at worst a
row pointing at a missing file, which the next run clears (deleting a missing file is a no-op),
never a file nobody points at. Downloads of a removed file say so (`removed_message`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .audit import audit_record, register_verbs

log = logging.getLogger(__name__)
register_verbs({"file.removed": "按保存期限删除文件"})


@dataclass(frozen=True)
class FileRule:
    """`due(now)` returns the rows whose file `field` is no longer needed at `now` (rows with an
    empty field are skipped anyway); it reads its period with `days_ago(now, name)`. `label`
    names the file in Chinese; `period` says in Chinese when it goes, with `{days}` for the
    configured number of days (settings.FILE_RETENTION_DAYS[name])."""

    name: str
    model: type[models.Model]
    field: str
    label: str
    period: str
    due: Callable[[datetime], QuerySet]

    def period_text(self) -> str:
        return self.period.format(days=retention_days(self.name))


RULES: dict[str, FileRule] = {}


def register_file_rule(rule: FileRule) -> None:
    RULES[rule.name] = rule


def retention_days(name: str) -> int:
    return int(settings.FILE_RETENTION_DAYS[name])


def days_ago(now: datetime, name: str) -> datetime:
    return now - timedelta(days=retention_days(name))


def removed_message(*names: str) -> str:
    """What a download of a removed file says: which file, under which rule."""
    rules = [RULES[n] for n in names]
    periods = "；".join(r.period_text() for r in rules)
    return f"{rules[0].label}已按保存期限规则删除（{periods}），不能再下载；系统中的记录和处理结果不受影响。"


def files_purge(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete every file whose rule says it is no longer needed. Returns the count per rule.
    Idempotent: a removed file's field is empty, so a second run finds nothing."""
    now = now or timezone.now()
    counts = {}
    for rule in RULES.values():
        due = rule.due(now).exclude(**{rule.field: ""}).exclude(**{f"{rule.field}__isnull": True})
        ids = list(due.values_list("pk", flat=True))
        counts[rule.name] = len(ids)
        if dry_run:
            continue
        for pk in ids:
            _remove(rule, pk)
    return counts


def _remove(rule: FileRule, pk) -> None:
    with transaction.atomic():
        obj = rule.model.objects.select_for_update().filter(pk=pk).first()
        if obj is None:
            return
        file = getattr(obj, rule.field)
        if not file:
            return
        name = file.name
        file.storage.delete(name)
        setattr(obj, rule.field, "")
        obj.save(update_fields=[rule.field])
        audit_record(
            actor=None,
            verb="file.removed",
            target=obj,
            data={"rule": rule.name, "file": name, "period": rule.period_text()},
            label=f"{rule.label}：{obj}",
        )
    log.info("files_purge: removed %s %s (%s)", rule.name, pk, name)
