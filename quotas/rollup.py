"""The county roll-up of the monthly card counters, and the database triggers that keep it.

Why triggers: `issuance.lifecycle` owns the per-union counters and bumps them in the same
transaction as each card change. The roll-up must move in that transaction too, without quotas
reaching into issuance's code (dependencies point one way). A trigger on the counter table does
exactly that, for every writer — the lifecycle's upserts, `rebuild_union_months`, a repair in SQL.

PostgreSQL: statement-level triggers with transition tables, so one statement that touches
350,000 counter rows (a rebuild) costs one set-based upsert. SQLite (the embedded, small-data
mode): row-level triggers with the same effect.

A county is the county-level union whose path is a prefix of the counter's union path. Unions are
not re-parented in this portal; if that ever changes, run `county_months_rebuild()`.
"""

from collections import defaultdict
from datetime import date

from django.db import connection, transaction

from cardportal import bulk
from issuance.models import UnionMonthCount
from members.models import Union

from .models import CountyMonthCount

TABLE = CountyMonthCount._meta.db_table
SOURCE = UnionMonthCount._meta.db_table
UNIONS = Union._meta.db_table
LEVELS = "('county', 'industry')"


def _pg_upsert(rows: str, sign: str) -> str:
    return f"""
        INSERT INTO {TABLE} (county_id, month, metric, count)
        SELECT c.id, r.month, r.metric, {sign}SUM(r.count)
        FROM {rows} r
        JOIN {UNIONS} u ON u.id = r.union_id
        JOIN {UNIONS} c ON c.level IN {LEVELS} AND left(u.path, length(c.path)) = c.path
        GROUP BY c.id, r.month, r.metric
        ON CONFLICT (county_id, month, metric) DO UPDATE SET count = {TABLE}.count + excluded.count;
    """


PG_INSTALL = f"""
CREATE OR REPLACE FUNCTION quotas_cmc_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_upsert("new_rows", "")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION quotas_cmc_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_upsert("old_rows", "-")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION quotas_cmc_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_pg_upsert("old_rows", "-")} {_pg_upsert("new_rows", "")} RETURN NULL; END $$;
CREATE TRIGGER quotas_cmc_insert AFTER INSERT ON {SOURCE}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quotas_cmc_insert();
CREATE TRIGGER quotas_cmc_delete AFTER DELETE ON {SOURCE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION quotas_cmc_delete();
CREATE TRIGGER quotas_cmc_update AFTER UPDATE ON {SOURCE}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quotas_cmc_update();
"""
PG_UNINSTALL = f"""
DROP TRIGGER IF EXISTS quotas_cmc_insert ON {SOURCE};
DROP TRIGGER IF EXISTS quotas_cmc_delete ON {SOURCE};
DROP TRIGGER IF EXISTS quotas_cmc_update ON {SOURCE};
DROP FUNCTION IF EXISTS quotas_cmc_insert(); DROP FUNCTION IF EXISTS quotas_cmc_delete();
DROP FUNCTION IF EXISTS quotas_cmc_update();
"""


def _sqlite_upsert(row: str, sign: str) -> str:
    # "WHERE true" is not decoration: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT.
    return f"""
        INSERT INTO {TABLE} (county_id, month, metric, count)
        SELECT c.id, {row}.month, {row}.metric, {sign}{row}.count
        FROM {UNIONS} u JOIN {UNIONS} c ON c.level IN {LEVELS} AND substr(u.path, 1, length(c.path)) = c.path
        WHERE u.id = {row}.union_id AND true
        ON CONFLICT (county_id, month, metric) DO UPDATE SET count = count + excluded.count;
    """


SQLITE_INSTALL = [
    f"CREATE TRIGGER quotas_cmc_insert AFTER INSERT ON {SOURCE} BEGIN {_sqlite_upsert('NEW', '')} END;",
    f"CREATE TRIGGER quotas_cmc_delete AFTER DELETE ON {SOURCE} BEGIN {_sqlite_upsert('OLD', '-')} END;",
    f"CREATE TRIGGER quotas_cmc_update AFTER UPDATE ON {SOURCE} BEGIN "
    f"{_sqlite_upsert('OLD', '-')} {_sqlite_upsert('NEW', '')} END;",
]
SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in ("quotas_cmc_insert", "quotas_cmc_delete", "quotas_cmc_update")
]

FILL = f"""
    INSERT INTO {TABLE} (county_id, month, metric, count)
    SELECT c.id, r.month, r.metric, SUM(r.count)
    FROM {SOURCE} r
    JOIN {UNIONS} u ON u.id = r.union_id
    JOIN {UNIONS} c ON c.level IN {LEVELS} AND substr(u.path, 1, length(c.path)) = c.path
    GROUP BY c.id, r.month, r.metric
"""


def install(schema_editor) -> None:
    using = schema_editor.connection.alias
    bulk.execute_for_database(postgresql=[PG_INSTALL], other=SQLITE_INSTALL, using=using)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(FILL)


def uninstall(schema_editor) -> None:
    bulk.execute_for_database(
        postgresql=[PG_UNINSTALL], other=SQLITE_UNINSTALL, using=schema_editor.connection.alias
    )


@transaction.atomic
def county_months_rebuild() -> int:
    """Recompute the roll-up from the union counters (a repair; the triggers keep it current)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(FILL)
        return cursor.rowcount


def county_months_recount() -> dict[tuple[int, date, str], int]:
    """The roll-up's figures summed from the union counters in Python (the check it must pass)."""
    from .selectors import union_tree

    tree = union_tree()
    result: dict[tuple[int, date, str], int] = defaultdict(int)
    for union_id, month, metric, count in UnionMonthCount.objects.values_list(
        "union_id", "month", "metric", "count"
    ):
        county = tree.county_of.get(union_id)
        if county is not None:
            result[(county, month, metric)] += count
    return {k: v for k, v in result.items() if v}


def county_months_stored() -> dict[tuple[int, date, str], int]:
    return {(r.county_id, r.month, r.metric): r.count for r in CountyMonthCount.objects.exclude(count=0)}
