"""cardportal.bulk: the COPY writer, temporary tables, id arrays and locks, on PostgreSQL (either
driver: CI runs this file a second time with CARDPORTAL_DB_DRIVER=psycopg) and on SQLite."""

import os
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction

from cardportal import bulk
from members.models import RegistrationSheet, SheetRow
from members.registration import STAGE_COLUMNS
from tests.conftest import is_postgres

pytestmark = pytest.mark.django_db

COLUMNS = list(STAGE_COLUMNS)
# Every character COPY's text format gives a meaning to, where a value may carry it.
AWKWARD = ["制表\t符", "换行\n第二行", "回车\r", "反斜杠\\", "\\N", "N", "", "\\\\t", "末尾\\"]


@pytest.fixture
def sheet(tree):
    return RegistrationSheet.objects.create(
        union=tree.unit_a1, original_name="s.xlsx", sha256="0" * 64, size=1
    )


def _row(sheet_id, n, message, name, birth, hardship) -> tuple:
    """A skipped row in STAGE_COLUMNS order (no personal data needed)."""
    return (
        sheet_id,
        n,
        "skip",
        "blank",
        "",
        message,
        name,
        "",
        birth,
        *[""] * 9,
        hardship,
        "",
        "unknown",
        None,
    )


def _stored(sheet) -> list[tuple]:
    return list(
        SheetRow.objects.filter(sheet=sheet)
        .order_by("row_number")
        .values_list("row_number", "message", "name", "birth_date", "is_hardship")
    )


def test_copy_rows_keeps_every_value_as_given(sheet):
    rows = [
        _row(sheet.pk, n, text, f"名{n}", date(1990, 1, n + 1) if n % 2 else None, n % 3 == 0)
        for n, text in enumerate(AWKWARD)
    ]
    with transaction.atomic():
        assert bulk.copy_rows(SheetRow._meta.db_table, COLUMNS, iter(rows)) == len(rows)
    assert _stored(sheet) == [(r[1], r[5], r[6], r[8], r[18]) for r in rows]


def test_copy_rows_escapes_only_the_chunk_that_needs_it(sheet):
    """Many plain rows around one awkward row, across chunk boundaries: all arrive intact."""
    rows = [_row(sheet.pk, n, "", "张三", None, False) for n in range(12_001)]
    rows[7_500] = _row(sheet.pk, 7_500, "a\tb\\c\nd", "李四", date(2000, 2, 29), True)
    bulk.copy_rows(SheetRow._meta.db_table, COLUMNS, rows)
    stored = _stored(sheet)
    assert len(stored) == 12_001
    assert stored[7_500] == (7_500, "a\tb\\c\nd", "李四", date(2000, 2, 29), True)
    assert stored[7_499] == (7_499, "", "张三", None, False)


def test_encode_copy_writes_postgresql_text_format():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    chunks = list(bulk.encode_copy([(1, None, True, "a\tb", at), (2, "x", False, "\\N", at)], 5))
    assert chunks == [
        ("1\t\\N\tt\ta\\tb\t2026-01-02 03:04:05+00:00\n2\tx\tf\t\\\\N\t2026-01-02 03:04:05+00:00\n", 2)
    ]


def test_temp_table_joins_and_is_gone_after(db):
    with transaction.atomic():
        rows = [(1, "一"), (2, "二\t")]
        with (
            bulk.temp_table("t", [("id", "bigint"), ("label", "text")], rows) as name,
            connection.cursor() as cursor,
        ):
            cursor.execute(f"SELECT id, label FROM {name} ORDER BY id")
            assert cursor.fetchall() == rows
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the transaction is still usable
    assert name not in connection.introspection.table_names(include_views=False)


def test_filter_any_matches_exactly_the_values(sheet):
    SheetRow.objects.bulk_create(
        [
            SheetRow(sheet=sheet, row_number=n, outcome="skip", reason="blank", id_hash=f"h{n}")
            for n in range(50)
        ]
    )
    rows = SheetRow.objects.filter(sheet=sheet)
    ids = sorted(rows.values_list("id", flat=True))
    assert sorted(bulk.filter_any(rows, "id", ids[10:20]).values_list("id", flat=True)) == ids[10:20]
    hashes = bulk.filter_any(rows, "id_hash", ["h3", "h7", "nope"], cast="text")
    assert sorted(hashes.values_list("row_number", flat=True)) == [3, 7]
    assert list(bulk.filter_any(rows, "id", [])) == []


@pytest.mark.postgres
def test_the_driver_is_the_one_asked_for():
    """psycopg2 unless CARDPORTAL_DB_DRIVER=psycopg (Django would otherwise pick psycopg 3)."""
    if not is_postgres():
        pytest.skip("PostgreSQL only")
    wanted = "psycopg" if os.environ.get("CARDPORTAL_DB_DRIVER") == "psycopg" else "psycopg2"
    assert connection.Database.__name__ == wanted


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_advisory_lock_is_held_until_commit():
    if not is_postgres():
        pytest.skip("PostgreSQL only")
    key = bulk.lock_key("test:advisory")
    with transaction.atomic():
        bulk.advisory_xact_lock("test:advisory")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND ((classid::bigint << 32) | objid::bigint) = %s",
                [key],
            )
            assert cursor.fetchone()[0] == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0
