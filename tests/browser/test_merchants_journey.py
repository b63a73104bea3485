import pytest

from merchants.models import Merchant
from merchants.services import merchant_exit

from ..conftest import login
from ..factories import ROLE, make_staff
from ..merchants.factories import make_merchant, make_offer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_public_directory_on_a_phone_with_a_search(live_server, browser, screenshot, tree):
    # given merchants in two counties, one of them exited
    eye = make_merchant(tree.county_a, name="沧州眼科医院", cat="医疗保健", contact_phone="0317-2600848")
    make_offer(eye, description="配镜", terms="7.8折")
    make_offer(eye, description="隐形眼镜", terms="9折")
    cinema = make_merchant(tree.county_b, name="博纳国际影城", cat="文化影视")
    make_offer(cinema, description="电影票", terms="5折")
    gone = make_merchant(tree.county_b, name="恒大影院", cat="文化影视")
    make_offer(gone, description="电影票", terms="6折")
    merchant_exit(merchant=gone, reason="评议不合格", actor=None)
    # when a member opens the directory on a 390px-wide phone, without logging in
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/merchants/directory/")
    assert page.locator(".merchant-card").count() == 2
    screenshot("phone-all", target=page)
    # then searches
    page.fill("input[name=q]", "影城")
    page.click("button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('.merchant-card').length === 1"
    )  # a function: the CSP forbids eval
    cards = page.inner_text("#dir-results")
    screenshot("phone-search", target=page)
    assert "博纳国际影城" in cards and "5折" in cards
    assert "恒大影院" not in page.content()
    assert "q=%E5%BD%B1%E5%9F%8E" in page.url  # the search is in the address (shareable, back button)
    # nothing overflows the phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_admin_exits_a_merchant_with_a_reason_in_the_admin(live_server, page, screenshot, tree):
    user = make_staff(ROLE.ADMIN, tree.city, username="portal-admin")
    poor = make_merchant(tree.county_a, name="差评烟酒商行", cat="旅游购物")
    make_offer(poor, description="烟酒", terms="7折")
    make_merchant(tree.county_b, name="好评宾馆", cat="餐饮住宿")
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/admin/merchants/merchant/")
    page.fill("#searchbar", "烟酒")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("text=差评烟酒商行")
    assert page.locator("#result_list tbody tr").count() == 1
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "exit_selected")
    page.click("button[name=index], button:has-text('执行')")
    page.wait_for_selector("text=退出商户")
    page.fill("textarea[name=reason]", "会员评议连续低于2.5分，按约退出")
    screenshot("exit-confirm")
    page.click("input[value=确认退出]")
    page.wait_for_selector("text=已退出 1 家商户")
    screenshot("after-exit")
    poor.refresh_from_db()
    assert (poor.status, poor.exit_reason) == (Merchant.Status.EXITED, "会员评议连续低于2.5分，按约退出")


def test_back_after_an_htmx_search_shows_the_whole_directory(live_server, page, screenshot, tree):
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")
    make_merchant(tree.county_b, name="乙县体检中心", cat="医疗保健")
    page.goto(f"{live_server.url}/merchants/directory/")
    page.fill("input[name=q]", "博纳")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=**")
    # a public page fetched by htmx for this address, then another page, then Back
    page.goto(f"{live_server.url}/merchants/directory/?q=体检")
    page.go_back()
    page.wait_for_url("**q=%E5%8D%9A**")
    page.wait_for_load_state()
    screenshot("back")
    # without Vary: HX-Request Chromium showed the cached fragment: no heading, no top bar
    assert page.locator("h1").inner_text() == "特约商户名录"
    assert "甲县博纳影城" in page.inner_text("#dir-results") and "乙县体检中心" not in page.inner_text(
        "#dir-results"
    )
