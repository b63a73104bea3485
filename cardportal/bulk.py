"""Bulk SQL in one place: the COPY writer, id arrays, advisory locks and `SET LOCAL`, each with
its SQLite fallback here and nowhere else.

* `copy_rows` streams tuples into a table with COPY on PostgreSQL, on either driver: psycopg2's
  `copy_expert` (reads a file-like object) or psycopg 3's `cursor.copy()` (written to). Rows are
  encoded a few thousand at a time in COPY's text format, so no buffer of the whole table is
  built and PostgreSQL parses one chunk while the next is encoded. Elsewhere (SQLite, the
  embedded small-data mode) the rows go in by `bulk_create` of the table's model.
* `any_of` / `filter_any` match a column against many values as ONE string parameter
  (`= ANY(string_to_array(%s, ','))`): Django compiles an IN list of 100,000 placeholders in about
  half a second and PostgreSQL parses it as slowly; `string_to_array` of one text parameter costs
  a few milliseconds on both drivers. Values must not contain commas (ids, keyed hashes, card
  numbers). SQLite gets chunked `IN` lists.
* `advisory_xact_lock` serialises writers until commit on PostgreSQL; SQLite's write
  transactions are serial already.
* `is_postgresql` and `execute_for_database` are the only questions about which database this
  is: no module outside this one reads `connection.vendor` (tests/test_layering.py checks it).
"""

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.apps import apps
from django.db import IntegrityError, connections, transaction
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

DEFAULT = "default"
COPY_CHUNK = 5000  # rows per COPY write: large enough to amortise, small enough to overlap
IN_CHUNK = 5000  # values per IN list where there are no arrays
NULL = "\\N"
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def is_postgresql(using: str = DEFAULT) -> bool:
    return connections[using].vendor == "postgresql"


def may_work_beside(using: str = DEFAULT) -> bool:
    """Whether work may go to other connections (threads with their own) beside `using`'s:
    PostgreSQL, with this connection in autocommit. Inside a caller's transaction (a test's, or
    `transaction.atomic` around the call) the others would not see its uncommitted rows, so the
    work stays on this connection."""
    return is_postgresql(using) and not connections[using].in_atomic_block


def execute_for_database(*, postgresql: Sequence[str], other: Sequence[str], using: str = DEFAULT) -> None:
    """Run the PostgreSQL statements, or elsewhere (SQLite) their fallbacks, on `using` (a
    migration passes `schema_editor.connection.alias`): DDL that has no common spelling."""
    connection = connections[using]
    with connection.cursor() as cursor:
        for statement in postgresql if connection.vendor == "postgresql" else other:
            cursor.execute(statement)


