"""Import of one day of the bank's transaction feed into a table already holding a month (issue 18).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_feed_bench \\
        .venv/bin/python bench/bench_usage_import.py --members 1500000 --month-rows 15000000 --day-rows 500000

Loads once (kept for the next run): the Cangzhou tree with N members and their cards
(`bench_scale.load`, by COPY), 2,000 union merchants with a MID each, and a month (November 2026)
of `--month-rows` transactions from `bench/txngen.py` but for its last day, COPYed straight into
the partitioned table with its roll-ups: the month as it stands the morning the bank's file for
30 November arrives. Then writes that day, `--day-rows` of the generator's transactions (its
references follow the month's, as a bank's do), as the bank's CSV feed and imports it the way the
worker does (`merchants.usage.importer.run_import`:
kernel stream, checks, COPY staging, INSERT, reconciliation, then the roll-ups in parallel), then imports
the same file again (every row a duplicate). Prints seconds, rows/s, the phases, and peak memory
(this process's growth and the parsing child's peak). Target: the day in ≤ 15 s.
"""

import argparse
import resource
import sys
import tempfile
import time
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
        count = txngen.generate_month(pop, MONTH, rows=month_rows, before=DAY)
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
    # The roll-ups: their parts run in parallel threads (`roll_up`), so the phase is its wall
    # time. An older tree (in an A/B) ran them one after another in the import's transaction:
    # UsageDay (rebuild_days; _count_days where it exists), CardUsage, MerchantMonth.
    if hasattr(rollups, "roll_up"):
        names = ("roll_up", "catch_up")
    else:
        names = ("rebuild_days", "_count_days", "_add_card_usage", "_add_merchant_months")
    wrapped += [wrap(rollups, n) for n in names if hasattr(rollups, n)]
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


# Copies of the roll-ups as the loaded month left them (before any day was imported): each run
# puts back what the previous run's day changed, so every run imports into the same state.
SNAPSHOTS = {
    "usage_cardusage": "bench_snap_cardusage",
    "usage_merchantcardmonth": "bench_snap_merchantcardmonth",
    "usage_merchantmonth": "bench_snap_merchantmonth",
    "usage_usageday": "bench_snap_usageday",
}


def bench_imports(cursor) -> str:
    """The benchmark's imports as a literal list: `txn_import_id IN (SELECT …)` was planned as a
    scan of the whole month (minutes under load) instead of probes of the import index."""
    cursor.execute("SELECT id FROM usage_txnimport WHERE sha256 = 'bench'")
    return ", ".join(str(pk) for (pk,) in cursor.fetchall()) or "NULL"


def reset() -> None:
    """The database as the loaded month left it: the benchmark's imports and their rows deleted,
    the roll-ups they changed restored from the snapshots (taken on the first reset, after
    rebuilding the month's roll-ups from the table), then VACUUM ANALYZE and CHECKPOINT, so the
    next import starts from the same state as every other run (what the earlier A/B loops did by
    hand, plus the roll-ups)."""
    from django.db import connection, transaction

    from merchants.usage import partitions, rollups

    with connection.cursor() as cursor:
        if not _table_exists(cursor, SNAPSHOTS["usage_usageday"]):
            cursor.execute(
                f"SELECT 1 FROM usage_cardtransaction WHERE txn_import_id IN ({bench_imports(cursor)}) LIMIT 1"
            )
            if cursor.fetchone():  # a day imported before the snapshots existed: the month recounted
                _delete_bench_rows(cursor)
                rollups.rebuild_month(MONTH)
            _delete_bench_rows(cursor)
            for table, snap in SNAPSHOTS.items():
                cursor.execute(f"DROP TABLE IF EXISTS {snap}")
                cursor.execute(f"CREATE TABLE {snap} AS SELECT * FROM {table}")
        else:
            with transaction.atomic():  # a run stopped halfway leaves the roll-ups as they were
                _restore_rollups(cursor)
                _delete_bench_rows(cursor)
        for table in [partitions.partition_name(MONTH), *SNAPSHOTS]:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")


def _delete_bench_rows(cursor) -> None:
    ids = bench_imports(cursor)
    cursor.execute(f"DELETE FROM usage_cardtransaction WHERE txn_import_id IN ({ids})")
    if _table_exists(cursor, "usage_importrollup"):  # an older tree in an A/B has no such table
        cursor.execute(f"DELETE FROM usage_importrollup WHERE txn_import_id IN ({ids})")
    cursor.execute(f"DELETE FROM usage_txnimport WHERE id IN ({ids})")


def _table_exists(cursor, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s)", [table])
    return cursor.fetchone()[0] is not None


def _columns(cursor, table: str) -> str:
    cursor.execute(
        "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_name = %s",
        [table],
    )
    return cursor.fetchone()[0]


def _restore_rollups(cursor) -> None:
    """Only what the benchmark's days touched: their cards' CardUsage, their (merchant, card)
    pairs' MerchantCardMonth, the month's MerchantMonth and the days' UsageDay."""
    cursor.execute("DROP TABLE IF EXISTS bench_touched")
    cursor.execute(
        "CREATE TEMPORARY TABLE bench_touched AS SELECT DISTINCT card_id, merchant_id, "
        f"{rollups_day()} AS day FROM usage_cardtransaction WHERE txn_import_id IN ({bench_imports(cursor)})"
    )
    month = MONTH.isoformat()
    keyed = {
        "usage_cardusage": ("card_id IN (SELECT card_id FROM bench_touched)", []),
        "usage_merchantcardmonth": (
            "month = %s AND (merchant_id, card_id) IN (SELECT merchant_id, card_id FROM bench_touched)",
            [month],
        ),
        "usage_merchantmonth": ("month = %s", [month]),
        "usage_usageday": ("day IN (SELECT day FROM bench_touched)", []),
    }
    for table, (where, params) in keyed.items():
        columns = _columns(cursor, table)
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {SNAPSHOTS[table]} WHERE {where}", params
        )


