"""Reconciling a return file (回盘) with its batch: cards issued with their numbers, rejected
with the bank's reason, and every row that cannot apply reported with why."""

from collections import defaultdict
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from cardportal import bulk, crypto
from cardportal.audit import audit_record
from cardportal.jobs import job_progress
from members.idcard import normalise as normalise_id

from .. import layouts
from ..cardnumbers import card_number_error, normalise_card_number
from ..files import mapped_rows
from ..lifecycle import cards_move
from ..models import BankBatch, BankFileImport, Card, CardNotice
from .common import S
from .reports import REPORT_LIMIT, _import_owned, _keep_report, _mask


def _cards_by_number(numbers: list[str]) -> dict[str, int]:
    """{card number: card id} for the cards already holding one of `numbers`. On PostgreSQL one
    query whose list is a single array parameter (`bulk.filter_any`: no 100,000-placeholder IN
    list to compile and parse); SQLite's IN lists go in chunks. Only digit strings can be stored
    (card_number_shape), so the others are left out."""
    digits = [n for n in numbers if n.isascii() and n.isdigit()]
    taken = {}
    for chunk in [digits] if bulk.is_postgresql() else bulk.chunked(digits):
        cards = bulk.filter_any(Card.objects.all(), "number", chunk, cast="text")
        taken.update(cards.values_list("number", "id"))
    return taken


RETURN_LISTS = ("issued", "rejected", "unknown", "duplicate", "invalid", "conflict", "missing")


class ReturnRow(NamedTuple):
    """One data row of a return file, normalised: the bank's verdict `ok` and, failing, its reason."""

    row: int
    id_number: str
    id_hash: str
    number: str
    ok: bool
    reason: str


class BatchCard(NamedTuple):
    id: int
    status: str
    number: str
    bank_reason: str


class ReturnReport:
    """Counts of every class of row and the first REPORT_LIMIT rows of each list (masked ID)."""

    def __init__(self, rows: int):
        self.lists = {k: [] for k in RETURN_LISTS}
        self.counts = dict.fromkeys([*RETURN_LISTS, "unchanged", "rows"], 0)
        self.counts["rows"] = rows

    def add(self, kind: str, row: ReturnRow, reason: str = "", *, number: str | None = None) -> None:
        """Count the row under `kind` and list it. Issued and rejected rows are counted after the
        move (`counts` then says how many cards actually moved), so they are only listed here."""
        if kind not in ("issued", "rejected"):
            self.counts[kind] += 1
        if kind == "unchanged":
            return
        lst = self.lists[kind]
        if len(lst) < REPORT_LIMIT:  # only the kept rows are masked
            number = row.number if number is None else number
            lst.append({"row": row.row, "id": _mask(row.id_number), "number": number, "reason": reason})

    def as_dict(self, same_as: int | None) -> dict:
        return {"counts": self.counts, "lists": self.lists, "same_as": same_as}


class ReturnPlan(NamedTuple):
    """What the return file asks for: cards to issue (id → number) and to reject (id → reason)."""

    to_issue: dict[int, str]
    to_reject: dict[int, str]
    seen_hashes: set[str]


# --- parse ----------------------------------------------------------------------------------------
def parse_return_rows(table: list[list[str]], layout: dict) -> list[ReturnRow]:
    """The return file's data rows, with ID numbers and card numbers normalised and the ID numbers
    hashed (in one batch) to match the registry."""
    success_values = {v.strip().lower() for v in layout.get("success_values", [])}
    columns = {k: layout[k] for k in ("id_number", "number", "status", "reason")}
    parsed = []
    for row_no, values in mapped_rows(table, columns, ("id_number",)):
        raw_id, raw_number = values.get("id_number", ""), values.get("number", "")
        # plain ASCII cells (nearly all) are already normal: NFKC and the noise removal only
        # matter for full-width characters, spaces and dashes
        id_number = raw_id.upper() if raw_id.isascii() and raw_id.isalnum() else normalise_id(raw_id)
        number = (
            raw_number if raw_number.isascii() and raw_number.isdigit() else normalise_card_number(raw_number)
        )
        status = values.get("status", "").strip()
        ok = status.lower() in success_values if status else bool(number)
        parsed.append((row_no, id_number, number, ok, values.get("reason", "").strip() or status))
    hashes = crypto.keyed_hash_many([p[1] for p in parsed])
    return [ReturnRow(r, i, h, n, ok, why) for (r, i, n, ok, why), h in zip(parsed, hashes, strict=True)]


