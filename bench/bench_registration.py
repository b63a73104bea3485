"""Registration-sheet benchmark: a sheet (.xlsx up to 1,048,576 rows, or CSV for a migration of
2,000,000) against a registry of 1,000,000 members, each contender side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench DEBUG=1 \\
        python bench/bench_registration.py [--rows 100000] [--format xlsx|csv] [--registry 1000000] \\
        [--skip-import-export]

What each side does (each phase in a fresh process, so its peak memory is its own):
* ours: `sheet_upload` (hash and keep the file) + `sheet_import`: the kernel's checks, the parse
  in the memory-capped child streaming chunks, the row rules, duplicates inside the sheet (keyed
  hashes in a temporary table) and against the registry and pending sheets, keyed hashes and
  AES-GCM of ID number and phone, staging by COPY in one transaction; then submit, approve and
  register (members by INSERT … SELECT … ON CONFLICT, claims, the card applications, audit).
  Prints the phases, this process's peak memory (VmHWM) and the reading child's.
* the staging floor: python-calamine (csv for CSV) reads the sheet whole and COPY writes the raw
  cells as text; no rules, no dedup, no hashing or encryption. Run before and after ours.
* the registration floor: ours' staged accepted rows into a plain 1,000,000-row copy of the
  registry (same columns and indexes) by one INSERT … SELECT … ON CONFLICT (id_hash) DO NOTHING.
  Run before and after ours' submit + approve + register; each of the three starts right after a
  CHECKPOINT (when the role may run one), so none gains or loses by where the server's own fall.
* the peer (.xlsx only): django-import-export 4 configured as a competent user would: bulk
  inserts in batches of 5,000, no diff, no per-row instance lookup, the union looked up once
  (not ForeignKeyWidget per row), the same ID and phone checks, keyed hashes and encryption
  per row in before_import_row; no dedup against the registry and no card applications.
Each side is timed in wall seconds and in CPU seconds (its process, the reading child, and its
PostgreSQL backend read from /proc when the server runs on this machine): on a shared machine the
wall ratio measures the others' load too, the CPU ratio does not (it leaves out the overlap of the
two cores). Needs PostgreSQL and `pip install django-import-export` (the `bench` extra). Run `manage.py
migrate` on the database first. The 1,000,000 filler members are created once (COPY) and kept for
later runs; they share one ciphertext (they are never decrypted) but have distinct keyed hashes,
which is what dedup reads.
"""

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files import File  # noqa: E402
from django.db import DatabaseError, connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import MEMBER_COLUMNS, SMOKE_HELP, smoke_requested  # noqa: E402
from bench.sheetgen import HEADER, xlsx_bytes  # noqa: E402
from bench.sheetgen import rows as sheet_rows  # noqa: E402
from cardportal import bulk, crypto  # noqa: E402
from cardportal.registry import registry  # noqa: E402
from members import registration  # noqa: E402
from members.idcard import make_id_number  # noqa: E402
from members.models import Member, RegistrationSheet, SheetRow, Union  # noqa: E402
from members.registration import (  # noqa: E402
    sheet_approve,
    sheet_import,
    sheet_register,
    sheet_submit,
    sheet_upload,
)


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM). Not ru_maxrss: Linux carries that across
    exec, so a phase process reported its parent's peak (the openpyxl run that wrote the sheet)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STAGING_BACKENDS: list[float] = []  # CPU seconds of each staging connection's backend, at its end


def _backend_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _count_staging_backend() -> None:
    """The import stages on a second connection in a thread (`_StreamedStage`), whose backend
    ends with it: its CPU (all of it: the backend was started for that connection) is read just
    before it closes."""
    original = registration._StreamedStage._close_connection

    def close(stage):
        raw = connection.connection
        if raw is not None:
            info = getattr(raw, "info", None)
            pid = info.backend_pid if info is not None else raw.get_backend_pid()
            spent = _backend_cpu(pid)
            if spent is not None:
                STAGING_BACKENDS.append(spent)
        original(stage)

    registration._StreamedStage._close_connection = close


_count_staging_backend()