# --- COPY ---------------------------------------------------------------------------------------
def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence], *, using: str = DEFAULT) -> int:
    """Write `rows` (tuples in `columns` order) into `table` in the caller's transaction; returns
    how many. Values: None, str, int, bool, float, Decimal, date, datetime (anything whose str()
    PostgreSQL reads). On SQLite the table must belong to a model."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return _insert_rows(table, columns, rows, using=using)
    return _copy(connection, table, columns, rows)


def copy_file(table: str, columns: Sequence[str], handle, *, using: str = DEFAULT, driver=None) -> None:
    """COPY a file object holding rows already in COPY's text format (UTF-8 bytes, see
    `encode_copy`) into `table`, in the caller's transaction; PostgreSQL only. The driver reads
    the file a megabyte at a time: no Python work per row. `driver`: the DB-API connection of
    `using` taken in another thread, to COPY on that same session from this one (both drivers'
    connections serialise the calls made on them; Django's wrapper is per thread)."""
    sql = _copy_sql(connections[using], table, columns)
    if driver is not None:
        # the driver's errors as Django's, as on the wrapper's own cursor
        with connections[using].wrap_database_errors, driver.cursor() as cursor:
            _copy_from(cursor, sql, handle)
        return
    with connections[using].cursor() as cursor:
        _copy_from(cursor.cursor, sql, handle)


def _copy_from(cursor, sql: str, handle) -> None:
    if hasattr(cursor, "copy_expert"):  # psycopg2
        cursor.copy_expert(sql, handle, size=1 << 20)
        return
    with cursor.copy(sql) as copy:  # psycopg 3
        while block := handle.read(1 << 20):
            copy.write(block)


def _copy_sql(connection, table: str, columns: Sequence[str]) -> str:
    quoted = ", ".join(connection.ops.quote_name(c.strip('"')) for c in columns)
    return f"COPY {connection.ops.quote_name(table.strip(chr(34)))} ({quoted}) FROM STDIN"


def _copy(connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    sql = _copy_sql(connection, table, columns)
    count = 0

    def chunks() -> Iterator[str]:
        nonlocal count
        for text, n in encode_copy(rows, len(columns)):
            count += n
            yield text

    with connection.cursor() as cursor:
        _copy_from(cursor.cursor, sql, _ChunkReader(chunks()))
    return count


@contextmanager
def temp_table(
    prefix: str, definitions: Sequence[tuple[str, str]], rows: Iterable[Sequence], *, using: str = DEFAULT
) -> Iterator[str]:
    """A temporary table of (column, SQL type) `definitions` holding `rows` (COPY on PostgreSQL,
    executemany elsewhere) for the caller's joins, in the caller's transaction; its name is
    yielded, and it is dropped after."""
    connection = connections[using]
    qn = connection.ops.quote_name
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    columns = [column for column, _type in definitions]
    with connection.cursor() as cursor:
        body = ", ".join(f"{qn(column)} {sql_type}" for column, sql_type in definitions)
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({body})")
        if connection.vendor == "postgresql":
            _copy(connection, name, columns, rows)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {name} ({', '.join(map(qn, columns))}) VALUES ({marks})", list(rows)
            )
        yield name
        # Not in a `finally`: after an error the transaction is rolled back, and the table with it.
        cursor.execute(f"DROP TABLE {name}")


def copy_text(rows: Iterable[Sequence], width: int) -> str:
    """`rows` in COPY's text format as one string (`encode_copy`'s chunks joined)."""
    return "".join(text for text, _n in encode_copy(rows, width))


def encode_copy(rows: Iterable[Sequence], width: int, *, size: int = COPY_CHUNK) -> Iterator[tuple[str, int]]:
    """(text, rows) chunks of `rows` in COPY's text format. Each chunk is first joined without
    escaping and checked as a whole (tabs, newlines and backslashes all where the format put
    them): the rows that carry none of \\ \\t \\n \\r, nearly all of them, cost no per-value
    escaping. A chunk that fails the check is encoded again with every string escaped."""
    memo: dict = {}  # non-string values repeat (a timestamp, a status date): their text is kept
    lines: list[str] = []
    nulls = 0
    batch: list[Sequence] = []
    for row in rows:
        parts = []
        for v in row:
            kind = type(v)
            if kind is str:
                parts.append(v)
            elif v is None:
                parts.append(NULL)
                nulls += 1
            elif kind is bool:
                parts.append("t" if v else "f")
            elif kind is int:
                parts.append(str(v))
            else:
                text = memo.get(v)
                if text is None:
                    if len(memo) > 4096:
                        memo.clear()
                    text = memo[v] = str(v)
                parts.append(text)
        lines.append("\t".join(parts))
        batch.append(row)
        if len(lines) >= size:
            yield _checked(lines, batch, width, nulls), len(lines)
            lines, batch, nulls = [], [], 0
    if lines:
        yield _checked(lines, batch, width, nulls), len(lines)


def _checked(lines: list[str], batch: list[Sequence], width: int, nulls: int) -> str:
    text = "\n".join(lines) + "\n"
    rows = len(batch)
    if (
        text.count("\t") == rows * (width - 1)
        and text.count("\n") == rows
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    return "".join(
        "\t".join(NULL if v is None else (v.translate(_ESCAPE) if type(v) is str else _plain(v)) for v in row)
        + "\n"
        for row in batch
    )


def _plain(value) -> str:
    if type(value) is bool:
        return "t" if value else "f"
    return str(value).translate(_ESCAPE)


class _ChunkReader:
    """A file-like object over text chunks: each read() hands over the next one, whatever size
    is asked (psycopg2's copy_expert sends whatever read() returns, `_copy_from` writes each to
    psycopg 3's COPY; an empty string ends it)."""

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks

    def read(self, _size: int = -1) -> str:
        return next(self._chunks, "")

    readline = read


def _insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence], *, using: str) -> int:
    model = next((m for m in apps.get_models() if m._meta.db_table == table.strip('"')), None)
    if model is None:
        raise LookupError(f"no model for table {table}: COPY's SQLite fallback needs one")
    by_column = {f.column: f.attname for f in model._meta.concrete_fields}
    names = [by_column[c.strip('"')] for c in columns]
    objs = [model(**dict(zip(names, row, strict=True))) for row in rows]
    model.objects.using(using).bulk_create(objs, batch_size=2000)
    return len(objs)


# --- id arrays ----------------------------------------------------------------------------------
def array_text(values: Iterable) -> str:
    """The one string parameter `any_of` sends: values joined by commas (none may contain one)."""
    return ",".join(map(str, values))


def any_of(column: str, *, cast: str = "bigint") -> str:
    """SQL for `column = ANY(<one text parameter as a cast[] array>)`; pass `array_text(values)`
    as its parameter. PostgreSQL only (see `filter_any` for a queryset on any database)."""
    return f"{column} = ANY(string_to_array(%s, ',')::{cast}[])"


def filter_any(queryset: QuerySet, field: str, values: Sequence, *, cast: str = "bigint") -> QuerySet:
    """`queryset.filter(<field>__in=values)` for many values. PostgreSQL: one array parameter
    (see the module's note; `= ANY` hashes the array and scans once, or probes the index for a
    few values). Elsewhere: the plain IN list (callers keep SQLite's data small)."""
    if not is_postgresql(queryset.db):
        return queryset.filter(**{f"{field}__in": list(values)})
    model = queryset.model
    column = model._meta.get_field(field).column
    qn = connections[queryset.db].ops.quote_name
    condition = RawSQL(
        any_of(f"{qn(model._meta.db_table)}.{qn(column)}", cast=cast),
        [array_text(values)],
        output_field=BooleanField(),
    )
    return queryset.filter(condition)


