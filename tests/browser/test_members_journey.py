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


def test_an_id_number_search_never_reaches_the_address_bar(live_server, page, screenshot, tree, clerk):
    make_member(tree.unit_a1, name="本单位会员", id_number="11010519491231002X")
    make_member(tree.unit_a1, name="另一会员")
    login(page, live_server, "clerk-a1")
    nav_to(page, "会员")
    page.fill("input[name=q]", "11010519491231002X")
    with page.expect_response(lambda r: r.url.endswith("/members/") and r.request.method == "POST"):
        page.click("button:has-text('查询')")
    page.wait_for_selector("#searched")
    body = page.inner_text("#member-table")
    screenshot("member-search-by-id")
    assert "本单位会员" in body and "另一会员" not in body
    assert "按身份证号查询：110105********002X" in body
    assert "11010519491231002X" not in page.url and "q=" not in page.url
    # a name search is still shareable: its query goes into the address
    page.fill("input[name=q]", "另一")
    with page.expect_response(lambda r: r.url.endswith("/members/") and r.request.method == "POST"):
        page.click("button:has-text('查询')")
    page.wait_for_url("**/members/?q=*")
    assert "另一会员" in page.inner_text("#member-table")


def test_back_after_an_htmx_filter_shows_the_whole_member_page(live_server, page, screenshot, tree, clerk):
    # Given a clerk who filters the member list in place (htmx) to members in hardship
    make_member(tree.unit_a1, name="普通会员")
    make_member(tree.unit_a1, name="困难会员", is_hardship=True)
    login(page, live_server, "clerk-a1")
    nav_to(page, "会员")
    page.select_option("select[name=hardship]", "1")
    page.wait_for_url("**hardship=1**")
    assert "普通会员" not in page.inner_text("#member-table")

    # When they open another page and press Back
    nav_to(page, "登记表")
    page.wait_for_url("**/members/sheets/")
    page.go_back()
    page.wait_for_url("**hardship=1**")
    screenshot("back")

    # Then the whole page shows (top bar, heading, filters), still filtered, not the bare table
    assert page.locator("nav.mainnav").is_visible()
    assert page.locator("h1").inner_text() == "会员"
    assert page.locator("select[name=hardship]").input_value() == "1"
    table = page.inner_text("#member-table")
    assert "困难会员" in table and "普通会员" not in table
