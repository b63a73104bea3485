"""Load-independent probe of `cards_apply` (issue 12's before/after), for any tree of this repo.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_apply \\
        python bench/probe_apply.py TREE N [--queries] [--explain] [--callgrind] [--hide-psycopg]

TREE is the checkout whose code runs (this one, or a `git worktree` of an older commit), on one
database for both: the first N members without a card are applied inside a transaction that is
rolled back, so every run sees the same rows. One line: the driver, the cards, wall and this
process's CPU for the call, the PostgreSQL backend's CPU for it (/proc of pg_backend_pid(), same
machine only) and the garbage collections. --queries prints each statement as the driver renders
it, --explain the insert's EXPLAIN (ANALYZE, BUFFERS, VERBOSE) (run in a savepoint first),
--callgrind switches callgrind's instrumentation on for the call only (run under
`valgrind --tool=callgrind --instr-atstart=no`, PYTHONMALLOC=malloc), --hide-psycopg makes
psycopg 3 unimportable (a tree older than settings' CARDPORTAL_DB_DRIVER switch picks it).
Never run two at once on one database: the second waits on the first's uncommitted inserts.
"""

import gc
import os
import subprocess
import sys
import time

root, n = sys.argv[1], int(sys.argv[2])
flags = set(sys.argv[3:])
if "--hide-psycopg" in flags:
    sys.modules["psycopg"] = None  # type: ignore[assignment]
sys.path.insert(0, root)
os.chdir(root)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
os.environ.setdefault("DEBUG", "1")
import django  # noqa: E402

django.setup()
from django.db import connection, transaction  # noqa: E402

from issuance.lifecycle import cards_apply  # noqa: E402
from members.models import Member  # noqa: E402

members = list(
    Member.objects.filter(cards__isnull=True).only("id", "union_id", "is_hardship").order_by("id")[:n]
)
assert len(members) == n, len(members)
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
driver = type(connection.connection).__module__
plans, sent = [], []


def backend_cpu() -> float:
    with open(f"/proc/{backend}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def explain(execute, sql, params, many, context):
    if "INSERT INTO" in sql and "issuance_card" in sql:
        cur = context["cursor"].cursor
        cur.execute("SAVEPOINT probe_x")
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE) " + sql, params)
        plans.append([row[0] for row in cur.fetchall()])
        cur.execute("ROLLBACK TO SAVEPOINT probe_x")
    return execute(sql, params, many, context)


def capture(execute, sql, params, many, context):
    try:
        text = context["cursor"].cursor.mogrify(sql, params)
    except Exception as exc:  # executemany's list of rows
        text = f"<not rendered: {exc}>"
    sent.append(text.decode() if isinstance(text, bytes) else text)
    return execute(sql, params, many, context)


def callgrind(state: str) -> None:
    if "--callgrind" in flags:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True)


with transaction.atomic():
    wrappers = [
        connection.execute_wrapper(w)
        for f, w in [("--explain", explain), ("--queries", capture)]
        if f in flags
    ]
    for w in wrappers:
        w.__enter__()
    g0 = [s["collections"] for s in gc.get_stats()]
    b0 = backend_cpu()
    callgrind("on")
    c0, t0 = time.process_time(), time.perf_counter()
    new = cards_apply(members=members)
    c1, t1 = time.process_time(), time.perf_counter()
    callgrind("off")
    b1 = backend_cpu()
    g1 = [s["collections"] for s in gc.get_stats()]
    for w in wrappers:
        w.__exit__(None, None, None)
    transaction.set_rollback(True)
print(
    f"driver={driver} cards={len(new)} wall={t1 - t0:.3f}s cpu={c1 - c0:.3f}s server_cpu={b1 - b0:.2f}s "
    f"gc_collections={[b - a for a, b in zip(g0, g1, strict=True)]} gc_objects={len(gc.get_objects())}"
)
for i, text in enumerate(sent):
    print(f"--- statement {i}: {len(text):,} characters: {text[:300]!r}")
for plan in plans:
    print("\n".join(line for line in plan if "Function Call" not in line and "Output:" not in line))
