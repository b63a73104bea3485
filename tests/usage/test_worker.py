"""The feed import on a real Celery worker (the `bank` queue through Redis), as in production."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from merchants.usage import services
from merchants.usage.models import CardTransaction

from ..factories import make_tree
from .helpers import World, csv_bytes, row

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_an_import_runs_on_a_real_worker(celery_worker_thread, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    world = World(make_tree())
    content = csv_bytes([row("W1", world.card_a), row("W2", world.card_b)])
    imp = services.import_create(
        feed=world.feed, upload=SimpleUploadedFile("d.csv", content), actor=world.operator
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        imp.refresh_from_db()
        if imp.job_finished:
            break
        time.sleep(0.2)
    assert (imp.job_status, imp.inserted, imp.progress_percent) == ("done", 2, 100), imp.job_message
    assert CardTransaction.objects.count() == 2
