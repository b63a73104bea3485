"""The member API (/api/me/): SMS sign-in to a member token, the member's own reads, and member
and staff authentication kept apart in both directions."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from benefits.membersite.models import MemberApiToken
from cardportal.api_tokens import api_token_issue
from cardportal.models import AuditEntry
from issuance.models import Card
from tests.factories import ROLE, make_member, make_staff, next_id_number
from tests.issuance.factories import make_card

from .helpers import last_code, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
READS = [
    "/api/me/",
    "/api/me/cards/",
    "/api/me/benefits/",
    "/api/me/claims/",
    "/api/me/funds/",
    "/api/me/notices/",
]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _challenge(api, capture, id_number: str) -> str:
    with capture(execute=True):
        response = api.post("/api/me/signin/code/", {"id_number": id_number}, format="json")
    assert response.status_code == 202
    return response.json()["challenge"]


def _member_api(capture, member) -> tuple[APIClient, str]:
    api = APIClient()
    challenge = _challenge(api, capture, member.reveal_id_number())
    response = api.post(
        "/api/me/signin/token/", {"challenge": challenge, "code": last_code(member)}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Member {token}")
    return client, token


@pytest.fixture
def card(tree, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return make_card(tree.unit_a1, status=Card.Status.ACTIVATED, name="王建国", phone="13912345678")


def test_sms_sign_in_gives_a_token_that_reads_the_members_own_records(
    tree, card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_card(tree.unit_a1, status=Card.Status.ACTIVATED)  # someone else's card and notices
    api, token = _member_api(django_capture_on_commit_callbacks, card.member)

    assert token.startswith("cpm_") and token not in str(list(MemberApiToken.objects.values()))
    profile = api.get("/api/me/").json()
    assert profile == {
        "name": "王建国",
        "id_number": card.member.masked_id,
        "phone": "139****5678",
        "union": "甲县第一中学工会",
        "work_unit": card.member.work_unit,
        "consent": None,
        "consent_at": None,
    }
    cards = api.get("/api/me/cards/").json()
    assert [(c["id"], c["number_tail"], c["status"]) for c in cards] == [
        (card.pk, card.number[-4:], "已激活")
    ]
    assert [s["state"] for s in cards[0]["stages"]] == ["done"] * 5
    assert cards[0]["next_step"] == "卡片已激活，可在特约商户享受会员优惠。"
    notices = api.get("/api/me/notices/").json()
    assert [n["kind"] for n in notices] == ["card_activated", "card_ready"]
    assert all(card.number[-4:] in n["text"] for n in notices)
    for url in READS:
        assert api.get(url).status_code == 200, url
    assert api.get("/api/me/funds/").json() == [] and api.get("/api/me/claims/").json() == []
    assert (
        AuditEntry.objects.filter(verb="member.api_token_issued", target_id=str(card.member.pk)).count() == 1
    )


def test_unregistered_id_gets_the_same_answer_and_its_code_fails_like_a_wrong_one(
    card, django_capture_on_commit_callbacks
):
    api = APIClient()
    stranger = _challenge(api, django_capture_on_commit_callbacks, next_id_number())
    member = _challenge(api, django_capture_on_commit_callbacks, card.member.reveal_id_number())

    wrong_for_stranger = api.post(
        "/api/me/signin/token/", {"challenge": stranger, "code": "123456"}, format="json"
    )
    wrong_for_member = api.post(
        "/api/me/signin/token/", {"challenge": member, "code": _wrong(last_code(card.member))}, format="json"
    )

    assert wrong_for_stranger.status_code == wrong_for_member.status_code == 400
    assert (
        wrong_for_stranger.json()
        == wrong_for_member.json()
        == {
            "detail": "验证码不正确，请核对短信中的6位数字（还可尝试4次）",
            "code": "code_wrong",
        }
    )
    assert not MemberApiToken.objects.exists()


def test_a_forged_challenge_is_refused(card, django_capture_on_commit_callbacks):
    api = APIClient()
    challenge = _challenge(api, django_capture_on_commit_callbacks, card.member.reveal_id_number())
    code = last_code(card.member)
    forged = challenge.replace(challenge.split(":")[0], "999")

    for bad in (forged, "1", ""):
        response = api.post("/api/me/signin/token/", {"challenge": bad, "code": code}, format="json")
        assert response.status_code == 400
    assert not MemberApiToken.objects.exists()


def test_sixth_try_through_the_api_is_refused_even_when_right(card, django_capture_on_commit_callbacks):
    api = APIClient()
    challenge = _challenge(api, django_capture_on_commit_callbacks, card.member.reveal_id_number())
    code = last_code(card.member)
    for _ in range(5):
        api.post("/api/me/signin/token/", {"challenge": challenge, "code": _wrong(code)}, format="json")

    response = api.post("/api/me/signin/token/", {"challenge": challenge, "code": code}, format="json")

    assert response.status_code == 400 and response.json()["code"] == "too_many_tries"
    assert not MemberApiToken.objects.exists()


def test_member_token_and_session_reach_no_staff_api(
    client, card, settings, django_capture_on_commit_callbacks
):
    """Every API route outside /api/me/, GET and POST: a member token (sent as a member token or
    as a partner token) and a member session get what an anonymous caller gets, or a refusal."""
    from django.core.cache import cache

    from .test_access import all_urls

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "anon": "100000/min", "user": "100000/min"},
    }
    api, token = _member_api(django_capture_on_commit_callbacks, card.member)
    as_partner_token = APIClient()
    as_partner_token.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    cache.clear()  # past the one-code-a-minute window
    sign_in(client, django_capture_on_commit_callbacks, card.member)
    anonymous = APIClient()
    staff_api = [u for u in all_urls() if u.startswith("/api/") and not u.startswith("/api/me/")]
    assert "/api/members/" in staff_api and "/api/issuance/batches/" in staff_api and len(staff_api) > 15

    differing, answered = [], []
    for url in staff_api:
        for method in ("get", "post"):
            expected = getattr(anonymous, method)(url).status_code
            for who, caller in (("token", api), ("as-partner", as_partner_token), ("session", client)):
                got = getattr(caller, method)(url).status_code
                # the same answer as anonymous, or a refusal (a bad "Token" is refused even on
                # the public schema): never anything an anonymous caller would not get
                if got != expected and got not in (401, 403):
                    differing.append(f"{who} {method.upper()} {url}: {got} (anonymous {expected})")
                if got == 200 and expected != 200:
                    answered.append(f"{who} {method.upper()} {url}")
    assert (differing, answered) == ([], [])
    assert api.get("/api/members/").status_code == 401
    assert client.get("/api/me/").status_code == 200  # the member session does work on the member API


def test_staff_session_and_partner_token_reach_no_member_api(client, tree, clerk):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    _token, text = api_token_issue(user=bank, actor=bank, via="api")
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Token {text}")
    as_member_keyword = APIClient()
    as_member_keyword.credentials(HTTP_AUTHORIZATION=f"Member {text}")
    client.force_login(clerk)
    assert partner.get("/api/members/").status_code != 401  # the token itself is good on the staff API

    for url in READS:
        assert partner.get(url).status_code == 401, url
        assert as_member_keyword.get(url).status_code == 401, url
        assert client.get(url).status_code in (401, 403), url


def test_sign_out_phone_change_and_expiry_end_a_token(tree, card, django_capture_on_commit_callbacks):
    api, _token = _member_api(django_capture_on_commit_callbacks, card.member)
    assert api.post("/api/me/signout/").status_code == 204
    assert api.get("/api/me/").status_code == 401

    from django.core.cache import cache

    cache.clear()  # past the one-code-a-minute window
    api, _token = _member_api(django_capture_on_commit_callbacks, card.member)
    MemberApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/me/").status_code == 401

    cache.clear()
    api, _token = _member_api(django_capture_on_commit_callbacks, card.member)
    member = card.member
    member.set_phone("13600000000")
    member.save()
    response = api.get("/api/me/")
    assert response.status_code == 401 and response.json()["detail"] == "令牌无效或已过期，请重新登录"
    assert response["WWW-Authenticate"] == "Member"


def test_member_session_on_the_api_needs_csrf_for_writes(client, card, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, card.member)
    browser = APIClient(enforce_csrf_checks=True)
    browser.cookies = client.cookies

    assert browser.get("/api/me/").status_code == 200
    assert browser.post("/api/me/signout/").status_code == 403


def test_schema_describes_the_member_api_and_its_own_scheme(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    for path in ("/api/me/", "/api/me/cards/", "/api/me/notices/", "/api/me/funds/", "/api/me/signin/token/"):
        assert path in schema["paths"], path
    assert {"memberToken": []} in schema["paths"]["/api/me/cards/"]["get"]["security"]
    assert "memberToken" not in str(schema["paths"]["/api/members/"])
    assert schema["components"]["securitySchemes"]["memberToken"]["in"] == "header"


def test_member_api_reads_queries(card, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    api, _token = _member_api(django_capture_on_commit_callbacks, card.member)

    # token with member, union and county; the cards; their events; their functions (transit…)
    with django_assert_max_num_queries(4):
        assert api.get("/api/me/cards/").status_code == 200


def test_another_members_data_never_shows(tree, card, django_capture_on_commit_callbacks):
    other = make_member(tree.unit_a1, name="李四")
    api, _token = _member_api(django_capture_on_commit_callbacks, other)

    assert api.get("/api/me/cards/").json() == [] and api.get("/api/me/notices/").json() == []
    assert api.get("/api/me/").json()["name"] == "李四"