class CpuMeter:
    """CPU seconds a side spends: this process, its finished children (the reading child) and its
    PostgreSQL backends (from /proc, when the server runs on this machine and may be read: this
    connection's, and the staging thread's, `STAGING_BACKENDS`). Wall
    time on a shared machine measures the other users' load as much as the work; CPU time does
    not, so the benchmark prints both ratios. `spent()` -> (client, server or None)."""

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = cursor.fetchone()[0]
        self.started = self._read()

    def _read(self) -> tuple[float, float | None]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = _backend_cpu(self.backend)
        if server is not None:
            server += sum(STAGING_BACKENDS)
        return time.process_time() + children.ru_utime + children.ru_stime, server

    def spent(self) -> tuple[float, float | None]:
        client, server = self._read()
        started_client, started_server = self.started
        return client - started_client, None if server is None else server - started_server

    def total(self) -> float:
        client, server = self.spent()
        return client + (server or 0.0)


def cpu_text(meter: CpuMeter) -> str:
    client, server = meter.spent()
    if server is None:
        return f"CPU {client:.2f} s (this process and its children; the server's not readable)"
    return (
        f"CPU {client + server:.2f} s (this process and its children {client:.2f}, PostgreSQL {server:.2f})"
    )


def ratio(mine: float, other: float) -> str:
    return f"{mine / other:.1f}x" if other > 0 else "n/a (too small to measure)"


def unions(target_code: str = "BENCH-UNIT") -> tuple[Union, Union]:
    root, _ = Union.objects.get_or_create(
        code="BENCH", defaults={"name": "基准测试市总工会", "level": "city"}
    )
    filler, _ = Union.objects.get_or_create(
        code="BENCH-FILL", defaults={"name": "基准测试存量会员工会", "level": "grassroots", "parent": root}
    )
    target, _ = Union.objects.get_or_create(
        code=target_code,
        defaults={"name": f"基准测试基层工会 {target_code}", "level": "grassroots", "parent": root},
    )
    return filler, target


def reviewer():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-reviewer", defaults={"is_superuser": True, "is_staff": True}
    )
    return user


def migrator():
    """The uploader: a system administrator (a registry migration's limits; not the reviewer)."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-migrator", defaults={"is_superuser": True, "is_staff": True}
    )
    return user


def ensure_registry(filler: Union, total: int) -> None:
    have = Member.objects.count()
    if have >= total:
        print(f"registry: {have:,} members already")
        return
    print(f"registry: creating {total - have:,} filler members with COPY …", flush=True)
    started = time.perf_counter()
    token_id, token_phone = crypto.encrypt("110101198001010000"), crypto.encrypt("13900000000")
    now = timezone.now()
    columns = MEMBER_COLUMNS
    chunk = 200_000
    for start in range(have, total, chunk):
        rows = []
        for n in range(start, min(start + chunk, total)):
            # Region 110101 (Beijing) keeps fillers apart from the sheet's 130902 people.
            birth = date(1950, 1, 1) + timedelta(days=n // 500 % 18_000)
            number = make_id_number("110101", birth, n % 500 * 2 + 1, male=True)
            rows.append(
                (
                    crypto.keyed_hash(number),
                    token_id,
                    "110101",
                    number[-4:],
                    "存量会员",
                    "M",
                    birth,
                    crypto.keyed_hash(str(n)),
                    token_phone,
                    "139",
                    "0000",
                    "存量单位",
                    filler.pk,
                    "established",
                    False,
                    False,
                    True,
                    "active",
                    birth,
                    now,
                    now,
                )
            )
        with transaction.atomic():
            bulk.copy_rows("members_member", columns, rows)
        print(f"  … {min(start + chunk, total):,}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_member")
    print(f"registry ready in {time.perf_counter() - started:.1f} s")


def cleanup(target: Union) -> None:
    # The statistics first: the last cleanup's VACUUM ANALYZE saw the tables empty, and the
    # ORM's DELETE … WHERE id IN (SELECT … JOIN sheet) planned on "1 row" as a nested loop ran
    # for minutes over 100,000 staged rows when autovacuum had not analysed them since.
    with connection.cursor() as cursor:
        for table in ("members_sheetrow", "members_member", "issuance_card", "issuance_cardevent"):
            cursor.execute(f"ANALYZE {table}")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM issuance_cardevent WHERE card_id IN (SELECT id FROM issuance_card WHERE union_id = %s)",
            [target.pk],
        )
        cursor.execute("DELETE FROM issuance_card WHERE union_id = %s", [target.pk])
        Member.objects.filter(union=target).delete()
        SheetRow.objects.filter(sheet__union=target).delete()
        RegistrationSheet.objects.filter(union=target).delete()
    # Start every run from a clean table: the previous run deleted the same keys it will insert,
    # and their dead index entries would make the unique checks visit the heap.
    with connection.cursor() as cursor:
        for table in (
            "members_member",
            "members_sheetrow",
            "members_sheetclaim",
            "issuance_card",
            "issuance_cardevent",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed_hooks() -> list[float]:
    spent: list[float] = []
    original = list(registry.members_registered)

    def wrap(hook):
        def run(*, member_ids, actor):
            started = time.perf_counter()
            hook(member_ids=member_ids, actor=actor)
            spent.append(time.perf_counter() - started)

        return run

    registry.members_registered[:] = [wrap(h) for h in original]
    return spent


FLOOR_MEMBER = "bench_floor_member"


def ensure_floor_registry() -> None:
    """A plain copy of the registry (same columns and indexes) for the ON CONFLICT floor."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {FLOOR_MEMBER} (LIKE members_member INCLUDING ALL)")
        cursor.execute(f"SELECT count(*) FROM {FLOOR_MEMBER}")
        if cursor.fetchone()[0] == 0:
            cursor.execute(f"INSERT INTO {FLOOR_MEMBER} SELECT * FROM members_member")
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {FLOOR_MEMBER}")
        cursor.execute(f"ALTER TABLE {FLOOR_MEMBER} ALTER COLUMN id RESTART WITH {cursor.fetchone()[0]}")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {FLOOR_MEMBER}")


