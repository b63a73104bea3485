"""The one-cent ticket grab under a crowd, against the portal run as in production.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_drops REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/bench_drops.py [--members 20000] [--tickets 500] [--workers 3]

Builds (in bulk) `--members` members with an activated card and a signed-in member session each,
and one drop of `--tickets` tickets per path. For each claim path it starts gunicorn (`--workers`
processes, DEBUG off, PROXY_COUNT=1 as behind nginx), waits for the opening second, and fires one
press per member (a client address per four members in X-Forwarded-For) from `--clients` processes
of a purpose-built asyncio raw HTTP/1.1 client with `--concurrency` connections in all, to
127.0.0.1 only, bounded in time. Paths, side by side in one run:

- lean: the press (POST /me/drops/<id>/grab/, benefits/drops/fast.py) answered before Django:
        claim token + session cookie, one Lua script (throttles + decision), JSON; only winners
        touch PostgreSQL (`--deadline`);
- full: the full claim view on Redis (POST /me/drops/<id>/claim/: middleware, session, member,
        card check, cache throttles, Lua, page) (`--slow-deadline`);
- db:   the full claim view on the database-only path (no DROPS_REDIS_URL): SELECT … FOR UPDATE
        on the drop row (`--slow-deadline`).

Prints claims/s, latency p50/p95/p99, errors, answers, and the checks from the database:
oversold 0, undersold 0 (every ticket taken while demand exceeds stock), duplicates 0, answers =
tickets in the database, and for the Redis paths Redis = database after the drop.
"""

import argparse
import asyncio
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import SMOKE_HELP, setup_django, smoke_requested  # noqa: E402

