"""The roll-ups after the rows (issue 18): four parts, each in its own transaction (in parallel
on PostgreSQL), each applied exactly once whatever happens to the worker between the rows'
commit and the last part."""

from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection

from cardportal.jobs import job_queue
from merchants.usage import importer, rollups
from merchants.usage.models import (
    CardUsage,
    ImportRollup,
    MerchantCardMonth,
    MerchantMonth,
    TxnImport,
    UsageDay,
)
from merchants.usage.signals import transactions_imported

from ..factories import make_tree
from .helpers import World, csv_bytes, row

pytestmark = pytest.mark.django_db(transaction=True)
NOVEMBER = date(2026, 11, 1)


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return World(make_tree())


def _import(world, rows, name) -> TxnImport:
    """A feed file imported by the worker's own function, outside any transaction (as the
    worker runs it: on PostgreSQL the parts run in parallel threads)."""
    imp = TxnImport(partner=world.bank, kind=world.feed.code, file_name=name, sha256=name)
    imp.file.save(name, ContentFile(csv_bytes(rows)), save=False)
    imp.save()
    job_queue(imp, phase="import")
    importer.run_import(import_id=imp.pk)
    imp.refresh_from_db()
    return imp


def _sorted(rows) -> list:
    return sorted(rows, key=str)  # a UsageDay of no category holds None


def _roll_ups():
    return (
        _sorted(
            CardUsage.objects.values_list("card_id", "first_used_on", "last_used_on", "txn_count", "amount")
        ),
        _sorted(
            UsageDay.objects.values_list(
                "day",
                "union_id",
                "category_id",
                "at_union_merchant",
                "channel",
                "txn_count",
                "amount",
                "cards",
            )
        ),
        _sorted(
            MerchantMonth.objects.values_list(
                "merchant_id", "month", "txn_count", "amount", "cards", "repeat_cards"
            )
        ),
        _sorted(MerchantCardMonth.objects.values_list("merchant_id", "month", "card_id", "purchases")),
    )


def _first_file(world):
    return [
        row("A1", world.card_a, at="2026-11-15 09:00:00"),
        row("A2", world.card_b, at="2026-11-15 10:00:00"),
        row("A3", world.card_a, at="2026-11-16 23:59:59", amount="20.00"),
        row("A4", world.card_b, at="2026-11-16 11:00:00", mid="999999999999999"),  # not a union merchant
    ]


def _second_file(world):
    return [
        row("A3", world.card_a, at="2026-11-16 23:59:59", amount="20.00"),  # overlaps the first file
        row("B1", world.card_b, at="2026-11-16 12:00:00"),  # card B's second purchase at the shop
        row("B2", world.card_a, at="2026-11-17 00:00:01", amount="-20.00", kind="退货", original="A3"),
    ]


def test_the_parts_give_what_a_recount_of_the_table_gives(world):
    first = _import(world, _first_file(world), "a.csv")
    second = _import(world, _second_file(world), "b.csv")

    assert (first.job_status, first.inserted, second.job_status, second.inserted) == ("done", 4, "done", 2)
    assert set(ImportRollup.objects.values_list("txn_import_id", "part")) == {
        (imp.pk, part) for imp in (first, second) for part in rollups.PARTS
    }
    imported = _roll_ups()
    rollups.rebuild_month(NOVEMBER)  # every roll-up of the month from the stored rows
    assert imported == _roll_ups()
    month = MerchantMonth.objects.get(merchant=world.shop, month=NOVEMBER)
    assert (month.txn_count, month.cards, month.repeat_cards) == (5, 2, 2)


def _dying_in(monkeypatch, dying_part: str) -> None:
    """The worker dies in one part, after the rows and the other parts may have committed."""
    apply_part = rollups.apply_part

    def dies(import_id, part):
        if part == dying_part:
            raise RuntimeError("worker killed")
        return apply_part(import_id, part)

    monkeypatch.setattr(rollups, "apply_part", dies)


