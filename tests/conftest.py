import os
import shutil
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
    yield page
    context.close()


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


def login(page, live_server, username: str, password: str = "pw-Cardportal-1") -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
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
