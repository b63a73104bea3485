"""Synthetic card transactions for the usage benchmarks (issue 18): uneven across members,
merchants and days, as a partner's feed file or straight into the table.

    from bench.txngen import load_population, generate_month, write_day_file

    pop = load_population(partner)                 # numbered live cards, union merchants' MIDs
    write_day_file(path, pop, day, rows=500_000)   # one day as the bank's CSV feed (a file to import)
    generate_month(pop, month, rows=15_000_000)    # a month COPYed into usage_cardtransaction

Or from the shell (Django set up against DATABASE_URL, PostgreSQL):

    .venv/bin/python bench/txngen.py --partner <code> --day 2026-11-15 --rows 500000 --out day.csv
    .venv/bin/python bench/txngen.py --partner <code> --month 2026-11 --rows 15000000

The skew, all deterministic for a seed:
* members: card k is picked with a Zipf-like weight (u ** 3 over a fixed permutation of the cards),
  so a few members swipe daily and most a few times a month, spread over every county;
* merchants: 30 % of purchases at union merchants (their MIDs, again skewed: a few busy ones, a
  long tail), the rest at other merchants (MIDs outside the union's list);
* days: weekends +40 %, a payday bump on the 10th and 25th; times of day peak at noon and evening;
* 2 % of purchases are refunded (negative amount, `original_reference` set) a few hours later;
  transit rides are small fixed fares.
References are `<partner code><yyyymmdd><sequence>`: unique per partner, like the bank's.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
CSV_HEADER = [
    "交易参考号",
    "卡号",
    "交易时间",
    "交易金额",
    "商户号",
    "商户名称",
    "MCC",
    "渠道",
    "交易类型",
    "原交易参考号",
]
UNION_SHARE = 0.30
REFUND_SHARE = 0.02
TARGET_TABLE = "usage_cardtransaction"
TABLE_COLUMNS = [
    "txn_at", "partner_id", "reference", "card_id", "union_id", "merchant_id", "mid", "category_id",
    "mcc", "channel", "amount", "kind", "original_reference", "txn_import_id",
]  # fmt: skip


@dataclass
class Population:
    """What the generator draws from: numbered live cards and the union merchants' MIDs of one partner."""

    partner_id: int
    partner_code: str
    card_ids: list[int]
    card_unions: list[int]
    card_numbers: list[str]
    mids: list[tuple[str, int, int, str]]  # (mid, merchant_id, category_id, merchant name)


def load_population(partner, *, limit: int | None = None) -> Population:
    """Numbered live cards (id, union, number) and `partner`'s MIDs from the database."""
    from issuance.models import Card
    from merchants.usage.models import MerchantMID

    cards = Card.objects.numbered_live().order_by("id").values_list("id", "union_id", "number")
    if limit:
        cards = cards[:limit]
    ids, unions, numbers = [], [], []
    for card_id, union_id, number in cards.iterator(chunk_size=50_000):
        ids.append(card_id)
        unions.append(union_id)
        numbers.append(number)
    mids = [
        (m.mid, m.merchant_id, m.merchant.category_id, m.merchant.name)
        for m in MerchantMID.objects.filter(partner=partner).select_related("merchant").order_by("id")
    ]
    return Population(partner.pk, partner.code, ids, unions, numbers, mids)


def day_weights(month: date) -> list[tuple[date, float]]:
    """The days of `month` with their share of the month's transactions."""
    days, day = [], month.replace(day=1)
    while day.month == month.month:
        weight = 1.4 if day.weekday() >= 5 else 1.0
        weight *= 1.25 if day.day in (10, 25) else 1.0
        days.append((day, weight))
        day += timedelta(days=1)
    total = sum(w for _d, w in days)
    return [(d, w / total) for d, w in days]


HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
CHANNELS = (("pos", 0.62), ("online", 0.82), ("transit", 0.97), ("atm", 1.0))  # cumulative shares
# One row: (seq, card index, channel, time "HH:MM:SS", reference, kind, amount in fen, mid,
# merchant name, mcc, original reference).
SEQ, CARD, CHANNEL, TIME, REFERENCE, KIND, AMOUNT, MID, NAME, MCC, ORIGINAL = range(11)


def _seconds(rng: random.Random) -> int:
    """A time of day: a third around noon, a third in the evening, the rest spread 07:00–23:00."""
    pick = rng.random()
    if pick < 0.33:
        return int(min(86_399, max(0, rng.gauss(12.3 * 3600, 3600))))
    if pick < 0.66:
        return int(min(86_399, max(0, rng.gauss(19 * 3600, 5400))))
    return 25_200 + int(rng.random() * 57_600)


def _channel(u: float) -> str:
    for name, bound in CHANNELS:
        if u < bound:
            return name
    return "atm"


def day_rows(pop: Population, day: date, rows: int, *, seed: int = 18):
    """Yield `rows` transactions of `day` as tuples (fields SEQ … ORIGINAL above; the card as an
    index into `pop`). Refunds come a few hours after their purchase, the same day."""
    rng = random.Random(f"{seed}-{day.isoformat()}")
    rand = rng.random
    n = len(pop.card_ids)
    if not n:
        return
    stride = _coprime(n)
    m = len(pop.mids)
    prefix = f"{pop.partner_code.upper()[:8]}{day:%Y%m%d}"
    refunds: list[tuple] = []
    for seq in range(rows):
        reference = f"{prefix}{seq:09d}"
        if refunds and rand() < REFUND_SHARE:
            o = refunds.pop()
            at = min(86_399, o[TIME] + 600 + int(rand() * 7200))
            yield (
                seq,
                o[CARD],
                o[CHANNEL],
                at,
                reference,
                "refund",
                -o[AMOUNT],
                o[MID],
                o[NAME],
                o[MCC],
                o[REFERENCE],
            )
            continue
        card = (int(n * rand() ** 3) * stride) % n
        channel = _channel(rand())
        if channel == "transit":
            mid, name, mcc, amount = "TRANSIT0001", "市公交集团", "4111", 100 * (1 + int(rand() * 3))
        elif m and channel == "pos" and rand() < UNION_SHARE / 0.62:
            mid, _merchant, _category, name = pop.mids[int(m * rand() ** 2.5)]
            mcc, amount = "5411", int(rng.lognormvariate(8.3, 1.0))
        else:
            other = int(20_000 * rand() ** 2)
            mid, name = f"8{other:014d}", f"商户{other}"
            mcc, amount = ("6011" if channel == "atm" else "5411"), int(rng.lognormvariate(8.0, 1.1))
        row = (seq, card, channel, _seconds(rng), reference, "purchase", max(1, amount), mid, name, mcc, "")
        if channel != "transit" and len(refunds) < 1000 and rand() < REFUND_SHARE:
            refunds.append(row)
        yield row


def _coprime(n: int) -> int:
    """A stride coprime to `n`: index k -> (k * stride) % n spreads the heavy users over all cards."""
    from math import gcd

    stride = 7_919
    while n > 1 and gcd(stride, n) != 1:
        stride += 2
    return stride


def _fen(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100}.{amount % 100:02d}"


def write_day_file(path: Path | str, pop: Population, day: date, *, rows: int = 500_000, seed: int = 18,
                   start: int = 0) -> int:  # fmt: skip
    """One day as the bank's CSV feed (UTF-8, header `CSV_HEADER`); rows from `start` on (an
    overlapping second file re-sends some). Returns the rows written."""
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(CSV_HEADER)
        numbers, stamp = pop.card_numbers, f"{day:%Y-%m-%d} "
        for row in day_rows(pop, day, rows, seed=seed):
            if row[SEQ] < start:
                continue
            out.writerow((row[REFERENCE], numbers[row[CARD]], stamp + HMS[row[TIME]], _fen(row[AMOUNT]), row[MID],
                          row[NAME], row[MCC], row[CHANNEL], row[KIND], row[ORIGINAL]))  # fmt: skip
            written += 1
    return written


