"""The lean press (POST /me/drops/<id>/grab/, benefits/drops/fast.py): the same answers as the full
claim view from one Redis round trip, and the claim token refusing everything but the member's own
press on this drop from this session. Run on whichever path this run has (Redis when REDIS_URL is
set) and on the database path."""

import io
import json
import re
import time
from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from benefits.drops import fast, store
from benefits.drops.models import Drop, Ticket
from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
from cardportal.earlywsgi import EarlyRoutes
from issuance.models import Card
from tests.issuance.factories import make_card

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'data-claim-token="([^"]+)"')


@pytest.fixture(params=["configured", "db"])
def path(request, settings):
    if request.param == "db":
        settings.DROPS_REDIS_URL = ""
    return request.param


def session_for(member) -> str:
    session = SessionStore()
    session[MEMBER_KEY] = member.pk
    session[PHONE_KEY] = member.phone_hash
    session.create()
    return session.session_key


def member_client(client_class, union, **fields):
    member = make_card(union, status=Card.Status.ACTIVATED, **fields).member
    client = client_class()
    client.cookies["sessionid"] = session_for(member)
    return member, client


def token_from_page(client, drop) -> str:
    found = TOKEN.search(client.get(f"/me/drops/{drop.pk}/").content.decode())
    return found[1] if found else ""


def press(client, drop, token, **headers):
    response = client.post(f"/me/drops/{drop.pk}/grab/", headers={"X-Claim-Token": token, **headers})
    return response.status_code, json.loads(response.content)


def test_won_duplicate_sold_out_from_the_lean_press(path, tree, make_drop):
    drop = make_drop(tickets=1, price="0.01")
    first, first_client = member_client(Client, tree.unit_a1)
    _, second_client = member_client(Client, tree.unit_b1)
    first_token, second_token = token_from_page(first_client, drop), token_from_page(second_client, drop)

    won = press(first_client, drop, first_token)
    again = press(first_client, drop, first_token)
    late = press(second_client, drop, second_token)

    ticket = Ticket.objects.get(drop=drop)
    assert won == (
        200,
        {
            "outcome": "won",
            "answer": "抢到了",
            "ticket": f"/me/drops/tickets/{ticket.pk}/",
            "pay": f"/me/drops/tickets/{ticket.pk}/pay/",
            "pay_by": won[1]["pay_by"],
            "price": "0.01",
        },
    )
    assert ticket.member == first and ticket.status == Ticket.Status.PENDING
    assert again[1]["outcome"] == "duplicate" and again[1]["answer"] == "你已抢过"
    assert late[1] == {"outcome": "sold_out", "answer": "已抢完"}
    assert Drop.objects.get(pk=drop.pk).taken == 1


def test_page_gives_no_token_to_an_ineligible_member(tree, make_drop):
    drop = make_drop(hardship_only=True)
    _, client = member_client(Client, tree.unit_a1)

    assert token_from_page(client, drop) == ""  # the page's form then posts to the full view


def test_before_opening_and_throttled(path, tree, make_drop, settings):
    settings.DROPS_THROTTLE = {"seconds": 10, "member": 3, "ip": 100}
    early = make_drop(opens_in=600)
    drop = make_drop(tickets=5)
    _, client = member_client(Client, tree.unit_a1)

    refused = press(client, early, token_from_page(client, early))
    token = token_from_page(client, drop)
    codes = [press(client, drop, token)[0] for _ in range(5)]

    assert refused == (425, {"outcome": "not_open", "answer": "还没到开抢时间"})
    assert codes == [200, 200, 200, 429, 429]
    assert Ticket.objects.filter(drop=drop).count() == 1


def test_forged_expired_foreign_and_sessionless_presses_are_refused(path, tree, make_drop):
    drop = make_drop(tickets=5)
    other_drop = make_drop(tickets=5)
    member, client = member_client(Client, tree.unit_a1)
    other, other_client = member_client(Client, tree.unit_b1)
    session_key = client.cookies["sessionid"].value
    good = token_from_page(client, drop)
    member_id, expires, mac = good.split(".")
    forged_mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    expired = fast.claim_token(
        drop_id=drop.pk, member_id=member.pk, session_key=session_key, now=time.time() - 3600
    )
    attempts = {
        "no token": press(client, drop, ""),
        "forged mac": press(client, drop, f"{member_id}.{expires}.{forged_mac}"),
        "another member id": press(client, drop, f"{other.pk}.{expires}.{mac}"),
        "later expiry": press(client, drop, f"{member_id}.{int(expires) + 3600}.{mac}"),
        "expired": press(client, drop, expired),
        "other member's token": press(client, drop, token_from_page(other_client, drop)),
        "other drop's token": press(client, drop, token_from_page(client, other_drop)),
        "cross-site origin": press(client, drop, good, Origin="https://evil.example"),
        "cross-site fetch": press(client, drop, good, **{"Sec-Fetch-Site": "cross-site"}),
    }
    client.cookies.pop("sessionid")
    attempts["no session"] = press(client, drop, good)

    assert {name: status for name, (status, _) in attempts.items()} == {name: 403 for name in attempts}
    assert all(body["outcome"] == "refused" and body["refresh"] for _, body in attempts.values())
    assert Ticket.objects.count() == 0
    if store.enabled():
        assert store.read(drop_key=drop.key) == (None, {})  # refused before Redis


def test_signed_out_member_with_a_valid_token_wins_nothing(path, tree, make_drop):
    """The token outlives a sign-out by at most its lifetime; the winner's session is read before
    the ticket is written, and Redis gets the slot back."""
    drop = make_drop(tickets=1)
    _, client = member_client(Client, tree.unit_a1)
    token = token_from_page(client, drop)
    SessionStore(client.cookies["sessionid"].value).delete()

    status, body = press(client, drop, token)

    assert (status, body["outcome"]) == (403, "refused")
    assert Ticket.objects.count() == 0
    if store.enabled():
        assert store.read(drop_key=drop.key) == (1, {})


def wsgi_post(app, path, **environ):
    env = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "wsgi.input": io.BytesIO(b""), **environ}
    setup_testing_defaults(env)
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(env, start_response))
    return answer["status"], answer["headers"], body


def test_early_route_answers_before_django_and_passes_the_rest(tree, make_drop, monkeypatch):
    # The end of a request closes old connections; here that would be the test's own transaction.
    monkeypatch.setattr(fast, "close_old_connections", lambda: None)
    drop = make_drop(tickets=1)
    member, client = member_client(Client, tree.unit_a1)
    token = token_from_page(client, drop)
    passed = []

    def django(environ, start_response):
        passed.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"django"]

    app = EarlyRoutes(django)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    won = wsgi_post(app, f"/me/drops/{drop.pk}/grab/", HTTP_COOKIE=cookie, HTTP_X_CLAIM_TOKEN=token)
    foreign = wsgi_post(
        app,
        f"/me/drops/{drop.pk}/grab/",
        HTTP_COOKIE=cookie,
        HTTP_X_CLAIM_TOKEN=token,
        HTTP_ORIGIN="https://evil.example",
    )
    claim_view = wsgi_post(app, f"/me/drops/{drop.pk}/claim/")

    assert won[0] == "200 OK" and json.loads(won[2])["outcome"] == "won"
    assert won[1]["Content-Type"] == "application/json" and won[1]["Cache-Control"] == "no-store"
    assert foreign[0] == "403 Forbidden"
    assert passed == [f"/me/drops/{drop.pk}/claim/"] and claim_view[2] == b"django"
    assert Ticket.objects.get(drop=drop).member == member
