"""Registration-sheet benchmark: a 100,000-row .xlsx against a registry of 1,000,000 members.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench DEBUG=1 \\
        python bench/bench_registration.py [--rows 100000] [--registry 1000000] [--skip-import-export]

Prints: the time to read + validate + dedup + stage (the clerk's wait), rows/s, the process's
peak memory (VmHWM) during it, the time to register (members + the issuance hook's card
applications), then the same sheet through django-import-export (tuned: bulk inserts, no diff, no
per-row lookups) into the same table, and the ratio. Needs PostgreSQL and `pip install
django-import-export` (the `bench` extra). Run `manage.py migrate` on the database first.
The 1,000,000 filler members are created once (COPY) and kept for later runs; they share one
ciphertext (they are never decrypted) but have distinct keyed hashes, which is what dedup reads.
"""

import argparse
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

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402
from bench.sheetgen import xlsx_bytes  # noqa: E402
from cardportal import bulk, crypto  # noqa: E402
from cardportal.registry import registry  # noqa: E402
from members.idcard import make_id_number  # noqa: E402
from members.models import Member, RegistrationSheet, SheetRow, Union  # noqa: E402
from members.registration import (  # noqa: E402
    sheet_approve,
    sheet_import,
    sheet_register,
    sheet_submit,
    sheet_upload,
)
from members.sheets import read_sheet  # noqa: E402
from members.validation import validate_rows  # noqa: E402


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM). Not ru_maxrss: Linux carries that across
    exec, so a phase process reported its parent's peak (the openpyxl run that wrote the sheet)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def unions() -> tuple[Union, Union]:
    root, _ = Union.objects.get_or_create(
        code="BENCH", defaults={"name": "基准测试市总工会", "level": "city"}
    )
    filler, _ = Union.objects.get_or_create(
        code="BENCH-FILL", defaults={"name": "基准测试存量会员工会", "level": "grassroots", "parent": root}
    )
    target, _ = Union.objects.get_or_create(
        code="BENCH-UNIT", defaults={"name": "基准测试基层工会", "level": "grassroots", "parent": root}
    )
    return filler, target


def reviewer():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-reviewer", defaults={"is_superuser": True, "is_staff": True}
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
    columns = [
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
        "union_id",
        "employment_type",
        "is_hardship",
        "is_model_worker",
        "dues_paid",
        "status",
        "joined_on",
        "created_at",
        "updated_at",
    ]
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


def ours(content: bytes, target: Union, rows: int) -> tuple[float, float]:
    started = time.perf_counter()
    data = read_sheet(content)
    read_s = time.perf_counter() - started
    results = validate_rows(data, today=timezone.localdate())
    validate_s = time.perf_counter() - started - read_s
    del data, results
    print(f"  (pure parts alone: calamine read {read_s:.2f} s, row rules {validate_s:.2f} s)")

    rss_before = rss_mb()  # Django, the sheet's bytes, and the pure run above
    started = time.perf_counter()
    sheet, _ = sheet_upload(union=target, filename="bench.xlsx", content=content, actor=None, enqueue=False)
    timings: dict[str, float] = {}
    sheet = sheet_import(sheet_id=sheet.pk, timings=timings)
    stage_s = time.perf_counter() - started
    print(
        f"read+validate+dedup+stage: {stage_s:.2f} s  ({rows / stage_s:,.0f} rows/s)  "
        f"accepted {sheet.rows_accepted:,} rejected {sheet.rows_rejected:,} skipped {sheet.rows_skipped:,}"
    )
    print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    print(f"peak memory (VmHWM): {rss_mb():.0f} MB  (before the import: {rss_before:.0f} MB)")

    hook_times = timed_hooks()
    started = time.perf_counter()
    sheet_submit(sheet=sheet, actor=None)
    # Approved by a reviewer, as in the portal: the cards' `applied` events then name them.
    sheet_approve(sheet=sheet, actor=reviewer(), enqueue=False)
    submit_s = time.perf_counter() - started
    sheet = sheet_register(sheet_id=sheet.pk)
    register_s = time.perf_counter() - started - submit_s
    hooks = sum(hook_times)
    print(f"submit + approve: {submit_s:.2f} s")
    print(
        f"register: {register_s:.2f} s for {sheet.rows_registered:,} members "
        f"(of which the issuance hook creating the card applications: {hooks:.2f} s; members alone {register_s - hooks:.2f} s)"
    )
    assert sheet.rows_registered == sheet.rows_accepted
    return stage_s, register_s + submit_s


def import_export(content: bytes, target: Union) -> float:
    import tablib
    from import_export import resources

    from members.idcard import birth_date_of, check_id_number, gender_of
    from members.phones import is_mobile, normalise_phone

    today = timezone.localdate()

    class MemberResource(resources.ModelResource):
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
    started = time.perf_counter()
    book = tablib.Databook()
    book.load(io.BytesIO(content), format="xlsx")
    sheet = book.sheets()[0]
    # tablib takes the first row as the header; ours is under a title row.
    dataset = tablib.Dataset(*sheet[1:], headers=list(sheet[0]))
    result = MemberResource().import_data(dataset, raise_errors=False, collect_failed_rows=True)
    spent = time.perf_counter() - started
    created = Member.objects.filter(union=target).count()
    print(
        f"django-import-export (tuned): {spent:.2f} s, {created:,} members created, "
        f"{result.totals.get('skip', 0)} rows skipped, {len(result.invalid_rows) + len(result.row_errors())} errors"
    )
    return spent


def phase(name: str, path: Path, rows: int) -> float:
    """Run one phase in a fresh process, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path), "--rows", str(rows)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = out.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return json.loads(lines[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--skip-import-export", action="store_true")
    parser.add_argument("--phase", choices=["ours", "import_export"])
    parser.add_argument("--file")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args) and not args.phase:
        args.rows, args.registry = 300, 1_000
    if connection.vendor != "postgresql":
        sys.exit("the benchmark runs on PostgreSQL: set DATABASE_URL")
    filler, target = unions()
    if args.phase:
        content = Path(args.file).read_bytes()
        if args.phase == "ours":
            stage_s, register_s = ours(content, target, args.rows)
            print(json.dumps({"seconds": stage_s + register_s}))
        else:
            print(json.dumps({"seconds": import_export(content, target)}))
        return
    cleanup(target)
    ensure_registry(filler, args.registry)
    print(f"generating a {args.rows:,}-row .xlsx (1 row in 100 with a bad phone) …", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xlsx"
        path.write_bytes(xlsx_bytes(args.rows, bad_every=100))
        print(
            f"sheet: {path.stat().st_size / 1048576:.1f} MB; registry: {Member.objects.count():,} members\n"
        )
        ours_s = phase("ours", path, args.rows)
        if not args.skip_import_export:
            cleanup(target)
            ie_s = phase("import_export", path, args.rows)
            print(
                f"\nratio: django-import-export {ie_s:.1f} s vs ours {ours_s:.1f} s "
                f"(stage + submit/approve + register) = {ie_s / ours_s:.1f}x"
            )
    cleanup(target)


if __name__ == "__main__":
    main()