def checkpoint() -> None:
    """CHECKPOINT before a timed part, when this role may (a superuser or pg_checkpoint); else
    the parts run as the server's own checkpoints fall, and that is said once."""
    global _CHECKPOINT_REFUSED
    if _CHECKPOINT_REFUSED:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as exc:
        _CHECKPOINT_REFUSED = True
        print(f"(no CHECKPOINT before the timed parts: {str(exc).strip()})")


_CHECKPOINT_REFUSED = False


def on_conflict_floor(sheet_id: int, union_id: int) -> tuple[float, float]:
    """The floor for registration: the staged accepted rows into a 1,000,000-row copy of the
    registry with one INSERT … SELECT … ON CONFLICT (id_hash) DO NOTHING, committed; no card
    applications, no claims, no audit. Its rows are removed afterwards (not timed). Returns
    (seconds, CPU seconds)."""
    columns = (
        "id_hash, id_encrypted, id_region, id_last4, name, gender, birth_date, phone_hash, "
        "phone_encrypted, phone_prefix, phone_last4, work_unit"
    )
    checkpoint()
    started, meter = time.perf_counter(), CpuMeter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_MEMBER} ({columns}, union_id, employment_type, is_hardship, is_model_worker, "
            "dues_paid, status, joined_on, created_at, updated_at) "
            f"SELECT {columns}, %s, 'established', is_hardship, false, true, 'active', now()::date, now(), now() "
            "FROM members_sheetrow WHERE sheet_id = %s AND outcome = 'accept' ON CONFLICT (id_hash) DO NOTHING",
            [union_id, sheet_id],
        )
    spent, cpu = time.perf_counter() - started, meter.total()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FLOOR_MEMBER} WHERE union_id = %s", [union_id])
    # Vacuumed as `cleanup` vacuums the registry: without it each run's dead rows and index
    # entries stayed, and on a reused database the floor slowed run by run (2.6 s to 6.1 s over
    # nine runs), which flattered the registration's ratio.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {FLOOR_MEMBER}")
    return spent, cpu


