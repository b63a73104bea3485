"""Member sign-in by ID number + SMS code: limits, no enumeration, sessions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from benefits.membersite.auth import MEMBER_KEY
from benefits.membersite.models import SignInCode
from cardportal.models import AuditEntry
from members.sms.models import SmsMessage
from tests.factories import make_member, next_id_number

from .helpers import last_code, request_code, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


@pytest.fixture
def member(tree):
    return make_member(tree.unit_a1, name="王建国", phone="13912345678")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_code_signs_member_in_for_thirty_days(client, member, django_capture_on_commit_callbacks):
    response = request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    assert response.status_code == 302 and response["Location"].startswith("/me/login/code/")
    message = SmsMessage.objects.get()
    assert (message.member, message.phone_masked, message.status, message.attempts) == (
        member,
        "139****5678",
        SmsMessage.Status.SENT,
        1,
    )
    challenge = SignInCode.objects.get()
    code = last_code(member)
    assert len(code) == 6 and code.isdigit() and code not in challenge.code_hash

    response = client.post("/me/login/code/", {"code": code})

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert client.session[MEMBER_KEY] == member.pk
    assert 30 * 86400 - 60 < client.session.get_expiry_age() <= 30 * 86400
    page = client.get("/me/")
    assert page.status_code == 200 and "王建国，您好" in page.content.decode()
    assert list(AuditEntry.objects.filter(verb="member.signed_in").values_list("target_id", flat=True)) == [
        str(member.pk)
    ]


def test_sixth_try_refused_even_with_right_code(client, member, django_capture_on_commit_callbacks):
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    code = last_code(member)
    for _ in range(5):
        response = client.post("/me/login/code/", {"code": _wrong(code)})
        assert response.status_code == 400
    assert "尝试次数已用完" in response.content.decode()

    response = client.post("/me/login/code/", {"code": code})

    assert response.status_code == 400
    assert "验证码输入错误次数过多，请重新获取" in response.content.decode()
    assert MEMBER_KEY not in client.session
    assert SignInCode.objects.get().attempts == 5


def test_expired_code_refused(client, member, django_capture_on_commit_callbacks):
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    SignInCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post("/me/login/code/", {"code": last_code(member)})

    assert response.status_code == 400
    assert "验证码已过期，请重新获取" in response.content.decode()
    assert MEMBER_KEY not in client.session


def test_replayed_code_refused(client, member, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, member)
    code = last_code(member)
    challenge = SignInCode.objects.get()
    client.post("/me/logout/")
    # an attacker who saw the code and kept the challenge in their own session
    other = client.__class__()
    session = other.session
    session["_member_signin_challenge"] = challenge.pk
    session.save()
    other.cookies["sessionid"] = session.session_key

    response = other.post("/me/login/code/", {"code": code})

    assert response.status_code == 400
    assert "验证码已使用过，请重新获取" in response.content.decode()
    assert MEMBER_KEY not in other.session


def test_one_code_a_minute_per_id_number(client, member, django_capture_on_commit_callbacks):
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())

    response = request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())

    assert response.status_code == 400
    assert "验证码已发送，请1分钟后再重新获取" in response.content.decode()
    assert SmsMessage.objects.count() == 1 and SignInCode.objects.count() == 1


def _skip_minute_windows(member) -> None:
    """Jump past the one-a-minute windows (per ID and per phone), keeping the daily ones."""
    from django.core.cache import cache

    from benefits.membersite import throttle
    from cardportal import crypto

    for key in (f"id:{crypto.keyed_hash(member.reveal_id_number())}", f"phone:{member.phone_hash}"):
        cache.delete(f"{throttle.PREFIX}{key}:60")


def test_ten_codes_a_day_per_id_number(client, member, django_capture_on_commit_callbacks):
    for _ in range(10):
        _skip_minute_windows(member)
        response = request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
        assert response.status_code == 302
    _skip_minute_windows(member)

    response = request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())

    assert response.status_code == 400
    assert "今天获取验证码的次数已达上限，请明天再试" in response.content.decode()
    assert (SignInCode.objects.count(), SmsMessage.objects.count()) == (10, 10)


def test_per_phone_limit_holds_across_members_sharing_a_phone(
    client, tree, member, django_capture_on_commit_callbacks
):
    spouse = make_member(tree.unit_a1, name="李秀英", phone="13912345678")
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())

    response = request_code(client, django_capture_on_commit_callbacks, spouse.reveal_id_number())

    # the same answer as ever (no hint about the phone), but no second SMS within the minute
    assert response.status_code == 302
    assert list(SmsMessage.objects.values_list("member_id", flat=True)) == [member.pk]


def test_per_ip_limit_on_code_requests(client, tree, django_capture_on_commit_callbacks, settings):
    settings.MEMBER_SIGNIN = {**settings.MEMBER_SIGNIN, "ip_requests_per_hour": 3}
    for _ in range(3):
        response = request_code(client, django_capture_on_commit_callbacks, next_id_number())
        assert response.status_code == 302

    response = request_code(client, django_capture_on_commit_callbacks, next_id_number())

    assert response.status_code == 400
    assert "操作过于频繁，请稍后再试" in response.content.decode()
    assert SignInCode.objects.count() == 3
    # another address is not affected
    response = request_code(
        client, django_capture_on_commit_callbacks, next_id_number(), REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 302


def test_per_ip_limit_on_code_tries(client, member, django_capture_on_commit_callbacks, settings):
    settings.MEMBER_SIGNIN = {**settings.MEMBER_SIGNIN, "ip_verifies_per_hour": 2}
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    code = last_code(member)
    client.post("/me/login/code/", {"code": _wrong(code)})
    client.post("/me/login/code/", {"code": _wrong(code)})

    response = client.post("/me/login/code/", {"code": code})

    assert response.status_code == 400
    assert "操作过于频繁，请稍后再试" in response.content.decode()
    assert SignInCode.objects.get().attempts == 2 and MEMBER_KEY not in client.session


def test_unregistered_id_gets_the_same_answer_and_work(client, member, django_capture_on_commit_callbacks):
    unknown = next_id_number()

    def steps(id_number):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=False) as callbacks,
        ):
            response = client.post("/me/login/", {"id_number": id_number})
        page = client.get(response["Location"])
        client.session.flush()
        kinds = [q["sql"].split()[0] for q in queries.captured_queries]
        return response.status_code, response["Location"], len(callbacks), kinds, page.content.decode()

    known = steps(member.reveal_id_number())
    stranger = steps(unknown)

    assert known[:4] == stranger[:4]
    assert known[4].replace(_csrf(known[4]), "") == stranger[4].replace(_csrf(stranger[4]), "")
    assert "如果该身份证号已在工会登记" in stranger[4]


def _csrf(html: str) -> str:
    marker = 'name="csrfmiddlewaretoken" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_unregistered_id_code_fails_like_a_wrong_code(client, member, django_capture_on_commit_callbacks):
    request_code(client, django_capture_on_commit_callbacks, next_id_number())
    assert SmsMessage.objects.count() == 0  # nobody to text
    wrong_for_stranger = client.post("/me/login/code/", {"code": "123456"}).content.decode()

    other = client.__class__()
    request_code(other, django_capture_on_commit_callbacks, member.reveal_id_number())
    code = last_code(member)
    wrong_for_member = other.post("/me/login/code/", {"code": _wrong(code)}).content.decode()

    assert "验证码不正确，请核对短信中的6位数字（还可尝试4次）" in wrong_for_stranger
    assert wrong_for_stranger.replace(_csrf(wrong_for_stranger), "") == wrong_for_member.replace(
        _csrf(wrong_for_member), ""
    )


def test_malformed_id_number_gets_a_specific_message(client, member):
    response = client.post("/me/login/", {"id_number": "13090219850615001"})

    assert response.status_code == 400
    assert "身份证号格式不对：应为18位，最后一位是数字或X" in response.content.decode()
    assert SignInCode.objects.count() == 0


def test_sign_out_ends_the_member_session(client, member, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, member)

    client.post("/me/logout/")

    assert client.get("/me/")["Location"] == "/me/login/?next=%2Fme%2F"


def test_changed_phone_ends_sessions(client, member, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, member)
    member.set_phone("13800000000")
    member.save()

    assert client.get("/me/").status_code == 302


def test_spent_challenges_are_purged_after_a_day(client, member, django_capture_on_commit_callbacks):
    from benefits.membersite.services import signin_codes_purge

    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())
    old = SignInCode.objects.get()
    SignInCode.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1, minutes=1))
    _skip_minute_windows(member)
    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number())

    assert signin_codes_purge() == 1
    assert (
        SignInCode.objects.exclude(pk=old.pk).count() == 1
        and not SignInCode.objects.filter(pk=old.pk).exists()
    )


def test_sign_in_returns_to_the_member_page_asked_for(client, member, django_capture_on_commit_callbacks):
    assert client.get("/me/profile/")["Location"] == "/me/login/?next=%2Fme%2Fprofile%2F"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/me/login/", {"id_number": member.reveal_id_number(), "next": "/me/profile/"})
    assert response["Location"] == "/me/login/code/?next=%2Fme%2Fprofile%2F"

    response = client.post("/me/login/code/", {"code": last_code(member), "next": "/me/profile/"})

    assert response["Location"] == "/me/profile/"


@pytest.mark.parametrize("target", ["https://evil.example/me/", "//evil.example/me/", "/members/", "/admin/"])
def test_sign_in_never_redirects_off_the_members_site(
    client, member, django_capture_on_commit_callbacks, target
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/me/login/", {"id_number": member.reveal_id_number(), "next": target})

    response = client.post("/me/login/code/", {"code": last_code(member), "next": target})

    assert response.status_code == 302 and response["Location"] == "/me/"