# --- classify -------------------------------------------------------------------------------------
def _batch_cards(batch: BankBatch) -> dict[str, BatchCard]:
    """The batch's cards by their member's ID hash."""
    return {
        id_hash: BatchCard(card_id, status, number, reason)
        for card_id, id_hash, status, number, reason in Card.objects.filter(batch=batch).values_list(
            "id", "member__id_hash", "status", "number", "bank_reason"
        )
    }


def _duplicate_reason(row: ReturnRow, by_id: dict, by_number: dict) -> str:
    """Why the row repeats another one ("" when it does not): the same ID, or the same new number."""
    if len(by_id[row.id_hash]) > 1:
        return f"证件号码重复（第{'、'.join(map(str, by_id[row.id_hash]))}行）"
    if row.ok and row.number and len(by_number[row.number]) > 1:
        return f"卡号重复（第{'、'.join(map(str, by_number[row.number]))}行）"
    return ""


def _classify_issued(row: ReturnRow, card: BatchCard, taken: dict, plan: ReturnPlan, report: ReturnReport):
    """A row the bank made a card for."""
    error = card_number_error(row.number)
    if error:
        report.add("invalid", row, error)
    elif card.status == S.IN_BATCH:
        if taken.get(row.number, card.id) != card.id:
            report.add("conflict", row, "卡号已被其他会员卡使用")
        else:
            plan.to_issue[card.id] = row.number
            report.add("issued", row)
    elif card.number == row.number:
        report.add("unchanged", row)
    else:
        held = f"，卡号{card.number}" if card.number else ""
        report.add("conflict", row, f"卡片当前为“{S(card.status).label}”{held}")


def _classify_rejected(row: ReturnRow, card: BatchCard, plan: ReturnPlan, report: ReturnReport):
    """A row the bank refused, with its reason."""
    reason = row.reason or "银行未说明原因"
    if card.status == S.IN_BATCH:
        plan.to_reject[card.id] = reason[:200]
        report.add("rejected", row, reason, number="")
    elif card.status == S.REJECTED_BY_BANK and card.bank_reason == reason[:200]:
        report.add("unchanged", row)
    else:
        report.add("conflict", row, f"银行报失败（{reason}），但卡片当前为“{S(card.status).label}”")


def classify_return_rows(
    rows: list[ReturnRow], cards: dict[str, BatchCard], taken: dict[str, int], report: ReturnReport
) -> ReturnPlan:
    """Decide each row against the batch's cards (`taken`: card numbers already held, by card id)
    without writing anything: what to issue and reject, everything else reported with why.
    Idempotent: a card already in the state the row asks for is `unchanged`."""
    by_id, by_number = defaultdict(list), defaultdict(list)
    for row in rows:
        by_id[row.id_hash].append(row.row)
        if row.ok and row.number:
            by_number[row.number].append(row.row)
    plan = ReturnPlan({}, {}, set())
    for row in rows:
        plan.seen_hashes.add(row.id_hash)
        duplicate = _duplicate_reason(row, by_id, by_number)
        card = cards.get(row.id_hash)
        if duplicate:
            report.add("duplicate", row, duplicate)
        elif card is None:
            report.add("unknown", row, "该证件号码不在本批次中")
        elif row.ok:
            _classify_issued(row, card, taken, plan, report)
        else:
            _classify_rejected(row, card, plan, report)
    return plan


