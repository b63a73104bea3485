"""The roll-ups the pages read, kept current by each import (`roll_up`) once its rows are
committed: four parts (`PARTS`), each in its own transaction under its own lock (so each sees
every earlier import's rows and two imports' same part never interleave), marked done in that
transaction (`ImportRollup`: exactly once, whatever happens to the worker). On PostgreSQL the
four run in parallel on their own connections: a day's 500,000 rows cost 6.3 s of roll-ups one
after another on one core, 4.2-5.0 s side by side on two. One SQL for PostgreSQL and SQLite:
only the date expressions differ (`_PG` / `_LITE`).

* `UsageDay`: count and net amount of every kind, distinct cards, per day. A day with no
  UsageDay row yet is counted from the import's own rows; a day the table held already is
  recounted from the table (its rows found by the BRIN index on txn_at), since distinct cards do
  not add up. Right once every import's part has run: the last to run for a day either recounts
  it from every committed row, or is the only import with rows that day.
* `CardUsage`: the import's new purchases added (first/last day, count, gross amount).
* `MerchantMonth`: the import's new rows added; a card counts as a new customer of the merchant
  that month when it had no earlier purchase there that month, and as a repeat customer when its
  purchases there reach two; both decided from `MerchantCardMonth` (purchases per merchant, month
  and card, kept alongside), so a month of 15 M rows is never re-read for one day's file.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, connections, transaction
from django.db.models import Count, Q

from cardportal import bulk
from cardportal.jobs import Job

from .models import ImportRollup, TxnImport

log = logging.getLogger(__name__)
SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
_PG = {
    "day": "(({col}) AT TIME ZONE 'Asia/Shanghai')::date",
    "month": "date_trunc('month', {col})::date",
    "month_start": "(({col})::timestamp AT TIME ZONE 'Asia/Shanghai')",
    "month_end": "((({col})::timestamp + interval '1 month') AT TIME ZONE 'Asia/Shanghai')",
    "least": "LEAST",
    "greatest": "GREATEST",
}
_LITE = {
    "day": "date({col}, '+8 hours')",
    "month": "date({col}, 'start of month')",
    "month_start": "datetime({col}, '-8 hours')",
    "month_end": "datetime({col}, '+1 month', '-8 hours')",
    "least": "min",
    "greatest": "max",
}


def _sql(key: str, col: str = "") -> str:
    return (_PG if bulk.is_postgresql() else _LITE)[key].format(col=col)


def local_day(col: str) -> str:
    return _sql("day", col)


def month_of(day_expr: str) -> str:
    return _sql("month", day_expr)


def bound(day: date) -> str:
    """The start of local `day` as the txn_at column compares it."""
    start = datetime.combine(day, time(0), tzinfo=SH)
    if bulk.is_postgresql():
        return start.isoformat()
    return start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# For each part's transaction (PostgreSQL's default is 4 MB): a day's CardUsage grouping
# (~370,000 cards, numeric sums) took 131 MB and went to disk in 5 batches at 64 MB.
WORK_MEM = "256MB"
# CardUsage, the longest (3.3 s of 6.7 for a day), in two halves by card, so that the four
# share two cores evenly
PARTS = ("days", "cards-even", "cards-odd", "merchants")
TABLE = "usage_cardtransaction"


def roll_up(import_id: int) -> None:
    """Every part of import `import_id`'s roll-ups not applied yet (its rows are committed).
    PostgreSQL outside a transaction: the parts in parallel, each on a connection of its own;
    otherwise (SQLite, tests inside a transaction) one after another on this connection."""
    if not bulk.may_work_beside():
        for part in PARTS:
            apply_part(import_id, part)
        return
    with ThreadPoolExecutor(max_workers=len(PARTS), thread_name_prefix=f"usage-rollup-{import_id}") as pool:
        running = [pool.submit(_part_in_thread, import_id, part) for part in PARTS]
    for done in running:
        done.result()  # the first failure, raised here (the others are committed or rolled back)


def _part_in_thread(import_id: int, part: str) -> None:
    try:
        apply_part(import_id, part)
    finally:
        connections.close_all()  # this thread's own connection


def apply_part(import_id: int, part: str) -> bool:
    """Apply one roll-up part of an import's stored rows, in one transaction, unless it was
    applied before; True when it was applied now."""
    where, params = "txn_import_id = %s", [import_id]
    with transaction.atomic():
        bulk.advisory_xact_lock(f"usage.rollup.{part}")
        if ImportRollup.objects.filter(txn_import_id=import_id, part=part).exists():
            return False
        bulk.set_local("work_mem", WORK_MEM)
        if part == "days":
            _add_days(where, params)
        elif part in ("cards-even", "cards-odd"):
            half = ("cards-even", "cards-odd").index(part)
            _add_card_usage(f"{where} AND card_id %% 2 = {half}", params)
        elif part == "merchants":
            _add_merchant_months(where, params)
        else:
            raise ValueError(part)
        ImportRollup.objects.create(txn_import_id=import_id, part=part)
    return True


def catch_up(*, but: int | None = None) -> list[int]:
    """The roll-ups an earlier import left unapplied (its worker died between committing its rows
    and finishing its roll-ups, and the job ended without a rerun): applied now. Imports whose
    job is still queued or running are left to their own run. Returns the ids of those now
    complete (one that fails again is logged and left for the next import)."""
    pending = (
        TxnImport.objects.filter(imported_at__isnull=False, inserted__gt=0)
        .exclude(job_status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        .annotate(parts=Count("rollups"))
        .filter(~Q(parts=len(PARTS)))
        .exclude(pk=but)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    caught = []
    for pk in pending:
        try:
            roll_up(pk)
        except Exception:  # that import's trouble must not fail the import that found it
            log.exception("usage import %s: its missing roll-ups could not be applied", pk)
            continue
        caught.append(pk)
    return caught


def _add_days(where: str, params: list) -> None:
    """UsageDay of the days the transactions `where` selects fall on."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {local_day('txn_at')} FROM {TABLE} WHERE {where}", params)
        days = sorted(_as_date(d) for (d,) in cursor.fetchall())
    if not days:
        return
    held = _days_counted(days)
    rebuild_days([d for d in days if d in held])
    _count_days([d for d in days if d not in held], where=where, params=params)


