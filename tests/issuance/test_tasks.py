import time

import pytest

from issuance.models import BankBatch
from issuance.services.batches import batch_create

from .factories import make_card

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_handoff_file_is_written_by_a_real_worker(tree, partner, city_staff, celery_worker_thread):
    make_card(tree.unit_a1, id_number="11010519491231002X")
    batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.job_finished:
            break
        time.sleep(0.2)
    assert (batch.job_status, batch.status, batch.handoff_rows) == (
        "done",
        BankBatch.BatchStatus.HANDED_OFF,
        1,
    )
    assert len(batch.handoff_sha256) == 64