def _report_missing(cards: dict[str, BatchCard], seen_hashes: set[str], report: ReturnReport) -> None:
    """Cards still in the batch that the return file does not mention, named in the report."""
    missing = []
    for id_hash, card in cards.items():
        if card.status == S.IN_BATCH and id_hash not in seen_hashes:
            report.counts["missing"] += 1
            if len(missing) < REPORT_LIMIT:
                missing.append(card.id)
    if missing:
        named = Card.objects.filter(pk__in=missing).select_related("member")
        report.lists["missing"] = [
            {"card": c.pk, "name": c.member.name, "id": c.member.masked_id} for c in named
        ]


# --- apply ----------------------------------------------------------------------------------------
def _apply_return_plan(imp: BankFileImport, plan: ReturnPlan, report: ReturnReport) -> None:
    """Move the cards (in_batch → issued with its number, or → rejected_by_bank with the reason)
    and tell the union of every replacement card's new number."""
    note = f"回盘文件 {imp.file_name}"
    issued = cards_move(
        cards=list(plan.to_issue),
        to_status=S.ISSUED,
        actor=imp.created_by,
        note=note,
        updates={i: {"number": n, "bank_reason": ""} for i, n in plan.to_issue.items()},
        strict=False,
    )
    rejected = cards_move(
        cards=list(plan.to_reject),
        to_status=S.REJECTED_BY_BANK,
        actor=imp.created_by,
        note=note,
        updates={i: {"bank_reason": r} for i, r in plan.to_reject.items()},
        strict=False,
    )
    report.counts["issued"], report.counts["rejected"] = len(issued), len(rejected)
    replacements = [card_id for card_id, _status, _number, _union, replaces_id, _at in issued if replaces_id]
    _notify_number_changes(list(Card.objects.filter(pk__in=replacements)) if replacements else [])


@transaction.atomic
def return_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict | None:
    """Apply a return file to its batch and report: issued (matched), rejected (failed with the
    bank's reason), unknown IDs, duplicates, invalid numbers, conflicts and rows missing from the
    return. Parse → classify → apply, in one transaction under the batch lock; None when another
    run owns the import now. Idempotent: applying the same file again changes nothing."""
    batch = BankBatch.objects.select_for_update().get(pk=imp.batch_id)
    if not _import_owned(imp):
        return None
    rows = parse_return_rows(table, layouts.return_layout(batch.partner))
    job_progress(imp, done=0, total=len(rows))
    cards = _batch_cards(batch)
    report = ReturnReport(len(rows))
    taken = _cards_by_number([r.number for r in rows if r.ok and r.number])
    plan = classify_return_rows(rows, cards, taken, report)
    _apply_return_plan(imp, plan, report)
    _report_missing(cards, plan.seen_hashes, report)
    remaining = Card.objects.filter(batch=batch, status=S.IN_BATCH).exists()
    batch.status = BankBatch.BatchStatus.PARTLY_RETURNED if remaining else BankBatch.BatchStatus.RETURNED
    batch.save(update_fields=["status"])
    audit_record(
        actor=imp.created_by, verb="import.return_applied", target=imp, union=batch.union, data=report.counts
    )
    job_progress(imp, done=len(rows))
    return _keep_report(imp, report.as_dict(imp.same_as_id))


def _notify_number_changes(cards: list[Card]) -> None:
    if not cards:
        return
    now = timezone.now()
    olds = {
        c.pk: c for c in Card.objects.filter(pk__in=[c.replaces_id for c in cards]).select_related("member")
    }
    unions = dict(Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("id", "member__union_id"))
    CardNotice.objects.bulk_create(
        [
            CardNotice(
                union_id=unions[c.pk],
                card=c,
                kind=CardNotice.Kind.NUMBER_CHANGED,
                message=(
                    f"{olds[c.replaces_id].member.name}（{olds[c.replaces_id].member.masked_id}）补办新卡，"
                    f"卡号由 {olds[c.replaces_id].number or '（未制卡）'} 变更为 {c.number}"
                ),
                created_at=now,
            )
            for c in cards
        ]
    )
