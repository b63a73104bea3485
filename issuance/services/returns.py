"""Reconciling a return file (回盘) with its batch: cards issued with their numbers, rejected
with the bank's reason, and every row that cannot apply reported with why."""

from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from cardportal import crypto
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
    query whose list is a single string parameter (no 100,000-placeholder IN list or ARRAY[…]
    of 100,000 expressions to parse); only digit strings can be stored (card_number_shape), so
    the others are left out. Chunks elsewhere."""
    if connection.vendor == "postgresql":
        digits = [n for n in numbers if n.isascii() and n.isdigit()]
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "number", "id" FROM "{Card._meta.db_table}" '
                "WHERE \"number\" = ANY(string_to_array(%s, ','))",
                [",".join(digits)],
            )
            return dict(cursor.fetchall())
    taken = {}
    for start in range(0, len(numbers), 5000):
        taken.update(
            Card.objects.filter(number__in=numbers[start : start + 5000]).values_list("number", "id")
        )
    return taken


@transaction.atomic
def return_reconcile(*, imp: BankFileImport, table: list[list[str]]) -> dict:
    """Apply a return file to its batch and report: issued (matched), rejected (failed with the
    bank's reason), unknown IDs, duplicates, invalid numbers, conflicts and rows missing from the
    return. Idempotent: a card already in the state the row asks for is counted `unchanged`."""
    batch = BankBatch.objects.select_for_update().get(pk=imp.batch_id)
    if not _import_owned(imp):
        return None
    layout = layouts.return_layout(batch.partner)
    success_values = {v.strip().lower() for v in layout.get("success_values", [])}
    rows = list(
        mapped_rows(
            table, {k: layout[k] for k in ("id_number", "number", "status", "reason")}, ("id_number",)
        )
    )
    job_progress(imp, done=0, total=len(rows))

    cards = {}
    for card_id, id_hash, status, number, reason in Card.objects.filter(batch=batch).values_list(
        "id", "member__id_hash", "status", "number", "bank_reason"
    ):
        cards[id_hash] = (card_id, status, number, reason)

    lists = {k: [] for k in ("issued", "rejected", "unknown", "duplicate", "invalid", "conflict", "missing")}
    counts = dict.fromkeys(list(lists) + ["unchanged", "rows"], 0)
    counts["rows"] = len(rows)

    def listed(kind: str, row_no: int, id_number: str, number: str, reason: str) -> None:
        # only the first REPORT_LIMIT rows of a list are kept, so only those are masked
        if len(lists[kind]) < REPORT_LIMIT:
            lists[kind].append({"row": row_no, "id": _mask(id_number), "number": number, "reason": reason})

    parsed = []
    by_id = defaultdict(list)
    by_number = defaultdict(list)
    for row_no, values in rows:
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
    id_hashes = crypto.keyed_hash_many([p[1] for p in parsed])
    parsed = [(row_no, i, h, n, ok, r) for (row_no, i, n, ok, r), h in zip(parsed, id_hashes, strict=True)]
    for row_no, _id_number, id_hash, number, ok, _reason in parsed:
        by_id[id_hash].append(row_no)
        if ok and number:
            by_number[number].append(row_no)

    taken = _cards_by_number([p[3] for p in parsed if p[4] and p[3]])

    to_issue: dict[int, str] = {}
    to_reject: dict[int, str] = {}
    seen_hashes = set()
    for row_no, id_number, id_hash, number, ok, reason in parsed:
        seen_hashes.add(id_hash)
        if len(by_id[id_hash]) > 1:
            counts["duplicate"] += 1
            listed(
                "duplicate",
                row_no,
                id_number,
                number,
                f"证件号码重复（第{'、'.join(map(str, by_id[id_hash]))}行）",
            )
            continue
        if ok and number and len(by_number[number]) > 1:
            counts["duplicate"] += 1
            listed(
                "duplicate",
                row_no,
                id_number,
                number,
                f"卡号重复（第{'、'.join(map(str, by_number[number]))}行）",
            )
            continue
        card = cards.get(id_hash)
        if card is None:
            counts["unknown"] += 1
            listed("unknown", row_no, id_number, number, "该证件号码不在本批次中")
            continue
        card_id, status, current_number, current_reason = card
        if ok:
            error = card_number_error(number)
            if error:
                counts["invalid"] += 1
                listed("invalid", row_no, id_number, number, error)
            elif status == S.IN_BATCH:
                if taken.get(number, card_id) != card_id:
                    counts["conflict"] += 1
                    listed("conflict", row_no, id_number, number, "卡号已被其他会员卡使用")
                else:
                    to_issue[card_id] = number
                    listed("issued", row_no, id_number, number, "")
            elif current_number == number:
                counts["unchanged"] += 1
            else:
                counts["conflict"] += 1
                listed(
                    "conflict",
                    row_no,
                    id_number,
                    number,
                    f"卡片当前为“{S(status).label}”{('，卡号' + current_number) if current_number else ''}",
                )
        else:
            reason = reason or "银行未说明原因"
            if status == S.IN_BATCH:
                to_reject[card_id] = reason[:200]
                listed("rejected", row_no, id_number, "", reason)
            elif status == S.REJECTED_BY_BANK and current_reason == reason[:200]:
                counts["unchanged"] += 1
            else:
                counts["conflict"] += 1
                listed(
                    "conflict",
                    row_no,
                    id_number,
                    number,
                    f"银行报失败（{reason}），但卡片当前为“{S(status).label}”",
                )

    note = f"回盘文件 {imp.file_name}"
    issued = cards_move(
        cards=list(to_issue),
        to_status=S.ISSUED,
        actor=imp.created_by,
        note=note,
        updates={i: {"number": n, "bank_reason": ""} for i, n in to_issue.items()},
        strict=False,
    )
    rejected = cards_move(
        cards=list(to_reject),
        to_status=S.REJECTED_BY_BANK,
        actor=imp.created_by,
        note=note,
        updates={i: {"bank_reason": r} for i, r in to_reject.items()},
        strict=False,
    )
    counts["issued"], counts["rejected"] = len(issued), len(rejected)
    replacements = [card_id for card_id, _status, _number, _union, replaces_id, _at in issued if replaces_id]
    _notify_number_changes(list(Card.objects.filter(pk__in=replacements)) if replacements else [])

    for id_hash, (card_id, status, _n, _r) in cards.items():
        if status == S.IN_BATCH and id_hash not in seen_hashes:
            counts["missing"] += 1
            if len(lists["missing"]) < REPORT_LIMIT:
                lists["missing"].append({"card": card_id})
    if lists["missing"]:
        named = Card.objects.filter(pk__in=[m["card"] for m in lists["missing"]]).select_related("member")
        lists["missing"] = [{"card": c.pk, "name": c.member.name, "id": c.member.masked_id} for c in named]

    remaining = Card.objects.filter(batch=batch, status=S.IN_BATCH).exists()
    batch.status = BankBatch.BatchStatus.PARTLY_RETURNED if remaining else BankBatch.BatchStatus.RETURNED
    batch.save(update_fields=["status"])
    audit_record(
        actor=imp.created_by, verb="import.return_applied", target=imp, union=batch.union, data=counts
    )
    job_progress(imp, done=len(rows))
    return _keep_report(imp, {"counts": counts, "lists": lists, "same_as": imp.same_as_id})


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
