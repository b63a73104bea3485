"""The import of one feed file (the task's body): stream the file through the kernel, stage the
good rows, then in ONE transaction match them to cards and MIDs, insert the new ones (a row
already stored, from this file or an overlapping one, is a duplicate and counts nothing twice:
unique on (partner, txn_at, reference)), reconcile and record the counts (`imported_at`). Then
the roll-ups of the days, cards and months touched (`rollups.roll_up`: each part in its own
transaction, in parallel on PostgreSQL, each exactly once), and the job is finished. The
`transactions_imported` signal is sent after that.

Staging: a temporary table of the connection (outside the final transaction, so the progress the
page polls is committed as the file streams); COPY on PostgreSQL, executemany on SQLite. A worker
that dies before the rows are committed leaves nothing: the temporary table goes with its
session, the transaction is all or nothing, and the retry runs the whole import again. One that
dies after finds `imported_at` set on the retry, which applies only the roll-up parts still
missing (as the next import would, `rollups.catch_up`).
"""

import io
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import date

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cardportal import bulk, tables
from cardportal.errors import ApplicationError
from cardportal.jobs import job_finish, job_holds, job_progress, job_start
from cardportal.retention import removed_message
from issuance.models import Card

from . import partitions, rollups
from .layouts import header_spec, text_layout
from .models import PartnerFeed, TxnImport
from .rows import STAGE_COLUMNS, RowError, RowReader, column_title, mask_card
from .signals import transactions_imported

# For the import's one transaction (PostgreSQL's default is 4 MB; imports run one at a time): the
# join of a day's 500,000 rows to the cards and the reconciliation's groupings in memory.
IMPORT_WORK_MEM = "256MB"
REPORT_CAP = 1000  # problem rows listed per class in the report (the counts are always whole)


def limits() -> tables.Limits:
    """A day of a city's transactions: ~500,000 rows (USAGE_FEED_MAX_BYTES, 200 MB by default)."""
    return tables.Limits(max_bytes=settings.USAGE_FEED_MAX_BYTES, max_rows=2_000_000, max_cells=24_000_000)


def run_import(*, import_id: int, token: str | None = None) -> None:
    imp = TxnImport.objects.select_related("partner").get(pk=import_id)
    if not job_start(imp, phase="import", token=token):
        return
    if not imp.file:
        raise ApplicationError(removed_message("usage_feed") + "请重新上传。", code="file_removed")
    feed = PartnerFeed.objects.filter(partner=imp.partner, code=imp.kind).first()
    if feed is None:
        raise ApplicationError("该机构的交易明细格式已被删除，请联系系统管理员", code="no_layout")
    layout = feed.resolved_layout()
    if imp.imported_at is None:  # else an earlier run committed the rows and died in the roll-ups
        stage = _stage_name(imp)
        try:
            problems, months = _stage_file(imp, layout, stage)
            partitions.ensure_months(months)
            _analyze([stage])  # a temporary table is never auto-analysed: without statistics the joins
            if not _apply(imp, stage, problems, months):  # below run as 500,000 nested index probes
                return
        finally:
            _drop(stage)
    rollups.roll_up(imp.pk)
    for earlier in rollups.catch_up(but=imp.pk):
        _finish_caught_up(earlier)
    imp.refresh_from_db()
    job_finish(imp, message=summary(imp))
    if imp.job_status == TxnImport.Status.DONE:
        _imported(imp)


def _imported(imp: TxnImport) -> None:
    """`transactions_imported` for an import whose rows and roll-ups are all committed (on commit
    of the caller's transaction, at once outside one), when it stored rows."""
    if imp.inserted:
        pk = imp.pk
        transaction.on_commit(lambda: transactions_imported.send(sender=TxnImport, txn_import_id=pk))