def floor(path: Path) -> tuple[float, float]:
    """The staging floor: python-calamine (or the csv module) reads the sheet and COPY writes its
    cells as text into a table of seven text columns, one transaction, no validation, no dedup,
    no hashing or encryption. Everything in memory at once, as a few lines would do it."""
    started, meter = time.perf_counter(), CpuMeter()
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as handle:
            grid = list(csv.reader(handle))[1:]
    else:
        from python_calamine import CalamineWorkbook

        grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[2:]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_floor_rows (a text, b text, c text, d text, e text, f text, g text)"
        )
        bulk.copy_rows(
            "bench_floor_rows", list("abcdefg"), ([str(v) for v in row[:6]] + [""] for row in grid)
        )
        cursor.execute("DROP TABLE bench_floor_rows")
    return time.perf_counter() - started, meter.total()


def ours(path: Path, target: Union, rows: int, *, stage_only: bool = False) -> dict:
    """Stage (and unless `stage_only`, submit, approve and register) the sheet; the seconds and
    CPU seconds of each part and of the ON CONFLICT floor."""
    # DEBUG=1 (how the benchmarks run) makes Django keep the last 9,000 queries with their
    # parameters: the import's array parameters (20,000 keyed hashes a chunk) would put ~100 MB
    # into that log at 1,000,000 rows, which a production process (DEBUG off) never holds.
    settings.DEBUG = False
    rss_before = rss_mb()  # Django and the benchmark's own imports
    started, meter = time.perf_counter(), CpuMeter()
    with open(path, "rb") as handle:
        sheet, _ = sheet_upload(
            union=target, filename=path.name, content=File(handle), actor=migrator(), enqueue=False
        )
    timings: dict[str, float] = {}
    sheet = sheet_import(sheet_id=sheet.pk, timings=timings)
    stage_s, stage_cpu = time.perf_counter() - started, meter.total()
    print(
        f"ours, read+validate+dedup+stage: {stage_s:.2f} s  ({rows / stage_s:,.0f} rows/s), {cpu_text(meter)}  "
        f"accepted {sheet.rows_accepted:,} rejected {sheet.rows_rejected:,} skipped {sheet.rows_skipped:,}"
    )
    print("  phases (summed over the chunks): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    print(
        f"peak memory (VmHWM): this process {rss_mb():.0f} MB (before the import: {rss_before:.0f} MB); "
        f"the reading child {timings.get('child peak MB', 0):.0f} MB"
    )
    figures = {"stage": stage_s, "stage_cpu": stage_cpu}
    if stage_only:
        return figures
    # Side by side: the floor before and after ours, the mean of the two; each part starts right
    # after a CHECKPOINT (untimed), so each pays the full-page writes of the pages it touches first.
    # Without it a checkpoint fell into one part or the other by chance (the server's 1 GB of WAL
    # fills every ~20-30 s during the benchmark), and the floor alone varied 1.5-2.6 s run to run.
    floors = [on_conflict_floor(sheet.pk, target.pk)]

    hook_times = timed_hooks()
    checkpoint()
    started, meter = time.perf_counter(), CpuMeter()
    sheet_submit(sheet=sheet, actor=None)
    # Approved by a reviewer, as in the portal: the cards' `applied` events then name them.
    sheet_approve(sheet=sheet, actor=reviewer(), enqueue=False)
    submit_s = time.perf_counter() - started
    sheet = sheet_register(sheet_id=sheet.pk)
    register_s = time.perf_counter() - started - submit_s
    register_cpu = meter.total()
    hooks = sum(hook_times)
    floors.append(on_conflict_floor(sheet.pk, target.pk))
    floor_register_s = sum(seconds for seconds, _cpu in floors) / 2
    floor_register_cpu = sum(cpu for _seconds, cpu in floors) / 2
    print(f"submit + approve: {submit_s:.2f} s")
    print(
        f"register: {register_s:.2f} s for {sheet.rows_registered:,} members "
        f"(of which the issuance hook creating the card applications: {hooks:.2f} s; members alone {register_s - hooks:.2f} s)"
    )
    print(f"submit + approve + register: {cpu_text(meter)}")
    print(
        "ON CONFLICT floor (the same rows into a copy of the registry, one INSERT … SELECT), before and after: "
        f"{floors[0][0]:.2f} s and {floors[1][0]:.2f} s (CPU {floors[0][1]:.2f} s and {floors[1][1]:.2f} s); "
        f"ratio register/floor {register_s / floor_register_s:.1f}x, "
        f"(submit+approve+register)/floor {(register_s + submit_s) / floor_register_s:.1f}x"
    )
    assert sheet.rows_registered == sheet.rows_accepted
    figures.update(
        register=register_s + submit_s,
        register_only=register_s,
        register_cpu=register_cpu,
        floor_register=floor_register_s,
        floor_register_cpu=floor_register_cpu,
    )
    return figures


