"""The registration-sheet pipeline and its workflow: upload → import (read, validate, dedup,
stage) → submit → approve / return → register. The browser (through Celery tasks) and
`manage.py import_sheet` call exactly these functions.

Safety, in one place:
* Staging writes all rows of a sheet, its counts and its status in ONE transaction
  (`cardportal.bulk.copy_rows`: COPY on PostgreSQL, bulk_create elsewhere). A worker killed mid-import leaves no rows; the re-delivered
  or re-run task starts over (it first deletes whatever rows the sheet has) and reaches the same
  result.
* Registration is ONE transaction too: INSERT … SELECT from the staged rows into `Member`
  (ON CONFLICT (id_hash) DO NOTHING), link the rows, reject the rows whose person was registered
  meanwhile, tell the registry hooks (issuance applies for the cards), mark the sheet registered.
* One person is pending in one submitted sheet at a time (unique SheetClaim.id_hash) and is one
  Member (unique Member.id_hash). Submissions and registrations also take a PostgreSQL
  advisory lock so the usual race ends in a clear message, not an IntegrityError.
"""

import hashlib
import io
import logging
import pickle
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cardportal import bulk, crypto, tables
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import (
    Job,
    job_fail,
    job_finish,
    job_holds,
    job_is_stale,
    job_progress,
    job_queue,
    job_stage,
    job_start,
)
from cardportal.registry import registry
from cardportal.retention import removed_message

from .access import Cap, access_for
from .models import Member, RegistrationSheet, SheetClaim, SheetRow, Union
from .retention import SHEET_RULES
from .sheet_files import error_report_workbook
from .sheets import MAX_ROWS, SheetRefused, read_sheet
from .sheets import stream_sheet as sheet_stream
from .validation import ACCEPT, REJECT, RowResult, mark_in_sheet_duplicates, row_label, validate_chunk

log = logging.getLogger(__name__)
S = RegistrationSheet.Status
CHUNK = 5000
STAGE_CHUNK_ROWS = 20_000  # rows per chunk of a streamed import: ~20 MB of Python objects at a time
# A streamed import writes its progress after the first chunk, then at most this often. Each
# progress UPDATE is a new version of the sheet's row, which the staging transaction (open from
# the first chunk to COMMIT) keeps from being pruned, and the foreign-key check of every staged
# row at COMMIT walks all of them: at 1,000,000 rows, 51 versions (one a chunk) made the COMMIT
# 17.3 s of server CPU (17 µs a row), 6 versions 5.7 s. The page polls every second.
PROGRESS_SECONDS = 3.0
ADVISORY_KEY = 7_300_016  # pg_advisory_xact_lock key for "who claims which person"
STAGE_COLUMNS = (
    "sheet_id",
    "row_number",
    "outcome",
    "reason",
    "field",
    "message",
    "name",
    "gender",
    "birth_date",
    "id_hash",
    "id_encrypted",
    "id_region",
    "id_last4",
    "phone_hash",
    "phone_encrypted",
    "phone_prefix",
    "phone_last4",
    "work_unit",
    "is_hardship",
    "seq",
    "employment_type",
    "dues_paid",
)


