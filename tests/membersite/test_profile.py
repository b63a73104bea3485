"""我的信息: change of phone by a code to the new number, consent to card issuance, correction
requests that reach the clerk's queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from benefits.membersite.auth import MEMBER_KEY
from benefits.membersite.models import PhoneChangeCode
from cardportal import crypto
from cardportal.models import AuditEntry
from members.models import CorrectionRequest, Member, MemberConsent
from members.sms.models import Notice, SmsMessage
from members.sms.services import sms_secret_params
from tests.factories import ROLE, make_member, make_staff

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]
NEW = "13698765432"


@pytest.fixture
def member(tree):
    return make_member(tree.unit_a1, name="王建国", phone="13912345678")


@pytest.fixture
def signed_in(client, member, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks, member)
    return client


def _ask(client, capture, phone=NEW):
    with capture(execute=True):
        return client.post("/me/profile/phone/", {"phone": phone})


def _phone_code() -> str:
    message = SmsMessage.objects.filter(template="member_phone_code").latest("id")
    return sms_secret_params(message)["code"]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_phone_change_texts_the_new_number_and_updates_the_registry(
    signed_in, member, django_capture_on_commit_callbacks
):
    response = _ask(signed_in, django_capture_on_commit_callbacks, "136 9876 5432")

    assert response.status_code == 302 and response["Location"] == "/me/profile/phone/code/"
    code_sms = SmsMessage.objects.get(template="member_phone_code")
    assert (code_sms.phone_masked, crypto.decrypt(code_sms.phone_encrypted), code_sms.member) == (
        "136****5432",
        NEW,
        member,
    )
    member.refresh_from_db()
    assert member.reveal_phone() == "13912345678"  # nothing changes before the code is entered

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post("/me/profile/phone/code/", {"code": _phone_code()})

    assert response.status_code == 302 and response["Location"] == "/me/profile/"
    member.refresh_from_db()
    assert (member.reveal_phone(), member.phone_hash, member.masked_phone) == (
        NEW,
        crypto.keyed_hash(NEW),
        "136****5432",
    )
    notice_to_old = SmsMessage.objects.get(template="member_phone_changed")
    assert (crypto.decrypt(notice_to_old.phone_encrypted), notice_to_old.params, notice_to_old.status) == (
        "13912345678",
        {"new_phone": "136****5432"},
        SmsMessage.Status.SENT,
    )
    audit = AuditEntry.objects.get(verb="member.phone_changed")
    assert audit.data == {"by_member": member.pk, "from": "139****5678", "to": "136****5432"}
    assert NEW not in str(audit.data) and "13912345678" not in str(audit.data)
    assert Notice.objects.get(member=member).kind == Notice.Kind.PHONE_CHANGED
    # this session goes on; the page says so
    html = signed_in.get("/me/profile/").content.decode()
    assert "手机号已更换为136****5432" in html and "136****5432" in html and NEW not in html


def test_phone_change_ends_the_members_other_sessions(
    client, signed_in, member, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    cache.clear()  # past the sign-in's one-a-minute window
    other = client.__class__()
    sign_in(other, django_capture_on_commit_callbacks, member)
    _ask(signed_in, django_capture_on_commit_callbacks)
    signed_in.post("/me/profile/phone/code/", {"code": _phone_code()})

    assert signed_in.get("/me/").status_code == 200
    assert other.get("/me/").status_code == 302 and MEMBER_KEY not in other.session


def test_next_sign_in_texts_the_new_number(client, signed_in, member, django_capture_on_commit_callbacks):
    _ask(signed_in, django_capture_on_commit_callbacks)
    signed_in.post("/me/profile/phone/code/", {"code": _phone_code()})
    signed_in.post("/me/logout/")
    from django.core.cache import cache

    cache.clear()  # past the sign-in's one-a-minute window

    sign_in(signed_in, django_capture_on_commit_callbacks, member)

    latest = SmsMessage.objects.filter(template="member_signin_code").latest("id")
    assert crypto.decrypt(latest.phone_encrypted) == NEW


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "请输入新的手机号"),
        ("1391234567", "手机号格式不对：应为11位手机号码，以1开头"),
        ("23912345678", "手机号格式不对：应为11位手机号码，以1开头"),
        ("139123456789", "手机号格式不对：应为11位手机号码，以1开头"),
        ("13912345678", "这就是您现在登记的手机号，无需更换"),
    ],
)
def test_bad_new_phone_gets_a_specific_message(signed_in, phone, message, django_capture_on_commit_callbacks):
    response = _ask(signed_in, django_capture_on_commit_callbacks, phone)

    assert response.status_code == 400 and message in response.content.decode()
    assert (
        not PhoneChangeCode.objects.exists()
        and not SmsMessage.objects.filter(template="member_phone_code").exists()
    )


def test_phone_code_sixth_try_refused_even_when_right(signed_in, member, django_capture_on_commit_callbacks):
    _ask(signed_in, django_capture_on_commit_callbacks)
    code = _phone_code()
    for _ in range(5):
        assert signed_in.post("/me/profile/phone/code/", {"code": _wrong(code)}).status_code == 400

    response = signed_in.post("/me/profile/phone/code/", {"code": code})

    assert response.status_code == 400 and "验证码输入错误次数过多，请重新获取" in response.content.decode()
    member.refresh_from_db()
    assert member.reveal_phone() == "13912345678" and PhoneChangeCode.objects.get().attempts == 5


def test_expired_and_replayed_phone_codes_are_refused(signed_in, member, django_capture_on_commit_callbacks):
    _ask(signed_in, django_capture_on_commit_callbacks)
    PhoneChangeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = signed_in.post("/me/profile/phone/code/", {"code": _phone_code()})
    assert response.status_code == 400 and "验证码已过期，请重新获取" in response.content.decode()

    from django.core.cache import cache

    cache.clear()
    _ask(signed_in, django_capture_on_commit_callbacks, "13600001111")
    code = _phone_code()
    challenge = signed_in.session["_member_phone_challenge"]
    assert signed_in.post("/me/profile/phone/code/", {"code": code}).status_code == 302
    session = signed_in.session
    session["_member_phone_challenge"] = challenge  # replay the same code on the same challenge
    session.save()

    response = signed_in.post("/me/profile/phone/code/", {"code": code})

    assert response.status_code == 400 and "验证码已使用过，请重新获取" in response.content.decode()
    assert Member.objects.get(pk=member.pk).reveal_phone() == "13600001111"


def test_a_member_cannot_use_another_members_phone_challenge(
    client, tree, signed_in, member, django_capture_on_commit_callbacks
):
    _ask(signed_in, django_capture_on_commit_callbacks)
    code, challenge = _phone_code(), PhoneChangeCode.objects.get()
    intruder = make_member(tree.unit_a1, phone="13500000000")
    other = client.__class__()
    sign_in(other, django_capture_on_commit_callbacks, intruder)
    session = other.session
    session["_member_phone_challenge"] = challenge.pk
    session.save()

    response = other.post("/me/profile/phone/code/", {"code": code})

    assert response.status_code == 400 and "请先输入新手机号获取验证码" in response.content.decode()
    intruder.refresh_from_db()
    assert intruder.reveal_phone() == "13500000000"
    assert PhoneChangeCode.objects.get().used_at is None


def test_one_phone_code_a_minute(signed_in, django_capture_on_commit_callbacks):
    _ask(signed_in, django_capture_on_commit_callbacks)

    response = _ask(signed_in, django_capture_on_commit_callbacks, "13611112222")

    assert response.status_code == 400 and "验证码已发送，请1分钟后再重新获取" in response.content.decode()
    assert SmsMessage.objects.filter(template="member_phone_code").count() == 1


def test_phone_change_needs_a_member_session(client, clerk):
    assert client.post("/me/profile/phone/", {"phone": NEW})["Location"].startswith("/me/login/")
    client.force_login(clerk)
    assert client.post("/me/profile/phone/", {"phone": NEW})["Location"].startswith("/me/login/")
    assert not PhoneChangeCode.objects.exists()


# --- consent ------------------------------------------------------------------------------------


def test_member_records_and_changes_consent(signed_in, member, clerk, client):
    html = signed_in.get("/me/profile/").content.decode()
    assert "您还没有在本站确认过办卡意愿" in html

    assert signed_in.post("/me/profile/consent/", {"agreed": "yes"}).status_code == 302
    html = signed_in.get("/me/profile/").content.decode()
    assert "已记录您的办卡意愿" in html and "已同意办卡" in html and "会员本人（会员网站）" in html
    signed_in.post("/me/profile/consent/", {"agreed": "no"})

    assert list(MemberConsent.objects.filter(member=member).values_list("agreed", flat=True)) == [False, True]
    first = MemberConsent.objects.filter(member=member).last()
    assert first.via == "member_site" and "办卡自愿" in first.statement
    assert AuditEntry.objects.filter(verb="member.consent_recorded", target_id=str(member.pk)).count() == 2
    staff = client.__class__()
    staff.force_login(clerk)
    assert "不同意办卡" in staff.get(member.get_absolute_url()).content.decode()


def test_consent_needs_an_answer(signed_in, member):
    response = signed_in.post("/me/profile/consent/", {"agreed": "maybe"})

    assert response.status_code == 400 and "请选择“同意”或“不同意”" in response.content.decode()
    assert not MemberConsent.objects.exists()


# --- correction requests ------------------------------------------------------------------------


def test_correction_request_reaches_the_clerk_who_marks_it_handled(client, tree, signed_in, member, clerk):
    response = signed_in.post(
        "/me/profile/correction/", {"field": "name", "details": "姓名应为王健国，以身份证为准"}
    )
    assert response.status_code == 302
    request = CorrectionRequest.objects.get()
    assert (request.member, request.union, request.status) == (member, tree.unit_a1, "open")
    assert "王健国" not in request.details_encrypted  # stored encrypted
    assert "更正申请已提交给甲县第一中学工会的工会经办人" in signed_in.get("/me/profile/").content.decode()

    staff = client.__class__()
    staff.force_login(clerk)
    assert "会员更正申请" in staff.get("/").content.decode()  # the dashboard panel
    queue = staff.get("/members/corrections/").content.decode()
    assert "王建国" in queue and "姓名" in queue and "待处理" in queue
    detail = staff.get(f"/members/corrections/{request.pk}/").content.decode()
    assert "姓名应为王健国，以身份证为准" in detail
    assert AuditEntry.objects.filter(verb="member.correction_read").count() == 1

    response = staff.post(f"/members/corrections/{request.pk}/handle/", {"reply": "已按身份证更正姓名"})

    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.handled_by, request.reply) == ("handled", clerk, "已按身份证更正姓名")
    assert "暂无更正申请" in staff.get("/members/corrections/").content.decode()
    html = signed_in.get("/me/profile/").content.decode()
    assert "已处理" in html and "工会答复" in html and "已按身份证更正姓名" in html


def test_correction_handled_twice_or_without_reply_is_refused(client, signed_in, clerk):
    signed_in.post("/me/profile/correction/", {"field": "work_unit", "details": "已调到甲县第二中学"})
    request = CorrectionRequest.objects.get()
    client.force_login(clerk)

    response = client.post(f"/members/corrections/{request.pk}/handle/", {"reply": " "})
    assert response.status_code == 400 and "请填写处理说明" in response.content.decode()
    client.post(f"/members/corrections/{request.pk}/handle/", {"reply": "已更正"})
    response = client.post(f"/members/corrections/{request.pk}/handle/", {"reply": "再次"})

    assert response.status_code == 400 and "这条申请已处理过" in response.content.decode()
    request.refresh_from_db()
    assert request.reply == "已更正"


def test_correction_queue_is_scoped_to_the_members_union(client, tree, signed_in):
    signed_in.post("/me/profile/correction/", {"field": "other", "details": "性别登记错了"})
    request = CorrectionRequest.objects.get()
    elsewhere = make_staff(ROLE.CLERK, tree.unit_b1)
    client.force_login(elsewhere)

    assert "暂无更正申请" in client.get("/members/corrections/").content.decode()
    assert client.get(f"/members/corrections/{request.pk}/").status_code == 404
    assert client.post(f"/members/corrections/{request.pk}/handle/", {"reply": "x"}).status_code == 404
    request.refresh_from_db()
    assert request.status == "open"
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a)
    client.force_login(reviewer)
    assert "性别登记错了" in client.get("/members/corrections/").content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": "", "details": "x"}, "请选择要更正的项目"),
        ({"field": "salary", "details": "x"}, "请选择要更正的项目"),
        ({"field": "name", "details": "  "}, "请写明哪里有误、正确的内容是什么"),
        ({"field": "name", "details": "长" * 301}, "更正内容最多300字，现在是301字"),
    ],
)
def test_bad_correction_request_gets_a_specific_message(signed_in, data, message):
    response = signed_in.post("/me/profile/correction/", data)

    assert response.status_code == 400 and message in response.content.decode()
    assert not CorrectionRequest.objects.exists()


def test_at_most_five_open_correction_requests(signed_in, member):
    for i in range(5):
        assert (
            signed_in.post("/me/profile/correction/", {"field": "other", "details": f"第{i}条"}).status_code
            == 302
        )

    response = signed_in.post("/me/profile/correction/", {"field": "other", "details": "第六条"})

    assert response.status_code == 400
    assert "您已有5条更正申请待工会处理，请等处理后再提交" in response.content.decode()
    assert CorrectionRequest.objects.count() == 5


def test_correction_list_masks_an_id_number_the_detail_shows_it_audited(client, signed_in, clerk):
    signed_in.post("/me/profile/correction/", {"field": "id_number", "details": "应为130902198506150018"})
    client.force_login(clerk)

    queue = client.get("/members/corrections/").content.decode()

    assert "130902198506150018" not in queue and "130902********0018" in queue
    assert AuditEntry.objects.filter(verb="member.correction_read").count() == 0