def import_export(content: bytes, target: Union) -> tuple[float, float]:
    import tablib
    from import_export import fields, resources, widgets

    from members.idcard import birth_date_of, check_id_number, gender_of
    from members.phones import is_mobile, normalise_phone

    today = timezone.localdate()

    class KnownUnion(widgets.ForeignKeyWidget):
        """Every row goes to the one union of the upload: looked up once, here, as a competent
        user configures it (the default ForeignKeyWidget runs one SELECT per row)."""

        def clean(self, value, row=None, **kwargs):
            return target

    class MemberResource(resources.ModelResource):
        union = fields.Field(attribute="union", column_name="union", widget=KnownUnion(Union))

        class Meta:
            model = Member
            fields = (
                "id_hash",
                "id_encrypted",
                "id_region",
                "id_last4",
                "name",
                "gender",
                "birth_date",
                "phone_hash",
                "phone_encrypted",
                "phone_prefix",
                "phone_last4",
                "work_unit",
                "union",
                "joined_on",
            )
            use_bulk = True
            batch_size = 5000
            skip_diff = True
            force_init_instance = True  # no per-row SELECT by id
            use_transactions = True

        def before_import_row(self, row, **kwargs):
            check = check_id_number(row.get("身份证号"), today=today)
            phone = normalise_phone(row.get("手机号码"))
            if not check.ok or not is_mobile(phone):
                row["_invalid"] = True  # skipped, as our pipeline rejects it (an error would roll back all)
                return
            number = check.value
            row.update(
                {
                    "id_hash": crypto.keyed_hash(number),
                    "id_encrypted": crypto.encrypt(number),
                    "id_region": number[:6],
                    "id_last4": number[-4:],
                    "name": str(row.get("姓名") or "").strip(),
                    "gender": gender_of(number),
                    "birth_date": birth_date_of(number),
                    "phone_hash": crypto.keyed_hash(phone),
                    "phone_encrypted": crypto.encrypt(phone),
                    "phone_prefix": phone[:3],
                    "phone_last4": phone[-4:],
                    "work_unit": str(row.get("所属单位") or "").strip(),
                    "union": target.pk,
                    "joined_on": today,
                }
            )

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return bool(row.get("_invalid"))

    MemberResource.skip_row = skip_row
    started, meter = time.perf_counter(), CpuMeter()
    book = tablib.Databook()
    book.load(io.BytesIO(content), format="xlsx")
    sheet = book.sheets()[0]
    # tablib takes the first row as the header; ours is under a title row.
    dataset = tablib.Dataset(*sheet[1:], headers=list(sheet[0]))
    result = MemberResource().import_data(dataset, raise_errors=False, collect_failed_rows=True)
    spent, cpu = time.perf_counter() - started, meter.total()
    created = Member.objects.filter(union=target).count()
    print(
        f"django-import-export (tuned): {spent:.2f} s, {cpu_text(meter)}, {created:,} members created, "
        f"{result.totals.get('skip', 0)} rows skipped, {len(result.invalid_rows) + len(result.row_errors())} errors"
    )
    return spent, cpu


