"""City staff through the analytics pages in a real browser, at 1366×768 and on a 390×844
phone, with screenshots (test-artifacts/screenshots/test_city_staff_analytics_journey-*.png)."""

import pytest

from members.sms.models import Notice

from ..conftest import login, nav_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGES = [
    ("active", "/analytics/active/"),
    ("spending", "/analytics/spending/?month=2026-11"),
    ("merchants", "/analytics/merchants/?month=2026-11"),
    ("uptake", "/analytics/uptake/"),
    ("segments", "/analytics/segments/"),
]


def test_city_staff_analytics_journey(live_server, page, browser, screenshot, city, city_staff):
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, live_server, "city")
    nav_to(page, "活跃用卡")
    table = page.inner_text("table.activity")
    assert "甲县总工会" in table and "乙县总工会" in table and "100.0%" in table
    assert page.locator("svg.chart").count() == 1
    screenshot("active")
    page.click("table.activity >> text=乙县总工会")
    page.wait_for_url("**county=*")
    assert "乙县人民医院工会" in page.inner_text("table.activity")
    screenshot("active-county")

    page.click("nav.analytics-tabs >> text=特约商户消费")
    page.select_option("select[name=month]", "2026-11")
    page.wait_for_url("**month=2026-11**")
    assert "350.0%" in page.inner_text("main")
    screenshot("spending")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == "analytics-spending-2026-11.xlsx"

    page.click("nav.analytics-tabs >> text=商户排行")
    page.select_option("select[name=month]", "2026-11")
    page.wait_for_url("**month=2026-11**")
    assert "甲县康复医院" in page.inner_text("table.ranking") and "甲县书店" in page.inner_text("main")
    screenshot("merchants")
    page.click("nav.analytics-tabs >> text=帮扶与补贴")
    screenshot("uptake")

    page.click("nav.analytics-tabs >> text=会员分群")
    page.click("#segment-hardship_unused")
    assert page.inner_text("#segment-count") == "2"
    assert "截至 2026-11-20 统计" in page.inner_text("#segment-as-of")
    page.fill("input[name=title]", "会员卡用卡指南讲座")
    page.fill("input[name=when]", "12月10日下午在县总工会")
    screenshot("segment-confirm")
    page.click("#notify-confirm")
    page.wait_for_url("**/analytics/segments/")
    assert "已安排向2名会员发送通知" in page.inner_text("body")
    assert Notice.objects.filter(key__startswith="seg:").count() == 2
    screenshot("segments-sent")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    on_phone = phone.new_page()
    login(on_phone, live_server, "city")
    for name, path in PAGES:
        on_phone.goto(f"{live_server.url}{path}")
        width = on_phone.evaluate("document.scrollingElement.scrollWidth")
        screenshot(f"phone-{name}", target=on_phone)
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    phone.close()