# --- upload ---------------------------------------------------------------------------------------
def sheet_upload(
    *,
    union: Union,
    filename: str,
    content: bytes | File,
    actor,
    declared_members: int | None = None,
    declared_id_copies: int | None = None,
    enqueue: bool = True,
) -> tuple[RegistrationSheet, bool]:
    """Keep the file and queue its import. Returns (sheet, created); the same bytes uploaded to
    the same union again return the existing sheet with created=False (nothing is imported twice).
    `content` is the file's bytes or a Django File (an upload on disk: hashed and copied in
    pieces, never read whole; a migration's file is hundreds of MB)."""
    access_for(actor).require(Cap.SHEET_UPLOAD)
    if union.level not in (Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH):
        raise ApplicationError("登记表只能上传到基层工会", code="invalid_union")
    if isinstance(content, bytes | bytearray):
        content = ContentFile(content)
    max_bytes = settings.MIGRATION_MAX_BYTES if may_migrate(actor) else settings.UPLOAD_MAX_BYTES
    try:
        tables.check_size(content.size, max_bytes=max_bytes)
    except tables.TableRefused as refused:
        raise ApplicationError(refused.message, code=refused.code) from refused
    sha = hashlib.sha256()
    content.seek(0)
    for piece in content.chunks():
        sha.update(piece)
    digest = sha.hexdigest()
    size = content.size
    existing = RegistrationSheet.objects.filter(union=union, sha256=digest).first()
    if existing is not None:
        return existing, False
    name = (filename or "sheet").replace("/", "_").replace("\\", "_")[-200:]
    try:
        with transaction.atomic():
            sheet = RegistrationSheet(
                union=union,
                original_name=name,
                sha256=digest,
                size=size,
                declared_members=declared_members,
                declared_id_copies=declared_id_copies,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            content.seek(0)
            sheet.file.save(name, content, save=False)
            sheet.save()
            audit_record(
                actor=actor,
                verb="sheet.uploaded",
                target=sheet,
                data={"sha256": digest, "size": size},
            )
            from .tasks import import_task

            job_queue(sheet, phase="import", task=import_task() if enqueue else None)
    except IntegrityError:
        # Two uploads of the same file at once: the other one won.
        return RegistrationSheet.objects.get(union=union, sha256=digest), False
    return sheet, True


# --- import -------------------------------------------------------------------------------------
def sheet_import(
    *, sheet_id: int, token: str | None = None, today: date | None = None, timings: dict | None = None
) -> RegistrationSheet:
    """Read, validate, dedup and stage one sheet (the body of `sheet_import_task`). Idempotent;
    only the import run that owns the sheet (`token`, see cardportal/jobs.py) works on it.
    `timings`, when given, receives the seconds spent per phase (the benchmark prints them)."""
    clock = _Clock(timings)
    sheet = RegistrationSheet.objects.select_related("union").get(pk=sheet_id)
    if not job_start(sheet, phase="import", token=token) or not _import_may_run(sheet):
        return sheet
    try:
        gone = _read_and_stage(sheet, today=today or timezone.localdate(), clock=clock, timings=timings)
    except SheetRefused as refused:
        RegistrationSheet.objects.filter(pk=sheet.pk).update(status=S.REFUSED)
        job_fail(sheet, message=refused.message, code=refused.code)
        sheet.status = S.REFUSED
        return sheet
    if gone is not None:  # no longer this run's work
        return gone
    clock.lap("stage (COPY + commit)")
    sheet.refresh_from_db()
    job_finish(sheet, message=_import_summary(sheet))
    return sheet


def _import_may_run(sheet: RegistrationSheet) -> bool:
    """Mark the sheet VALIDATING and say True when this run has a file to import; otherwise end
    the job saying why (an earlier run refused or staged it, or the file was removed) and False."""
    if sheet.status == S.REFUSED:  # an earlier run refused the file and died before saying so
        job_fail(sheet, message="文件被拒收，请检查文件后重新上传", code="refused")
        return False
    if sheet.status not in (S.UPLOADED, S.VALIDATING):  # an earlier run of this import staged it
        job_finish(sheet, message=_import_summary(sheet))
        return False
    RegistrationSheet.objects.filter(pk=sheet.pk).update(status=S.VALIDATING)
    if not sheet.file:  # removed under the retention rule before the import ever ran
        RegistrationSheet.objects.filter(pk=sheet.pk).update(status=S.REFUSED)
        job_fail(sheet, message=removed_message(*SHEET_RULES) + "请重新上传。", code="file_removed")
        sheet.status = S.REFUSED
        return False
    return True


def _read_and_stage(sheet: RegistrationSheet, *, today: date, clock, timings) -> RegistrationSheet | None:
    """Stream the kept file in chunks, validate and dedup each, and stage every row, the counts
    and the status in one transaction (`_StreamedStage` on PostgreSQL, `_SpooledStage`
    elsewhere). Returns the locked sheet when it is no longer this run's work (nothing staged),
    else None. Raises SheetRefused."""
    max_bytes, max_rows = import_limits(sheet)
    counts = {o: 0 for o in SheetRow.Outcome.values}
    with (
        _local_copy(sheet.file) as path,
        sheet_stream(path, max_bytes=max_bytes, max_rows=max_rows, chunk_rows=STAGE_CHUNK_ROWS) as stream,
    ):
        head = stream.head
        clock.lap("read")
        job_progress(sheet, done=0, total=stream.total_rows)
        # on a second connection while the chunks are worked where `bulk.may_work_beside`; else (a
        # second connection would not see the uncommitted sheet) on this one, spooled
        stage_class = _StreamedStage if bulk.may_work_beside() else _SpooledStage
        try:
            # the row results of each chunk make no cycles: collecting while they are made costs 0.3-0.4 s
            # of the row rules' 0.83-0.88 s CPU on the 100,000-row benchmark sheet
            with stage_class(sheet) as stage, tables.collector_paused():
                done = 0
                reported = None  # when progress was last written: the first chunk's, then every few seconds
                for chunk in stream.chunks():
                    clock.lap("read")
                    stage.put(
                        _stage_chunk(chunk, head=head, stage=stage, today=today, counts=counts, clock=clock)
                    )
                    done += len(chunk)
                    if reported is None or time.monotonic() - reported >= PROGRESS_SECONDS:
                        job_progress(sheet, done=done, total=max(done, stream.total_rows))
                        reported = time.monotonic()
                    clock.lap("hash+encrypt")
                if timings is not None:
                    timings["child peak MB"] = stream.child_peak_mb
                stage.commit(head=head, counts=counts, clock=clock)
        except _NotThisRun as gone:
            return gone.sheet
    return None


class _NotThisRun(Exception):
    """The sheet is no longer this run's work (a newer run owns it, or it left VALIDATING): the
    staging transaction is rolled back and the locked sheet returned to the caller."""

    def __init__(self, sheet: RegistrationSheet):
        super().__init__(sheet.pk)
        self.sheet = sheet


class _SpooledStage:
    """Staging on this connection, after the whole sheet is read (SQLite, or inside a caller's
    transaction): the in-sheet key table and each chunk's look-up (`look_up`) here, each chunk's
    staged tuples spooled to an unlinked file, and at the end one transaction writes them
    (`stage_rows`) and sets the counts and status."""

    def __init__(self, sheet: RegistrationSheet):
        self.sheet = sheet

    def __enter__(self) -> "_SpooledStage":
        self._seen = bulk.KeyTable("sheet_seen").__enter__()
        self._spool = tempfile.TemporaryFile()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._spool.close()
        self._seen.__exit__(kind, value, traceback)

    def look_up(self, items: list[tuple[str, int]]):
        """`look_up` of these (keyed hash, row) items (returned as a function giving the answer,
        as `_StreamedStage.look_up` does)."""
        found = look_up(self._seen, items, sheet=self.sheet)
        return lambda: found

    def put(self, staged: "StagedChunk") -> None:
        _spool(staged, self._spool, sheet_id=self.sheet.pk)

    def commit(self, *, head, counts: dict, clock) -> None:
        self._spool.seek(0)
        with transaction.atomic():
            _open_staging(self.sheet)
            stage_rows(self._spool)
            clock.lap("stage (COPY + commit)")
            _finish_staging(self.sheet, head=head, counts=counts)
            clock.lap("dedup")


class _StreamedStage:
    """Staging that runs beside the chunks' Python (PostgreSQL): a thread with its own database
    connection (Django's are per thread) holds ONE transaction from the first chunk to the
    commit. In it: the sheet locked FOR KEY SHARE (progress UPDATEs from the importing
    connection and the heartbeat still go through), the in-sheet key table, each chunk's look-up
    (`look_up`: earlier rows, the registry, pending sheets) and its COPY once the chunk is built,
    and at the end the counts and the status, after the run's ownership is checked again.
    PostgreSQL looks up, parses and checks a chunk's rows on the second core while Python
    validates the next one.

    All or nothing, as the spooled path: an error on either side, a refusal or a lost lease
    rolls the transaction back (nothing staged, the sheet still VALIDATING, retryable). Work is
    handed over through a queue of at most `QUEUE` steps (a chunk's COPY text is ~7 MB), so
    memory stays bounded when the database is the slower side."""

    QUEUE = 2
    _END = "end"

    def __init__(self, sheet: RegistrationSheet):
        self.sheet = sheet
        self._work: queue.Queue = queue.Queue(self.QUEUE)
        self._broken: BaseException | None = None  # why the staging thread ended early
        self._abort = False  # the importing thread failed: roll back
        self._committed: Future | None = None
        self._held: bytes | None = None  # the last chunk's COPY text, sent after the next look-up
        self._thread = threading.Thread(target=self._run, name=f"sheet-{sheet.pk}-stage", daemon=True)

    def __enter__(self) -> "_StreamedStage":
        self._thread.start()
        return self

    def __exit__(self, kind, _value, _traceback) -> None:
        if kind is not None:
            self._abort = True  # seen by the thread after its current step
            with suppress(queue.Full):  # wakes it if it waits for work (a full queue: it does not)
                self._work.put_nowait((self._END, None, Future()))
        self._thread.join()

    # --- the importing thread's side
    def look_up(self, items: list[tuple[str, int]]):
        """`look_up` of the items on the staging connection; returns the function that waits
        for the answer, so the caller works on while the database looks."""
        future = self._hand(self._look_up, items)
        self._send_held()  # after the look-up: the importing thread waits for that, not the COPY
        return lambda: self._wait(future)

    def put(self, staged: "StagedChunk") -> None:
        self._send_held()
        self._held = staged.text.encode()

    def commit(self, *, head, counts: dict, clock) -> None:
        self._send_held()
        done = self._hand(self._commit, (head, counts))
        self._hand(self._END, None)
        self._wait(done)  # answered once the transaction has committed (or raises why not)
        clock.lap("stage (COPY + commit)")

    def _send_held(self) -> None:
        """COPY the previous chunk now. A chunk's key-table look-up depends only on the earlier
        look-ups, not on their chunks' rows, so it goes first: on one connection a look-up queued
        behind a COPY would wait for the whole COPY."""
        if self._held is not None:
            self._hand(self._copy, self._held)
            self._held = None

    def _hand(self, step, argument) -> Future:
        future = Future()
        while True:
            self._check_alive()
            try:
                self._work.put((step, argument, future), timeout=0.2)
                return future
            except queue.Full:
                continue

    def _wait(self, future: Future):
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                self._check_alive()

    def _check_alive(self) -> None:
        if self._broken is not None:
            raise self._broken
        if not self._thread.is_alive():
            raise RuntimeError("the staging thread ended without saying why")

    # --- the staging thread's side: one connection, one transaction
    def _run(self) -> None:
        future = None
        try:
            with transaction.atomic():
                _open_staging(self.sheet)
                with bulk.KeyTable("sheet_seen") as self._seen:
                    while True:
                        step, argument, future = self._work.get()
                        if self._abort or (step == self._END and self._committed is None):
                            raise _RolledBack
                        if step == self._END:
                            break
                        if step == self._commit:  # answered after COMMIT, below
                            step(argument)
                            self._committed = future
                            continue
                        future.set_result(step(argument))
            self._committed.set_result(None)
        except _RolledBack:
            self._broken = _RolledBack()
        except BaseException as error:  # the importing thread raises it at its next hand-over
            self._broken = error
            for waiting in (future, self._committed):
                if waiting is not None and not waiting.done():
                    waiting.set_exception(error)
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        """This thread's connection ends with it (the benchmark wraps this to read the
        backend's CPU time first)."""
        connection.close()

    def _look_up(self, items: list[tuple[str, int]]) -> tuple[dict[str, int], dict[str, str]]:
        return look_up(self._seen, items, sheet=self.sheet)

    def _copy(self, text: bytes) -> None:
        stage_rows(io.BytesIO(text))

    def _commit(self, argument) -> None:
        head, counts = argument
        _check_still_ours(self.sheet)  # a newer run may have taken the sheet while this one read it
        _finish_staging(self.sheet, head=head, counts=counts)


def _open_staging(sheet: RegistrationSheet) -> None:
    """The start of either path's staging transaction: the sheet locked FOR KEY SHARE (the
    heartbeat still renews the lease), still this run's work, its earlier staged rows gone."""
    bulk.lock_row_key_share(RegistrationSheet, sheet.pk)
    _check_still_ours(sheet)
    SheetRow.objects.filter(sheet_id=sheet.pk).delete()


def wait_for_staging(sender, instance: RegistrationSheet, **_kwargs) -> None:
    """pre_delete of a sheet: lock it FOR UPDATE before the ORM deletes its rows and claims, so a
    staging transaction still writing rows (it holds the sheet FOR KEY SHARE) or a submit still
    writing claims (it holds the sheet FOR UPDATE) ends first, and what it wrote is deleted with
    the sheet. With no database constraint on `SheetRow.sheet` nor on `SheetClaim.sheet`, those
    would otherwise outlive a sheet deleted while its import or its submit ran."""
    RegistrationSheet.objects.select_for_update().filter(pk=instance.pk).exists()


def _check_still_ours(sheet: RegistrationSheet) -> None:
    locked = RegistrationSheet.objects.get(pk=sheet.pk)
    if locked.status != S.VALIDATING or not job_holds(sheet):
        raise _NotThisRun(locked)


class _RolledBack(Exception):
    """The importing thread ended the staging early (its own error or a refusal): roll back."""


def _finish_staging(sheet: RegistrationSheet, *, head, counts: dict) -> None:
    """In the staging transaction, after the rows: set the sheet's counts and status."""
    RegistrationSheet.objects.filter(pk=sheet.pk).update(
        status=S.VALIDATED,
        file_format=head.file_format,
        header_row=head.header_row,
        rows_accepted=counts[ACCEPT],
        rows_rejected=counts[REJECT],
        rows_skipped=counts["skip"],
    )


@dataclass(slots=True)
class StagedChunk:
    """One chunk's rows ready to stage: the results, the ID numbers' keyed hashes, the accepted
    rows' sealed values (`seal_rows`) and, on PostgreSQL, their COPY text (`staged_text`)."""

    results: list[RowResult]
    id_hashes: dict[str, str]
    sealed: dict[int, tuple[str, str, str]]
    text: str | None


def _stage_chunk(chunk, *, head, stage, today, counts: dict, clock) -> StagedChunk:
    """Validate one chunk of rows, find its duplicates inside the sheet (earlier rows, through
    the stage's key table) and its people registered or pending in another sheet, and make its
    staged rows. Only keyed hashes of the sheet's earlier rows are kept between chunks, in the
    database. While the database looks (`look_up`), the rows it can still reject are encrypted
    and written as COPY text already (one in thousands is wasted on a duplicate); the few it
    rejects are written again."""
    results = validate_chunk(head, chunk, today=today)
    clock.lap("validate")
    # The first row of each ID number in this chunk, then the earlier chunks' first rows win.
    first_row_of: dict[str, int] = {}
    for result in results:
        if result.id_number:
            first_row_of.setdefault(result.id_number, result.row)
    numbers = list(first_row_of)
    id_hashes = dict(zip(numbers, crypto.keyed_hash_many(numbers), strict=True))
    asked = stage.look_up([(id_hashes[n], first_row_of[n]) for n in numbers])
    sealed = seal_rows(
        [r for r in results if r.outcome == ACCEPT and first_row_of[r.id_number] == r.row], id_hashes
    )
    as_text = bulk.is_postgresql()
    unsealed: list[int] = []  # accepted rows not sealed: duplicates of the chunk's earlier rows
    if as_text:
        rendered = staged_lines(
            results, sheet_id=stage.sheet.pk, id_hashes=id_hashes, sealed=sealed, unsealed=unsealed
        )
    clock.lap("hash+encrypt")
    earlier, taken = asked()
    for number in numbers:
        row = earlier.get(id_hashes[number])
        if row is not None:
            first_row_of[number] = row
    changed = mark_in_sheet_duplicates(results, first_row_of)
    changed += _mark_taken(results, first_row_of, id_hashes, taken)
    clock.lap("dedup")
    for result in results:
        counts[result.outcome] += 1
    if not as_text:
        return StagedChunk(results, id_hashes, sealed, None)
    if not set(unsealed) <= set(changed):  # every row written unsealed must be rejected by now
        raise RuntimeError("an accepted row would be staged without its ciphertext")
    if changed:  # rejected now: written again, with no hash or ciphertext (nothing sealed is needed)
        lines = rendered[0]
        again, _same_nulls = staged_lines(
            [results[i] for i in changed], sheet_id=stage.sheet.pk, id_hashes={}, sealed={}
        )
        for index, line in zip(changed, again, strict=True):
            lines[index] = line
    text = staged_text(
        results, sheet_id=stage.sheet.pk, id_hashes=id_hashes, sealed=sealed, rendered=rendered
    )
    return StagedChunk(results, id_hashes, sealed, text)


def _mark_taken(results: list[RowResult], first_row_of: dict, id_hashes: dict, taken: dict) -> list[int]:
    """Reject the first row of each ID number whose person is registered or pending in another
    sheet (`taken`: keyed hash -> message), that reason named first and the row's other problems
    after it. Returns the indexes of the rows it rejected."""
    changed = []
    if taken:
        for index, result in enumerate(results):
            number = result.id_number
            if number and first_row_of[number] == result.row:
                message = taken.get(id_hashes[number])
                if message is not None:
                    result.reject("duplicate_existing", "id_number", message, first=True)
                    changed.append(index)
    return changed


def look_up(seen: bulk.KeyTable, items: list[tuple[str, int]], *, sheet: RegistrationSheet):
    """For one chunk's (keyed hash, first row) items: ({keyed hash: earlier row} of the ID
    numbers an earlier chunk has, the others recorded in `seen`; {keyed hash: message} of the
    others' people registered or pending in another sheet). In the staging transaction, chunk
    by chunk, so the look-up runs beside the next chunk's rules rather than after the last."""
    earlier = seen.get_or_add(items)
    return earlier, conflicts_for([key for key, _row in items if key not in earlier], sheet=sheet)


def _spool(staged: StagedChunk, spool, *, sheet_id: int) -> None:
    """Keep a chunk's staged rows in the spool file until the one staging transaction: on
    PostgreSQL already as COPY text (`staged_text`), which the driver then sends from the file
    with no Python work per row; elsewhere their tuples pickled, for `bulk_create`."""
    if staged.text is not None:
        spool.write(staged.text.encode())
    else:
        rows = build_rows(staged.results, sheet_id=sheet_id, id_hashes=staged.id_hashes, sealed=staged.sealed)
        pickle.dump(rows, spool, protocol=pickle.HIGHEST_PROTOCOL)


def _spooled(spool):
    """The staged tuples back from a pickled spool file, one chunk in memory at a time."""
    while True:
        try:
            yield from pickle.load(spool)
        except EOFError:
            return


def staged_lines(
    results: list[RowResult],
    *,
    sheet_id: int,
    id_hashes: dict,
    sealed: dict,
    unsealed: list[int] | None = None,
) -> tuple[list[str], int]:
    """The staged rows of `results` as lines of COPY's text format, one f-string per row and no
    staged tuple in between (the columns' types are known here, so none of `bulk.encode_copy`'s
    per-value type dispatch, and no tuples to build and unpack), and how many NULLs they hold.
    Unchecked: `staged_text` checks them. An accepted row has its `sealed` values; with
    `unsealed` given, one that has none (a duplicate about to be rejected) is written without
    them and its index added there, for the caller to write again."""
    null = bulk.NULL
    lines = []
    append = lines.append
    nulls = 0
    for index, r in enumerate(results):
        number, phone = r.id_number or r.id_typed, r.phone
        if r.outcome == ACCEPT:
            id_hash = id_hashes[number]
            values = sealed.get(r.row)
            if values is None:
                if unsealed is None:
                    raise KeyError(f"row {r.row} is accepted but has no sealed values")
                unsealed.append(index)
                values = ("", "", "")
            id_token, phone_hash, phone_token = values
        else:
            id_hash = id_token = phone_hash = phone_token = ""
        birth = r.birth_date
        if birth is None:
            birth = null
            nulls += 1
        dues = r.dues_paid
        if dues is None:
            dues = null
            nulls += 1
        else:
            dues = "t" if dues else "f"
        append(
            f"{sheet_id}\t{r.row}\t{r.outcome}\t{r.reason}\t{r.field}\t{r.message[:500]}\t{r.name[:30]}\t"
            f"{r.gender}\t{birth}\t{id_hash}\t{id_token}\t{number[:6]}\t{number[-4:]}\t{phone_hash}\t"
            f"{phone_token}\t{phone[:3]}\t{phone[-4:]}\t{r.unit}\t{'t' if r.is_hardship else 'f'}\t{r.seq}\t"
            f"{r.employment}\t{dues}\n"
        )
    return lines, nulls


def staged_text(
    results: list[RowResult],
    *,
    sheet_id: int,
    id_hashes: dict,
    sealed: dict,
    rendered: tuple[list[str], int] | None = None,
) -> str:
    """The staged rows of `results` in COPY's text format: their `staged_lines` (or `rendered`,
    those lines made already) checked as a whole. A value carrying a tab, newline, carriage
    return or backslash (a unit name with a "\\" in it) sends the chunk's tuples (`build_rows`)
    through the general, escaping encoder instead."""
    lines, nulls = rendered or staged_lines(results, sheet_id=sheet_id, id_hashes=id_hashes, sealed=sealed)
    text = "".join(lines)
    if (
        text.count("\t") == len(results) * (len(STAGE_COLUMNS) - 1)
        and text.count("\n") == len(results)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    # through the general, escaping encoder
    return bulk.copy_text(
        build_rows(results, sheet_id=sheet_id, id_hashes=id_hashes, sealed=sealed), len(STAGE_COLUMNS)
    )


@contextmanager
def _local_copy(field_file):
    """A path to the kept file: the storage's own where it has one (the file system), else a
    temporary copy made in pieces."""
    try:
        path = field_file.path
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".upload") as copy, field_file.open("rb") as handle:
        shutil.copyfileobj(handle, copy, 1024 * 1024)
        copy.flush()
        yield copy.name


def import_limits(sheet: RegistrationSheet) -> tuple[int, int]:
    """(bytes, rows) a sheet may have: the migration limits when its uploader's role may migrate a
    registry (see `may_migrate`), the clerk's otherwise."""
    if may_migrate(sheet.created_by):
        return settings.MIGRATION_MAX_BYTES, settings.MIGRATION_MAX_ROWS
    return settings.UPLOAD_MAX_BYTES, MAX_ROWS


def may_migrate(user) -> bool:
    """City and province staff and system administrators load a whole existing registry (a city's
    1–2 M members, the old system's export) through the same pipeline; a grassroots clerk's sheet
    is one union's members (hundreds, at most tens of thousands), so the clerk keeps the small
    limit: a clerk's 200,000-row file is a mistake (the city's list sent to one union) to catch
    at the door, not a day's work for the workers."""
    return user is not None and access_for(user).can(Cap.REGISTRY_MIGRATE)


def _import_summary(sheet: RegistrationSheet) -> str:
    return f"通过 {sheet.rows_accepted} 行，不通过 {sheet.rows_rejected} 行，跳过 {sheet.rows_skipped} 行"


class _Clock:
    def __init__(self, timings: dict | None):
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


@transaction.atomic
def sheet_import_retry(*, sheet: RegistrationSheet, actor, enqueue: bool = True, force: bool = False) -> bool:
    """Queue the import again (a new run; any older message becomes stale) for a sheet whose import
    failed or lost its worker (lease expired) before staging finished. False (nothing done)
    otherwise. `force` (the operator's reset) also takes a job that looks alive."""
    access_for(actor).require(Cap.SHEET_UPLOAD)
    locked = RegistrationSheet.objects.select_for_update().get(pk=sheet.pk)
    if locked.status not in (S.UPLOADED, S.VALIDATING):
        return False
    stuck = locked.job_status == Job.Status.FAILED or job_is_stale(locked)
    if not (stuck or force):
        return False
    from .tasks import import_task

    job_queue(locked, phase="import", task=import_task() if enqueue else None)
    audit_record(actor=actor, verb="sheet.import_retried", target=locked)
    return True


def sheet_import_reset(*, sheet: RegistrationSheet) -> bool:
    """Operator's reset (`import_sheet`, tests): make the import runnable again, not enqueued."""
    return sheet_import_retry(sheet=sheet, actor=None, enqueue=False, force=True)


def conflicts_for(hashes: Iterable[str], *, sheet: RegistrationSheet) -> dict[str, str]:
    """id_hash -> message for people already registered or pending in another submitted sheet.
    Where it is, is said only when the clerk of `sheet.union` may see it (same subtree)."""
    found = []
    # Sorted, so consecutive look-ups walk the unique index in key order (each page read once).
    hashes = sorted(hashes)
    if bulk.is_postgresql():
        for part in bulk.chunked(hashes, PROBE_CHUNK):
            found += _probed(part, sheet_id=sheet.pk)
    else:
        for start in range(0, len(hashes), CHUNK):
            chunk = hashes[start : start + CHUNK]
            found += [(id_hash, None, name, path) for id_hash, name, path in _registered(chunk)]
            found += _pending(chunk, sheet_id=sheet.pk)
    return _conflict_messages(found, visible=sheet.union.path)


# One index probe per key, forced (LATERAL … OFFSET 0): the keys arrive as one literal array, so
# the planner counts them, and for 20,000 keys it chose to hash the whole 1,000,000-member table
# instead (0.55 s a chunk, against 0.12-0.14 s for the probes).
PROBED = """
SELECT k.key, NULL::bigint, u.name, u.path FROM unnest(string_to_array(%s, ',')) k(key)
CROSS JOIN LATERAL (SELECT m.union_id FROM {member} m WHERE m.id_hash = k.key OFFSET 0) m
JOIN {union} u ON u.id = m.union_id
UNION ALL
SELECT k.key, c.sheet_id, u.name, u.path FROM unnest(string_to_array(%s, ',')) k(key)
CROSS JOIN LATERAL (
    SELECT c.sheet_id FROM {claim} c WHERE c.id_hash = k.key AND c.sheet_id <> %s OFFSET 0
) c
JOIN {sheet} s ON s.id = c.sheet_id JOIN {union} u ON u.id = s.union_id
"""
PROBE_CHUNK = 20_000


def _probed(hashes: list[str], *, sheet_id: int) -> list[tuple]:
    """(id_hash, other sheet id or None when registered, union name, union path) of these keyed
    hashes, in one statement (PostgreSQL)."""
    tables = {
        "member": Member._meta.db_table,
        "union": Union._meta.db_table,
        "claim": SheetClaim._meta.db_table,
        "sheet": RegistrationSheet._meta.db_table,
    }
    keys = bulk.array_text(hashes)
    # Its cost estimate (20,000 probes) is over jit_above_cost: compiling the plan took ~25 ms of
    # each chunk's 0.1 s and saved nothing. Off for the rest of the caller's transaction (the
    # staging transaction: its COPYs and UPDATEs are not compiled either way).
    bulk.set_local("jit", "off")
    with connection.cursor() as cursor:
        cursor.execute(PROBED.format(**tables), [keys, keys, sheet_id])
        return cursor.fetchall()


# Elsewhere than PostgreSQL (`_probed` there): the ORM's IN (…) per chunk of hashes.
def _registered(hashes: list[str]):
    members = bulk.filter_any(Member.objects.all(), "id_hash", hashes, cast="text")
    return members.values_list("id_hash", "union__name", "union__path")


def _pending(hashes: list[str], *, sheet_id: int):
    claims = bulk.filter_any(SheetClaim.objects.exclude(sheet_id=sheet_id), "id_hash", hashes, cast="text")
    return claims.values_list("id_hash", "sheet_id", "sheet__union__name", "sheet__union__path")


def seal_rows(accepted: list[RowResult], id_hashes: dict[str, str]) -> dict[int, tuple[str, str, str]]:
    """{row: (ID token, phone hash, phone token)} of rows to stage as accepted: AES-GCM and the
    keyed hash in batches (`encrypt_many`, `keyed_hash_many`), not one call per value. The ID
    number's keyed hash is `id_hashes`' (added there when missing)."""
    missing = [r.id_number for r in accepted if r.id_number not in id_hashes]
    id_hashes.update(zip(missing, crypto.keyed_hash_many(missing), strict=True))
    phones = [r.phone for r in accepted]
    sealed = zip(
        crypto.encrypt_many([r.id_number for r in accepted]),
        crypto.keyed_hash_many(phones),
        crypto.encrypt_many(phones),
        strict=True,
    )
    return {r.row: values for r, values in zip(accepted, sealed, strict=True)}


def build_rows(
    results: list[RowResult],
    *,
    sheet_id: int,
    id_hashes: dict[str, str] | None = None,
    sealed: dict[int, tuple[str, str, str]] | None = None,
) -> list[tuple]:
    """One tuple per row in STAGE_COLUMNS order, personal data the way the registry stores it
    (keyed hash, AES-GCM ciphertext, non-secret parts). Plain tuples, not model instances: 100,000
    SheetRow objects would cost a few hundred MB. `sealed` (`seal_rows`) must hold every accepted
    row; made here when not given."""
    id_hashes = id_hashes if id_hashes is not None else {}
    if sealed is None:
        sealed = seal_rows([r for r in results if r.outcome == ACCEPT], id_hashes)
    unsealed = ("", "", "")
    rows = []
    for r in results:
        accepted = r.outcome == ACCEPT
        id_token, phone_hash, phone_token = sealed[r.row] if accepted else unsealed
        # a rejected ID number keeps the parts of what was typed, so the row shows it masked
        number, phone = r.id_number or r.id_typed, r.phone
        rows.append(
            (
                sheet_id,
                r.row,
                r.outcome,
                r.reason,
                r.field,
                r.message[:500],
                r.name[:30],
                r.gender,
                r.birth_date,
                id_hashes[number] if accepted else "",
                id_token,
                number[:6],
                number[-4:],
                phone_hash,
                phone_token,
                phone[:3],
                phone[-4:],
                r.unit,
                r.is_hardship,
                r.seq,
                r.employment,
                r.dues_paid,
            )
        )
    return rows


def stage_rows(spool) -> None:
    """Write the spooled rows (`_spool`; on PostgreSQL a file object of COPY text, a whole
    sheet's or one chunk's) in the caller's transaction: COPY from the file on
    PostgreSQL, `bulk_create` elsewhere."""
    if bulk.is_postgresql():
        bulk.copy_file(SheetRow._meta.db_table, STAGE_COLUMNS, spool)
    else:
        bulk.copy_rows(SheetRow._meta.db_table, STAGE_COLUMNS, _spooled(spool))


# --- workflow -----------------------------------------------------------------------------------
def _claim_lock() -> None:
    bulk.advisory_xact_lock(ADVISORY_KEY)


def _recheck_conflicts(sheet: RegistrationSheet) -> int:
    """Re-run the registry/pending check on the accepted rows (people may have been registered or
    submitted elsewhere since the import) and reject the ones now taken. Returns how many."""
    if bulk.is_postgresql():
        conflicts = _sheet_conflicts(sheet)
    else:
        accepted = SheetRow.objects.filter(sheet=sheet, outcome=ACCEPT).values_list("id_hash", flat=True)
        conflicts = conflicts_for(accepted, sheet=sheet)
    by_message: dict[str, list[str]] = {}
    for id_hash, message in conflicts.items():
        by_message.setdefault(message, []).append(id_hash)
    for message, hashes in by_message.items():  # a few distinct messages (one per union), not one per row
        for start in range(0, len(hashes), CHUNK):
            SheetRow.objects.filter(
                sheet=sheet, outcome=ACCEPT, id_hash__in=hashes[start : start + CHUNK]
            ).update(outcome=REJECT, reason="duplicate_existing", field="id_number", message=message)
    if conflicts:
        _recount(sheet)
    return len(conflicts)


SHEET_CONFLICTS = """
SELECT r.id_hash, NULL, u.name, u.path FROM {row} r
JOIN {member} m ON m.id_hash = r.id_hash JOIN {union} u ON u.id = m.union_id
WHERE r.sheet_id = %s AND r.outcome = 'accept'
UNION ALL
SELECT r.id_hash, c.sheet_id, u.name, u.path FROM {row} r
JOIN {claim} c ON c.id_hash = r.id_hash AND c.sheet_id <> r.sheet_id
JOIN {sheet} s ON s.id = c.sheet_id JOIN {union} u ON u.id = s.union_id
WHERE r.sheet_id = %s AND r.outcome = 'accept'
"""


def _sheet_conflicts(sheet: RegistrationSheet) -> dict[str, str]:
    """`conflicts_for` of a staged sheet's accepted rows as two joins in the database (one round
    trip; the planner merges the sheet's hashes with the unique indexes), instead of sending the
    hashes back in chunks of 5,000. The same messages; registered wins over pending."""
    tables = {
        "row": SheetRow._meta.db_table,
        "member": Member._meta.db_table,
        "union": Union._meta.db_table,
        "claim": SheetClaim._meta.db_table,
        "sheet": RegistrationSheet._meta.db_table,
    }
    with connection.cursor() as cursor:
        cursor.execute(SHEET_CONFLICTS.format(**tables), [sheet.pk, sheet.pk])
        found = cursor.fetchall()
    return _conflict_messages(found, visible=sheet.union.path)


def _conflict_messages(found, *, visible: str) -> dict[str, str]:
    """id_hash -> message for (id_hash, other sheet id or None when registered, union name,
    union path) rows; where it is, is said only inside the clerk's subtree (`visible`)."""
    messages: dict[str, str] = {}
    for id_hash, other_id, union_name, path in sorted(found, key=lambda f: f[1] is not None):
        if other_id is None:
            where = f"（{union_name}）" if path.startswith(visible) else "（在其他工会）"
            messages[id_hash] = f"此人已登记为会员{where}，一人只能登记一次"
        else:
            where = f"{union_name}的登记表 #{other_id}" if path.startswith(visible) else "其他工会的登记表"
            messages.setdefault(id_hash, f"此人已在{where}中待审核登记，一人只能登记一次")
    return messages


def _recount(sheet: RegistrationSheet) -> None:
    counts = {o: 0 for o in SheetRow.Outcome.values}
    for outcome, n in _outcome_counts(sheet):
        counts[outcome] = n
    sheet.rows_accepted, sheet.rows_rejected, sheet.rows_skipped = (
        counts[ACCEPT],
        counts[REJECT],
        counts["skip"],
    )
    sheet.save(update_fields=["rows_accepted", "rows_rejected", "rows_skipped"])


def _outcome_counts(sheet):
    from django.db.models import Count

    return SheetRow.objects.filter(sheet=sheet).values_list("outcome").annotate(n=Count("id")).order_by()


@transaction.atomic
def sheet_submit(*, sheet: RegistrationSheet, actor) -> int:
    """The clerk submits the accepted rows for review; they become pending (claimed) in one
    transaction. Rows whose person was registered or submitted elsewhere since the import are
    rejected now. Returns the number of rows submitted."""
    access_for(actor).require(Cap.SHEET_UPLOAD)
    _claim_lock()
    sheet = RegistrationSheet.objects.select_for_update().select_related("union").get(pk=sheet.pk)
    if sheet.status != S.VALIDATED:
        raise ApplicationError("只有校验完成、尚未提交的登记表才能提交", code="invalid_status")
    _recheck_conflicts(sheet)
    if sheet.rows_accepted == 0:
        raise ApplicationError("没有通过校验的行，无法提交；请修改后重新上传", code="nothing_to_submit")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                CLAIM_INSERT.format(claim=SheetClaim._meta.db_table, row=SheetRow._meta.db_table), [sheet.pk]
            )
    except IntegrityError as exc:
        raise ApplicationError("表中有人员刚被其他登记表提交，请刷新后重试", code="conflict") from exc
    sheet.status = S.SUBMITTED
    sheet.submitted_at = timezone.now()
    sheet.submitted_by = actor if getattr(actor, "is_authenticated", False) else None
    sheet.return_reason = ""
    sheet.save(update_fields=["status", "submitted_at", "submitted_by", "return_reason"])
    audit_record(actor=actor, verb="sheet.submitted", target=sheet, data={"rows": sheet.rows_accepted})
    return sheet.rows_accepted


