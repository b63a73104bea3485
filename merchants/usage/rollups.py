"""The roll-ups the pages read, kept current by each import in its own transaction (under the
import lock, so each sees every earlier import's rows). One SQL for PostgreSQL and SQLite: only
the date expressions differ (`_PG` / `_LITE`).

* `UsageDay`: the days the import touched are recomputed from the table (a day's rows, found by
  the BRIN index on txn_at): count and net amount of every kind, distinct cards.
* `CardUsage`: the import's new purchases added (first/last day, count, gross amount).
* `MerchantMonth`: the import's new rows added; a card counts as a new customer of the merchant
  that month when it had no earlier purchase there that month, and as a repeat customer when its
  purchases there reach two; both decided by looking up the card's earlier rows (index
  card_id, txn_at), so a month of 15 M rows is never re-aggregated for one day's file.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from cardportal import bulk

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


def update_for_import(import_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT {local_day('txn_at')} FROM usage_cardtransaction WHERE txn_import_id = %s",
            [import_id],
        )
        days = sorted(_as_date(d) for (d,) in cursor.fetchall())
    if not days:
        return
    rebuild_days(days)
    _add_card_usage("txn_import_id = %s", [import_id])
    _add_merchant_months(import_id)


def rebuild_days(days: list[date]) -> None:
    """UsageDay of `days` from the table."""
    day = local_day("txn_at")
    marks = ", ".join(["%s"] * len(days))
    values = [d.isoformat() for d in days]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM usage_usageday WHERE day IN ({marks})", values)
        cursor.execute(
            "INSERT INTO usage_usageday (day, union_id, category_id, at_union_merchant, channel, txn_count, amount, cards) "
            f"SELECT {day}, union_id, category_id, merchant_id IS NOT NULL, channel, count(*), sum(amount), "
            "count(DISTINCT card_id) FROM usage_cardtransaction "
            f"WHERE txn_at >= %s AND txn_at < %s AND {day} IN ({marks}) "
            f"GROUP BY {day}, union_id, category_id, merchant_id IS NOT NULL, channel",
            [bound(days[0]), bound(days[-1] + timedelta(days=1)), *values],
        )


def _add_card_usage(where: str, params: list) -> None:
    day = local_day("txn_at")
    least, greatest = _sql("least"), _sql("greatest")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_cardusage (card_id, union_id, first_used_on, last_used_on, txn_count, amount) "
            f"SELECT card_id, max(union_id), min({day}), max({day}), count(*), sum(amount) "
            f"FROM usage_cardtransaction WHERE {where} AND kind = 'purchase' GROUP BY card_id "
            "ON CONFLICT (card_id) DO UPDATE SET union_id = excluded.union_id, "
            f"first_used_on = {least}(usage_cardusage.first_used_on, excluded.first_used_on), "
            f"last_used_on = {greatest}(usage_cardusage.last_used_on, excluded.last_used_on), "
            "txn_count = usage_cardusage.txn_count + excluded.txn_count, "
            "amount = usage_cardusage.amount + excluded.amount",
            params,
        )


def _add_merchant_months(import_id: int) -> None:
    month = month_of(local_day("txn_at"))
    start, end = _sql("month_start", "n.month"), _sql("month_end", "n.month")
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH n AS ("
            f"  SELECT merchant_id, {month} AS month, card_id, count(*) AS c, sum(amount) AS a,"
            "     sum(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END) AS bought"
            "  FROM usage_cardtransaction WHERE txn_import_id = %s AND merchant_id IS NOT NULL"
            f"  GROUP BY merchant_id, {month}, card_id"
            "), p AS ("
            "  SELECT n.*, (SELECT count(*) FROM usage_cardtransaction t WHERE t.card_id = n.card_id"
            "     AND t.merchant_id = n.merchant_id AND t.kind = 'purchase' AND t.txn_import_id <> %s"
            f"     AND t.txn_at >= {start} AND t.txn_at < {end}) AS earlier"
            "  FROM n WHERE n.bought > 0"
            "), u AS ("
            "  SELECT merchant_id, month, sum(c) AS c, sum(a) AS a,"
            "     sum(CASE WHEN earlier = 0 THEN 1 ELSE 0 END) AS fresh,"
            "     sum(CASE WHEN earlier < 2 AND earlier + bought >= 2 THEN 1 ELSE 0 END) AS again"
            "  FROM p GROUP BY merchant_id, month"
            "  UNION ALL SELECT merchant_id, month, sum(c), sum(a), 0, 0 FROM n WHERE bought = 0"
            "  GROUP BY merchant_id, month"
            ") "
            "INSERT INTO usage_merchantmonth (merchant_id, month, txn_count, amount, cards, repeat_cards) "
            "SELECT merchant_id, month, sum(c), sum(a), sum(fresh), sum(again) FROM u WHERE true "
            "GROUP BY merchant_id, month "
            "ON CONFLICT (merchant_id, month) DO UPDATE SET "
            "txn_count = usage_merchantmonth.txn_count + excluded.txn_count, "
            "amount = usage_merchantmonth.amount + excluded.amount, "
            "cards = usage_merchantmonth.cards + excluded.cards, "
            "repeat_cards = usage_merchantmonth.repeat_cards + excluded.repeat_cards",
            [import_id, import_id],
        )


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