def month_table_rows(pop: Population, month: date, rows: int, *, txn_import_id: int, seed: int = 18,
                     before: date | None = None):  # fmt: skip
    """Tuples in TABLE_COLUMNS order for every day of `month` before `before` (each day its share
    of `rows`)."""
    by_mid = {mid: (merchant, category) for mid, merchant, category, _name in pop.mids}
    for day, share in day_weights(month):
        if before is not None and day >= before:
            break
        stamp = f"{day:%Y-%m-%d} "
        for row in day_rows(pop, day, int(rows * share), seed=seed):
            merchant, category = by_mid.get(row[MID], (None, None))
            card = row[CARD]
            yield (stamp + HMS[row[TIME]] + "+08", pop.partner_id, row[REFERENCE], pop.card_ids[card],
                   pop.card_unions[card], merchant, row[MID], category, row[MCC], row[CHANNEL], _fen(row[AMOUNT]),
                   row[KIND], row[ORIGINAL], txn_import_id)  # fmt: skip


def generate_month(
    pop: Population,
    month: date,
    *,
    rows: int = 15_000_000,
    seed: int = 18,
    out: Path | None = None,
    before: date | None = None,
) -> int:
    """`out` a directory: one CSV feed file per day there. Otherwise COPY the month straight into
    usage_cardtransaction (its partition created first; a TxnImport row stands for the load), then
    rebuild the month's roll-ups. `before`: only the days before it (the rest of the month is
    still to come, as the feed's daily files). Returns the rows generated."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        return sum(
            write_day_file(
                out / f"{pop.partner_code}_{day:%Y%m%d}.csv", pop, day, rows=int(rows * share), seed=seed
            )
            for day, share in day_weights(month)
            if before is None or day < before
        )
    from django.db import transaction

    from cardportal import bulk
    from merchants.usage import partitions
    from merchants.usage.models import TxnImport

    partitions.ensure_months([month - timedelta(days=1), month, partitions.next_month(month)])
    with transaction.atomic():
        job = TxnImport.objects.create(partner_id=pop.partner_id, file_name=f"txngen {month:%Y-%m}", sha256="",
                                       kind="generated", job_status=TxnImport.Status.DONE)  # fmt: skip
        count = bulk.copy_rows(
            TARGET_TABLE,
            TABLE_COLUMNS,
            month_table_rows(pop, month, rows, txn_import_id=job.pk, seed=seed, before=before),
        )
        TxnImport.objects.filter(pk=job.pk).update(rows=count, inserted=count)
    _rebuild_rollups(month)
    return count


def _rebuild_rollups(month: date) -> None:
    """The month's roll-ups from the table (the importer's own rebuild, if it is there yet)."""
    try:
        from merchants.usage.rollups import rebuild_month
    except ImportError:  # the roll-up module comes with the importer
        return
    rebuild_month(month)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import setup_django

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partner", required=True, help="IssuingPartner code")
    parser.add_argument("--day", type=date.fromisoformat)
    parser.add_argument("--month", help="YYYY-MM")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--out", type=Path, help="a .csv for --day, a directory for --month (else COPY)")
    args = parser.parse_args()
    setup_django()
    from issuance.models import IssuingPartner

    pop = load_population(IssuingPartner.objects.get(code=args.partner))
    start = time.perf_counter()
    if args.day:
        count = write_day_file(
            args.out or Path(f"{args.partner}_{args.day:%Y%m%d}.csv"), pop, args.day, rows=args.rows
        )
    else:
        month = date.fromisoformat(f"{args.month}-01")
        count = generate_month(pop, month, rows=args.rows, out=args.out)
    print(f"{count:,} transactions in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