def phase(name: str, path: Path, rows: int, *extra: str) -> dict:
    """Run one phase in a fresh process, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path), "--rows", str(rows), *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = out.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--skip-import-export", action="store_true")
    parser.add_argument(
        "--stage-only", action="store_true", help="staging and its floor only (memory at 1-2 M rows)"
    )
    parser.add_argument("--phase", choices=["ours", "floor", "import_export"])
    parser.add_argument("--file")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args) and not args.phase:
        args.rows, args.registry = 300, 1_000
    if connection.vendor != "postgresql":
        sys.exit("the benchmark runs on PostgreSQL: set DATABASE_URL")
    filler, target = unions("BENCH-STAGE" if args.stage_only else "BENCH-UNIT")
    if args.phase:
        path = Path(args.file)
        if args.phase == "ours":
            print(json.dumps(ours(path, target, args.rows, stage_only=args.stage_only)))
        elif args.phase == "floor":
            seconds, cpu = floor(path)
            print(json.dumps({"seconds": seconds, "cpu": cpu}))
        else:
            seconds, cpu = import_export(path.read_bytes(), target)
            print(json.dumps({"seconds": seconds, "cpu": cpu}))
        return
    cleanup(target)
    ensure_registry(filler, args.registry)
    if not args.stage_only:
        ensure_floor_registry()
    print(f"generating a {args.rows:,}-row .{args.format} (1 row in 100 with a bad phone) …", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench.{args.format}"
        with open(path, "wb") as handle:
            write_sheet(handle, args.rows, args.format)
        print(
            f"sheet: {path.stat().st_size / 1048576:.1f} MB; registry: {Member.objects.count():,} members\n"
        )
        # Side by side: the floor before and after ours, the mean of the two.
        floors = [phase("floor", path, args.rows)]
        mine = phase("ours", path, args.rows, *(["--stage-only"] if args.stage_only else []))
        floors.append(phase("floor", path, args.rows))
        floor_s = sum(f["seconds"] for f in floors) / 2
        floor_cpu = sum(f["cpu"] for f in floors) / 2
        print(
            f"\nstaging floor (read + COPY, no rules): {floors[0]['seconds']:.2f} s and {floors[1]['seconds']:.2f} s "
            f"(CPU {floors[0]['cpu']:.2f} s and {floors[1]['cpu']:.2f} s)\n"
            f"ratio staging/floor: {mine['stage']:.2f} / {floor_s:.2f} = {mine['stage'] / floor_s:.1f}x; "
            f"in CPU time {mine['stage_cpu']:.2f} / {floor_cpu:.2f} = {ratio(mine['stage_cpu'], floor_cpu)}"
        )
        if not args.stage_only:
            print(
                f"ratio registration/ON CONFLICT floor: register {mine['register_only']:.2f} / "
                f"{mine['floor_register']:.2f} = {mine['register_only'] / mine['floor_register']:.1f}x; "
                f"submit + approve + register {mine['register']:.2f} / {mine['floor_register']:.2f} "
                f"= {mine['register'] / mine['floor_register']:.1f}x, in CPU time "
                f"{mine['register_cpu']:.2f} / {mine['floor_register_cpu']:.2f} "
                f"= {ratio(mine['register_cpu'], mine['floor_register_cpu'])}"
            )
        if not (args.skip_import_export or args.stage_only) and args.format == "xlsx":
            cleanup(target)
            peer = phase("import_export", path, args.rows)
            ours_s = mine["stage"] + mine["register"]
            ours_cpu = mine["stage_cpu"] + mine["register_cpu"]
            print(
                f"ratio peer/ours: django-import-export {peer['seconds']:.1f} s vs ours {ours_s:.1f} s "
                f"(stage + submit/approve + register) = {peer['seconds'] / ours_s:.1f}x; in CPU time "
                f"{peer['cpu']:.1f} / {ours_cpu:.1f} = {ratio(peer['cpu'], ours_cpu)}"
            )
    cleanup(target)


def write_sheet(handle, rows: int, file_format: str) -> None:
    if file_format == "csv":
        writer = csv.writer(io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True))
        writer.writerow(HEADER)
        for start in range(0, rows, 100_000):
            writer.writerows(sheet_rows(min(100_000, rows - start), bad_every=100, offset=start))
        return
    handle.write(xlsx_bytes(rows, bad_every=100))


if __name__ == "__main__":
    main()
