"""Month partitions of `usage_cardtransaction` (PostgreSQL declarative partitioning).

The parent (migration 0001) has a DEFAULT partition, so an insert for a month nobody prepared
never fails; `ensure_months` creates the partition of each month asked for (the importer asks for
the months of its file before inserting, the beat task `usage.partitions_ahead` for the next
months) and moves rows that landed in the default for that month into it. On SQLite the table is
plain and this does nothing.
"""

from datetime import date

from django.conf import settings
from django.db import connections, transaction

from cardportal.bulk import DEFAULT, advisory_xact_lock, is_postgresql

PARENT = "usage_cardtransaction"
DEFAULT_PARTITION = f"{PARENT}_default"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def existing_partitions(using: str = DEFAULT) -> set[str]:
    if not is_postgresql(using):
        return set()
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [PARENT],
        )
        return {name for (name,) in cursor.fetchall()}


def ensure_months(months, *, using: str = DEFAULT) -> list[str]:
    """Create the partitions of `months` (local dates; any day of the month) that do not exist yet;
    returns the names created. Each creation is its own short transaction under an advisory lock
    (two importers may ask for the same month at once)."""
    if not is_postgresql(using):
        return []
    wanted = sorted({month_start(m) for m in months})
    have = existing_partitions(using)
    created = []
    for month in wanted:
        name = partition_name(month)
        if name in have:
            continue
        with transaction.atomic(using=using):
            advisory_xact_lock("usage.partitions", using=using)
            if name in existing_partitions(using):
                continue
            _create(name, month, using)
        created.append(name)
    return created


def months_ahead(count: int, *, today: date | None = None) -> list[date]:
    month = month_start(today or date.today())
    months = []
    for _i in range(count + 1):
        months.append(month)
        month = next_month(month)
    return months


def _create(name: str, month: date, using: str) -> None:
    """A new table like the parent, the month's stray rows moved in from the default partition,
    then attached (PostgreSQL checks the default holds no row of the range, which it no longer does)."""
    zone = settings.TIME_ZONE  # months are the project's local months (Asia/Shanghai)
    low, high = f"{month.isoformat()} 00:00:00 {zone}", f"{next_month(month).isoformat()} 00:00:00 {zone}"
    with connections[using].cursor() as cursor:
        cursor.execute(f"LOCK TABLE {PARENT} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE txn_at >= %s AND txn_at < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            [low, high],
        )
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"
        )
