"""Reconciling an activation file (card number, activation date) within the import's union
subtree; stages the union had not recorded yet are recorded on the activation date."""

from collections import defaultdict
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.jobs import job_progress

from .. import layouts
from ..cardnumbers import card_number_error, normalise_card_number
from ..files import mapped_rows
from ..lifecycle import cards_transition
from ..models import BankFileImport, Card
from .common import S, _at_noon
from .reports import _entry, _import_owned, _keep_report


def _parse_date(raw: str) -> date | None:
    text = (
        (raw or "")
        .strip()
        .replace("/", "-")
        .replace(".", "-")
        .replace("年", "-")
        .replace("月", "-")
        .replace("日", "")
    )
    text = text[:10]
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.strptime(text.split(" ")[0], "%Y-%m-%d").date()
    except ValueError:
        return None


def _activate_by_date(card_ids_by_date: dict[date, list[int]], *, actor, note: str) -> list[Card]:
    """Activate cards on their dates. A card the bank activated before the union recorded
    receipt or distribution gets those stages recorded on the same date (the member has it)."""
    activated = []
    for day, ids in sorted(card_ids_by_date.items()):
        at = _at_noon(day)
        statuses = dict(Card.objects.filter(pk__in=ids).values_list("id", "status"))
        issued = [i for i in ids if statuses[i] == S.ISSUED]
        if issued:
            cards_transition(
                cards=issued, to_status=S.RECEIVED, actor=actor, at=at, note=f"{note}（按激活记录补记领卡）"
            )
        pending = [i for i in ids if statuses[i] in (S.ISSUED, S.RECEIVED)]
        if pending:
            cards_transition(
                cards=pending,
                to_status=S.DISTRIBUTED,
                actor=actor,
                at=at,
                note=f"{note}（按激活记录补记发放）",
            )
        activated += cards_transition(
            cards=ids, to_status=S.ACTIVATED, actor=actor, at=at, note=note, strict=False
        )
    return activated


@transaction.atomic
def activation_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict:
    """Apply an activation file (card number, date) within the import's union subtree."""
    if not _import_owned(imp):
        return None
    rows = list(mapped_rows(table, layouts.DEFAULT_ACTIVATION, ("number", "date")))
    job_progress(imp, done=0, total=len(rows))
    lists = {k: [] for k in ("activated", "unknown", "invalid", "refused")}
    counts = dict.fromkeys(list(lists) + ["unchanged", "rows"], 0)
    counts["rows"] = len(rows)
    numbers = [normalise_card_number(v["number"]) for _, v in rows]
    known = {}
    for start in range(0, len(numbers), 5000):
        known.update(
            {
                n: (i, st, timezone.localtime(issued).date() if issued else None)
                for n, i, st, issued in Card.objects.filter(
                    number__in=numbers[start : start + 5000], union__path__startswith=imp.union.path
                ).values_list("number", "id", "status", "issued_at")
            }
        )
    by_date: dict[date, list[int]] = defaultdict(list)
    today = timezone.localdate()
    for (row_no, values), number in zip(rows, numbers, strict=True):
        error = card_number_error(number)
        day = _parse_date(values["date"])
        if error or day is None or day > today:
            counts["invalid"] += 1
            _entry(
                lists["invalid"], row=row_no, number=number, reason=error or f"激活日期“{values['date']}”无效"
            )
            continue
        if number not in known:
            counts["unknown"] += 1
            _entry(lists["unknown"], row=row_no, number=number, reason="卡号不存在或不在本范围")
            continue
        card_id, status, issued_on = known[number]
        if issued_on and day < issued_on:
            counts["invalid"] += 1
            _entry(
                lists["invalid"], row=row_no, number=number, reason=f"激活日期 {day} 早于制卡日期 {issued_on}"
            )
            continue
        if status == S.ACTIVATED:
            counts["unchanged"] += 1
        elif status in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED):
            by_date[day].append(card_id)
            known[number] = (card_id, S.ACTIVATED, issued_on)  # a second row for the same card is a no-op
            _entry(lists["activated"], row=row_no, number=number, reason=day.isoformat())
        else:
            counts["refused"] += 1
            _entry(
                lists["refused"], row=row_no, number=number, reason=f"卡片当前为“{S(status).label}”，不能激活"
            )
    counts["activated"] = len(
        _activate_by_date(by_date, actor=imp.created_by, note=f"激活文件 {imp.file_name}")
    )
    audit_record(actor=imp.created_by, verb="import.activation_applied", target=imp, data=counts)
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": counts, "lists": lists, "same_as": imp.same_as_id})
