"""Issue 17: `./scripts/serve` runs the portal as production does (DEBUG off, collected static
files, gunicorn, one Celery worker per queue, one beat, JSON logs), and a clerk's journey works
against it in Chromium: sign in, upload a sheet, see it validated by the `sheets` worker.

Then, from the processes' own output and endpoints: the readiness check saw a worker on every
queue; the upload request's id (X-Request-ID) is in the log lines of the sheet-import task the
worker ran; no line of any process holds the sheet's ID numbers or phones; /metrics (with its
token) counts the import on the `sheets` queue. Needs PostgreSQL and Redis (the serve processes
share the test database); skipped on SQLite."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.db import connection

from members.models import RegistrationSheet
from tests.test_journey_leak_scan import leaks_in, patterns_for

from ..conftest import login
from ..factories import next_id_number
from ..hostile import workbook_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True),
]
ROOT = Path(__file__).resolve().parents[2]
PHONES = ["13912345671", "13812345672", "15912345673"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """scripts/serve in its own process group; its whole output (every process) in a file."""

    def __init__(self, tmp: Path):
        db = connection.settings_dict
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.log = tmp / "serve.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": django_settings.CELERY_BROKER_URL,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "PII_KEYS": ",".join(django_settings.PII_KEYS),
            "PII_HASH_KEY": django_settings.PII_HASH_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PORT": str(self.port),
            "SECURE_SSL_REDIRECT": "0",  # plain http on the loopback, no TLS proxy in front
            "METRICS_TOKEN": self.metrics_token,
            "STATIC_ROOT": str(tmp / "static"),
            "MEDIA_ROOT": str(tmp / "media"),
            "TMPDIR": str(tmp),
            "WEB_CONCURRENCY": "2",
            "SHEETS_CONCURRENCY": "1",
            "NOTIFY_CONCURRENCY": "1",
            "DJANGO_SETTINGS_MODULE": "cardportal.settings",  # as production runs, not the suite's
        }
        env.pop("DEBUG", None)
        env.pop("LOG_FORMAT", None)
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by Playwright for this process only
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=open(self.log, "w"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url + path, headers={"Accept": "application/json", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return 0, str(error)

    def wait_ready(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        status, body = 0, ""
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"scripts/serve stopped:\n{self.output()[-4000:]}"
            status, body = self.get("/health/ready/")
            if status == 200:
                return json.loads(body)
            time.sleep(0.3)
        raise AssertionError(f"not ready after {timeout} s: {status} {body}\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def serve(tmp_path, transactional_db):
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()  # this session's own db
    started = Serve(tmp_path)
    yield started
    started.stop()


def json_lines(text: str) -> list[dict]:
    """Every JSON object line of the output (honcho puts "time name.1 | " in front of each)."""
    found = []
    for line in text.splitlines():
        start = line.find("{")
        if start >= 0:
            try:
                found.append(json.loads(line[start:]))
            except ValueError:
                continue
    return found


def test_scripts_serve_runs_the_production_layout_and_a_clerk_uploads_a_sheet(
    serve, page, screenshot, tree, clerk, tmp_path
):
    people = [{"id": next_id_number(), "phone": phone} for phone in PHONES]
    sheet_file = tmp_path / "登记表.xlsx"
    sheet_file.write_bytes(
        workbook_bytes(
            [["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位", "困难职工"]]
            + [
                [i + 1, p["id"], name, "", p["phone"], "财务处", ""]
                for i, (p, name) in enumerate(zip(people, ["王芳", "李娜", "张伟"], strict=True))
            ]
        )
    )

    ready = serve.wait_ready()
    assert set(ready.values()) == {"OK"} and any("Ping" in check for check in ready), ready
    assert serve.get("/health/live/")[0] == 200
    assert serve.get("/metrics")[0] == 404  # no token, no metrics
    # DEBUG is off: a missing page is the portal's own 404 page, not Django's technical one.
    status, body = serve.get("/no-such-page/", {"Accept": "text/html"})
    assert status == 404 and "Page not found at" not in body

    upload_ids = []  # X-Request-ID of the upload's POST
    page.on(
        "response",
        lambda r: (
            r.request.method == "POST"
            and "/sheets/upload" in r.url
            and upload_ids.append(r.headers["x-request-id"])
        ),
    )
    # scripts/serve runs production's password hashers, not the suite's fast one
    clerk.password = make_password("pw-Cardportal-1", hasher="pbkdf2_sha256")
    clerk.save(update_fields=["password"])
    login(page, serve, "clerk-a1")
    page.goto(f"{serve.url}/members/sheets/upload/")
    page.set_input_files("input[name=file]", str(sheet_file))
    page.fill("input[name=declared_members]", "3")
    page.fill("input[name=declared_id_copies]", "3")
    page.click("button:has-text('上传并校验')")
    page.wait_for_url("**/members/sheets/*/")
    page.wait_for_selector("#count-accepted", timeout=60_000)  # the sheets worker validated it
    screenshot("validated")
    assert page.inner_text("#count-accepted") == "3"
    assert people[0]["id"] not in page.content()
    sheet = RegistrationSheet.objects.get()
    assert (sheet.job_status, sheet.rows_accepted) == ("done", 3)
    assert page.evaluate("getComputedStyle(document.body).fontFamily")  # collected static CSS loaded

    status, metrics = serve.get("/metrics", {"Authorization": f"Bearer {serve.metrics_token}"})
    assert status == 200
    counted = re.search(
        r'cardportal_task_duration_seconds_count\{queue="sheets",task="members.tasks.sheet_import_task"\} (\S+)',
        metrics,
    )
    assert counted and float(counted.group(1)) >= 1, metrics[-2000:]
    assert 'cardportal_queue_depth{queue="sheets"} 0.0' in metrics
    assert "django_http_requests_total_by_method_total" in metrics

    serve.stop()
    output = serve.output()
    lines = json_lines(output)
    # The request id of the upload (a POST answered with a redirect) is in the import task's lines.
    (request_id,) = upload_ids
    in_task = [
        line for line in lines if line.get("request_id") == request_id and line.get("queue") == "sheets"
    ]
    assert in_task, f"no line of the sheets worker carries {request_id}"
    assert any(
        line.get("logger") == "gunicorn.access" and line.get("request_id") == request_id for line in lines
    )
    # No ID number or phone of the sheet in any line of any process (web, workers, beat).
    assert leaks_in(output, patterns_for(people)) == []