def test_a_run_that_died_in_the_roll_ups_is_finished_by_its_retry_each_part_once(world, monkeypatch):
    _dying_in(monkeypatch, "merchants")
    with pytest.raises(RuntimeError):
        _import(world, _first_file(world), "a.csv")
    imp = TxnImport.objects.get()
    assert (imp.job_status, imp.inserted, imp.imported_at is not None) == ("running", 4, True)
    assert set(ImportRollup.objects.values_list("part", flat=True)) == {"days", "cards-even", "cards-odd"}
    assert not MerchantMonth.objects.exists()

    monkeypatch.undo()
    importer.run_import(import_id=imp.pk)  # the redelivered task
    imp.refresh_from_db()

    assert (imp.job_status, imp.inserted, imp.duplicates) == ("done", 4, 0)  # the counts of the first run
    assert CardUsage.objects.get(card=world.card_a).txn_count == 2  # not added twice
    imported = _roll_ups()
    rollups.rebuild_month(NOVEMBER)
    assert imported == _roll_ups()


def test_the_next_import_applies_what_a_failed_one_left(world, monkeypatch):
    _dying_in(monkeypatch, "days")
    with pytest.raises(RuntimeError):
        _import(world, _first_file(world), "a.csv")
    TxnImport.objects.update(job_status=TxnImport.Status.FAILED)  # given up: no rerun will come
    monkeypatch.undo()

    signalled = []
    transactions_imported.connect(lambda txn_import_id, **_: signalled.append(txn_import_id), weak=False)
    try:
        second = _import(world, _second_file(world), "b.csv")
    finally:
        transactions_imported.receivers.pop()

    first = TxnImport.objects.exclude(pk=second.pk).get()
    assert (first.job_status, first.job_message[:22]) == ("done", "共 4 行：新增交易 4，重复（已导入过）0")
    assert sorted(signalled) == [first.pk, second.pk]  # the first one's never went: its subsidies
    assert ImportRollup.objects.count() == 2 * len(rollups.PARTS)
    imported = _roll_ups()
    rollups.rebuild_month(NOVEMBER)
    assert imported == _roll_ups()
    assert {d.day for d in UsageDay.objects.all()} == {
        date(2026, 11, 15),
        date(2026, 11, 16),
        date(2026, 11, 17),
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY thread is PostgreSQL's")
def test_a_chunk_the_database_refuses_is_raised_where_the_next_chunk_is_handed_over(world):
    """The stage's COPY runs in a thread on this same session: its error reaches the import at the
    next hand-over (or at the end), and the session is usable after it."""
    importer._create_stage("usage_stage_test")
    writer = importer._StageWriter("usage_stage_test")
    try:
        good = "1\tR1\t6200000000000001\t2026-11-15 09:00:00+08\t1.00\t\t\tpos\tpurchase\t\n"
        writer.write([], good)
        writer.write([], "2\tR2\tonly three columns\n")
        with pytest.raises(DatabaseError):
            writer.write([], good)
    finally:
        writer.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_stage_test")
        assert cursor.fetchone()[0] == 1  # the first chunk; the refused one left nothing
        cursor.execute("DROP TABLE usage_stage_test")


def test_an_earlier_import_that_fails_again_does_not_fail_the_one_that_found_it(world, monkeypatch, caplog):
    apply_part = rollups.apply_part
    doomed = []

    def dies_for_the_first(import_id, part):
        if part == "days" and (not doomed or import_id == doomed[0]):
            doomed[:1] = [import_id]
            raise RuntimeError("the days part is broken for this import")
        return apply_part(import_id, part)

    monkeypatch.setattr(rollups, "apply_part", dies_for_the_first)
    with pytest.raises(RuntimeError):
        _import(world, _first_file(world), "a.csv")
    TxnImport.objects.update(job_status=TxnImport.Status.FAILED)

    second = _import(world, _second_file(world), "b.csv")

    first = TxnImport.objects.get(pk=doomed[0])
    assert (second.job_status, first.job_status) == ("done", "failed")
    assert "its missing roll-ups could not be applied" in caplog.text
    assert not ImportRollup.objects.filter(txn_import=first, part="days").exists()
