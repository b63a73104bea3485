"""The ticket grab in a real browser: city staff create a one-cent drop opening in a few seconds;
a member on a phone watches the countdown, grabs at the opening second, pays one cent and shows
the voucher; a second member is told 已抢完; the venue checks the voucher in once."""

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from benefits.drops.models import Drop, Ticket
from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
from issuance.models import Card
from tests.issuance.factories import make_card

from ..conftest import LIVE_REQUESTS, login
from ..factories import ROLE, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def member_phone(browser, live_server, member):
    """A phone already signed in as `member` (the sign-in itself has its own journey)."""
    session = SessionStore()
    session[MEMBER_KEY] = member.pk
    session[PHONE_KEY] = member.phone_hash
    session.create()
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.add_cookies([{"name": "sessionid", "value": session.session_key, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def test_staff_create_member_grabs_pays_second_sold_out_venue_redeems(
    live_server, browser, page, screenshot, tree, settings
):
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    winner = make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="李文华").member
    loser = make_card(tree.unit_b1, status=Card.Status.ACTIVATED, name="赵敏").member

    # staff create the drop, opening 40 seconds from now (this shared machine can be slow)
    login(page, live_server, "city")
    page.goto(f"{live_server.url}/drops/new/")
    opens = timezone.localtime(timezone.now() + timedelta(seconds=40))
    page.fill("#id_title", "市动物园门票（1分钱）")
    page.fill("#id_venue", "市动物园南门")
    page.fill("#id_description", "限本人使用，当日有效。")
    page.fill("#id_tickets", "1")
    page.select_option("#id_price", "0.01")
    page.fill("#id_opens_at", opens.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_closes_at", (opens + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"))
    screenshot("staff-form")
    page.click("#drop-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/drops/\d+/$"))
    drop = Drop.objects.get()
    assert drop.opens_at == opens.replace(microsecond=0)
    assert "未开始" in page.inner_text("#drop-live")
    screenshot("staff-detail")

    # the member waits for the countdown; the button is off until the server's opening second
    context, phone = member_phone(browser, live_server, winner)
    phone.goto(f"{live_server.url}/me/drops/")
    assert "市动物园门票（1分钱）" in phone.inner_text("main")
    phone.click("text=市动物园门票（1分钱）")
    grab = phone.locator("#grab")
    assert grab.is_disabled()
    assert re.search(r"距开抢 00:00:\d\d", phone.inner_text("[data-countdown-text]"))
    screenshot("member-countdown", phone)
    phone.wait_for_selector("#grab:not([disabled])", timeout=60_000)
    assert grab.inner_text() == "立即抢票" and timezone.now() >= drop.opens_at
    grab.click()
    assert phone.inner_text("#claim-result h1") == "抢到了"
    screenshot("member-won", phone)
    phone.click("#pay")
    phone.wait_for_url("**/me/drops/tickets/*/")
    ticket = Ticket.objects.get(member=winner)
    assert ticket.status == Ticket.Status.VALID
    assert phone.inner_text("#code") == ticket.code_display
    assert phone.locator("#qr svg").count() == 1
    screenshot("member-voucher", phone)
    phone.click("text=我的券")
    assert "待使用" in phone.inner_text("#my-tickets")
    context.close()

    # a second member: sold out
    context, phone = member_phone(browser, live_server, loser)
    phone.goto(f"{live_server.url}/me/drops/{drop.pk}/")
    phone.click("#grab")
    assert phone.inner_text("#claim-result h1") == "已抢完"
    screenshot("member-sold-out", phone)
    context.close()

    # the venue, on its own link from the staff page: once, then refused
    page.reload()
    assert "李**" in page.inner_text("#winners")
    venue_url = page.inner_text("#venue-url")
    context, venue = member_phone(browser, live_server, loser)  # any phone: the link needs no account
    venue.context.clear_cookies()
    venue.goto(venue_url)
    venue.fill("#code", ticket.code_display)
    venue.click("button:has-text('核销')")
    assert "核销成功" in venue.inner_text("#redeem-ok")
    screenshot("venue-redeemed", venue)
    venue.fill("#code", ticket.code)
    venue.click("button:has-text('核销')")
    assert "不能重复使用" in venue.inner_text("#redeem-error")
    screenshot("venue-refused", venue)
    context.close()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.USED
    assert LIVE_REQUESTS.wait_idle()
