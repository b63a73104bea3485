"""What the upload kernel (cardportal/tables.py) costs on the 100,000-row registration sheet, and
what the hostile files cost it.

    python bench/bench_tables.py [--rows 100000] [--repeat 8]

No database. Prints, as min and median of `--repeat` runs, wall time and CPU time (this process
plus its children: on a shared machine CPU is the steadier figure): the checks before any grid
(`check_file`: size, zip bomb, encryption, the range scan), calamine in this process (what the
reader did before the kernel), the same parse in the memory-capped child (`parse_in_child`), and
the whole `members.sheets.read_sheet`. Then the far and wide cell files: time to refusal and this
process's peak memory (VmHWM, measured first), and the far cell handed straight to the child (its
abort contained).
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402
from bench.sheetgen import xlsx_bytes  # noqa: E402
from cardportal import tables  # noqa: E402
from members.sheets import read_sheet  # noqa: E402
from tests.hostile import with_far_cell, workbook_bytes  # noqa: E402


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def vm_hwm_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def measure(name: str, call, repeat: int) -> None:
    walls, cpus = [], []
    for _ in range(repeat):
        started_cpu, started = cpu(), time.perf_counter()
        call()
        walls.append(time.perf_counter() - started)
        cpus.append(cpu() - started_cpu)
    print(
        f"{name:42} wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s | "
        f"cpu min {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s"
    )


def hostile() -> None:
    valid = workbook_bytes([["身份证号", "姓名"], ["11010519491231002X", "王芳"]])
    for ref in ("XFD1048576", "XFD200000", "XFD2000"):
        content = with_far_cell(valid, ref)
        started = time.perf_counter()
        try:
            read_sheet(content)
            outcome = "READ (not refused!)"
        except tables.TableRefused as refused:
            outcome = refused.code
        print(
            f"cell at {ref:10} ({len(content):,} bytes): {outcome} in {(time.perf_counter() - started) * 1000:.1f} ms, "
            f"peak memory of this process {vm_hwm_mb()} MB"
        )
    started = time.perf_counter()
    try:
        tables.parse_in_child(
            with_far_cell(valid, "XFD1048576"), file_format="xlsx", limits=tables.Limits(), header=None
        )
    except tables.TableRefused as refused:
        print(
            f"XFD1048576 handed straight to the child (no scan): {refused.code} in "
            f"{time.perf_counter() - started:.2f} s; this process lives on"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.rows, args.repeat = 300, 1
    hostile()  # first, while this process's peak memory is its own
    content = xlsx_bytes(args.rows, bad_every=100)
    print(f"sheet: {args.rows:,} rows, {len(content) / 1048576:.1f} MB; load average {os.getloadavg()}")
    limits = tables.Limits()
    measure("check_file (size, bomb, encryption, range)", lambda: tables.check_file(content), args.repeat)
    measure(
        "calamine in this process (the old way)",
        lambda: tables.parse(content, file_format="xlsx", limits=limits, header=None),
        args.repeat,
    )
    measure(
        "calamine in the child (parse_in_child)",
        lambda: tables.parse_in_child(content, file_format="xlsx", limits=limits, header=None),
        args.repeat,
    )
    measure("members.sheets.read_sheet (all of it)", lambda: read_sheet(content), args.repeat)
    print(f"peak memory of this process (VmHWM): {vm_hwm_mb()} MB")
    child = tables.parse_in_child(content, file_format="xlsx", limits=limits, header=None)
    print(f"peak memory of the child (its VmHWM): {child.child_peak_mb} MB")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
