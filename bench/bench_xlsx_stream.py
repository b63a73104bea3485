"""The reading child alone (no database): its peak memory and CPU on a large sheet, through
`tables.stream_table` as the importers call it, by calamine and by the streaming reader.

    python bench/bench_xlsx_stream.py --rows 1000000            # Excel's layout, every text distinct
    python bench/bench_xlsx_stream.py --feed-rows 500000 [--ballast-mb 350]
    python bench/bench_xlsx_stream.py --smoke                   # both, 2,000 rows (CI)

The sheet is written as Excel writes it (shared strings, `sheetgen.write_shared_xlsx`) with every
name, address, ID number and phone distinct: the shared strings at their largest. Each reader's
chunks are hashed (every cell with its type), so the two digests must match. `--feed-rows` streams
a synthetic day of the card-transaction feed (CSV, ten columns) instead and prints the child's own
peak beside RUSAGE_CHILDREN's ru_maxrss, which on Linux is the parent's size at the fork
(`--ballast-mb` makes the parent that big first)."""

import argparse
import csv
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402
from bench.sheetgen import HEADER, SURNAMES, person, write_shared_xlsx  # noqa: E402
from bench.txngen import CSV_HEADER  # noqa: E402
from cardportal import tables  # noqa: E402
from members.sheets import _header_spec, _limits  # noqa: E402


def distinct_rows(n: int):
    yield ["会员卡信息登记表"]
    yield [*HEADER, "住址"]
    for i in range(n):
        id_number, _name, phone = person(i, offset=7_000_000)
        given = "".join(chr(0x4E00 + (i // 20 // 400**k) % 400 + 400 * k) for k in range(3))
        yield [
            i + 1,
            id_number,
            SURNAMES[i % 20] + given,
            "",
            phone,
            f"第{i % 40 + 1}车间",
            f"运河区{i}号院{i % 31}室",
        ]


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stream(path: Path, label: str, *, header, limits) -> None:
    digest, rows = hashlib.sha256(), 0
    started, cpu = time.perf_counter(), child_cpu()
    with tables.stream_table(str(path), limits=limits, header=header) as table:
        head = {k: v for k, v in table.head.__dict__.items() if k != "child_peak_mb"}
        digest.update(repr(head).encode())
        for chunk in table.chunks():
            rows += len(chunk)
            digest.update(repr([(i, [(type(c).__name__, c) for c in cells]) for i, cells in chunk]).encode())
    print(
        f"{label:10} {rows:,} rows: child peak {table.child_peak_mb} MB, child CPU {child_cpu() - cpu:.1f} s, "
        f"wall {time.perf_counter() - started:.1f} s, digest {digest.hexdigest()[:16]}; "
        f"RUSAGE_CHILDREN ru_maxrss {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} MB"
    )


def feed_day(folder: str, rows: int, ballast_mb: int) -> None:
    path = Path(folder) / "day.csv"
    generator = random.Random(3)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(CSV_HEADER)
        for i in range(rows):
            out.writerow((f"R{i:012d}", f"6222{generator.randrange(10**15):015d}", f"2026-11-30 {i % 24:02d}:{i % 60:02d}:00",
                          f"{generator.randrange(100_000) / 100:.2f}", f"1043{generator.randrange(2000):011d}",
                          f"商户{generator.randrange(2000)}", "5411", "POS", "消费", ""))  # fmt: skip
    ballast = bytearray(ballast_mb * 1024 * 1024)  # noqa: F841 - held: the parent's size
    ballast[::4096] = b"x" * len(ballast[::4096])
    spec = tables.HeaderSpec(
        aliases={"交易参考号": "reference", "卡号": "card"}, required=("reference", "card")
    )
    limits = tables.Limits(max_bytes=200 * 1024 * 1024, max_rows=2_000_000, max_cells=24_000_000)
    print(
        f"feed day: {rows:,} rows, {path.stat().st_size / 1048576:.0f} MB; parent {ballast_mb} MB of ballast"
    )
    stream(path, "csv", header=spec, limits=limits)


def registration_sheet(folder: str, rows: int) -> None:
    path = Path(folder) / "sheet.xlsx"
    started = time.perf_counter()
    write_shared_xlsx(path, distinct_rows(rows))
    print(
        f"sheet: {rows:,} rows, {path.stat().st_size / 1048576:.0f} MB, written in {time.perf_counter() - started:.0f} s"
    )
    limits = _limits(200 * 1024 * 1024, 2_000_000)
    for label, above in (("streaming", -1), ("calamine", 10**12)):
        tables.STREAM_XLSX_ABOVE = above
        stream(path, label, header=_header_spec(), limits=limits)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--feed-rows", type=int, default=0)
    parser.add_argument("--ballast-mb", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if smoke_requested(args):  # both paths, tiny
            registration_sheet(folder, 2_000)
            feed_day(folder, 2_000, 0)
        elif args.feed_rows:
            feed_day(folder, args.feed_rows, args.ballast_mb)
        else:
            registration_sheet(folder, args.rows)


if __name__ == "__main__":
    main()
