import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from django.db import connection

from .factories import ROLE, make_staff, make_tree

# Playwright's sync API runs an event loop in the test thread; the live server's own thread
# does the database work, so Django's async-safety guard does not apply here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- live server isolation --------------------------------------------------------------------
# Django's docs warn that with an in-memory SQLite test database the live server's request threads
# and the test thread share ONE connection, and simultaneous queries through it "may sometimes
# randomly cause the tests to fail". That is what broke the first run on a fresh clone: a request
# still being served while the test's teardown flushed the database (FOREIGN KEY constraint failed,
# the flush rolled back, every later browser test hit UNIQUE members_union.path). Two fixes:
# the SQLite test database is a file, so every thread has its own connection and SQLite's locks
# serialise them; and a browser test's teardown waits until the live server has answered every
# request it received before the database is flushed.
@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # in memory-backed /dev/shm where there is one: a file on disk costs an fsync per commit
        folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        name = folder / f"cardportal-test-{os.getpid()}.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(name)


class _InFlight:
    """Counts the live server's requests that have started and not yet finished."""

    def __init__(self):
        self.count = 0
        self.changed = threading.Condition()

    def wrap(self, application):
        def tracked(environ, start_response):
            with self.changed:
                self.count += 1
            result = None
            try:
                result = application(environ, start_response)
                yield from result
            finally:
                if hasattr(result, "close"):
                    result.close()
                with self.changed:
                    self.count -= 1
                    self.changed.notify_all()

        return tracked

    def wait_idle(self, timeout: float = 30) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout=timeout)


LIVE_REQUESTS = _InFlight()


def _install_request_tracking() -> None:
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class TrackedServer(ThreadedWSGIServer):
        def set_app(self, application):
            super().set_app(LIVE_REQUESTS.wrap(application))

    LiveServerThread.server_class = TrackedServer


_install_request_tracking()


def _flush_rollup_last() -> None:
    """SQLite flushes table by table in an order that follows Python's randomised string hashing
    (django_table_names builds a set). Deleting issuance_unionmonthcount fires the county roll-up
    trigger (quotas/rollup.py), which writes quotas_countymonthcount rows for unions not yet
    deleted; if that table was flushed earlier, those rows outlive members_union and the flush's
    COMMIT fails on the foreign key, leaving every later browser test on a dirty database (the
    intermittent first-run failure of issue 15). Flushing the roll-up table last makes the order
    safe whatever the hash seed. PostgreSQL flushes with TRUNCATE, which fires no row triggers."""
    if connection.vendor != "sqlite":  # (importing the SQLite backend by hand there is circular)
        return
    DatabaseOperations = type(connection.ops)

    from quotas.rollup import TABLE

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        statements = original(self, style, tables, **kwargs)
        last = [sql for sql in statements if TABLE in sql]
        return [sql for sql in statements if TABLE not in sql] + last

    DatabaseOperations.sql_flush = sql_flush


_flush_rollup_last()


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (as .ci/run does)")
    skip_broker = pytest.mark.skip(reason="needs Redis: set REDIS_URL (as .ci/run does)")
    skip_browser = pytest.mark.skip(reason=f"needs Debian's chromium at {CHROMIUM}")
    pg = os.environ.get("DATABASE_URL", "").startswith("postgres")
    for item in items:
        if "postgres" in item.keywords and not pg:
            item.add_marker(skip_pg)
        if "broker" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_broker)
        if "browser" in item.keywords and not shutil.which(CHROMIUM):
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _sheet_jobs_run_in_the_request(settings):
    """In the embedded mode a sheet's import and registration run in a background thread of the
    web process (members/tasks.py); the tests keep the eager run inside the call, so what a test
    asserts after an upload has happened. tests/members/test_sheet_background.py turns it on."""
    settings.SHEET_JOBS_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _empty_cache():
    """API throttles count in the cache (in-process under the tests): every test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tree(db):
    return make_tree()


@pytest.fixture
def clerk(tree):
    return make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")


@pytest.fixture
def reviewer(tree):
    return make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")


@pytest.fixture
def city_staff(tree):
    return make_staff(ROLE.CITY_STAFF, tree.city, username="city")


@pytest.fixture
def admin_user(tree):
    user = make_staff(ROLE.ADMIN, tree.county_a, username="admin-a")
    return user


@pytest.fixture
def plan_2016(tree):
    """The 2016 plan of the two test counties and their cards, for the checkpoint and sign-off
    tests (service and browser alike). 2016 is A's first year: new in year = cumulative target.
    A (target 10): 12 members registered by April; 4 cards issued and 4 activated by June (40%).
    B (target 5): 3 registered by April (short of 5), 2 more in May; 2 issued by June (40%),
    none activated (short of 2)."""
    from quotas.models import Quota

    from .quotas.factories import at, make_cards

    Quota.objects.create(union=tree.county_a, year=2016, target=10, new_in_year=10, member_base=100)
    Quota.objects.create(union=tree.county_b, year=2016, target=5, new_in_year=5, member_base=50)
    stages = {
        "issued": at(2016, 5),
        "received": at(2016, 5),
        "distributed": at(2016, 6),
        "activated": at(2016, 6),
    }
    make_cards(tree.unit_a1, 4, applied=at(2016, 3), **stages)
    make_cards(tree.unit_a1, 8, applied=at(2016, 4))
    make_cards(tree.unit_b1, 2, applied=at(2016, 4), issued=at(2016, 6))
    make_cards(tree.unit_b1, 1, applied=at(2016, 4))
    make_cards(tree.unit_b1, 2, applied=at(2016, 5))
    return tree


# --- real browser -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    # An irreversible action asks "确定…？" first (data-confirm): the person in these journeys
    # says yes; the questions asked are kept on page.dialogs for the tests that check them.
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.accept()))
    yield page
    context.close()
    # before the database is flushed (transactional_db is set up before this fixture, so it is
    # torn down after it): no request of this test may still be writing
    assert LIVE_REQUESTS.wait_idle(), "the live server is still answering a request of this test"


@pytest.fixture
def screenshot(page, request):
    """screenshot("name") saves test-artifacts/screenshots/<test>-<name>.png (full page)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str, target=None) -> Path:
        path = folder / f"{request.node.name}-{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