def sheet_review_refusal(*, sheet: RegistrationSheet, actor, approving: bool = True) -> str:
    """Why `actor` may not review `sheet` ("" when they may); the one rule, asked by the page
    (which buttons to show) and enforced by sheet_approve / sheet_return.

    A reviewer of a union strictly above the sheet's union (`Access.governs`: a union never
    reviews itself); approving also needs a second person: never the sheet's uploader or
    submitter, superusers included. `actor=None` is the headless `import_sheet --register` run
    on the server."""
    if actor is None:
        return ""
    access = access_for(actor)
    if not (access.can(Cap.SHEET_REVIEW) and access.governs(sheet.union)):
        return "您的角色不能审核登记表（须由上级工会审核）"
    if approving and actor.pk in (sheet.created_by_id, sheet.submitted_by_id):
        return "您上传或提交了这份登记表，须由另一位审核人员审核通过"
    return ""


@transaction.atomic
def sheet_error_report(
    *, sheet: RegistrationSheet, actor, ip: str | None = None, only_rejected: bool = False
) -> tuple[bytes, str]:
    """The uploaded sheet with a 错误原因 column, built on demand from the kept file, and its file
    name; the download is audited (it holds the people's details as the clerk typed them).
    `only_rejected`: the "只含不通过的行" file, the one to fix and upload again."""
    if sheet.status == S.REFUSED:
        raise ApplicationError("该文件未被接受，没有错误报告", code="forbidden")
    if not sheet.file:
        raise ApplicationError(removed_message(*SHEET_RULES), code="file_removed")
    with sheet.file.open("rb") as handle:
        try:
            data = read_sheet(handle.read())
        except SheetRefused as refused:
            raise ApplicationError(refused.message, code=refused.code) from refused
    problems = {
        row: (field, _labelled(row_label(row, seq), message))
        for row, seq, field, message in SheetRow.objects.filter(sheet=sheet, outcome="reject").values_list(
            "row_number", "seq", "field", "message"
        )
    }
    audit_record(
        actor=actor, verb="sheet.error_report", target=sheet, ip=ip, data={"only_rejected": only_rejected}
    )
    stem = sheet.original_name.rsplit(".", 1)[0]
    name = f"{stem}（只含不通过的行）.xlsx" if only_rejected else f"{stem}（错误原因）.xlsx"
    return error_report_workbook(data, problems, only_rejected=only_rejected), name