def _finish_caught_up(pk: int) -> None:
    """An earlier import whose run ended after its rows were committed, with a roll-up part
    missing that `rollups.catch_up` has just applied: its rows and roll-ups are complete, so it
    is done (not failed), and its signal, which its own run never sent, goes now (the subsidies
    are computed once per import whatever the number of signals)."""
    earlier = TxnImport.objects.get(pk=pk)
    TxnImport.objects.filter(pk=pk).update(
        job_status=TxnImport.Status.DONE,
        job_message=summary(earlier)[:500],
        job_error_code="",
        job_finished_at=timezone.now(),
    )
    _imported(earlier)


def _analyze(tables_) -> None:
    """Fresh planner statistics (PostgreSQL); autovacuum would get there, but only after the
    import and the subsidy computation its signal starts have been planned without them."""
    if not bulk.is_postgresql():
        return
    with connection.cursor() as cursor:
        for name in tables_:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")


# As autovacuum's default analyze threshold (autovacuum_analyze_scale_factor): a partition is
# analysed in the import when the import grows it by more than this share. A day into a month
# of 14.5 M rows (3 %) is left to autovacuum (0.7 s of a 15 s day saved); the month's first
# days, whose partition the planner would otherwise take for empty, are analysed.
ANALYZE_SHARE = 0.1


def _stale_partitions(months: set, inserted: int) -> list[str]:
    """The partitions of `months` that `inserted` new rows (at most, each) leave with stale statistics."""
    names = [partitions.partition_name(month) for month in sorted(months)]
    if not names or not bulk.is_postgresql():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'", [names]
        )
        counted = dict(cursor.fetchall())
    # reltuples: the rows at the last ANALYZE or VACUUM, -1 before the first
    return [name for name in names if counted.get(name, -1) < 0 or inserted > ANALYZE_SHARE * counted[name]]


def _stage_name(imp: TxnImport) -> str:
    return f"usage_stage_{imp.pk}"


def _create_stage(stage: str) -> None:
    pg = bulk.is_postgresql()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} (line integer, reference varchar(40), card_number varchar(19), "
            f"txn_at {'timestamptz' if pg else 'datetime'}, amount {'numeric(12,2)' if pg else 'decimal'}, "
            "mid varchar(32), mcc varchar(4), channel varchar(8), kind varchar(8), original_reference varchar(40))"
        )


def _drop(stage: str) -> None:
    """The stage and the table made from it (`_insert_and_reconcile`)."""
    if connection.in_atomic_block and connection.needs_rollback:
        return
    with connection.cursor() as cursor:
        for name in (stage, f"{stage}_resolved"):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


class _StageWriter:
    """Writes each chunk's rows into the stage. PostgreSQL: the chunk's COPY runs in a thread on
    this same session (its driver connection) while this thread reads and checks the next chunk
    (the driver waits on the socket without the GIL): a 500,000-row day's 0.75 s of COPY no
    longer adds to the 2.6 s of Python. One COPY at a time, so at most one chunk's text waits.
    SQLite: executemany, in this thread."""

    def __init__(self, stage: str):
        self.stage = stage
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-stage")
            if bulk.is_postgresql()
            else None
        )
        self._copying: Future | None = None

    def write(self, rows: list[tuple], text: str) -> None:
        """Hand over a chunk: `rows` (staging tuples) and `text` (rows already in COPY's text
        format, PostgreSQL). Waits for the previous chunk's COPY first (and raises its error)."""
        if self._pool is None:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {self.stage} ({', '.join(STAGE_COLUMNS)}) VALUES ({marks})", rows
                )
            return
        if rows:
            text += bulk.copy_text(rows, len(STAGE_COLUMNS))
        self.wait()
        if text:
            connection.ensure_connection()
            handle = io.StringIO(text)
            self._copying = self._pool.submit(
                bulk.copy_file, self.stage, STAGE_COLUMNS, handle, driver=connection.connection
            )

    def wait(self) -> None:
        """Until the chunk handed over last is in the stage; the session is free again after."""
        copying, self._copying = self._copying, None
        if copying is not None:
            copying.result()

    def close(self) -> None:
        """Wait for the COPY in flight, whatever happened (the session is used next), and end the thread."""
        if self._pool is not None:
            with suppress(Exception):  # the caller is raising its own error, or raised this one
                self.wait()
            self._pool.shutdown()