SECRET = "bench-drops-secret-key-" + "x" * 40
CSRF = "b" * 32  # the CSRF secret the client holds in its cookie and sends back in the header
# path -> (endpoint, Redis on): the lean press, the full claim view on Redis, the database path.
PATHS = {"lean": ("grab", True), "full": ("claim", True), "db": ("claim", False)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(members: int, tickets: int, opens_in: float):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from benefits.drops import services
    from benefits.drops.crowd import crowd_build
    from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
    from members.models import Member, Union

    tag = uuid.uuid4().hex[:8]
    city = Union.objects.create(code=f"BC{tag}", name="压测市总工会", level=Union.Level.CITY)
    county = Union.objects.create(code=f"BK{tag}", name="压测县总工会", level=Union.Level.COUNTY, parent=city)
    unit = Union.objects.create(
        code=f"BG{tag}", name="压测基层工会", level=Union.Level.GRASSROOTS, parent=county
    )
    t0 = time.perf_counter()
    ids = crowd_build(union=unit, count=members, tag=tag)
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    phones = dict(Member.objects.filter(pk__in=ids).values_list("pk", "phone_hash"))
    sessions = []
    for member_id in ids:
        key = secrets.token_hex(16)
        data = store.encode({MEMBER_KEY: member_id, PHONE_KEY: phones[member_id]})
        sessions.append(Session(session_key=key, session_data=data, expire_date=expire))
    Session.objects.bulk_create(sessions, batch_size=5000)
    print(f"built {members} members with activated cards and sessions in {time.perf_counter() - t0:.1f} s")
    now = timezone.now()
    drops = {}
    for path in PATHS:
        drops[path] = services.drop_create(
            actor=None,
            union=city,
            fields={
                "title": f"压测{path}",
                "venue": "压测场馆",
                "tickets": tickets,
                "price": 0,
                "opens_at": now + timedelta(days=1),  # moved to the real opening when its turn comes
                "closes_at": now + timedelta(days=2),
            },
        )
    return drops, [(member_id, s.session_key) for member_id, s in zip(ids, sessions, strict=True)]


def collect_static() -> str:
    """Production serves hashed static files from a manifest (whitenoise): collect them once."""
    import tempfile

    root = tempfile.mkdtemp(prefix="bench-drops-static-")
    env = {**os.environ, "DEBUG": "0", "STATIC_ROOT": root, **PROD_KEYS}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return root


PROD_KEYS = {
    "SECRET_KEY": SECRET,
    "PII_KEYS": os.environ.get("PII_KEYS") or "ZGV2LW9ubHktcGlpLWtleS1ub3QtZm9yLXByb2QhISE=",
    "PII_HASH_KEY": os.environ.get("PII_HASH_KEY") or "bench-only-pii-hash-key",
}


def start_gunicorn(port: int, opts, *, redis_path: bool):
    env = {
        **os.environ,
        "DEBUG": "0",
        **PROD_KEYS,
        "STATIC_ROOT": opts.static_root,
        "SECURE_SSL_REDIRECT": "0",
        "PROXY_COUNT": "1",
        "DROPS_REDIS_URL": os.environ.get("REDIS_URL", "") if redis_path else "",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cardportal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(opts.workers),
            "--worker-class",
            opts.worker_class,
            "--threads",
            str(opts.threads),
            "--backlog",
            "4096",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not answer /healthz")


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


OUTCOME = re.compile(rb'(?:data-outcome="|"outcome": ?")([a-z_]+)"')


def request_bytes(path: str, port: int, drop_id: int, index: int, session_key: str, token: str) -> bytes:
    """One member's press as raw HTTP/1.1: the lean press (claim token in a header) or the full
    view's form post (session cookie + CSRF token). A client address per four members."""
    ip = f"10.{index // 4 // 65536 % 256}.{index // 4 // 256 % 256}.{index // 4 % 256}"
    host = f"127.0.0.1:{port}"
    if PATHS[path][0] == "grab":
        head = (
            f"POST /me/drops/{drop_id}/grab/ HTTP/1.1\r\nHost: {host}\r\nCookie: sessionid={session_key}\r\n"
            f"X-Claim-Token: {token}\r\nX-Forwarded-For: {ip}\r\nContent-Length: 0\r\n\r\n"
        )
        return head.encode()
    body = f"csrfmiddlewaretoken={CSRF}"
    url = f"http://{host}/me/drops/{drop_id}/claim/"
    head = (
        f"POST /me/drops/{drop_id}/claim/ HTTP/1.1\r\nHost: {host}\r\n"
        f"Cookie: sessionid={session_key}; csrftoken={CSRF}\r\nX-CSRFToken: {CSRF}\r\nReferer: {url}\r\n"
        f"X-Forwarded-For: {ip}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return head.encode()


async def _read_response(reader) -> tuple[int, bytes, bool]:
    """(status, body, server closes) of one HTTP/1.1 response with a Content-Length (or none: to EOF)."""
    status = int((await reader.readline()).split()[1])
    length, close = None, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length is None:
        return status, await reader.read(), True
    return status, await reader.readexactly(length), close


async def _fire(port: int, requests: list[bytes], concurrency: int, start_at: float, deadline: float):
    """A purpose-built load generator: `concurrency` raw HTTP/1.1 connections to 127.0.0.1 (kept
    alive when the server allows), each sending the next member's press when its answer is in.
    Cheap per request (no HTTP library), so it leaves the cores to the server."""
    results = []
    queue = list(reversed(requests))

    async def connection():
        reader = writer = None
        while queue and time.time() < deadline:
            raw = queue.pop()
            t = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                status, body, close = await asyncio.wait_for(_read_response(reader), 60)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                results.append((time.perf_counter() - t, 0, type(exc).__name__, time.time()))
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            found = OUTCOME.search(body)
            results.append((time.perf_counter() - t, status, found[1].decode() if found else "", time.time()))
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return results


def _client_process(args):
    port, requests, concurrency, start_at, deadline = args
    return asyncio.run(_fire(port, requests, concurrency, start_at, deadline))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_path(path: str, drop, session_keys: list[str], opts) -> dict:
    from django.utils import timezone

    from benefits.drops import fast, services, store
    from benefits.drops.models import Drop, Ticket

    port = free_port()
    proc = start_gunicorn(port, opts, redis_path=PATHS[path][1])
    deadline = opts.deadline if path == "lean" else opts.slow_deadline
    try:
        opens = timezone.now() + timedelta(seconds=opts.lead)
        Drop.objects.filter(pk=drop.pk).update(opens_at=opens)  # not yet opened: no service change
        start_at = opens.timestamp() + 0.01
        requests = [
            request_bytes(
                path,
                port,
                drop.pk,
                i,
                key,
                fast.claim_token(drop_id=drop.pk, member_id=member_id, session_key=key),
            )
            for i, (member_id, key) in enumerate(session_keys)
        ]
        slices = [
            (
                port,
                requests[i :: opts.clients],
                opts.concurrency // opts.clients,
                start_at,
                start_at + deadline,
            )
            for i in range(opts.clients)
        ]
        with multiprocessing.get_context("spawn").Pool(opts.clients) as pool:
            parts = pool.map(_client_process, slices)
        results = [r for part in parts for r in part]
    finally:
        stop(proc)
    latencies = [r[0] for r in results]
    answers: dict[str, int] = {}
    for _, status, outcome, _ in results:
        answers[outcome or f"http {status}"] = answers.get(outcome or f"http {status}", 0) + 1
    errors = sum(1 for _, status, _, _ in results if status not in (200, 429))
    first, last = start_at, max((r[3] for r in results), default=start_at)  # the last answer
    drop.refresh_from_db()
    holding = Ticket.objects.filter(drop=drop, status__in=Ticket.HOLDING)
    held = holding.count()
    members_holding = holding.values("member").distinct().count()
    redis_ok = None
    if PATHS[path][1] and store.enabled():
        redis_ok = services.drop_reconcile(drop=drop).redis_agrees
    return {
        "path": path,
        "requests": len(results),
        "not_sent": len(session_keys) - len(results),
        "elapsed_s": last - first,
        "claims_per_s": len(results) / (last - first) if last > first else float("nan"),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "errors": errors,
        "answers": answers,
        "oversold": max(0, held - drop.tickets),
        # a member told 已抢完 while a ticket was left (a deadline that stops the crowd before the
        # stock is gone is "not sent", not undersold)
        "undersold": max(0, drop.tickets - held) if answers.get("sold_out") else 0,
        "duplicates": held - members_holding,
        "won_answers_match_db": answers.get("won", 0) == held == drop.taken,
        "redis_equals_db": redis_ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (one per core)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread, sync)")
    parser.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--clients", type=int, default=2, help="load-generating processes")
    parser.add_argument("--concurrency", type=int, default=64, help="connections in all")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from start-up to the opening")
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="lean path: seconds after the opening to stop"
    )
    parser.add_argument(
        "--slow-deadline",
        type=float,
        default=30.0,
        help="full and db paths: seconds after the opening to stop",
    )
    parser.add_argument("--paths", default="lean,full,db", help="of lean, full, db")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    opts = parser.parse_args()
    if smoke_requested(opts):
        opts.members, opts.tickets, opts.workers, opts.clients, opts.concurrency = 60, 10, 2, 1, 8
        opts.lead, opts.deadline, opts.slow_deadline = 2.0, 60.0, 60.0
    os.environ["SECRET_KEY"] = SECRET  # sessions written here must verify in gunicorn
    setup_django()
    paths = [p for p in opts.paths.split(",") if p]
    if not os.environ.get("REDIS_URL"):
        print("REDIS_URL not set: the Redis paths are skipped; the lean press runs on the database path")
        paths = [p for p in paths if not PATHS[p][1] or p == "lean"]
    drops, session_keys = build(opts.members, opts.tickets, opts.lead)
    opts.static_root = collect_static()
    print(
        f"{opts.members} members, {opts.tickets} tickets, gunicorn {opts.workers} {opts.worker_class} workers "
        f"× {opts.threads} threads, "
        f"{opts.clients} client processes × {opts.concurrency // opts.clients} connections, deadline {opts.deadline:.0f} s"
    )
    rows = [run_path(path, drops[path], session_keys, opts) for path in paths]
    print()
    print(
        "| path | requests | claims/s | p50 ms | p95 ms | p99 ms | errors | won | sold out | other answers "
        "| oversold | undersold | duplicates | answers = DB | Redis = DB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        other = {k: v for k, v in r["answers"].items() if k not in ("won", "sold_out")}
        print(
            f"| {r['path']} | {r['requests']} | {r['claims_per_s']:.0f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {r['errors']} | {r['answers'].get('won', 0)} | {r['answers'].get('sold_out', 0)} "
            f"| {other or '—'} | {r['oversold']} | {r['undersold']} | {r['duplicates']} | {r['won_answers_match_db']} "
            f"| {'—' if r['redis_equals_db'] is None else r['redis_equals_db']} |"
        )
    by_path = {r["path"]: r for r in rows}
    for other in ("full", "db"):
        if "lean" in by_path and other in by_path and by_path[other]["claims_per_s"] > 0:
            lean, slow = by_path["lean"], by_path[other]
            print(
                f"lean / {other}: {lean['claims_per_s'] / slow['claims_per_s']:.1f}× the claims/s, "
                f"p99 {slow['p99_ms'] / lean['p99_ms']:.1f}× lower"
            )
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    bad = [
        r["path"]
        for r in rows
        if r["oversold"]
        or r["undersold"]
        or r["duplicates"]
        or not r["won_answers_match_db"]
        or r["redis_equals_db"] is False
    ]
    if bad:
        raise SystemExit(f"correctness check failed on: {', '.join(bad)}")


if __name__ == "__main__":
    main()