# --- second factor ----------------------------------------------------------------------------
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret, hex


def second_factor_device(user):
    """The user's confirmed TOTP device, made with the test secret when there is none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="测试", key=TEST_TOTP_KEY, confirmed=True)


def totp_code(device) -> str:
    """A code the device accepts now: the current time step, or the next one (within
    django-otp's tolerance) when the current one was already used, since codes are single-use."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture(autouse=True)
def _test_client_signs_in_fully(monkeypatch):
    """client.force_login()/login() stand for the whole sign-in: for a role that needs the second
    factor the session is also verified (with the user's device, made if missing), as a person's
    would be after the code step; and login() hands axes the request it needs. Tests of the
    second-factor gate itself use `login_password_only`."""
    from django.http import HttpRequest
    from django.test.client import ClientMixin
    from django_otp import DEVICE_ID_SESSION_KEY

    from cardportal.second_factor import second_factor_required

    original_login, original_credentials_login = ClientMixin._login, ClientMixin.login

    def _login(self, user, backend=None):
        original_login(self, user, backend)
        if getattr(self, "_password_only", False) or not second_factor_required(user):
            return
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = second_factor_device(user).persistent_id
        session.save()

    def login(self, **credentials):
        if "request" not in credentials:
            request = HttpRequest()
            request.META["REMOTE_ADDR"] = "127.0.0.1"
            credentials["request"] = request
        return original_credentials_login(self, **credentials)

    monkeypatch.setattr(ClientMixin, "_login", _login)
    monkeypatch.setattr(ClientMixin, "login", login)


def login_password_only(client, user) -> None:
    """Sign `user` in without the second-factor step (what the password alone gives)."""
    client._password_only = True
    try:
        client.force_login(user)
    finally:
        client._password_only = False


def login(page, live_server, username: str, password: str = "pw-Cardportal-1") -> None:
    """Sign in through the login page; for a role that needs it, also through the second-factor
    step with a code computed from the user's device in the test database (made if missing)."""
    from django.contrib.auth import get_user_model

    from cardportal.second_factor import second_factor_required

    user = get_user_model().objects.get(username=username)
    device = second_factor_device(user) if second_factor_required(user) else None
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if device is not None:
        page.wait_for_url(f"{live_server.url}/account/second-factor/verify/**")
        page.fill("input[name=token]", totp_code(device))
        page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


# --- Celery -----------------------------------------------------------------------------------
@pytest.fixture
def run_tasks_inline(settings):
    """Tasks run in-process when enqueued, even where REDIS_URL is set (tests about the service,
    not the broker). Combine with django_capture_on_commit_callbacks(execute=True) in tests that
    are not transactional, since tasks are enqueued after commit."""
    from cardportal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker consuming from the Redis broker (REDIS_URL), in a thread of this
    process, so it sees the test database. Mark the test `broker` (skipped without REDIS_URL)."""
    from celery.contrib.testing.worker import start_worker

    from cardportal.celery import app

    app.conf.task_always_eager = False
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30
    ) as worker:
        yield worker


def nav_to(page, label: str) -> None:
    """Click a top-bar entry the way a person does: open its menu first when it sits in one."""
    link = page.locator("nav.mainnav").get_by_role("link", name=label, exact=True)
    if not link.is_visible():
        page.locator("nav.mainnav .navgroup").filter(
            has=page.get_by_role("link", name=label, exact=True, include_hidden=True)
        ).hover()
    link.click()
