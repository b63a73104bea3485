"""Seed 004: every hardship worker carded by the year's end, and their card numbers reported to
the union above (their aid is paid to those cards)."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from cardportal import crypto
from cardportal.models import AuditEntry
from issuance.hardship import hardship_coverage
from issuance.models import Card

from ..factories import make_member
from .factories import make_card

pytestmark = pytest.mark.django_db
S = Card.Status


@pytest.fixture
def hardship(tree):
    held = make_card(tree.unit_a1, status=S.ACTIVATED, is_hardship=True, name="赵一")
    making = make_card(tree.unit_a1, status=S.RECEIVED, is_hardship=True, name="钱二")
    make_member(tree.unit_a1, is_hardship=True, name="孙三")  # registered, no card yet
    lost = make_card(tree.unit_b1, status=S.LOST, is_hardship=True, name="李四")  # lost: not held
    make_card(tree.unit_a1, status=S.ACTIVATED, name="周五")  # not a hardship worker
    return {"held": held, "making": making, "lost": lost}


def test_coverage_counts_cards_in_hand_per_county(tree, hardship):
    rows, total = hardship_coverage(root=tree.city)
    by_union = {r.union.pk: r for r in rows}
    a = by_union[tree.county_a.pk]
    assert (a.members, a.held, a.making, a.without) == (3, 1, 1, 1)
    b = by_union[tree.county_b.pk]
    assert (b.members, b.held, b.without) == (1, 0, 1)
    assert (total.members, total.held, total.making, total.without) == (4, 1, 1, 2)


def test_page_lists_who_still_has_no_card_masked(client, tree, hardship, city_staff):
    client.force_login(city_staff)
    page = client.get(reverse("issuance:hardship") + f"?root={tree.city.pk}").content.decode()
    assert "年底全部持卡：1 / 4 人" in page
    section = page.split("尚未持卡的困难职工")[1]
    assert "钱二" in section and "孙三" in section and "李四" in section and "赵一" not in section
    waiting = hardship["making"].member
    assert crypto.decrypt(waiting.id_encrypted) not in page and waiting.masked_id in section


def test_card_number_report_is_scoped_and_audited(client, tree, hardship, reviewer):
    client.force_login(reviewer)  # county A's reviewer
    response = client.get(reverse("issuance:hardship") + f"?root={tree.county_a.pk}&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    assert sorted((r[2], r[4]) for r in rows) == sorted(
        [("赵一", hardship["held"].number), ("钱二", hardship["making"].number)]
    )
    assert sheet.cell(3, 5).data_type == "s"  # card numbers kept as text
    entry = AuditEntry.objects.get(verb="hardship.cards_exported")
    assert entry.actor == reviewer and entry.data == {"cards": 2}
    # another county's union is not reachable
    other = client.get(reverse("issuance:hardship") + f"?root={tree.county_b.pk}")
    assert other.status_code == 200 and tree.county_b.name not in other.content.decode().split("</h1>")[0]
