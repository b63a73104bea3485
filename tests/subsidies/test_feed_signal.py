"""Through the feed's own importer: an uploaded file's signal computes the subsidies (task
inline), and a later file's refund takes the subsidy back."""

from datetime import date
from decimal import Decimal

import pytest

from benefits.subsidies.models import SubsidyEarning
from benefits.subsidies.services import subsidy_campaign_create

from ..factories import ROLE, make_staff
from ..usage.helpers import World, csv_bytes, row, run_import

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


def test_imports_earn_and_a_later_refund_cancels(tree, django_capture_on_commit_callbacks):
    world = World(tree)
    c = subsidy_campaign_create(
        actor=make_staff(ROLE.CITY_STAFF, tree.city),
        union=tree.city,
        fields={
            "name": "药房补贴",
            "rule": "percent",
            "percent": Decimal("10"),
            "budget": Decimal("1000"),
            "starts_on": date(2026, 11, 1),
            "ends_on": date(2026, 11, 30),
        },  # fmt: skip
    )
    day = csv_bytes([row("R1", world.card_a, amount="100.00"), row("R2", world.card_b, amount="35.00")])
    run_import(world.feed, day, "d1.csv", world.operator, django_capture_on_commit_callbacks)
    run_import(world.feed, day, "d1-again.csv", world.operator, django_capture_on_commit_callbacks)
    assert sorted(SubsidyEarning.objects.values_list("amount", flat=True)) == [
        Decimal("3.50"),
        Decimal("10.00"),
    ]
    refund = csv_bytes([row("R1-RF", world.card_a, at="2026-11-16 09:00:00", kind="退货", original="R1")])
    run_import(world.feed, refund, "d2.csv", world.operator, django_capture_on_commit_callbacks)
    assert SubsidyEarning.objects.get(reference="R1").status == "cancelled"
    c.refresh_from_db()
    assert c.spent == Decimal("3.50")


def test_demo_campaign_loads_once(tree):
    import io

    from benefits.subsidies import demo
    from benefits.subsidies.models import SubsidyCampaign

    make_staff(ROLE.CITY_STAFF, tree.city)
    out = io.StringIO()
    demo.load(stdout=out)
    demo.load(stdout=out)
    campaign = SubsidyCampaign.objects.get()
    assert (campaign.name, campaign.union, campaign.is_active) == (demo.NAME, tree.city, True)
    assert "消费补贴：活动" in out.getvalue()
