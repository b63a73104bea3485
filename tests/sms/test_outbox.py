"""The SMS outbox: nothing lost when the provider fails, codes shown only in demo mode, scoped page."""

import pytest

from members.sms.models import SmsMessage
from members.sms.services import sms_queue, sms_secret_params
from members.sms.tasks import sms_send_task
from tests.factories import ROLE, make_member, make_staff

from . import gateways

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


@pytest.fixture(autouse=True)
def _calls():
    gateways.CALLS.clear()


def _queue(member, django_capture_on_commit_callbacks, code="123456"):
    with django_capture_on_commit_callbacks(execute=True):
        return sms_queue(member=member, template="member_signin_code", params={"code": code})


def test_failing_provider_keeps_message_retries_and_marks_it_failed(
    tree, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 3
    member = make_member(tree.unit_a1, phone="13911112222")

    message = _queue(member, django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error, message.provider_id) == (
        SmsMessage.Status.FAILED,
        3,
        "provider unavailable (HTTP 503)",
        "",
    )
    assert [c["phone"] for c in gateways.CALLS] == ["13911112222"] * 3
    assert sms_secret_params(message) == {"code": "123456"}  # kept: nothing lost
    # a re-delivered task sends nothing more
    sms_send_task.delay(message.pk)
    assert len(gateways.CALLS) == 3


def test_flaky_provider_is_retried_until_it_accepts(tree, settings, django_capture_on_commit_callbacks):
    settings.SMS_GATEWAY = "tests.sms.gateways.FlakyGateway"
    member = make_member(tree.unit_a1)

    message = _queue(member, django_capture_on_commit_callbacks, code="654321")

    message.refresh_from_db()
    assert (message.status, message.attempts, message.provider_id) == (
        SmsMessage.Status.SENT,
        3,
        f"provider-{message.pk}",
    )
    assert gateways.CALLS[-1]["params"] == {"code": "654321"}
    assert message.secret_params == ""  # a real provider has it: the code is not kept
    sms_send_task.delay(message.pk)
    assert len(gateways.CALLS) == 3  # sent once, never twice


def test_retry_backoff_grows(settings):
    from unittest import mock

    from members.sms.gateways import SmsGatewayError

    settings.SMS_RETRY_BASE_SECONDS = 2
    countdowns = []
    with (
        mock.patch("members.sms.tasks.sms_send", side_effect=SmsGatewayError("down")),
        mock.patch.object(
            sms_send_task,
            "retry",
            side_effect=lambda **kw: countdowns.append(kw["countdown"]) or RuntimeError(),
        ),
    ):
        for retries in range(4):
            sms_send_task.push_request(retries=retries)
            with pytest.raises(RuntimeError):
                sms_send_task.run(1)
            sms_send_task.pop_request()
    assert countdowns == [2, 4, 8, 16]


def test_outbox_page_shows_demo_codes_to_city_staff(client, tree, django_capture_on_commit_callbacks):
    city = make_staff(ROLE.CITY_STAFF, tree.city)
    member = make_member(tree.unit_a1, phone="13933334444")
    _queue(member, django_capture_on_commit_callbacks, code="246810")
    client.force_login(city)

    html = client.get("/sms/").content.decode()

    assert "139****4444" in html and "code=246810" in html and "会员登录验证码" in html
    assert "13933334444" not in html and "当前为演示短信通道" in html


def test_outbox_page_hides_codes_with_a_real_provider(
    client, tree, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY = "tests.sms.gateways.FailingGateway"
    settings.SMS_MAX_ATTEMPTS = 1
    city = make_staff(ROLE.CITY_STAFF, tree.city)
    _queue(make_member(tree.unit_a1), django_capture_on_commit_callbacks, code="246810")
    client.force_login(city)

    html = client.get("/sms/").content.decode()

    assert "246810" not in html and "保密内容已隐藏" in html and "发送失败" in html


def test_outbox_page_is_scoped_and_for_city_staff_and_up(client, tree, django_capture_on_commit_callbacks):
    _queue(make_member(tree.unit_a1, phone="13955550001"), django_capture_on_commit_callbacks)
    _queue(make_member(tree.unit_b1, phone="13955550002"), django_capture_on_commit_callbacks)
    clerk = make_staff(ROLE.CLERK, tree.unit_a1)
    reviewer_b = make_staff(ROLE.COUNTY_REVIEWER, tree.county_b)
    city = make_staff(ROLE.CITY_STAFF, tree.city)

    client.force_login(clerk)
    assert client.get("/sms/").status_code == 403
    client.force_login(reviewer_b)
    assert client.get("/sms/").status_code == 403
    client.force_login(city)
    html = client.get("/sms/").content.decode()
    assert "139****0001" in html and "139****0002" in html
    # a city federation elsewhere sees neither
    from members.models import Union

    other_city = Union.objects.create(
        code="C9999", name="另一市总工会", level=Union.Level.CITY, parent=tree.province
    )
    client.force_login(make_staff(ROLE.CITY_STAFF, other_city))
    html = client.get("/sms/").content.decode()
    assert "139****0001" not in html and "暂无短信" in html
