"""The pages as staff open them: who may, what scope they see, the exports, no full numbers."""

import io
import re

import openpyxl
import pytest
from django.urls import reverse

from cardportal.models import AuditEntry
from issuance.models import Card
from members.models import StaffRole
from quotas.analytics.segments import SEGMENTS

from ..factories import make_staff

pytestmark = pytest.mark.django_db
PAGES = ["active", "spending", "merchants", "uptake", "segments"]


def _get(client, name, *args, **query):
    return client.get(reverse(f"analytics:{name}", args=args), query)


@pytest.mark.parametrize("name", PAGES)
def test_clerk_gets_403(city, client, clerk, name):
    client.force_login(clerk)
    assert _get(client, name).status_code == 403


def test_clerk_cannot_export_or_notify(city, client, clerk):
    client.force_login(clerk)
    assert _get(client, "export", "active").status_code == 403
    assert _get(client, "segment_export", "hardship_unused").status_code == 403
    url = reverse("analytics:segment_notify", args=["hardship_unused"])
    assert client.post(url, {"title": "讲座", "when": "明天", "expected": 1}).status_code == 403


def test_county_staff_see_only_their_county(city, client, reviewer):
    client.force_login(reviewer)
    body = _get(client, "active").content.decode()
    assert "甲县第一中学工会" in body and "乙县人民医院工会" not in body
    assert _get(client, "active", county=city.tree.county_b.pk).status_code == 404
    body = _get(client, "merchants", month="2026-11").content.decode()
    assert "甲县康复医院" in body and "乙县影城" not in body
    body = _get(client, "spending", month="2026-11").content.decode()
    assert "甲县总工会" in body and "乙县总工会" not in body


def test_city_staff_see_every_county_and_drill_down(city, client, city_staff):
    client.force_login(city_staff)
    body = _get(client, "active").content.decode()
    assert "甲县总工会" in body and "乙县总工会" in body and "<svg" in body
    body = _get(client, "active", county=city.tree.county_b.pk).content.decode()
    assert "乙县人民医院工会" in body and "甲县第一中学工会" not in body
    for name in ("spending", "merchants"):
        assert "<svg" in _get(client, name, month="2026-11").content.decode()
    assert _get(client, "uptake").status_code == 200


def _sheet_text(content: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(
        "\t".join("" if v is None else str(v) for v in row)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
    )


@pytest.mark.parametrize("page", ["active", "spending", "merchants", "uptake"])
def test_every_page_exports_excel_audited(city, client, city_staff, page):
    client.force_login(city_staff)
    response = _get(client, "export", page, month="2026-11")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    text = _sheet_text(response.content)
    assert "口径" in text or "名词" in text
    assert AuditEntry.objects.filter(verb="analytics.exported", actor=city_staff).count() == 1


def test_active_export_has_the_figures(city, client, city_staff):
    client.force_login(city_staff)
    text = _sheet_text(_get(client, "export", "active").content)
    assert "甲县总工会\t3\t3\t3\t100\t3\t100\t1" in text
    assert "测试市总工会\t5\t4\t3\t60\t4\t80\t2" in text
    text = _sheet_text(_get(client, "export", "merchants", month="2026-11").content)
    assert "1\t甲县康复医院\t医疗保健\t甲县总工会\t2\t1\t50\t3\t180\t1" in text
    assert "甲县书店" in text


def test_segment_export_is_a_masked_member_list(city, client, reviewer):
    client.force_login(reviewer)
    response = _get(client, "segment_export", "hardship_unused")
    text = _sheet_text(response.content)
    assert "甲二" in text and "乙五" not in text
    member = city.cards["c2"].member
    assert member.masked_phone in text
    entry = AuditEntry.objects.get(verb="segment.exported")
    assert entry.data["rows"] == 1


def test_no_full_card_or_id_number_anywhere(city, client, city_staff):
    """Every page and export, city-wide: the test members' card numbers and ID numbers never occur
    (nor any 16–19 digit run or 18-character ID shape)."""
    from quotas.analytics.selectors import default_month  # noqa: F401  (pages under test below)

    from .factories import make_paid_batch

    c = city.cards
    make_paid_batch(city.tree.county_a, [(c["c1"], "300", "paid"), (c["c3"], "100", "paid")])
    client.force_login(city_staff)
    bodies = [_get(client, name, month="2026-11").content for name in PAGES]
    bodies += [
        _get(client, "segment", s.slug, category=city.merchants["m_a"].category_id).content
        for s in SEGMENTS.values()
    ]
    text = "\n".join(b.decode() for b in bodies)
    for page in ("active", "spending", "merchants", "uptake"):
        text += _sheet_text(_get(client, "export", page, month="2026-11").content)
    for s in SEGMENTS.values():
        text += _sheet_text(
            _get(client, "segment_export", s.slug, category=city.merchants["m_a"].category_id).content
        )
    numbers = [card.number for card in Card.objects.exclude(number=None)]
    assert numbers and not [n for n in numbers if n in text]
    assert not re.search(r"(?<!\d)\d{16,19}(?!\d)", text)
    assert not re.search(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])", text)
    assert "甲二" in text  # the scan did see the member lists


def test_other_county_staff_get_their_own_segment(city, client):
    other = make_staff(StaffRole.Role.COUNTY_REVIEWER, city.tree.county_b, username="reviewer-b")
    client.force_login(other)
    body = _get(client, "segment", "hardship_unused").content.decode()
    assert re.search(r'id="segment-count">1<', body)