def _labelled(label: str, message: str) -> str:
    """The report's 错误原因 names the row as clerks do (第8行（序号5）), once."""
    return message if message.startswith(label) else f"{label}：{message}"


def _check_reviewer(sheet: RegistrationSheet, actor, *, approving: bool) -> None:
    refusal = sheet_review_refusal(sheet=sheet, actor=actor, approving=approving)
    if refusal:
        raise ApplicationError(refusal, code="forbidden")


@transaction.atomic
def sheet_return(*, sheet: RegistrationSheet, reason: str, actor) -> RegistrationSheet:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("请填写退回原因", code="reason_required")
    sheet = RegistrationSheet.objects.select_for_update(of=("self",)).select_related("union").get(pk=sheet.pk)
    _check_reviewer(sheet, actor, approving=False)
    if sheet.status != S.SUBMITTED:
        raise ApplicationError("只能退回已提交待审核的登记表", code="invalid_status")
    SheetClaim.objects.filter(sheet=sheet).delete()
    sheet.status = S.RETURNED
    sheet.return_reason = reason[:500]
    sheet.reviewed_at = timezone.now()
    sheet.reviewed_by = actor
    sheet.save(update_fields=["status", "return_reason", "reviewed_at", "reviewed_by"])
    audit_record(actor=actor, verb="sheet.returned", target=sheet, data={"reason": reason})
    return sheet


