"""A real streaming replica of the test server: a second PostgreSQL cluster on this machine, made
with pg_basebackup from the server DATABASE_URL points at, on a free port, started once per test
session and removed after. Skipped (with the reason) where that cannot be done: not PostgreSQL,
not a local server, no binaries, wal_level minimal, or no replication permission that the
fixture may add itself.

Replication permission: the server must accept a replication connection from 127.0.0.1. If its
pg_hba.conf has no such line and the file is writable here (CI runs as root on the test machine),
the fixture appends `host replication all 127.0.0.1/32 trust` — the same trust the file already
gives 127.0.0.1 for every database — and reloads the server. Nothing else of the server changes.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import psycopg2
import psycopg2.extras
import pytest

HBA_LINE = "host replication all 127.0.0.1/32 trust"
SERVER_SETTINGS_COPIED = [  # a hot standby refuses to start with less than the primary has
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
]


@dataclass
class Replica:
    host: str
    port: int
    user: str
    datadir: Path


def _primary() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the replica needs PostgreSQL: set DATABASE_URL (as .ci/run does)")
    db = dj_database_url.parse(url)
    if db["HOST"] not in ("127.0.0.1", "localhost"):
        pytest.skip("the replica is made from a server on this machine (DATABASE_URL host 127.0.0.1)")
    return {
        "host": "127.0.0.1",
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"],
    }


def _query(params: dict, sql: str, dbname: str = "postgres"):
    conn = psycopg2.connect(dbname=dbname, **params)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        conn.close()


def _can_replicate(params: dict) -> bool:
    try:
        conn = psycopg2.connect(
            dbname="postgres", connection_factory=psycopg2.extras.PhysicalReplicationConnection, **params
        )
    except psycopg2.OperationalError:
        return False
    conn.close()
    return True


def _allow_replication(params: dict) -> None:
    if _can_replicate(params):
        return
    hba = Path(_query(params, "SHOW hba_file")[0][0])
    if not os.access(hba, os.W_OK):
        pytest.skip(f"the server refuses replication connections from 127.0.0.1: add `{HBA_LINE}` to {hba}")
    if HBA_LINE not in hba.read_text():
        with hba.open("a") as f:
            f.write(f"\n# cardportal tests (tests/ops/conftest.py): the streaming replica\n{HBA_LINE}\n")
    _query(params, "SELECT pg_reload_conf()")
    if not _can_replicate(params):
        pytest.skip(f"the server still refuses replication connections after adding `{HBA_LINE}` to {hba}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    """pg_ctl refuses root: as root, run the cluster as the OS user postgres."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str]) -> None:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def _wait(check, *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except psycopg2.OperationalError:
            pass  # still starting
        if time.monotonic() > deadline:
            raise TimeoutError(f"the replica: {what} not within {timeout:.0f} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def streaming_replica():
    params = _primary()
    if _query(params, "SHOW wal_level")[0][0] == "minimal":
        pytest.skip("the server's wal_level is minimal: set wal_level = replica and restart it")
    version = _query(params, "SHOW server_version_num")[0][0][:-4]
    bindir = Path(f"/usr/lib/postgresql/{version}/bin")
    if not (bindir / "pg_basebackup").exists() or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip(f"the replica needs the PostgreSQL {version} binaries in {bindir}")
    _allow_replication(params)
    settings = dict(
        _query(params, f"SELECT name, setting FROM pg_settings WHERE name IN {tuple(SERVER_SETTINGS_COPIED)}")
    )

    workdir = Path(tempfile.mkdtemp(prefix="cardportal-replica-"))
    datadir = workdir / "data"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    port = _free_port()
    try:
        _run(
            [str(bindir / "pg_basebackup"), "-h", params["host"], "-p", str(params["port"]), "-U", params["user"],
             "-D", str(datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        )  # fmt: skip
        conf = [f"{name} = {value}" for name, value in settings.items()]
        conf += [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{workdir}'",
            "hot_standby = on",
            "shared_buffers = 32MB",
            "fsync = off",
            f"hba_file = '{datadir / 'pg_hba.conf'}'",
            f"ident_file = '{datadir / 'pg_ident.conf'}'",
        ]
        for name, text in [
            ("postgresql.conf", "\n".join(conf) + "\n"),
            ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
            ("pg_ident.conf", ""),
        ]:
            (datadir / name).write_text(text)
            if os.geteuid() == 0:
                shutil.chown(datadir / name, "postgres", "postgres")
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-l",
                str(workdir / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        replica = {**params, "port": port}
        _wait(
            lambda: _query(replica, "SELECT status FROM pg_stat_wal_receiver") == [("streaming",)],
            what="streaming from the primary",
        )
        yield Replica(host="127.0.0.1", port=port, user=params["user"], datadir=datadir)
    finally:
        if (datadir / "postmaster.pid").exists():
            _run([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)


def replica_caught_up(replica_conn, primary_conn) -> bool:
    """The replica has replayed everything the primary has written so far."""
    with primary_conn.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        written = cursor.fetchone()[0]
    with replica_conn.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", [written])
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def replica_alias(streaming_replica, django_db_setup, django_db_blocker):
    """The database alias "replica" on the streaming replica, for one test module. Module-scoped
    because Django checks a test's `databases` against the configured aliases before any
    function-scoped fixture runs; removed after the module, so no other test ever has a replica
    configured. Tests using it: `pytest.mark.django_db(transaction=True, databases=REPLICA_DBS)`
    (committed data: the replica only sees what the primary commits)."""
    from django.db import connections

    default = connections["default"].settings_dict
    connections.settings["replica"] = {
        **default,
        "HOST": streaming_replica.host,
        "PORT": streaming_replica.port,
        "TEST": {**default.get("TEST", {}), "MIRROR": "default"},
    }
    try:
        yield
    finally:
        if hasattr(connections._connections, "replica"):
            connections["replica"].close()
            del connections["replica"]
        del connections.settings["replica"]


REPLICA_DBS = ["default", "replica"]


@pytest.fixture
def replica_db(replica_alias):
    """The replica's connection; replay is resumed after the test whatever it did."""
    from django.db import connections

    replica = connections["replica"]
    yield replica
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")


def wait_for_replay(replica_conn, primary_conn) -> None:
    _wait(
        lambda: replica_caught_up(replica_conn, primary_conn),
        what="replaying the primary's writes",
        timeout=10,
    )
