"""Import of one day of the bank's transaction feed into a table already holding a month (issue 18).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_feed_bench \\
        .venv/bin/python bench/bench_usage_import.py --members 1500000 --month-rows 15000000 --day-rows 500000

Loads once (kept for the next run): the Cangzhou tree with N members and their cards
(`bench_scale.load`, by COPY), 2,000 union merchants with a MID each, and a month (November 2026)
of `--month-rows` transactions from `bench/txngen.py`, COPYed straight into the partitioned table
with its roll-ups. Then writes one more day of `--day-rows` (30 November, new references) as the
bank's CSV feed and imports it the way the worker does (`merchants.usage.importer.run_import`:
kernel stream, checks, COPY staging, INSERT … ON CONFLICT, reconciliation, roll-ups), then imports
the same file again (every row a duplicate). Prints seconds, rows/s, the phases, and peak memory
(this process's growth and the parsing child's peak). Target: the day in ≤ 15 s.
"""

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import SMOKE_HELP, setup_django, smoke_requested  # noqa: E402

MONTH = date(2026, 11, 1)
DAY = date(2026, 11, 30)
MERCHANTS = 2000


def population(members: int, month_rows: int):
    from bench import txngen
    from bench.bench_scale import load
    from issuance.models import IssuingPartner
    from members.models import Union
    from merchants.models import Merchant, MerchantCategory
    from merchants.usage.models import MerchantMID, PartnerFeed, TxnImport

    start = time.perf_counter()
    load(members)
    partner, _ = IssuingPartner.objects.get_or_create(code="icbc", defaults={"name": "工商银行沧州分行"})
    feed, _ = PartnerFeed.objects.get_or_create(
        partner=partner, code="daily", defaults={"name": "日交易明细"}
    )
    if not MerchantMID.objects.filter(partner=partner).exists():
        counties = list(Union.objects.filter(level__in=["county", "industry"]).order_by("code"))
        category = MerchantCategory.objects.order_by("id").first()
        merchants = Merchant.objects.bulk_create(
            Merchant(
                name=f"商户{i}",
                category=category,
                union=counties[i % len(counties)],
                address="路1号",
                contract_start=date(2016, 1, 1),
            )  # fmt: skip
            for i in range(MERCHANTS)
        )
        MerchantMID.objects.bulk_create(
            MerchantMID(merchant=m, partner=partner, mid=f"1043{m.pk:011d}") for m in merchants
        )
    pop = txngen.load_population(partner)
    if not TxnImport.objects.filter(kind="generated", file_name=f"txngen {MONTH:%Y-%m}").exists():
        count = txngen.generate_month(pop, MONTH, rows=month_rows)
        print(f"  month loaded: {count:,} transactions")
    print(f"  population ready in {time.perf_counter() - start:.0f} s: {len(pop.card_ids):,} live cards")
    return pop, feed


def timed_import(feed, path: Path, label: str) -> None:
    from django.core.files import File

    from cardportal import tables
    from cardportal.jobs import job_queue
    from merchants.usage import importer, partitions, rollups
    from merchants.usage.models import TxnImport

    phases: dict[str, float] = {}

    def wrap(module, name):
        original = getattr(module, name)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0) + time.perf_counter() - t

        setattr(module, name, timed)
        return module, name, original

    wrapped = [
        wrap(importer, "_stage_file"),
        wrap(importer, "_insert_and_reconcile"),
        wrap(importer, "_analyze"),
        wrap(partitions, "ensure_months"),
    ]
    wrapped += [wrap(rollups, n) for n in ("rebuild_days", "_add_card_usage", "_add_merchant_months")]
    # The parsing child's own peak (its VmHWM, which it reports at the end of the stream). Not
    # RUSAGE_CHILDREN's ru_maxrss: Linux records there the size of the address space a child
    # replaced at exec, i.e. this process's own at the fork (365-395 MB with a 1.5 M population).
    streams = []
    stream_table = tables.stream_table

    def recorded(*args, **kwargs):
        streams.append(stream_table(*args, **kwargs))
        return streams[-1]

    tables.stream_table = recorded
    imp = TxnImport(partner=feed.partner, kind=feed.code, file_name=path.name, sha256="bench")
    with open(path, "rb") as handle:
        imp.file.save(path.name, File(handle), save=False)
    imp.save()
    job_queue(imp, phase="import")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    importer.run_import(import_id=imp.pk)
    seconds = time.perf_counter() - start
    for module, name, original in wrapped:
        setattr(module, name, original)
    tables.stream_table = stream_table
    imp.refresh_from_db()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) // 1024
    child = max((stream.child_peak_mb for stream in streams), default=0)
    print(
        f"\n{label}: {imp.rows:,} rows in {seconds:.1f} s = {imp.rows / seconds:,.0f} rows/s  [{imp.job_status}]"
    )
    print(f"  {imp.job_message}")
    print("  phases: " + ", ".join(f"{k.strip('_')} {v:.1f} s" for k, v in phases.items()))
    print(f"  peak memory: this process +{grown} MB (peak RSS growth), parsing child {child} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--month-rows", type=int, default=15_000_000)
    parser.add_argument("--day-rows", type=int, default=500_000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members, args.month_rows, args.day_rows = 2_000, 20_000, 3_000
    setup_django()
    from django.db import connection

    from bench import txngen

    pop, feed = population(args.members, args.month_rows)
    with connection.cursor() as cursor:  # an earlier run's day goes, so this run imports it anew
        cursor.execute(
            "DELETE FROM usage_cardtransaction WHERE txn_import_id IN (SELECT id FROM usage_txnimport WHERE sha256 = 'bench')"
        )
        cursor.execute("DELETE FROM usage_txnimport WHERE sha256 = 'bench'")
        cursor.execute("SELECT count(*) FROM usage_cardtransaction")
        held = cursor.fetchone()[0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"icbc_{DAY:%Y%m%d}.csv"
        start = time.perf_counter()
        # new references for a day of the loaded month (the month's own rows of that day stay)
        written = txngen.write_day_file(
            path, replace(pop, partner_code="DAY"), DAY, rows=args.day_rows, seed=30
        )
        print(f"\nday file: {written:,} rows, {path.stat().st_size / 1048576:.0f} MB, "
              f"written in {time.perf_counter() - start:.0f} s; table holds {held:,} transactions")  # fmt: skip
        timed_import(feed, path, "import of the day")
        timed_import(feed, path, "the same file again")


if __name__ == "__main__":
    main()