@transaction.atomic
def sheet_approve(
    *, sheet: RegistrationSheet, actor, enqueue: bool = True, override_reason: str = ""
) -> RegistrationSheet:
    """Approve a submitted sheet and queue its registration (after commit). Checked on the locked
    row, so the uploader and submitter read are the ones approved. A confirmation letter (附件3)
    whose counts disagree with the accepted rows blocks the approval unless the reviewer writes
    why it is right anyway (recorded in the audit row)."""
    sheet = RegistrationSheet.objects.select_for_update(of=("self",)).select_related("union").get(pk=sheet.pk)
    _check_reviewer(sheet, actor, approving=True)
    if sheet.status != S.SUBMITTED:
        raise ApplicationError("只能审核已提交的登记表", code="invalid_status")
    mismatches = letter_mismatches(sheet)
    override_reason = override_reason.strip()
    if mismatches and not override_reason:
        raise ApplicationError(
            "；".join(mismatches) + "。请与基层工会核实；确认无误的，填写理由后再审核通过",
            code="letter_count_mismatch",
        )
    sheet.status = S.APPROVED
    sheet.reviewed_at = timezone.now()
    sheet.reviewed_by = actor
    sheet.save(update_fields=["status", "reviewed_at", "reviewed_by"])
    data = {"rows": sheet.rows_accepted}
    if mismatches:
        data["letter_mismatch"] = mismatches
        data["override_reason"] = override_reason
    audit_record(actor=actor, verb="sheet.approved", target=sheet, data=data)
    from .tasks import register_task

    # A new run of the "register" phase owns the sheet from here: a late import message is stale.
    job_queue(sheet, phase="register", task=register_task() if enqueue else None)
    return sheet


