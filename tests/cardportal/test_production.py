"""Issue 17, on one machine: the production settings (check --deploy, queues, time limits), the
health endpoints, the JSON logs with their request id and masking, the protected metrics and the
optional Sentry. The whole layout running together is tests/browser/test_serve_journey.py."""

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django_guid import clear_guid, set_guid
from django_guid.log_filters import CorrelationId

from cardportal.celery import app
from cardportal.logformat import MASK, JsonFormatter, scrub

from ..factories import next_id_number

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra) -> dict:
    # (DJANGO_ALLOW_ASYNC_UNSAFE: set for the test process by Playwright's sync API, not production)
    drop = {"DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", "LOG_FORMAT"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "cardportal.settings",  # the portal's own, not the suite's
        "SECRET_KEY": "x" * 20 + uuid.uuid4().hex + uuid.uuid4().hex,
        "PII_KEYS": Fernet.generate_key().decode(),
        "PII_HASH_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "cards.example.org",
        **extra,
    }


def run_django(code: str, env: dict) -> subprocess.CompletedProcess:
    """Python in a fresh process with the production settings module."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# --- settings -------------------------------------------------------------------------------------
def test_check_deploy_is_clean_with_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_the_secrets_the_portal_refuses_to_start():
    env = production_env()
    del env["PII_KEYS"]
    result = run_django("import django; django.setup()", env)
    assert result.returncode != 0 and "PII_KEYS and PII_HASH_KEY must be set" in result.stderr


EXPECTED_QUEUES = {
    "members.tasks.sheet_import_task": "sheets",
    "members.tasks.sheet_register_task": "sheets",
    "issuance.tasks.batch_handoff_task": "bank",
    "issuance.tasks.import_apply_task": "bank",
    "benefits.tasks.disbursement_export_task": "bank",
    "members.sms.tasks.sms_send_task": "notify",
    "benefits.membersite.tasks.signin_code_send_task": "notify",
    "cardportal.tasks.jobs_reap_task": "default",
    "cardportal.tasks.files_purge_task": "default",
    "merchants.tasks.merchant_scores_refresh_task": "default",
}


def route(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_long_jobs_and_texts_go_to_queues_of_their_own():
    app.loader.import_default_modules()
    assert {name: route(name) for name in EXPECTED_QUEUES} == EXPECTED_QUEUES
    # every task the portal has lands on a queue that has workers
    assert {route(name) for name in app.tasks if not name.startswith("celery.")} <= set(
        settings.CELERY_QUEUES
    )


def test_each_queue_has_its_time_limits_unless_the_task_sets_its_own():
    app.loader.import_default_modules()
    limits = {name: (app.tasks[name].soft_time_limit, app.tasks[name].time_limit) for name in EXPECTED_QUEUES}
    assert limits["members.tasks.sheet_import_task"] == settings.CELERY_QUEUES["sheets"]["time_limits"]
    assert limits["issuance.tasks.batch_handoff_task"] == settings.CELERY_QUEUES["bank"]["time_limits"]
    assert limits["cardportal.tasks.jobs_reap_task"] == settings.CELERY_QUEUES["default"]["time_limits"]
    assert limits["members.sms.tasks.sms_send_task"] == (60, 90)  # its own
    assert limits["cardportal.tasks.files_purge_task"] == (None, 3600)  # its own
    longest = max(hard for _, hard in limits.values())
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


# --- health ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_liveness_answers_and_readiness_checks_database_and_migrations(client):
    assert client.get("/health/live/").json() == {"status": "ok"}
    response = client.get("/health/ready/web/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    checks = response.json()
    assert set(checks.values()) == {"OK"}
    assert any(name.startswith("Database") for name in checks)
    assert any(name.startswith("MigrationsApplied") for name in checks)


@pytest.mark.django_db(transaction=True)  # the checks run in threads, on connections of their own
def test_readiness_fails_while_a_migration_is_not_applied(client):
    recorder = MigrationRecorder(connection)
    newest = max(name for app, name in MigrationLoader(connection).graph.leaf_nodes() if app == "members")
    recorder.record_unapplied("members", newest)  # as after deploying code whose migration has not run
    try:
        for path in ("/health/ready/", "/health/ready/web/"):
            response = client.get(path, HTTP_ACCEPT="application/json")
            assert response.status_code == 500
            assert "Unavailable: 1 migrations not applied" in response.json().values()
    finally:
        recorder.record_applied("members", newest)
    assert client.get("/health/live/").status_code == 200  # not a reason to restart the process
    assert client.get("/health/ready/web/", HTTP_ACCEPT="application/json").status_code == 200


@pytest.mark.broker
@pytest.mark.django_db
def test_readiness_fails_without_a_worker_on_each_queue_but_web_readiness_does_not(client, settings):
    settings.HEALTH_CELERY_PING_SECONDS = 0.3
    response = client.get("/health/ready/", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    checks = response.json()
    assert any(name.startswith("Redis") and value == "OK" for name, value in checks.items())
    assert "Unavailable: Celery workers unavailable" in checks.values()
    assert client.get("/health/ready/web/", HTTP_ACCEPT="application/json").status_code == 200


# --- logs -----------------------------------------------------------------------------------------
def json_log(record_maker) -> dict:
    """One record through the production handler: settings.LOGGING's JSON formatter and its
    request id filter."""
    stream = io.StringIO()
    fmt = settings.LOGGING["formatters"]["json"]
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationId())
    handler.setFormatter(JsonFormatter(**{key: value for key, value in fmt.items() if key != "()"}))
    logger = logging.getLogger("cardportal.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        record_maker(logger)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue().strip().splitlines()[-1])


def test_a_log_line_is_json_with_the_request_id_and_no_id_number_or_phone():
    id_number, phone = next_id_number(), "13912345678"
    set_guid("5f0c3a2e9b7d4c1e8a6f2b3d4e5f6a7b")
    try:
        line = json_log(lambda log: log.info("member %s phone %s card 6217000012345678901", id_number, phone))
    finally:
        clear_guid()
    assert line["request_id"] == "5f0c3a2e9b7d4c1e8a6f2b3d4e5f6a7b"
    assert (line["level"], line["logger"]) == ("INFO", "cardportal.test")
    assert line["time"].endswith("+00:00")  # UTC in every process, whatever its time zone
    assert line["message"] == f"member {MASK} phone {MASK} card 6217000012345678901"  # a card number stays


def test_a_traceback_in_a_log_line_is_masked_too():
    id_number = next_id_number()

    def fail(log):
        try:
            raise ValueError(f"duplicate key (id_number)=({id_number})")
        except ValueError:
            log.exception("job failed")

    line = json_log(fail)
    assert id_number not in json.dumps(line) and MASK in line["exc_info"]


def test_scrub_finds_id_numbers_with_x_and_phones_but_not_longer_numbers():
    assert scrub("13090219850615123X,13012345678;") == f"{MASK},{MASK};"
    assert scrub("6217000013012345678 2024061512345678") == "6217000013012345678 2024061512345678"


@pytest.mark.django_db
def test_each_response_carries_a_request_id_and_a_sent_one_is_kept_only_if_it_is_a_uuid(client):
    made = client.get("/staff/login/")["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    sent = uuid.uuid4().hex
    assert client.get("/staff/login/", HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent
    assert client.get("/staff/login/", HTTP_X_REQUEST_ID="13912345678")["X-Request-ID"] != "13912345678"


# --- metrics --------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_metrics_exist_only_for_the_scraper_with_its_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    settings.METRICS_TOKEN = "s3cret-token-for-the-scraper"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    client.get("/staff/login/")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-the-scraper")
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        'django_http_requests_total_by_view_transport_method_total{method="GET",transport="http",view="login"}'
        in text
    )


@pytest.mark.django_db
def test_task_durations_and_failures_are_counted(client, settings, run_tasks_inline):
    from cardportal.tasks import jobs_reap_task

    settings.METRICS_TOKEN = "t"
    jobs_reap_task.delay()
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    assert (
        'cardportal_task_duration_seconds_count{queue="eager",task="cardportal.tasks.jobs_reap_task"}' in text
    )
    assert "cardportal_task_failures_total" in text


@pytest.mark.broker
@pytest.mark.django_db
def test_metrics_show_the_depth_of_each_queue(client, settings):
    import redis

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("bank")
    broker.rpush("bank", b"{}", b"{}")
    try:
        settings.METRICS_TOKEN = "t"
        text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    finally:
        broker.delete("bank")
    assert 'cardportal_queue_depth{queue="bank"} 2.0' in text
    assert 'cardportal_queue_depth{queue="sheets"}' in text


# --- Sentry ---------------------------------------------------------------------------------------
SENTRY_PROBE = """
import json, django, sentry_sdk
django.setup()
client = sentry_sdk.get_client()
print(json.dumps({"active": client.is_active()}))
if client.is_active():
    sent = []
    class Capture(sentry_sdk.transport.Transport):
        def capture_envelope(self, envelope):
            sent.extend(item.payload.json for item in envelope.items if item.payload.json)
    client.transport = Capture()
    try:
        raise ValueError("member {id} phone {phone}")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()
    print(json.dumps(sent, ensure_ascii=False))
"""


def test_sentry_is_off_without_a_dsn_and_masks_id_numbers_and_phones_with_one():
    id_number, phone = next_id_number(), "13812345678"
    probe = SENTRY_PROBE.replace("{id}", id_number).replace("{phone}", phone)
    off = run_django(probe, production_env(SENTRY_DSN=""))
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout.splitlines()[0]) == {"active": False}

    on = run_django(probe, production_env(SENTRY_DSN="http://public@127.0.0.1:9/1"))
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout.splitlines()[0]) == {"active": True}
    events = json.loads(on.stdout.splitlines()[1])
    assert events and f"member {MASK} phone {MASK}" in json.dumps(events, ensure_ascii=False)
    assert id_number not in on.stdout and phone not in on.stdout
