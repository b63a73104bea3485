import pytest

from ..conftest import login, nav_to
from ..factories import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_logs_in_and_sees_only_their_unions_members(live_server, page, screenshot, tree, clerk):
    make_member(tree.unit_a1, name="本单位会员", id_number="11010519491231002X")
    make_member(tree.unit_b1, name="外单位会员")
    login(page, live_server, "clerk-a1")
    screenshot("dashboard")
    nav_to(page, "会员")
    page.wait_for_selector("table.data")
    body = page.inner_text("table.data")
    screenshot("member-list")
    assert "本单位会员" in body
    assert "外单位会员" not in body
    assert "110105********002X" in body and "11010519491231002X" not in page.content()
    page.click("text=本单位会员")
    assert page.locator("text=查看完整号码").count() == 0  # clerks cannot reveal
    screenshot("member-detail")
