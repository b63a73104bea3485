"""The segment page counts from the activity snapshot (kept nightly and after each import), with
its date; the export and the notice's recipients are the segment as it is when they run."""

import re

import pytest
from django.urls import reverse

from cardportal.models import AuditEntry
from issuance.models import Card
from members.models import StaffRole
from members.sms.models import Notice
from quotas.analytics.models import SegmentNotice, UnionActivity
from quotas.analytics.refresh import refresh_all
from quotas.analytics.segments import SEGMENTS, segment_members

from ..factories import make_staff
from ..issuance.factories import make_card
from .factories import TODAY

pytestmark = pytest.mark.django_db


def _page(client, slug, **query):
    return client.get(reverse("analytics:segment", args=[slug]), query).content.decode()


def _count(body: str) -> int:
    return int(re.search(r'id="segment-count">([\d,]+)<', body).group(1).replace(",", ""))


def _notify(client, slug, expected, follow=True):
    data = {"title": "会员卡用卡指南讲座", "when": "12月10日下午在县总工会", "expected": expected}
    return client.post(reverse("analytics:segment_notify", args=[slug]), data, follow=follow)


def _new_hardship_member_with_unused_card(tree):
    return make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="甲七", is_hardship=True)


@pytest.mark.parametrize("who", ["city_staff", "reviewer"])
def test_page_count_equals_the_live_count_right_after_a_refresh(city, client, request, who):
    user = request.getfixturevalue(who)
    _new_hardship_member_with_unused_card(city.tree)
    refresh_all(today=TODAY)  # as the after-import task or the nightly run does
    client.force_login(user)
    for slug in ("hardship_unused", "activated_unused", "lapsed"):
        live = segment_members(user, SEGMENTS[slug], {"today": TODAY}).count()
        assert _count(_page(client, slug)) == live, slug
    for category in (city.merchants["m_a"].category, city.merchants["m_b"].category):
        live = segment_members(user, SEGMENTS["no_merchant"], {"category": category}).count()
        assert _count(_page(client, "no_merchant", category=category.pk)) == live, category.name


def test_page_counts_are_the_known_figures(city, client, city_staff, reviewer):
    client.force_login(city_staff)
    medical = city.merchants["m_a"].category_id
    assert _count(_page(client, "hardship_unused")) == 2
    assert _count(_page(client, "activated_unused")) == 2
    assert _count(_page(client, "lapsed")) == 0
    assert _count(_page(client, "no_merchant", category=medical)) == 2  # 乙四, 乙五 (乙县 has none)
    client.force_login(reviewer)
    assert _count(_page(client, "no_merchant", category=medical)) == 0  # 甲县 has one


def test_a_change_after_the_refresh_shows_the_old_count_with_its_date(city, client, city_staff):
    _new_hardship_member_with_unused_card(city.tree)
    client.force_login(city_staff)
    body = _page(client, "hardship_unused")
    assert _count(body) == 2
    assert "截至 2026-11-20 统计" in body
    assert 'name="expected" value="2"' in body
    # the list and the notice are live: the new member is in them already
    names = segment_members(city_staff, SEGMENTS["hardship_unused"], {}).values_list("name", flat=True)
    assert sorted(names) == ["乙五", "甲七", "甲二"]


def test_the_notice_goes_to_the_live_segment_and_audits_both_counts(city, client, city_staff):
    client.force_login(city_staff)
    expected = _count(_page(client, "hardship_unused"))
    _new_hardship_member_with_unused_card(city.tree)  # after the confirmation, no refresh
    response = _notify(client, "hardship_unused", expected)
    assert "已安排向3名会员发送通知" in response.content.decode()
    noticed = Notice.objects.filter(key__startswith="seg:")
    assert sorted(n.member.name for n in noticed) == ["乙五", "甲七", "甲二"]
    notice = SegmentNotice.objects.get()
    assert (notice.planned, notice.sent) == (3, 3)
    audit = AuditEntry.objects.get(verb="segment.notified")
    assert (audit.data["members"], audit.data["confirmed"], audit.data["counted_on"]) == (3, 2, "2026-11-20")


def test_the_notice_is_refused_when_the_snapshot_changed_between_confirmation_and_send(
    city, client, city_staff
):
    client.force_login(city_staff)
    expected = _count(_page(client, "hardship_unused"))
    _new_hardship_member_with_unused_card(city.tree)
    refresh_all(today=TODAY)  # an import's refresh ran while the form was open
    response = _notify(client, "hardship_unused", expected)
    assert "分群人数已变为3人（截至2026-11-20统计），请重新确认后再发送" in response.content.decode()
    assert not Notice.objects.filter(key__startswith="seg:").exists()
    assert not SegmentNotice.objects.exists()
    assert not AuditEntry.objects.filter(verb="segment.notified").exists()


def test_county_reviewer_sees_only_their_countys_sum(city, client, reviewer):
    other = make_staff(StaffRole.Role.COUNTY_REVIEWER, city.tree.county_b, username="reviewer-b")
    for user, hardship, unused in ((reviewer, 1, 1), (other, 1, 1)):
        client.force_login(user)
        assert _count(_page(client, "hardship_unused")) == hardship
        assert _count(_page(client, "activated_unused")) == unused
    # the city's snapshot holds both counties: each reviewer's figure is their county's rows only
    assert sum(UnionActivity.objects.values_list("hardship_unused", flat=True)) == 2
    _new_hardship_member_with_unused_card(city.tree)
    refresh_all(today=TODAY)
    client.force_login(other)
    assert _count(_page(client, "hardship_unused")) == 1  # 甲七 is in 甲县
    client.force_login(reviewer)
    assert _count(_page(client, "hardship_unused")) == 2


def test_without_a_snapshot_the_page_says_so_and_offers_nothing_to_send(city, client, city_staff):
    UnionActivity.objects.all().delete()
    client.force_login(city_staff)
    body = _page(client, "hardship_unused")
    assert "用卡统计尚未生成" in body
    assert 'id="segment-count"' not in body and "notify-confirm" not in body
    response = _notify(client, "hardship_unused", 2)
    assert "用卡统计尚未生成，还不能按分群发送通知" in response.content.decode()
    assert not Notice.objects.filter(key__startswith="seg:").exists()
