"""The four-eyes migration treats batches from before it sensibly: a requested but unwritten
payment file now waits for approval; exported and closed batches keep their state."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("benefits", "0001_initial")]
AFTER = [("benefits", "0002_four_eyes")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_batches_after_the_migration():
    old = migrate(BEFORE)
    Union = old.get_model("members", "Union")
    User = old.get_model("auth", "User")
    Disbursement = old.get_model("benefits", "Disbursement")
    union = Union.objects.create(code="M1", name="迁移工会", level="grassroots", path="M1/", depth=0)
    clerk = User.objects.create(username="old-clerk")
    ids = {
        state: Disbursement.objects.create(
            name=state, kind="warmth", union=union, state=state, created_by=clerk, job_status="queued"
        ).pk
        for state in ("draft", "exporting", "exported", "closed")
    }
    try:
        new = migrate(AFTER)
        Disbursement = new.get_model("benefits", "Disbursement")
        rows = {
            b.name: (b.state, b.job_status, b.job_error_code, b.approved_by_id)
            for b in Disbursement.objects.filter(pk__in=ids.values())
        }
        assert rows == {
            "draft": ("draft", "queued", "", None),
            "exporting": ("submitted", "failed", "needs_approval", None),
            "exported": ("exported", "queued", "", None),
            "closed": ("closed", "queued", "", None),
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