def chunked(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- locks and session settings -----------------------------------------------------------------
def lock_key(name: str) -> int:
    """A stable 60-bit advisory-lock key for a name ("bank-file:return:<sha>")."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)


def advisory_xact_lock(key: int | str, *, using: str = DEFAULT) -> None:
    """Hold a PostgreSQL advisory lock until the caller's transaction ends (a name is hashed to a
    key with `lock_key`). SQLite: nothing to do, its write transactions are serial."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key if isinstance(key, int) else lock_key(key)])


def lock_row_key_share(model, pk: int, *, using: str = DEFAULT) -> None:
    """Hold `FOR KEY SHARE` on one row until the caller's transaction ends: the row cannot be
    deleted, but plain UPDATEs of it go through. A job's long work transaction takes this on its
    own record instead of `FOR UPDATE`, so the job's heartbeat (an UPDATE from another
    connection) keeps renewing the lease while the work runs; `select_for_update` would hold the
    heartbeat until COMMIT and make a long registration look dead. SQLite: nothing to do."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {connection.ops.quote_name(table)} "
            f"WHERE {connection.ops.quote_name(column)} = %s FOR KEY SHARE",
            [pk],
        )


def set_local(name: str, value: str, *, using: str = DEFAULT) -> None:
    """`SET LOCAL name = value` for the caller's transaction on PostgreSQL (planner and memory
    settings such as work_mem); nothing elsewhere."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


# --- a set of keys kept by the database -----------------------------------------------------------
class KeyTable:
    """Keys (text without commas: keyed hashes) with one integer each, kept in a temporary table
    instead of this process's memory: the rows of a 2,000,000-row sheet seen so far would cost
    ~250 MB as a Python dict. Used outside or inside a transaction; dropped on exit.

        with KeyTable("seen") as seen:
            found = seen.get(["ab12…", …])      # {key: value} of the keys already there
            seen.add([("cd34…", 17), …])        # keys not there yet
            found = seen.get_or_add([("ab12…", 3), ("ef56…", 18)])  # both
    """

    def __init__(self, prefix: str = "keys", *, using: str = DEFAULT):
        self.using = using
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> "KeyTable":
        with connections[self.using].cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.name} (key text PRIMARY KEY, value bigint NOT NULL)"
            )
        return self

    def __exit__(self, kind, *_exc) -> None:
        connection = connections[self.using]
        if kind is not None and connection.in_atomic_block:
            return  # the transaction is rolled back, and the table with it
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.name}")

    def get(self, keys: Sequence[str]) -> dict[str, int]:
        connection = connections[self.using]
        found: dict[str, int] = {}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT key, value FROM {self.name} WHERE {any_of('key', cast='text')}",
                    [array_text(keys)],
                )
                return dict(cursor.fetchall())
            for part in chunked(list(keys), 500):
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(f"SELECT key, value FROM {self.name} WHERE key IN ({marks})", list(part))
                found.update(cursor.fetchall())
        return found

    def get_or_add(self, items: Sequence[tuple[str, int]]) -> dict[str, int]:
        """`get` of the items' keys, then `add` of those not there. The items' keys must be
        distinct. On PostgreSQL first a plain INSERT in a savepoint: when no key was there (the
        common case: a sheet's rows are new people) that is all. A key already there fails it
        on the primary key, and the chunk goes again through INSERT … ON CONFLICT DO NOTHING,
        reading back the keys it skipped. ON CONFLICT every time cost twice the plain INSERT's
        server CPU (a speculative insertion per key: 0.63-0.83 s against 0.34-0.39 s for
        100,000 keys in 20,000-key statements)."""
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            found = self.get([key for key, _value in items])
            self.add([(key, value) for key, value in items if key not in found])
            return found
        keys, values = array_text(key for key, _value in items), array_text(value for _key, value in items)
        # In key order: each key then goes into the primary key's leaf page the previous one
        # touched, or the next, instead of a random one (1,000,000 keys in 20,000-key
        # statements: 4.3-5.0 s against 7.1-7.4 s, the table far beyond temp_buffers)
        unnest = (
            "SELECT * FROM unnest(string_to_array(%s, ','), string_to_array(%s, ',')::bigint[]) ORDER BY 1"
        )
        try:
            with transaction.atomic(using=self.using), connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {self.name} (key, value) {unnest}", [keys, values])
            return {}
        except IntegrityError:
            pass  # a key was there already: rolled back to the savepoint, nothing of it added
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.name} (key, value) {unnest} ON CONFLICT (key) DO NOTHING RETURNING key",
                [keys, values],
            )
            added = {key for (key,) in cursor.fetchall()}
        return self.get([key for key, _value in items if key not in added])

    def add(self, items: Iterable[tuple[str, int]]) -> None:
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            _copy(connection, self.name, ["key", "value"], items)
            return
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.name} (key, value) VALUES (%s, %s)", list(items))