def _days_counted(days: list[date]) -> set[date]:
    """Those of `days` that UsageDay holds already."""
    marks = ", ".join(["%s"] * len(days))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT day FROM usage_usageday WHERE day IN ({marks})", [d.isoformat() for d in days]
        )
        return {_as_date(d) for (d,) in cursor.fetchall()}


def rebuild_days(days: list[date]) -> None:
    """UsageDay of `days` from the table."""
    if not days:
        return
    values = [d.isoformat() for d in days]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM usage_usageday WHERE day IN ({', '.join(['%s'] * len(days))})", values)
    _count_days(
        days,
        where="txn_at >= %s AND txn_at < %s",
        params=[bound(days[0]), bound(days[-1] + timedelta(days=1))],
    )


def _count_days(days: list[date], *, where: str, params: list) -> None:
    """UsageDay rows of `days` counted from the transactions `where` selects (none held yet)."""
    if not days:
        return
    day = local_day("txn_at")
    marks = ", ".join(["%s"] * len(days))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_usageday (day, union_id, category_id, at_union_merchant, channel, txn_count, amount, cards) "
            f"SELECT {day}, union_id, category_id, merchant_id IS NOT NULL, channel, count(*), sum(amount), "
            f"count(DISTINCT card_id) FROM {TABLE} WHERE {where} AND {day} IN ({marks}) "
            f"GROUP BY {day}, union_id, category_id, merchant_id IS NOT NULL, channel",
            [*params, *(d.isoformat() for d in days)],
        )


def _add_card_usage(where: str, params: list) -> None:
    first, last = local_day("min(txn_at)"), local_day("max(txn_at)")
    least, greatest = _sql("least"), _sql("greatest")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_cardusage (card_id, union_id, first_used_on, last_used_on, txn_count, amount) "
            # the first and last day from the first and last time (one conversion a card, not two a row)
            f"SELECT card_id, max(union_id), {first}, {last}, count(*), sum(amount) "
            f"FROM {TABLE} WHERE {where} AND kind = 'purchase' GROUP BY card_id ORDER BY card_id "
            "ON CONFLICT (card_id) DO UPDATE SET union_id = excluded.union_id, "
            f"first_used_on = {least}(usage_cardusage.first_used_on, excluded.first_used_on), "
            f"last_used_on = {greatest}(usage_cardusage.last_used_on, excluded.last_used_on), "
            "txn_count = usage_cardusage.txn_count + excluded.txn_count, "
            "amount = usage_cardusage.amount + excluded.amount",
            params,
        )


_NEW_PAIRS = (
    "SELECT merchant_id, {month} AS month, card_id, count(*) AS c, sum(amount) AS a,"
    " sum(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END) AS bought"
    " FROM {table} WHERE {where} AND merchant_id IS NOT NULL"
    " GROUP BY merchant_id, {month}, card_id"
)