def scatter_references(path: Path, partner_code: str, month_rows: int) -> None:
    """Rewrite the day file's references (and its refunds' original references alike) so each
    sorts right after a month reference picked by its hash: the generator's own references are
    sequential, so a day's would otherwise sort together, an easy case for an index led by the
    reference."""
    import csv
    import hashlib

    from bench import txngen

    days = [(d, int(month_rows * share)) for d, share in txngen.day_weights(MONTH) if d < DAY]
    prefix = partner_code.upper()[:8]

    def scattered(reference: str) -> str:
        if not reference:
            return reference
        h = int.from_bytes(hashlib.blake2b(reference.encode(), digest_size=8).digest(), "big")
        day, count = days[h % len(days)]
        return f"{prefix}{day:%Y%m%d}{(h >> 8) % count:09d}-{reference[-9:]}"

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(rows[0])
        for row in rows[1:]:
            row[0], row[9] = scattered(row[0]), scattered(row[9])
            out.writerow(row)


def rollups_day() -> str:
    from merchants.usage.rollups import local_day

    return local_day("txn_at")


def print_digests() -> None:
    """md5 of the day's stored rows and of every roll-up (ids left out): equal before and after a
    change that must not move the results."""
    from django.db import connection

    queries = {
        "the day's rows": "SELECT md5(string_agg(concat_ws('|', txn_at, partner_id, reference, card_id, union_id, "
        "merchant_id, mid, category_id, mcc, channel, amount, kind, original_reference), ',' "
        "ORDER BY partner_id, reference, txn_at)) FROM usage_cardtransaction "
        "WHERE txn_import_id IN ({ids})",
        "import counts": "SELECT md5(string_agg(concat_ws('|', rows, inserted, duplicates, unknown_card, "
        "card_not_live, unknown_mid, rejected, report::text), ',')) FROM usage_txnimport WHERE id IN ({ids})",
        "CardUsage": "SELECT md5(string_agg(concat_ws('|', card_id, union_id, first_used_on, last_used_on, "
        "txn_count, amount), ',' ORDER BY card_id)) FROM usage_cardusage",
        "UsageDay": "SELECT md5(string_agg(concat_ws('|', day, union_id, category_id, at_union_merchant, channel, "
        "txn_count, amount, cards), ',' ORDER BY day, union_id, category_id, at_union_merchant, channel)) "
        "FROM usage_usageday",
        "MerchantMonth": "SELECT md5(string_agg(concat_ws('|', merchant_id, month, txn_count, amount, cards, "
        "repeat_cards), ',' ORDER BY merchant_id, month)) FROM usage_merchantmonth",
        "MerchantCardMonth": "SELECT md5(string_agg(concat_ws('|', merchant_id, month, card_id, purchases), ',' "
        "ORDER BY merchant_id, month, card_id)) FROM usage_merchantcardmonth",
    }
    with connection.cursor() as cursor:
        ids = bench_imports(cursor)
        for name, sql in queries.items():
            cursor.execute(sql.replace("{ids}", ids))
            print(f"  digest {name}: {cursor.fetchone()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--month-rows", type=int, default=15_000_000)
    parser.add_argument("--day-rows", type=int, default=500_000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    parser.add_argument(
        "--reset-only", action="store_true", help="put the database back to the loaded month, import nothing"
    )
    parser.add_argument(
        "--scattered-references",
        action="store_true",
        help="the day's references fall between the month's all over the reference index (as random "
        "references would), instead of sorting together after a prefix of their own",
    )
    parser.add_argument(
        "--digest",
        action="store_true",
        help="print digests of the day's rows and the roll-ups after its import",
    )
    args = parser.parse_args()
    if smoke_requested(args):
        args.members, args.month_rows, args.day_rows = 2_000, 20_000, 3_000
    setup_django()
    from django.db import connection

    from bench import txngen

    pop, feed = population(args.members, args.month_rows)
    start = time.perf_counter()
    reset()
    print(f"  reset to the loaded month in {time.perf_counter() - start:.0f} s")
    if args.reset_only:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_cardtransaction")
        held = cursor.fetchone()[0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"icbc_{DAY:%Y%m%d}.csv"
        start = time.perf_counter()
        # the day the loaded month lacks, as the generator would have made it
        written = txngen.write_day_file(path, pop, DAY, rows=args.day_rows)
        if args.scattered_references:
            scatter_references(path, pop.partner_code, args.month_rows)
        print(f"\nday file: {written:,} rows, {path.stat().st_size / 1048576:.0f} MB, "
              f"written in {time.perf_counter() - start:.0f} s; table holds {held:,} transactions")  # fmt: skip
        timed_import(feed, path, "import of the day")
        if args.digest:
            print_digests()
        timed_import(feed, path, "the same file again")


if __name__ == "__main__":
    main()