def letter_mismatches(sheet: RegistrationSheet) -> list[str]:
    """Where the confirmation letter's counts (确认书) disagree with the accepted rows."""
    out = []
    if sheet.members_count_mismatch:
        out.append(f"确认书会员人数 {sheet.declared_members} 人与通过的 {sheet.rows_accepted} 人不符")
    if sheet.copies_count_mismatch:
        out.append(f"确认书身份证复印件 {sheet.declared_id_copies} 份与通过的 {sheet.rows_accepted} 人不符")
    return out


@transaction.atomic
def sheet_register_retry(*, sheet: RegistrationSheet, actor, enqueue: bool = True) -> RegistrationSheet:
    """Queue the registration of an approved sheet again after its run failed or lost its worker
    (the reviewer's 重新登记 button). The registration is one transaction, so nothing of the
    failed run remains; the new run registers every accepted row once."""
    _check_reviewer(sheet, actor, approving=False)
    locked = RegistrationSheet.objects.select_for_update().get(pk=sheet.pk)
    stuck = locked.job_status == Job.Status.FAILED or (
        locked.job_status == Job.Status.RUNNING and job_is_stale(locked)
    )
    if locked.status != S.APPROVED or not stuck:
        raise ApplicationError("只有登记失败或中断的登记表才能重新登记", code="invalid_status")
    from .tasks import register_task

    job_queue(locked, phase="register", task=register_task() if enqueue else None)
    audit_record(actor=actor, verb="sheet.register_retried", target=locked)
    return locked