def _stage_file(imp: TxnImport, layout: dict, stage: str) -> tuple[dict, set]:
    """Stream the file into the staging table; returns (rejected rows report, local months seen)."""
    rejected: list[dict] = []
    count = bad = 0
    pg = bulk.is_postgresql()
    _create_stage(stage)
    writer = _StageWriter(stage)
    try:
        stream = tables.stream_table(
            imp.file.path, limits=limits(), header=header_spec(layout), text=text_layout(layout)
        )
        with stream:
            head = stream.head
            header_row = (
                head.rows[head.header_index]
                if head.header_index is not None and head.header_index >= 0
                else None
            )
            reader = RowReader(layout, head.columns, postgresql=pg)
            job_progress(imp, done=0, total=max(0, head.height - (head.header_index or 0) - 1))
            copy_lines = reader.copy_lines
            for chunk in stream.chunks():
                staged = count  # in the stage once the previous chunk's COPY is done
                text, taken, rest = copy_lines(chunk) if copy_lines else ("", 0, chunk)
                count += taken
                good = []
                for index, cells in rest:
                    if not any(tables.present(c) for c in cells):
                        continue
                    count += 1
                    try:
                        good.append(reader.stage(cells, index + 1))
                    except RowError as err:
                        bad += 1
                        if len(rejected) < REPORT_CAP:
                            rejected.append(
                                {
                                    "line": index + 1,
                                    "column": column_title(err.field, head.columns, header_row),
                                    "error": err.message,
                                }  # fmt: skip
                            )
                writer.wait()  # the session is free: the progress, then this chunk's COPY
                job_progress(imp, done=staged)
                writer.write(good, text)
            writer.wait()
            job_progress(imp, done=count)
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused
    finally:
        writer.close()
    if not count:
        raise ApplicationError("文件中没有交易明细行", code="no_data_rows")
    # every staged row's local month, as the reader saw them (not a scan of the stage: 0.2-0.4 s a day)
    months = {date.fromisoformat(day[:8] + "01") for day in reader.days}
    return {"rows": count, "rejected": bad, "rejected_rows": rejected}, months


def _apply(imp: TxnImport, stage: str, staged: dict, months: set) -> bool:
    """The rows stored and the counts recorded, in one transaction; False when another run owns
    the import now (nothing done)."""
    with transaction.atomic():
        bulk.lock_row_key_share(TxnImport, imp.pk)  # not FOR UPDATE: the heartbeat keeps renewing
        if not TxnImport.objects.filter(pk=imp.pk).exists() or not job_holds(imp):
            return False
        bulk.advisory_xact_lock("usage.import")  # no other import stores rows meanwhile
        bulk.set_local("work_mem", IMPORT_WORK_MEM)
        counts, report = _insert_and_reconcile(imp, stage)
        # The months' statistics before the roll-ups and the subsidies plan their joins, where
        # this import changes them (a new month; ANALYZE counts this transaction's own new rows).
        # Nothing stored (the same file again): nothing to count.
        if counts["inserted"]:
            _analyze(_stale_partitions(months, counts["inserted"]))
        counts.update(rows=staged["rows"], rejected=staged["rejected"])
        report["rejected_rows"] = staged["rejected_rows"]
        TxnImport.objects.filter(pk=imp.pk).update(**counts, report=report, imported_at=timezone.now())
        imp.refresh_from_db()
    return True


