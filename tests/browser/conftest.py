"""What the member journeys share: the 390×844 phone, and signing a member in on it."""

import pytest

from ..conftest import LIVE_REQUESTS
from ..membersite.helpers import last_code

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert LIVE_REQUESTS.wait_idle(), "the live server is still answering a request of this test"


def member_sign_in(phone, live_server, member) -> None:
    """The member signs in on the phone: ID number, then the code the SMS outbox holds."""
    phone.goto(f"{live_server.url}/me/login/")
    phone.fill("#id_number", member.reveal_id_number())
    phone.click("button:has-text('获取验证码')")
    phone.wait_for_url("**/me/login/code/**")
    phone.fill("#code", last_code(member))
    phone.click("button:has-text('登录')")
    phone.wait_for_url(f"{live_server.url}/me/")