MEMBER_INSERT = """
INSERT INTO {member} (id_hash, id_encrypted, id_region, id_last4, name, gender, birth_date,
    phone_hash, phone_encrypted, phone_prefix, phone_last4, work_unit, union_id, employment_type,
    is_hardship, is_model_worker, dues_paid, status, joined_on, created_at, updated_at)
SELECT r.id_hash, r.id_encrypted, r.id_region, r.id_last4, r.name, r.gender, r.birth_date,
    r.phone_hash, r.phone_encrypted, r.phone_prefix, r.phone_last4, r.work_unit, %s, r.employment_type,
    r.is_hardship, %s, r.dues_paid, %s, %s, %s, %s
FROM {row} r
WHERE r.sheet_id = %s AND r.outcome = 'accept'
ORDER BY r.id_hash
ON CONFLICT (id_hash) DO NOTHING
RETURNING id_hash, id
"""
CLAIM_INSERT = """
INSERT INTO {claim} (id_hash, sheet_id, row_number)
SELECT id_hash, sheet_id, row_number FROM {row} WHERE sheet_id = %s AND outcome = 'accept'
ORDER BY id_hash
"""


def _insert_members(locked: RegistrationSheet, *, now) -> tuple[dict[str, int], list[str]]:
    """INSERT … SELECT the accepted rows into Member (in the caller's transaction) and reject the
    rows whose person was registered elsewhere meanwhile. Returns ({id_hash: new member id},
    [id_hash taken])."""
    params = [
        locked.union_id,
        # employment type and dues paid come from the sheet's rows; blank there is unknown
        False,
        Member.Status.ACTIVE,
        timezone.localdate(),
        now,
        now,
        locked.pk,
    ]
    tables = {"member": Member._meta.db_table, "row": SheetRow._meta.db_table}
    # Inserting in id_hash order walks the unique index once instead of at random (measured:
    # 5 s instead of 8–10 s for 99,000 rows into 1,000,000); the sort of the wide rows needs
    # the memory to stay off disk.
    bulk.set_local("work_mem", "256MB")
    with connection.cursor() as cursor:
        cursor.execute(MEMBER_INSERT.format(**tables), params)
        inserted = dict(cursor.fetchall())  # id_hash -> new member id
    taken: list[str] = []
    if len(inserted) < locked.rows_accepted:  # someone was registered elsewhere meanwhile
        accepted = SheetRow.objects.filter(sheet=locked, outcome=ACCEPT).values_list("id_hash", flat=True)
        taken = [h for h in accepted if h not in inserted]
    for start in range(0, len(taken), CHUNK):
        SheetRow.objects.filter(sheet=locked, id_hash__in=taken[start : start + CHUNK]).update(
            outcome=REJECT,
            reason="duplicate_existing",
            field="id_number",
            message="此人在审核期间已在其他工会登记为会员，一人只能登记一次",
        )
    return inserted, taken


