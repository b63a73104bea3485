import time
from decimal import Decimal

import pytest

from benefits.models import Disbursement
from benefits.services.bankfiles import disbursement_export
from benefits.services.disbursements import (
    Entry,
    disbursement_add_entries,
    disbursement_approve,
    disbursement_create,
    disbursement_submit,
)

from ..factories import ROLE, make_member, make_staff, make_tree
from ..merchants.factories import give_card

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_export_runs_on_a_real_worker(celery_worker_thread):
    tree = make_tree()
    staff = make_staff(ROLE.CITY_STAFF, tree.city)
    members = [make_member(tree.unit_a1, name=f"会员{i}") for i in range(3)]
    for m in members:
        give_card(m)
    batch = disbursement_create(name="金秋助学", kind="school_aid", union=tree.city, actor=staff)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("1000"), where=m.name) for m in members],
        actor=staff,
        source="test",
    )
    disbursement_submit(disbursement=batch, actor=staff)
    disbursement_approve(disbursement=batch, actor=make_staff(ROLE.PROVINCE_STAFF, tree.province))
    disbursement_export(disbursement=batch, actor=staff)  # autocommit: enqueued at once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch.refresh_from_db()
        if batch.job_finished:
            break
        time.sleep(0.2)
    assert (batch.state, batch.job_status) == (Disbursement.State.EXPORTED, "done")
    assert batch.manifest["lines"] == 3 and batch.manifest["total"] == "3000.00"