# The stage's rows with their card, merchant number and category, resolved ONCE (PostgreSQL;
# the insert, the reconciliation counts and lists all read this instead of joining the cards
# again each: a 500,000-row day joined 1.5 M cards four times).
_RESOLVE = """
CREATE TEMPORARY TABLE {resolved} AS
SELECT s.line, s.reference, s.card_number, s.txn_at, s.amount, s.mid, s.mcc, s.channel, s.kind,
    s.original_reference, c.id AS card_id, c.union_id, c.status, m.merchant_id, mm.category_id
FROM {stage} s
LEFT JOIN issuance_card c ON c.number = s.card_number
LEFT JOIN usage_merchantmid m ON m.partner_id = %s AND m.mid = s.mid
LEFT JOIN merchants_merchant mm ON mm.id = m.merchant_id
"""
# The new rows in the order of the idempotency key (partner, txn_at, reference): its new entries
# are appended side by side and the heap follows time (what the BRIN index on txn_at summarises).
# Two statements (`_insert_resolved`): rows later than anything the partner has stored (a day's
# file, the usual case) cannot repeat a stored row and go in by a plain INSERT; the rest (an
# overlapping file, the same file again) `ON CONFLICT DO NOTHING`. A 500,000-row day into a month
# of 14.5 M: 6.1 s with the speculative insertion, 3.5-3.9 s with the plain INSERT.
_INSERT_RESOLVED = """
INSERT INTO usage_cardtransaction (txn_at, partner_id, reference, card_id, union_id, merchant_id, mid,
    category_id, mcc, channel, amount, kind, original_reference, txn_import_id)
SELECT r.txn_at, %s, r.reference, r.card_id, r.union_id, r.merchant_id, r.mid, r.category_id, r.mcc,
    r.channel, r.amount, r.kind, r.original_reference, %s
FROM {resolved} r WHERE r.card_id IS NOT NULL AND {when} ORDER BY r.txn_at, r.reference
"""
# SQLite: the join in the insert itself, the reconciliation joins the cards (small files).
_INSERT = """
INSERT INTO usage_cardtransaction (txn_at, partner_id, reference, card_id, union_id, merchant_id, mid,
    category_id, mcc, channel, amount, kind, original_reference, txn_import_id)
SELECT s.txn_at, %s, s.reference, c.id, c.union_id, m.merchant_id, s.mid, mm.category_id, s.mcc, s.channel,
    s.amount, s.kind, s.original_reference, %s
FROM {stage} s
JOIN issuance_card c ON c.number = s.card_number
LEFT JOIN usage_merchantmid m ON m.partner_id = %s AND m.mid = s.mid
LEFT JOIN merchants_merchant mm ON mm.id = m.merchant_id
WHERE true
ON CONFLICT DO NOTHING
"""
_RESOLVED_LITE = """
(SELECT s.line, s.reference, s.card_number, s.mid, c.id AS card_id, c.status, m.merchant_id
 FROM {stage} s LEFT JOIN issuance_card c ON c.number = s.card_number
 LEFT JOIN usage_merchantmid m ON m.partner_id = %s AND m.mid = s.mid)
"""


def _insert_resolved(cursor, resolved: str, partner: int, import_id: int) -> int:
    """Store the resolved rows of known cards that are not stored yet (PostgreSQL); returns how
    many. Under the import lock no other import adds rows between reading the partner's latest
    time and the INSERT (and a writer that did would make the plain INSERT fail, not store a row
    twice)."""
    cursor.execute("SELECT max(txn_at) FROM usage_cardtransaction WHERE partner_id = %s", [partner])
    (latest,) = cursor.fetchone()
    later, others = ("true", "false") if latest is None else ("r.txn_at > %s", "r.txn_at <= %s")
    when = [] if latest is None else [latest]
    try:
        # a reference twice in the file itself makes the plain INSERT refuse the later rows: all
        # of them then go the ON CONFLICT way
        with transaction.atomic():
            cursor.execute(
                _INSERT_RESOLVED.format(resolved=resolved, when=later), [partner, import_id, *when]
            )
            inserted = cursor.rowcount
    except IntegrityError:
        inserted, others, when = 0, "true", []
    conflicts = _INSERT_RESOLVED.format(resolved=resolved, when=others) + "ON CONFLICT DO NOTHING"
    cursor.execute(conflicts, [partner, import_id, *when])
    return inserted + cursor.rowcount


