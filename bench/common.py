"""Shared pieces of the benchmarks: Django set-up against DATABASE_URL, timing, fast COPY loads."""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")
    os.environ.setdefault("DEBUG", "1")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Benchmarks run on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench")
    import django

    django.setup()
    from django.core.management import call_command

    _ensure_database()
    call_command("migrate", verbosity=0)


def _ensure_database() -> None:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname="postgres", user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


SMOKE_HELP = "tiny sizes and one repetition: proves the benchmark still runs (CI), prints no real figures"


def smoke_requested(args) -> bool:
    """Every benchmark takes --smoke; under it, timings repeat once (their figures mean nothing)."""
    if getattr(args, "smoke", False):
        os.environ["BENCH_SMOKE"] = "1"
    return os.environ.get("BENCH_SMOKE") == "1"


def signed_in_client(user):
    """A test client signed in as `user` as a person would be after the whole sign-in: for a role
    that needs the second factor, the session is verified with the user's TOTP device (made if
    missing). The benchmarks time pages, not the sign-in."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cardportal.second_factor import second_factor_required

    client = Client()
    client.force_login(user)
    if second_factor_required(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        device = device or TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def timed(fn, *, repeat: int = 7) -> dict:
    """Run fn `repeat` times after one warm-up; return min/median in ms."""
    if os.environ.get("BENCH_SMOKE") == "1":
        repeat = 1
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"min_ms": min(samples), "median_ms": statistics.median(samples)}


# The member columns the benchmarks' filler rows give, in their order (every one but the id).
MEMBER_COLUMNS = [
    "id_hash",
    "id_encrypted",
    "id_region",
    "id_last4",
    "name",
    "gender",
    "birth_date",
    "phone_hash",
    "phone_encrypted",
    "phone_prefix",
    "phone_last4",
    "work_unit",
    "union_id",
    "employment_type",
    "is_hardship",
    "is_model_worker",
    "dues_paid",
    "status",
    "joined_on",
    "created_at",
    "updated_at",
]


def copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY an iterable of tuples into `table` (cardportal.bulk's writer: either driver)."""
    from cardportal import bulk

    bulk.copy_rows(table, columns, rows)
