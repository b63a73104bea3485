"""Upcoming drops in 消息 (issue 13: "upcoming activities") without a row per member, and 提醒我:
one reminder SMS about ten minutes before the opening, once."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

from benefits.drops.models import Reminder
from benefits.drops.reminders import reminders_send
from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
from issuance.models import Card
from members.sms.models import Notice, SmsMessage
from tests.issuance.factories import make_card

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


def phone_of(member) -> Client:
    session = SessionStore()
    session[MEMBER_KEY] = member.pk
    session[PHONE_KEY] = member.phone_hash
    session.create()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    return client


def test_upcoming_drop_is_a_notice_for_the_members_it_admits_without_rows(tree, make_drop):
    everyone = make_drop(title="动物园门票", opens_in=3600, closes_in=7200)
    make_drop(title="困难职工电影票", opens_in=3600, closes_in=7200, hardship_only=True)
    make_drop(title="已开抢的票", opens_in=-60)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    no_card = make_card(tree.unit_b1, status=Card.Status.APPLIED).member

    page = phone_of(member).get("/me/notices/").content.decode()
    other = phone_of(no_card).get("/me/notices/").content.decode()

    assert "动物园门票" in page and f'data-key="drop:{everyone.pk}"' in page
    assert "困难职工电影票" not in page and "已开抢的票" not in page
    assert "动物园门票" not in other  # no activated card: not admitted
    assert not Notice.objects.filter(kind=Notice.Kind.ACTIVITY).exists()  # nothing written per member


def test_remind_me_once_then_one_sms_ten_minutes_before(tree, make_drop, django_capture_on_commit_callbacks):
    drop = make_drop(title="植物园门票", opens_in=3600, closes_in=7200)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    phone = phone_of(member)

    assert "提醒我" in phone.get(f"/me/drops/{drop.pk}/").content.decode()
    phone.post(f"/me/drops/{drop.pk}/remind/")
    again = phone.post(f"/me/drops/{drop.pk}/remind/", follow=True).content.decode()

    assert Reminder.objects.filter(drop=drop, member=member).count() == 1
    assert "已设置开抢提醒" in again
    with django_capture_on_commit_callbacks(execute=True):
        early = reminders_send(now=drop.opens_at - timedelta(minutes=20))
        due = reminders_send(now=drop.opens_at - timedelta(minutes=9))
        repeat = reminders_send(now=drop.opens_at - timedelta(minutes=8))
    assert (early, due, repeat) == (0, 1, 0)
    key = f"drop-remind:{drop.pk}:{member.pk}"
    assert Notice.objects.filter(member=member, key=key, kind=Notice.Kind.ACTIVITY).count() == 1
    assert SmsMessage.objects.filter(key=key).count() == 1
    assert "植物园门票" in phone.get("/me/notices/").content.decode()


def test_remind_me_refused_after_opening_and_for_members_not_admitted(tree, make_drop):
    opened = make_drop(opens_in=-60)
    hardship = make_drop(opens_in=3600, closes_in=7200, hardship_only=True)
    phone = phone_of(make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member)

    late = phone.post(f"/me/drops/{opened.pk}/remind/", follow=True).content.decode()
    refused = phone.post(f"/me/drops/{hardship.pk}/remind/", follow=True).content.decode()

    assert "活动已开抢，无需提醒" in late
    assert "不符合条件：本次活动仅限困难职工参加" in refused
    assert Reminder.objects.count() == 0
    assert timezone.now() >= opened.opens_at
