"""403, 404, 500 and CSRF failures are Chinese pages inside the portal's frame, never a bare
"403 Forbidden" (issue 15, "Everyone")."""

import pytest
from django.test import Client
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_unknown_address_is_a_chinese_404_in_the_portal_frame(client, clerk):
    client.force_login(clerk)
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在（404）" in body and "工会会员卡门户" in body and "返回首页" in body


def test_a_forbidden_page_is_a_chinese_403(client, clerk):
    client.force_login(clerk)  # reviewing sheets is not a clerk's job
    response = client.get("/members/sheets/review/")
    assert response.status_code == 403
    assert "没有权限（403）" in response.content.decode()


def test_server_error_page_renders_without_a_request_context(rf):
    response = server_error(rf.get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "系统暂时出错（500）" in body and "工会会员卡门户" in body


def test_csrf_failure_is_a_chinese_page_that_says_what_to_do(tree, clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    response = client.post("/members/sheets/upload/", {})
    assert response.status_code == 403
    assert "页面已过期，请重新提交" in response.content.decode()


@pytest.mark.browser
def test_error_page_in_a_browser(live_server, page, screenshot, clerk):
    from .conftest import login

    login(page, live_server, "clerk-a1")
    response = page.goto(f"{live_server.url}/members/9999999/")
    assert response.status == 404
    assert "页面不存在（404）" in page.inner_text("main")
    assert page.locator("nav.mainnav").is_visible()  # still inside the portal's frame, menus and all
    screenshot("404")