def sheet_register(*, sheet_id: int, token: str | None = None) -> RegistrationSheet:
    """Register the accepted rows of an approved sheet as members (the body of
    `sheet_register_task`). One transaction: a killed worker leaves nothing; a re-run registers
    the same people once (rows already linked to a member are not inserted again). Only the
    registration run that owns the sheet (`token`) works on it."""
    sheet = RegistrationSheet.objects.select_related("union", "reviewed_by").get(pk=sheet_id)
    if not job_start(sheet, phase="register", token=token, total=sheet.rows_accepted):
        return sheet
    if sheet.status != S.APPROVED:  # an earlier run of this registration committed it
        job_finish(sheet, message=f"已登记会员 {sheet.rows_registered} 人")
        return sheet
    actor = sheet.reviewed_by
    now = timezone.now()
    with transaction.atomic():
        _claim_lock()  # registrations and submissions one at a time; the lease's heartbeat still
        bulk.lock_row_key_share(RegistrationSheet, sheet.pk)  # renews while this runs (minutes at 2 M)
        locked = RegistrationSheet.objects.get(pk=sheet.pk)
        if locked.status != S.APPROVED or not job_holds(sheet):  # no longer this run's work
            return locked
        job_stage(sheet, f"第1步（共3步）：写入 {locked.rows_accepted} 名会员")
        inserted, taken = _insert_members(locked, now=now)
        SheetClaim.objects.filter(sheet=sheet).delete()
        job_stage(sheet, f"第2步（共3步）：为 {len(inserted)} 名会员申请办卡")
        registry.notify_members_registered(member_ids=sorted(inserted.values()), actor=actor)
        job_stage(sheet, "第3步（共3步）：提交（完成后一次生效）")
        locked.status = S.REGISTERED
        locked.registered_at = now
        locked.rows_registered = len(inserted)
        locked.save(update_fields=["status", "registered_at", "rows_registered"])
        if taken:
            _recount(locked)
        audit_record(
            actor=actor,
            verb="sheet.registered",
            target=locked,
            data={"members": len(inserted), "taken": len(taken)},
        )
    job_finish(
        sheet, message=f"已登记会员 {len(inserted)} 人" + (f"，{len(taken)} 人已在别处登记" if taken else "")
    )
    sheet.refresh_from_db()
    return sheet
