"""PostgreSQL only: imports computed at the same moment against one budget and one member cap,
in real threads with their own connections (the database is the judge), and the set-based SQL
giving exactly what the Python path (SQLite's) gives."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.db.models import Count, Sum

from benefits.subsidies import engine
from benefits.subsidies.models import SubsidyCampaign, SubsidyEarning
from benefits.subsidies.services import subsidies_compute

from .factories import at, campaign, holder, import_rows, make_world, txn

pytestmark = pytest.mark.postgres
D = Decimal
NOV = date(2026, 11, 10)


def run_at_once(import_ids: list[int]) -> None:
    start = threading.Barrier(len(import_ids))
    errors = []

    def work(import_id):
        try:
            start.wait()
            subsidies_compute(txn_import_id=import_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in import_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_imports_at_once_never_pass_the_budget_nor_a_members_monthly_cap():
    w = make_world()
    tight = campaign(w, name="预算紧", budget=D("237.50"))
    capped = campaign(w, name="每人每月封顶", budget=D("100000"), cap_per_member_month=D("47.30"))
    cards = [holder(w.tree.unit_a1) for _ in range(8)]
    imports = [
        import_rows(
            w, [txn(card, w.canteen, f"{100 + k}.00", at(NOV, 8 + k, n)) for card in cards for k in range(6)]
        )
        for n in range(4)
    ]
    ids = [imp.pk for imp in imports]
    run_at_once(ids + ids[:2])  # four imports, two of them twice, all at once

    tight.refresh_from_db()
    assert tight.spent == tight.budget == D("237.50")
    assert SubsidyEarning.objects.filter(campaign=tight).aggregate(s=Sum("amount"))["s"] == D("237.50")
    per_member = SubsidyEarning.objects.filter(campaign=capped).values("member").annotate(s=Sum("amount"))
    assert sorted(r["s"] for r in per_member) == [D("47.30")] * 8
    capped.refresh_from_db()
    assert capped.spent == D("47.30") * 8
    for c in (tight, capped):
        twice = (
            SubsidyEarning.objects.filter(campaign=c).values("txn_id").annotate(n=Count("id")).filter(n__gt=1)
        )
        assert list(twice) == []


@pytest.mark.django_db
def test_the_sql_gives_what_the_python_path_gives():
    w = make_world()
    fields = {"percent": D("7.5"), "cap_per_txn": D("9"), "cap_per_member_month": D("25"), "budget": D("180")}
    on_sql = campaign(w, name="SQL", **fields)
    on_python = campaign(w, name="Python", **fields)
    cards = [holder(w.tree.unit_a1 if i % 2 else w.tree.unit_b1) for i in range(6)]
    rows = [
        txn(
            cards[i % 6],
            w.canteen if i % 3 else w.bookshop,
            f"{13 + (i * 37) % 190}.{i % 100:02d}",
            at(date(2026, 11, 1 + i % 28) if i % 5 else date(2026, 12, 1 + i % 20), 8 + i % 12, i % 60),
        )
        for i in range(120)
    ]
    imp = import_rows(w, rows[:70])
    later = import_rows(w, rows[70:])
    for import_id in (imp.pk, later.pk):
        engine.compute_campaign(on_sql.pk, import_id)
        with transaction.atomic():
            c = SubsidyCampaign.objects.select_for_update().get(pk=on_python.pk)
            count, amount = engine._earn_python(c, import_id)
            SubsidyCampaign.objects.filter(pk=c.pk).update(spent=c.spent + amount)

    def result(c):
        return dict(SubsidyEarning.objects.filter(campaign=c).values_list("txn_id", "amount"))

    assert result(on_sql) == result(on_python)
    assert len(result(on_sql)) > 20
    on_sql.refresh_from_db()
    on_python.refresh_from_db()
    assert on_sql.spent == on_python.spent == D("180.00")  # the budget ran out part-way