def _insert_and_reconcile(imp: TxnImport, stage: str) -> tuple[dict, dict]:
    """Insert the stage's rows of known cards (duplicates skipped) and reconcile; returns the
    counts and the report."""
    partner = imp.partner_id
    live = tuple(Card.NUMBERED_LIVE)
    marks = ", ".join(["%s"] * len(live))
    with connection.cursor() as cursor:
        if bulk.is_postgresql():
            resolved = f"{stage}_resolved"
            cursor.execute(f"DROP TABLE IF EXISTS {resolved}")
            cursor.execute(_RESOLVE.format(resolved=resolved, stage=stage), [partner])
            # statistics for the passes below: without them the unknown MIDs (most of a day's rows:
            # every shop that is not a union merchant) were sorted, not hashed (0.4 s against 0.1 s)
            _analyze([resolved])
            inserted = _insert_resolved(cursor, resolved, partner, imp.pk)
            source, params = resolved, []
        else:
            cursor.execute(_INSERT.format(stage=stage), [partner, imp.pk, partner])
            inserted = cursor.rowcount
            source, params = _RESOLVED_LITE.format(stage=stage), [partner]
        # every count in one pass; the lists (capped) from the same rows
        cursor.execute(
            "SELECT count(*), sum(CASE WHEN r.card_id IS NULL THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN r.card_id IS NOT NULL AND r.status NOT IN ({marks}) THEN 1 ELSE 0 END), "
            "sum(CASE WHEN r.card_id IS NOT NULL AND r.merchant_id IS NULL THEN 1 ELSE 0 END) "
            f"FROM {source} r",
            [*live, *params],
        )
        staged, unknown_count, not_live_count, unknown_mid_count = (n or 0 for n in cursor.fetchone())
        cursor.execute(
            f"SELECT r.line, r.card_number, r.reference FROM {source} r WHERE r.card_id IS NULL "
            "ORDER BY r.line LIMIT %s",
            [*params, REPORT_CAP],
        )
        unknown = cursor.fetchall()
        cursor.execute(
            f"SELECT r.line, r.card_number, r.reference, r.status FROM {source} r "
            f"WHERE r.card_id IS NOT NULL AND r.status NOT IN ({marks}) ORDER BY r.line LIMIT %s",
            [*params, *live, REPORT_CAP],
        )
        not_live = cursor.fetchall()
        # the unknown MIDs grouped once: the first REPORT_CAP listed, and how many there are in
        # all (a window over the groups; a count(DISTINCT mid) in the pass above sorted them again)
        cursor.execute(
            f"SELECT r.mid, count(*), count(*) OVER () FROM {source} r "
            "WHERE r.card_id IS NOT NULL AND r.merchant_id IS NULL "
            "GROUP BY r.mid ORDER BY count(*) DESC, r.mid LIMIT %s",
            [*params, REPORT_CAP],
        )
        mid_rows = cursor.fetchall()
        mids = [(mid, n) for mid, n, _ in mid_rows]
        mid_distinct = mid_rows[0][2] if mid_rows else 0
    statuses = dict(Card.Status.choices)
    matched = staged - unknown_count
    counts = {
        "inserted": inserted,
        "duplicates": matched - inserted,
        "unknown_card": unknown_count,
        "card_not_live": not_live_count,
        "unknown_mid": unknown_mid_count,
    }
    report = {
        "unknown_cards": [{"line": ln, "card": mask_card(n), "reference": r} for ln, n, r in unknown],
        "cards_not_live": [
            {"line": ln, "card": mask_card(n), "reference": r, "status": str(statuses.get(s, s))}
            for ln, n, r, s in not_live
        ],
        "unknown_mids": [{"mid": mid, "count": n} for mid, n in mids],
        "unknown_mid_distinct": mid_distinct,
    }
    return counts, report


def summary(imp: TxnImport) -> str:
    """Every class of row, so the counts add up to the rows read."""
    return (
        f"共 {imp.rows:,} 行：新增交易 {imp.inserted:,}，重复（已导入过）{imp.duplicates:,}，未知卡号 {imp.unknown_card:,}，"
        f"格式错误 {imp.rejected:,}；其中非有效卡 {imp.card_not_live:,}，非特约商户 {imp.unknown_mid:,}（均已入库）"
    )
