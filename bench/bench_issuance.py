"""Card issuance at city scale: the bank hand-off file and the return-file import.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_issuance_bench \\
        /work/main/.venv/bin/python bench/bench_issuance.py [--cards 100000]

Needs a database whose registry already holds the members (e.g. created from the member bench's
database: `CREATE DATABASE cp_issuance_bench TEMPLATE cp_bench`, 1.5 million members with real
encrypted ID numbers and phones). Each phase runs in a forked child so its peak memory
(ru_maxrss growth over the child's start) is its own. Prints one line per phase. Celery runs
eagerly (no REDIS_URL), so a service that enqueues its job after commit includes the job's time.
"""

import argparse
import os
import resource
import sys
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.pop("REDIS_URL", None)

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402

SMOKE_CARDS = 500


def _setup(*, smoke: bool):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database holding the members (see the docstring).")
    if smoke:  # a fresh database: make it, migrate it, and give it a small registry
        from bench.bench_members import load_members
        from bench.common import setup_django

        setup_django()
        load_members(SMOKE_CARDS * 2)
        from django.contrib.auth import get_user_model

        get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
        )
        return
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(name: str, fn, *args):
    """Run fn in a forked child; print wall time and the child's peak memory growth."""
    from django.db import connections

    connections.close_all()
    ctx = get_context("fork")
    queue = ctx.Queue()

    def child():
        base = _rss_mb()
        start = time.perf_counter()
        result = fn(*args)
        queue.put((time.perf_counter() - start, _rss_mb() - base, result))

    proc = ctx.Process(target=child)
    proc.start()
    seconds, peak, result = queue.get()
    proc.join()
    print(f"{name:<58} {seconds:7.2f} s   peak +{peak:6.0f} MB   {result}", flush=True)
    return result


def apply_cards(n: int) -> str:
    from issuance.lifecycle import cards_apply
    from issuance.models import Card
    from members.models import Member

    have = Card.objects.filter(status=Card.Status.APPLIED).count()
    if have >= n:
        return f"{have:,} applied cards already there"
    members = list(
        Member.objects.filter(cards__isnull=True)
        .only("id", "union_id", "is_hardship")
        .order_by("id")[: n - have]
    )
    return f"{len(cards_apply(members=members)):,} cards applied"


def build_batch(n: int) -> int:
    from django.contrib.auth import get_user_model

    from issuance.models import IssuingPartner
    from issuance.services.batches import batch_create
    from members.models import Union

    partner, _ = IssuingPartner.objects.get_or_create(code="bench-bank", defaults={"name": "压测银行"})
    partner.handoff_layout = {}
    partner.save()
    admin = get_user_model().objects.filter(is_superuser=True).first()
    batch = batch_create(partner=partner, union=Union.objects.get(code="130900"), actor=admin, limit=n)
    batch.refresh_from_db()
    assert batch.job_status == "done", batch.job_message
    return batch.pk


def regenerate(batch_id: int, fmt: str) -> str:
    """Write the batch's hand-off file again (xlsx or csv) and report its size."""
    from issuance.models import BankBatch
    from issuance.services.handoff import batch_generate_handoff

    batch = BankBatch.objects.select_related("partner").get(pk=batch_id)
    batch.partner.handoff_layout = {"format": fmt}
    batch.partner.save()
    BankBatch.objects.filter(pk=batch_id).update(job_status="queued")
    batch_generate_handoff(batch_id=batch_id)
    batch.refresh_from_db()
    return f"{batch.handoff_rows:,} rows, {batch.handoff_file.size / 1e6:.1f} MB {fmt}"


def make_return_file(batch_id: int) -> str:
    """The bank's return file for the batch, built from the hand-off file itself: 99% issued with
    unique Luhn-valid numbers, 1% refused. Written to /tmp for the import phase."""
    import xlsxwriter

    from issuance.cardnumbers import luhn_complete
    from issuance.files import read_table
    from issuance.models import BankBatch

    batch = BankBatch.objects.get(pk=batch_id)
    with batch.handoff_file.open("rb") as handle:
        rows = read_table(handle.read(), batch.handoff_name)
    header = [str(h) for h in rows[0]]
    id_col = header.index("证件号码")
    path = f"/tmp/bench-return-{batch_id}.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    sheet = book.add_worksheet("回盘")
    sheet.write_row(0, 0, ["证件号码", "卡号", "状态", "失败原因"])
    for i, row in enumerate(rows[1:], start=1):
        if i % 100 == 0:
            sheet.write_row(i, 0, [row[id_col], "", "失败", "证件已过期"])
        else:
            sheet.write_row(i, 0, [row[id_col], luhn_complete(f"621226{batch_id:03d}{i:09d}"), "成功", ""])
    book.close()
    return f"{len(rows) - 1:,} rows, {os.path.getsize(path) / 1e6:.1f} MB"


def import_return(batch_id: int) -> str:
    from django.contrib.auth import get_user_model

    from issuance.models import BankBatch, BankFileImport
    from issuance.services.bankfiles import import_create

    batch = BankBatch.objects.get(pk=batch_id)
    data = Path(f"/tmp/bench-return-{batch_id}.xlsx").read_bytes()
    admin = get_user_model().objects.filter(is_superuser=True).first()
    imp = import_create(
        kind="return", union=batch.union, batch=batch, file_name="回盘.xlsx", data=data, actor=admin
    )
    imp = BankFileImport.objects.get(pk=imp.pk)
    assert imp.job_status == "done", imp.job_message
    counts = imp.report["counts"]
    return f"issued {counts['issued']:,}, rejected {counts['rejected']:,}, unchanged {counts['unchanged']:,}"


def check_counters() -> str:
    from issuance.lifecycle import recount_union_months, stored_union_months

    return "counters == recount" if stored_union_months() == recount_union_months() else "COUNTERS DIFFER"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--batch", type=int, help="reuse this batch instead of building a new one")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    smoke = smoke_requested(args)
    if smoke:
        args.cards = SMOKE_CARDS
    _setup(smoke=smoke)
    from members.models import Member

    print(f"members in the registry: {Member.objects.count():,}")
    if not args.batch:
        phase(f"apply for {args.cards:,} cards (cards_apply)", apply_cards, args.cards)
    batch_id = args.batch or phase(
        f"batch of {args.cards:,} (applied→in_batch + hand-off .xlsx)", build_batch, args.cards
    )
    phase("hand-off file again, .xlsx (xlsxwriter constant_memory)", regenerate, batch_id, "xlsx")
    phase("hand-off file again, .csv", regenerate, batch_id, "csv")
    phase("return file written (test input, not timed work)", make_return_file, batch_id)
    phase("return file imported and reconciled", import_return, batch_id)
    phase("same return file imported again (no change)", import_return, batch_id)
    phase("UnionMonthCount vs recount", check_counters)


if __name__ == "__main__":
    main()
