from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from benefits.drops import services, store
from benefits.drops.selectors import drop_snapshot_forget


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    """Drop snapshots live in the process for a moment; SQLite reuses ids after a rollback."""
    drop_snapshot_forget()
    yield
    drop_snapshot_forget()


@pytest.fixture
def make_drop(tree, city_staff):
    made = []

    def make(*, tickets=5, price="0.00", opens_in=-1, closes_in=3600, **fields):
        now = timezone.now()
        counties = fields.pop("counties", ())
        drop = services.drop_create(
            actor=city_staff,
            union=tree.city,
            fields={
                "title": fields.pop("title", "动物园门票"),
                "venue": fields.pop("venue", "市动物园"),
                "tickets": tickets,
                "price": Decimal(price),
                "opens_at": now + timedelta(seconds=opens_in),
                "closes_at": now + timedelta(seconds=closes_in),
                **fields,
            },
            counties=counties,
        )
        made.append(drop)
        return drop

    yield make
    if store.enabled():
        for drop in made:
            store.forget(drop_key=drop.key)


@pytest.fixture
def db_path(settings):
    """The embedded path: no Redis for the drops, the database alone decides."""
    settings.DROPS_REDIS_URL = ""


@pytest.fixture(autouse=True)
def _winners_in_the_request(request, settings):
    """The lean press's winners are written by a writer thread on its own connection, which cannot
    see a test's uncommitted rows: tests in a transaction settle them in the request itself. The
    transactional tests (real concurrency) keep the writer."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in request.fixturenames
    )
    if not transactional:
        settings.DROPS_BATCH_WINNERS = False
