"""Upcoming drops on the phone (issue 13's "upcoming activities"): the member finds the drop in
消息 without any notice row written for them, opens it, taps 提醒我, and sees it set."""

from datetime import timedelta

import pytest

from benefits.drops import services
from benefits.drops.models import Reminder
from issuance.models import Card
from members.sms.models import Notice
from tests.issuance.factories import make_card

from ..conftest import LIVE_REQUESTS
from ..factories import ROLE, make_staff
from .test_drops_journey import member_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_sees_upcoming_drop_in_notices_and_asks_for_a_reminder(live_server, browser, screenshot, tree):
    from django.utils import timezone

    staff = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    now = timezone.now()
    drop = services.drop_create(
        actor=staff,
        union=tree.city,
        fields={
            "title": "滑雪场门票（免费）",
            "venue": "市滑雪场",
            "tickets": 50,
            "price": 0,
            "opens_at": now + timedelta(hours=2),
            "closes_at": now + timedelta(hours=4),
        },
    )
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="孙丽").member

    context, phone = member_phone(browser, live_server, member)
    phone.goto(f"{live_server.url}/me/notices/")
    assert "滑雪场门票（免费）" in phone.inner_text("#upcoming")
    screenshot("notices-upcoming", phone)
    phone.click("#upcoming a")
    phone.click("#remind")
    assert "已设置开抢提醒" in phone.inner_text("#reminded")
    screenshot("reminder-set", phone)
    context.close()

    assert Reminder.objects.filter(drop=drop, member=member).count() == 1
    assert not Notice.objects.filter(kind=Notice.Kind.ACTIVITY).exists()
    assert LIVE_REQUESTS.wait_idle()
