import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from issuance.lifecycle import cards_transition
from members.models import Union
from quotas.models import Bulletin

from ..conftest import login, nav_to
from ..quotas.factories import at, make_cards, make_quota

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def six_counties(tree):
    """Six counties with 2016 quotas and cards issued over April–June at different paces."""
    extra = []
    for code, name in [
        ("K03", "丙县总工会"),
        ("K04", "丁市总工会"),
        ("K05", "戊区总工会"),
        ("K06", "己县总工会"),
    ]:
        county = Union.objects.create(code=code, name=name, level=Union.Level.COUNTY, parent=tree.city)
        unit = Union.objects.create(
            code=f"{code}1",
            name=f"{name.removesuffix('总工会')}化工集团工会",
            level=Union.Level.GRASSROOTS,
            parent=county,
        )
        extra.append((county, unit))
    plan = [(tree.county_a, tree.unit_a1, 10), (tree.county_b, tree.unit_b1, 12)] + [
        (c, u, t) for (c, u), t in zip(extra, [8, 10, 6, 9], strict=True)
    ]
    paces = {0: (3, 3, 4), 1: (2, 2, 2), 2: (1, 3, 5), 3: (4, 1, 0), 4: (0, 2, 2), 5: (1, 1, 1)}
    for i, (county, unit, target) in enumerate(plan):
        make_quota(county, 2016, target=target, members=target * 10)
        for month, n in zip((4, 5, 6), paces[i], strict=True):
            if n:
                ids = make_cards(
                    unit, n, applied=at(2016, 3), issued=at(2016, month), received=at(2016, month)
                )
                cards_transition(cards=ids, to_status="distributed", at=at(2016, month, 20))
                cards_transition(cards=ids[: n // 2 + 1], to_status="activated", at=at(2016, month, 25))
    make_cards(tree.unit_a2, 2, applied=at(2016, 3), issued=at(2016, 6))
    return tree


def test_city_staff_league_drill_down_export_and_publish(
    live_server, page, screenshot, six_counties, city_staff
):
    login(page, live_server, "city")
    nav_to(page, "进度排名")
    page.select_option("select[name=month]", "2016-06")
    page.wait_for_url("**month=2016-06**")
    table = page.inner_text("table.league")
    # 甲: 3+3+4 + 2 (unit a2) = 12 of 10 = 120%, first; 丙: 9 of 8 = 112.5%, second
    assert "甲县总工会" in table and "120.00%" in table and "112.50%" in table
    assert page.locator("svg.chart").count() == 2 and page.locator("svg.spark").count() == 6
    screenshot("league")

    page.click("th >> text=累计发卡")
    page.wait_for_url("**sort=issued**")
    first_row = page.locator("table.league tbody tr").first.inner_text()
    assert "甲县总工会" in first_row  # 12 cards, the most

    page.click("table.league >> text=甲县总工会")
    page.wait_for_selector("table.units")
    units = page.inner_text("table.units")
    assert "甲县第一中学工会" in units and "甲县供电公司工会" in units
    screenshot("county")

    page.go_back()
    page.go_back()
    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    download = download_info.value
    assert download.suggested_filename == "league-2016-06.xlsx"
    ws = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).worksheets[0]
    assert [c.value for c in ws[3]][:2] == [1, "甲县总工会"]

    nav_to(page, "月通报")
    page.select_option("select[name=month]", "2016-06")
    page.click("#draft-bulletin")
    page.wait_for_selector("#publish-bulletin")
    screenshot("bulletin-draft")
    page.fill("textarea[name=note]", "6月份各县发卡进度通报。")
    page.click("#publish-bulletin")
    page.wait_for_selector("text=数据已冻结")
    screenshot("bulletin-published")
    bulletin = Bulletin.objects.get(month="2016-06-01")
    assert bulletin.status == "published"
    assert bulletin.rows.get(union=six_counties.county_a).issued == 12

    # the quarterly ranking and the annual assessment read the same figures
    nav_to(page, "季排队")
    page.select_option("select[name=year]", "2016")
    page.wait_for_url("**year=2016**")
    assert page.locator("section.card h2").first.inner_text().startswith("第2季度")
    screenshot("quarterly")
    nav_to(page, "年度考核")
    page.select_option("select[name=year]", "2016")
    page.wait_for_url("**year=2016**")
    page.locator("table.assessment details summary").first.click()
    screenshot("assessment")
