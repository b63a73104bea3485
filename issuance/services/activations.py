"""Reconciling an activation file (card number, activation date) within the import's union
subtree; stages the union had not recorded yet are recorded on the activation date."""

from collections import defaultdict
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from cardportal import bulk
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


ACTIVATION_LISTS = ("activated", "unknown", "invalid", "refused")


def _activation_cards(imp: BankFileImport, numbers: list[str]) -> dict[str, tuple]:
    """{number: (card id, status, issued date)} for the file's cards in the import's subtree."""
    known = {}
    for chunk in bulk.chunked(numbers):
        known.update(
            {
                n: (i, st, timezone.localtime(issued).date() if issued else None)
                for n, i, st, issued in Card.objects.filter(
                    number__in=chunk, union__path__startswith=imp.union.path
                ).values_list("number", "id", "status", "issued_at")
            }
        )
    return known


def _activation_row(number: str, raw_date: str, known: dict, today: date) -> tuple[str, str, date | None]:
    """(list, reason, activation day) of one row: activated, unchanged, invalid, unknown or refused."""
    error = card_number_error(number)
    day = _parse_date(raw_date)
    if error or day is None or day > today:
        return "invalid", error or f"激活日期“{raw_date}”无效", None
    if number not in known:
        return "unknown", "卡号不存在或不在本范围", None
    _card_id, status, issued_on = known[number]
    if issued_on and day < issued_on:
        return "invalid", f"激活日期 {day} 早于制卡日期 {issued_on}", None
    if status == S.ACTIVATED:
        return "unchanged", "", None
    if status in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED):
        return "activated", day.isoformat(), day
    return "refused", f"卡片当前为“{S(status).label}”，不能激活", None


def classify_activation_rows(rows: list, numbers: list[str], known: dict, lists: dict, counts: dict) -> dict:
    """Decide every row without writing: the cards to activate by date ({day: [card id]}), the
    rest counted and listed with why. A second row for the same card is `unchanged`."""
    by_date: dict[date, list[int]] = defaultdict(list)
    today = timezone.localdate()
    for (row_no, values), number in zip(rows, numbers, strict=True):
        kind, reason, day = _activation_row(number, values["date"], known, today)
        if kind == "unchanged":
            counts["unchanged"] += 1
            continue
        if kind == "activated":
            card_id, _status, issued_on = known[number]
            by_date[day].append(card_id)
            known[number] = (card_id, S.ACTIVATED, issued_on)
        else:  # activated is counted after the move: how many cards did move
            counts[kind] += 1
        _entry(lists[kind], row=row_no, number=number, reason=reason)
    return by_date


@transaction.atomic
def activation_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict | None:
    """Apply an activation file (card number, date) within the import's union subtree: parse →
    classify → apply, in one transaction; None when another run owns the import now."""
    if not _import_owned(imp):
        return None
    rows = list(mapped_rows(table, layouts.DEFAULT_ACTIVATION, ("number", "date")))
    job_progress(imp, done=0, total=len(rows))
    lists = {k: [] for k in ACTIVATION_LISTS}
    counts = dict.fromkeys([*ACTIVATION_LISTS, "unchanged", "rows"], 0)
    counts["rows"] = len(rows)
    numbers = [normalise_card_number(v["number"]) for _, v in rows]
    by_date = classify_activation_rows(rows, numbers, _activation_cards(imp, numbers), lists, counts)
    counts["activated"] = len(
        _activate_by_date(by_date, actor=imp.created_by, note=f"激活文件 {imp.file_name}")
    )
    audit_record(actor=imp.created_by, verb="import.activation_applied", target=imp, data=counts)
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": counts, "lists": lists, "same_as": imp.same_as_id})