_CARD_MONTHS_UPSERT = (
    "INSERT INTO usage_merchantcardmonth (merchant_id, month, card_id, purchases) "
    "SELECT merchant_id, month, card_id, bought FROM n WHERE bought > 0 ORDER BY merchant_id, month, card_id "
    "ON CONFLICT (merchant_id, month, card_id) DO UPDATE SET "
    "purchases = usage_merchantcardmonth.purchases + excluded.purchases"
)
# p: the import's (merchant, month, card) pairs with `earlier`, the card's purchases there that
# month before this import.
_MONTH_ADD = (
    "INSERT INTO usage_merchantmonth (merchant_id, month, txn_count, amount, cards, repeat_cards) "
    "SELECT p.merchant_id, p.month, sum(p.c), sum(p.a),"
    " sum(CASE WHEN p.bought > 0 AND p.earlier = 0 THEN 1 ELSE 0 END),"
    " sum(CASE WHEN p.earlier < 2 AND p.earlier + p.bought >= 2 THEN 1 ELSE 0 END)"
    " FROM p WHERE true GROUP BY p.merchant_id, p.month "
    "ON CONFLICT (merchant_id, month) DO UPDATE SET "
    "txn_count = usage_merchantmonth.txn_count + excluded.txn_count, "
    "amount = usage_merchantmonth.amount + excluded.amount, "
    "cards = usage_merchantmonth.cards + excluded.cards, "
    "repeat_cards = usage_merchantmonth.repeat_cards + excluded.repeat_cards"
)


def _add_merchant_months(where: str, params: list) -> None:
    """MerchantMonth += the import's new rows; a card is a new customer when it had no purchase
    at the merchant that month before (MerchantCardMonth), a repeat one when it reaches two;
    MerchantCardMonth += the import's purchases.

    PostgreSQL: one statement; the upsert of MerchantCardMonth RETURNs each pair's new total, so
    the earlier purchases are that total less the import's, and MerchantCardMonth (a row per
    merchant, month and card: millions) is never joined whole. SQLite: read it, then upsert it."""
    pairs = _NEW_PAIRS.format(month=month_of(local_day("txn_at")), table=TABLE, where=where)
    with connection.cursor() as cursor:
        if bulk.is_postgresql():
            cursor.execute(
                f"WITH n AS ({pairs}), up AS ({_CARD_MONTHS_UPSERT}"
                " RETURNING merchant_id, month, card_id, purchases), "
                "p AS (SELECT n.merchant_id, n.month, n.c, n.a, n.bought,"
                " COALESCE(up.purchases - n.bought, 0) AS earlier FROM n LEFT JOIN up"
                " ON up.merchant_id = n.merchant_id AND up.month = n.month AND up.card_id = n.card_id) "
                f"{_MONTH_ADD}",
                params,
            )
            return
        cursor.execute(
            f"WITH n AS ({pairs}), "
            "p AS (SELECT n.merchant_id, n.month, n.c, n.a, n.bought, COALESCE(mc.purchases, 0) AS earlier"
            " FROM n LEFT JOIN usage_merchantcardmonth mc"
            " ON mc.merchant_id = n.merchant_id AND mc.month = n.month AND mc.card_id = n.card_id) "
            f"{_MONTH_ADD}",
            params,
        )
        cursor.execute(f"WITH n AS ({pairs}) {_CARD_MONTHS_UPSERT}", params)


def rebuild_month(month: date) -> None:
    """Every roll-up of `month` from the table, after a bulk load (the generator's month):
    its days, its merchant months, and CardUsage for the cards used in it (from their whole history)."""
    first = month.replace(day=1)
    days, day = [], first
    while day.month == first.month:
        days.append(day)
        day += timedelta(days=1)
    rebuild_days(days)
    lo, hi = bound(first), bound(days[-1] + timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM usage_merchantcardmonth WHERE month = %s", [first.isoformat()])
        cursor.execute(
            "INSERT INTO usage_merchantcardmonth (merchant_id, month, card_id, purchases) "
            "SELECT merchant_id, %s, card_id, count(*) FROM usage_cardtransaction "
            "WHERE txn_at >= %s AND txn_at < %s AND merchant_id IS NOT NULL AND kind = 'purchase' "
            "GROUP BY merchant_id, card_id",
            [first.isoformat(), lo, hi],
        )
        cursor.execute("DELETE FROM usage_merchantmonth WHERE month = %s", [first.isoformat()])
        cursor.execute(
            "INSERT INTO usage_merchantmonth (merchant_id, month, txn_count, amount, cards, repeat_cards) "
            "SELECT merchant_id, %s, sum(c), sum(a), sum(CASE WHEN bought > 0 THEN 1 ELSE 0 END), "
            "sum(CASE WHEN bought >= 2 THEN 1 ELSE 0 END) FROM ("
            "  SELECT merchant_id, card_id, count(*) AS c, sum(amount) AS a,"
            "  sum(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END) AS bought FROM usage_cardtransaction"
            "  WHERE txn_at >= %s AND txn_at < %s AND merchant_id IS NOT NULL GROUP BY merchant_id, card_id"
            ") per_card GROUP BY merchant_id",
            [first.isoformat(), lo, hi],
        )
        cursor.execute(
            "DELETE FROM usage_cardusage WHERE card_id IN (SELECT DISTINCT card_id FROM usage_cardtransaction "
            "WHERE txn_at >= %s AND txn_at < %s)",
            [lo, hi],
        )
    _add_card_usage(
        "card_id IN (SELECT DISTINCT card_id FROM usage_cardtransaction WHERE txn_at >= %s AND txn_at < %s)",
        [lo, hi],
    )
