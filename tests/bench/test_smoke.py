"""Benchmarks must not rot: every script in bench/ runs here at a tiny size (--smoke), each on a
fresh PostgreSQL database copied from one migrated template. No figure is asserted; a benchmark
that no longer runs (a changed return type, a column that shrank) fails CI."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import dj_database_url
import psycopg2
import pytest

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = [
    "bench_analytics.py",
    "bench_crypto.py",
    "bench_drops.py",
    "bench_members.py",
    "bench_membersite.py",
    "bench_issuance.py",
    "bench_league.py",
    "bench_registration.py",
    "bench_scale.py",
    "bench_subsidy.py",
    "bench_tables.py",
    "bench_usage_import.py",
    "bench_xlsx_stream.py",
    "merchants_counts.py",
    "stage_digest.py",
]


def _admin_connection(url: str):
    db = dj_database_url.parse(url)
    conn = psycopg2.connect(dbname="postgres", user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432)
    conn.autocommit = True
    return conn


def _url_for(name: str) -> str:
    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def _run(args: list[str], *, database: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _url_for(database), "DEBUG": "1"}
    env["DJANGO_SETTINGS_MODULE"] = "cardportal.settings"  # the benchmarks run as deployed
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def template_db():
    name = f"cp_bench_smoke_{uuid.uuid4().hex[:8]}"
    conn = _admin_connection(os.environ["DATABASE_URL"])
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    made = [name]
    migrated = _run(["manage.py", "migrate", "--verbosity=0"], database=name)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    def copy() -> str:
        copy_name = f"{name}_{len(made)}"
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{copy_name}" TEMPLATE "{name}"')
        made.append(copy_name)
        return copy_name

    yield copy
    with conn.cursor() as cursor:
        for db in reversed(made):
            cursor.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    conn.close()


@pytest.mark.parametrize("script", BENCHMARKS)
def test_benchmark_runs_at_smoke_size(script, template_db):
    result = _run([f"bench/{script}", "--smoke"], database=template_db())
    assert result.returncode == 0, (
        f"{script} --smoke failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    assert result.stdout.strip(), f"{script} --smoke printed nothing"


def test_every_benchmark_is_smoke_tested():
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    # generators the benchmarks import (each runs through their smoke runs), and probe_apply.py, a
    # diagnostic of one call against a database someone already filled (it prints no figure of
    # its own to keep; docs/benchmarks.md, "Renovation: before and after")
    helpers = {"__init__.py", "common.py", "sheetgen.py", "txngen.py", "probe_apply.py"}
    assert scripts - helpers == set(BENCHMARKS)
