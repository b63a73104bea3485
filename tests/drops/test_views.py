"""The pages: staff create and follow a drop, members grab, pay and show the voucher, the venue
checks it in once."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from benefits.drops import services
from benefits.drops.models import Drop, Ticket
from cardportal.models import AuditEntry
from issuance.models import Card
from tests.factories import ROLE, make_staff
from tests.issuance.factories import make_card
from tests.membersite.helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def form_data(**overrides):
    now = timezone.now()
    data = {
        "title": "植物园门票",
        "venue": "市植物园（北门）",
        "description": "每人一张，当日有效",
        "tickets": "100",
        "price": "0.01",
        "opens_at": local(now + timedelta(hours=1)),
        "closes_at": local(now + timedelta(hours=2)),
        "per_member_limit": "1",
    }
    data.update(overrides)
    return data


def test_city_staff_create_a_drop_audited(client, city_staff, tree):
    client.force_login(city_staff)
    response = client.post("/drops/new/", form_data(counties=[tree.county_a.pk]))

    drop = Drop.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/drops/{drop.pk}/"
    assert (drop.title, drop.tickets, str(drop.price), drop.union) == ("植物园门票", 100, "0.01", tree.city)
    assert list(drop.counties.all()) == [tree.county_a]
    assert AuditEntry.objects.filter(verb="drop.created", actor=city_staff).count() == 1


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"tickets": "0"}, "tickets", "票数应在 1 到 100000 之间"),
        ({"per_member_limit": "11"}, "per_member_limit", "每人限抢应在 1 到 10 张之间"),
        ({"price": "0.02"}, "price", None),
        ({"opens_at": "2020-01-01T10:00", "closes_at": "2020-01-01T11:00"}, "opens_at", "开抢时间应晚于现在"),
    ],
)
def test_bad_drop_is_refused_with_a_chinese_message(client, city_staff, overrides, field, message):
    client.force_login(city_staff)
    response = client.post("/drops/new/", form_data(**overrides))

    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert errors and (message is None or errors == [message])
    assert Drop.objects.count() == 0


def test_clerk_and_member_cannot_open_staff_drop_pages(
    client, tree, make_drop, django_capture_on_commit_callbacks
):
    drop = make_drop()
    clerk = make_staff(ROLE.CLERK, tree.unit_a1)
    client.force_login(clerk)
    assert client.get(f"/drops/{drop.pk}/").status_code == 403
    assert client.get("/drops/").status_code == 403


def test_no_edit_after_opening(client, city_staff, make_drop):
    drop = make_drop(tickets=5)
    client.force_login(city_staff)
    response = client.post(f"/drops/{drop.pk}/edit/", form_data(tickets="50"))
    assert response.status_code == 302
    assert Drop.objects.get(pk=drop.pk).tickets == 5


def member_signed_in(client, django_capture_on_commit_callbacks, union, **fields):
    member = make_card(union, status=Card.Status.ACTIVATED, **fields).member
    sign_in(client, django_capture_on_commit_callbacks, member)
    return member


def test_member_grabs_pays_and_sees_the_voucher_with_qr(
    client, tree, make_drop, django_capture_on_commit_callbacks
):
    drop = make_drop(tickets=1, price="0.01")
    member = member_signed_in(client, django_capture_on_commit_callbacks, tree.unit_a1)

    page = client.get(f"/me/drops/{drop.pk}/")
    assert "立即抢票" in page.content.decode()
    answer = client.post(f"/me/drops/{drop.pk}/claim/")
    assert answer.status_code == 200 and "抢到了" in answer.content.decode()
    ticket = Ticket.objects.get(member=member)
    paid = client.post(f"/me/drops/tickets/{ticket.pk}/pay/", follow=True)
    html = paid.content.decode()

    assert "支付成功，电子券已生效" in html and ticket.code_display in html and "<svg" in html
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.VALID
    again = client.post(f"/me/drops/{drop.pk}/claim/").content.decode()
    assert "你已抢过" in again


def test_answers_before_opening_sold_out_and_ineligible(
    client, tree, make_drop, django_capture_on_commit_callbacks
):
    early = make_drop(opens_in=600)
    none_left = make_drop(tickets=1)
    hardship = make_drop(hardship_only=True)
    other = make_card(tree.unit_b1, status=Card.Status.ACTIVATED).member
    services.drop_claim(drop_id=none_left.pk, member=other)
    member_signed_in(client, django_capture_on_commit_callbacks, tree.unit_a1)

    refused = client.post(f"/me/drops/{early.pk}/claim/")
    sold = client.post(f"/me/drops/{none_left.pk}/claim/")
    not_for_me = client.post(f"/me/drops/{hardship.pk}/claim/")

    assert refused.status_code == 425 and "还没到开抢时间" in refused.content.decode()
    assert 'data-outcome="sold_out"' in sold.content.decode() and "已抢完" in sold.content.decode()
    assert "不符合条件：本次活动仅限困难职工参加" in not_for_me.content.decode()
    assert Ticket.objects.count() == 1


def test_a_bot_pressing_fast_is_throttled(
    client, tree, make_drop, settings, django_capture_on_commit_callbacks
):
    settings.DROPS_THROTTLE = {"seconds": 10, "member": 3, "ip": 100}
    drop = make_drop(tickets=5)
    member_signed_in(client, django_capture_on_commit_callbacks, tree.unit_a1)

    codes = [client.post(f"/me/drops/{drop.pk}/claim/").status_code for _ in range(5)]

    assert codes == [200, 200, 200, 429, 429]
    assert Ticket.objects.count() == 1


def test_staff_export_and_redeem_once(client, tree, make_drop, city_staff):
    drop = make_drop(tickets=2)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="王小明").member
    ticket = services.drop_claim(drop_id=drop.pk, member=member).ticket
    client.force_login(city_staff)

    export = client.get(f"/drops/{drop.pk}/export/")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    first = client.post("/drops/redeem/", {"code": ticket.code_display})
    second = client.post("/drops/redeem/", {"code": ticket.code})

    assert rows[0][:3] == ("序号", "券码", "姓名") and rows[1][1:3] == (ticket.code, "王**")
    assert first.status_code == 200 and "核销成功" in first.content.decode()
    assert second.status_code == 400 and "不能重复使用" in second.content.decode()
    assert AuditEntry.objects.filter(verb__in=["drop.exported", "ticket.redeemed"]).count() == 2


def test_venue_page_redeems_only_its_drop(client, tree, make_drop):
    drop, other = make_drop(tickets=2), make_drop(tickets=2)
    member = make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member
    mine = services.drop_claim(drop_id=drop.pk, member=member).ticket
    elsewhere = services.drop_claim(drop_id=other.pk, member=member).ticket

    wrong = client.post(f"/drops/venue/{drop.venue_token}/", {"code": elsewhere.code})
    right = client.post(f"/drops/venue/{drop.venue_token}/", {"code": mine.code})

    assert wrong.status_code == 400 and "券码不存在" in wrong.content.decode()
    assert right.status_code == 200 and "核销成功" in right.content.decode()
    assert Ticket.objects.get(pk=elsewhere.pk).status == Ticket.Status.VALID
    assert client.get("/drops/venue/not-a-token/").status_code == 404


def test_live_count_fragment(client, tree, make_drop, city_staff):
    drop = make_drop(tickets=3)
    services.drop_claim(drop_id=drop.pk, member=make_card(tree.unit_a1, status=Card.Status.ACTIVATED).member)
    client.force_login(city_staff)
    response = client.get(f"/drops/{drop.pk}/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="live-taken">1<' in html and 'id="live-left">2<' in html
